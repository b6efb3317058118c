import { describe, expect, it } from 'vitest';
import {
  ALL_CAPABILITIES,
  DEFAULT_ROOT_CAPABILITIES,
  normalizeCapability,
  resolveCapabilities,
} from './capabilities.ts';

describe('capabilities', () => {
  it("has the kernel's 41 names and Docker's 14 defaults", () => {
    expect(ALL_CAPABILITIES).toHaveLength(41);
    expect(new Set(ALL_CAPABILITIES).size).toBe(41);
    expect(DEFAULT_ROOT_CAPABILITIES).toHaveLength(14);
    for (const c of DEFAULT_ROOT_CAPABILITIES) expect(ALL_CAPABILITIES).toContain(c);
  });

  it.each([
    ['CAP_NET_ADMIN', 'CAP_NET_ADMIN'],
    ['cap_net_admin', 'CAP_NET_ADMIN'],
    ['NET_ADMIN', 'CAP_NET_ADMIN'],
    [' sys_ptrace ', 'CAP_SYS_PTRACE'],
    ['all', 'ALL'],
  ])('normalises %j to %s', (input, expected) => {
    expect(normalizeCapability(input, 'capabilities.add')).toBe(expected);
  });

  it.each(['CAP_FLY', '', 'CAP_', '--cap-add', 'CAP_NET_ADMIN CAP_SYS_ADMIN', 'cap_net_admin\0'])(
    'rejects %j with a coded error naming the field',
    (input) => {
      expect(() => normalizeCapability(input, 'capabilities.add')).toThrow(
        expect.objectContaining({
          code: 'MELANGE_RUNNER_BAD_SPEC',
          message: expect.stringContaining('capabilities.add') as unknown,
        }),
      );
    },
  );

  it('adds to and drops from the base set, in kernel order; a capability in both lists is dropped', () => {
    expect(resolveCapabilities(DEFAULT_ROOT_CAPABILITIES, undefined)).toEqual(
      ALL_CAPABILITIES.filter((c) => DEFAULT_ROOT_CAPABILITIES.includes(c)),
    );
    const set = resolveCapabilities(DEFAULT_ROOT_CAPABILITIES, {
      add: ['NET_ADMIN'],
      drop: ['CAP_MKNOD', 'net_raw'],
    });
    expect(set).toContain('CAP_NET_ADMIN');
    expect(set).not.toContain('CAP_MKNOD');
    expect(set).not.toContain('CAP_NET_RAW');
    expect(set).toHaveLength(13);
    expect(resolveCapabilities([], { add: ['SYS_ADMIN'], drop: ['SYS_ADMIN'] })).toEqual([]);
  });

  it('understands ALL on both sides', () => {
    expect(
      resolveCapabilities(DEFAULT_ROOT_CAPABILITIES, { add: ['CAP_SYS_PTRACE'], drop: ['ALL'] }),
    ).toEqual(['CAP_SYS_PTRACE']);
    expect(resolveCapabilities([], { add: ['ALL'], drop: ['CAP_SYS_ADMIN'] })).toHaveLength(40);
  });
});
