import { describe, expect, it } from 'vitest';
import type { ApkInputFile } from '@tk/apk';
import type { MelangeError } from '../errors.ts';
import { applySetcap, CAPABILITY_XATTR, encodeCapabilityXattr, parseSetcap } from './capability.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('security.capability encoding', () => {
  it('matches melange EncodeCapability for cap_net_raw+ep (revision 3, rootid 0)', () => {
    // magic 0x03000001, permitted 1<<13, inheritable 0, high words 0, rootid 0 — little-endian.
    expect(hex(encodeCapabilityXattr({ effective: 1 << 13, permitted: 1 << 13, inheritable: 0 }))).toBe(
      '01000003' + '00200000' + '00000000' + '00000000' + '00000000' + '00000000',
    );
  });

  it('has no effective flag without effective bits, and can write revision 2', () => {
    const v2 = encodeCapabilityXattr({ effective: 0, permitted: 1 << 10, inheritable: 1 << 10 }, 2);
    expect(v2.length).toBe(20);
    expect(hex(v2)).toBe('00000002' + '00040000' + '00040000' + '00000000' + '00000000');
  });

  it('merges several capabilities and entries for one path', () => {
    const sets = parseSetcap(
      [
        { path: '/usr/bin/ping', add: { 'cap_net_raw,cap_net_admin': '+ep' }, reason: 'ping' },
        { path: 'usr/bin/ping', add: { cap_ipc_lock: '+eip' }, reason: 'locks' },
      ],
      'iputils',
    );
    expect([...sets.keys()]).toEqual(['usr/bin/ping']);
    expect(sets.get('usr/bin/ping')).toEqual({
      effective: (1 << 13) | (1 << 12) | (1 << 14),
      permitted: (1 << 13) | (1 << 12) | (1 << 14),
      inheritable: 1 << 14,
    });
  });

  it.each([
    [{ path: '/usr/bin/x', add: { cap_chown: '+ep' }, reason: 'r' }],
    [{ path: '/../etc/passwd', add: { cap_net_raw: '+ep' }, reason: 'r' }],
    [{ path: '/', add: { cap_net_raw: '+ep' }, reason: 'r' }],
  ])('refuses %j with MELANGE_SETCAP_INVALID', (entry) => {
    expect(() => parseSetcap([entry], 'p')).toThrow(
      expect.objectContaining({ code: 'MELANGE_SETCAP_INVALID' }) as MelangeError,
    );
  });
});

describe('applySetcap', () => {
  const files: ApkInputFile[] = [
    { path: 'usr', type: 'directory' },
    { path: 'usr/bin', type: 'directory' },
    { path: 'usr/bin/ping', type: 'file', mode: 0o755, data: new Uint8Array([1]) },
    { path: 'usr/bin/ping6', type: 'hardlink', linkname: 'usr/bin/ping' },
    { path: 'usr/bin/p', type: 'symlink', linkname: 'ping' },
  ];

  it('puts the xattr on the file (and on the target of a hard link)', () => {
    const out = applySetcap(
      files,
      [{ path: '/usr/bin/ping6', add: { cap_net_raw: '+ep' }, reason: 'r' }],
      'p',
    );
    expect(out[2]!.xattrs?.[CAPABILITY_XATTR]).toEqual(
      encodeCapabilityXattr({ effective: 8192, permitted: 8192, inheritable: 0 }),
    );
    expect(out[3]!.xattrs).toBeUndefined();
    expect(files[2]!.xattrs).toBeUndefined();
  });

  it('refuses a missing path, a directory and a symlink', () => {
    for (const path of ['/usr/bin/nope', '/usr/bin', '/usr/bin/p']) {
      expect(() => applySetcap(files, [{ path, add: { cap_net_raw: '+ep' }, reason: 'r' }], 'p')).toThrow(
        expect.objectContaining({ code: 'MELANGE_SETCAP_INVALID' }) as MelangeError,
      );
    }
  });
});
