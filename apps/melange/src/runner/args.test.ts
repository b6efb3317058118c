import { describe, expect, it } from 'vitest';
import { bwrapArgs, type CheckedSpec } from './args.ts';
import type { RunRequest } from './types.ts';

const SPEC: CheckedSpec = {
  guestDir: '/tmp/guest',
  workspaceDir: '/tmp/ws',
  user: { kind: 'mapped', uid: 1000, gid: 1000 },
  network: false,
  extraMounts: [],
  hostname: 'localhost',
};
const REQ: RunRequest = {
  script: 'echo "$HOME"; exit 3',
  env: { PATH: '/usr/bin:/bin', HOME: '/home/build' },
  workdir: '/home/build',
};

/** The values following each occurrence of a flag. */
function valuesOf(args: string[], flag: string, count = 1): string[][] {
  const out: string[][] = [];
  args.forEach((a, i) => {
    if (a === flag && args.lastIndexOf('--') > i) out.push(args.slice(i + 1, i + 1 + count));
  });
  return out;
}

describe('bwrapArgs', () => {
  it('binds the guest at / first, then /dev, /proc, /sys and the workspace', () => {
    const args = bwrapArgs(SPEC, REQ, '/home/build');
    const binds = args
      .filter((a) => ['--bind', '--ro-bind', '--dev', '--proc'].includes(a))
      .map((flag) => flag);
    expect(binds).toEqual(['--bind', '--dev', '--proc', '--ro-bind', '--bind']);
    expect(valuesOf(args, '--bind', 2)).toEqual([
      ['/tmp/guest', '/'],
      ['/tmp/ws', '/home/build'],
    ]);
    expect(valuesOf(args, '--ro-bind', 2)).toEqual([['/sys', '/sys']]);
  });

  it('runs the script as one argument of /bin/sh -c after --, with exactly the given environment', () => {
    const args = bwrapArgs(SPEC, REQ, '/home/build');
    expect(args.slice(-4)).toEqual(['--', '/bin/sh', '-c', REQ.script]);
    expect(args).toContain('--clearenv');
    expect(args.indexOf('--clearenv')).toBeLessThan(args.indexOf('--setenv'));
    expect(valuesOf(args, '--setenv', 2)).toEqual([
      ['HOME', '/home/build'],
      ['PATH', '/usr/bin:/bin'],
    ]);
    expect(valuesOf(args, '--chdir')).toEqual([['/home/build']]);
  });

  it('maps a uid/gid user in a user namespace and isolates the network unless asked', () => {
    const args = bwrapArgs(SPEC, REQ, '/');
    expect(valuesOf(args, '--uid')).toEqual([['1000']]);
    expect(valuesOf(args, '--gid')).toEqual([['1000']]);
    for (const flag of [
      '--unshare-user',
      '--unshare-pid',
      '--unshare-ipc',
      '--unshare-uts',
      '--unshare-cgroup-try',
      '--unshare-net',
      '--die-with-parent',
      '--new-session',
    ]) {
      expect(args).toContain(flag);
    }
    expect(args).not.toContain('--cap-add');
    const shared = bwrapArgs({ ...SPEC, network: true, resolvConf: '/etc/resolv.conf' }, REQ, '/');
    expect(shared).not.toContain('--unshare-net');
    expect(valuesOf(shared, '--ro-bind', 2)).toContainEqual(['/etc/resolv.conf', '/etc/resolv.conf']);
  });

  it('runs real root without a user namespace, with exactly the given capabilities', () => {
    const args = bwrapArgs(
      { ...SPEC, user: { kind: 'host-root' }, capabilities: ['CAP_CHOWN', 'CAP_KILL'] },
      REQ,
      '/',
    );
    expect(args).not.toContain('--unshare-user');
    expect(args).not.toContain('--uid');
    expect(valuesOf(args, '--cap-drop')).toEqual([['ALL']]);
    expect(valuesOf(args, '--cap-add')).toEqual([['CAP_CHOWN'], ['CAP_KILL']]);
    expect(args.indexOf('--cap-drop')).toBeLessThan(args.indexOf('--cap-add'));
  });

  it('mounts the cache and extra mounts after the workspace, read-only when asked', () => {
    const args = bwrapArgs(
      {
        ...SPEC,
        cacheDir: '/srv/cache',
        extraMounts: [
          { source: '/srv/src', dest: '/opt/src', readonly: true },
          { source: '/srv/out', dest: '/opt/out', readonly: false },
        ],
      },
      REQ,
      '/',
    );
    expect(valuesOf(args, '--bind', 2)).toEqual([
      ['/tmp/guest', '/'],
      ['/tmp/ws', '/home/build'],
      ['/srv/cache', '/var/cache/melange'],
      ['/srv/out', '/opt/out'],
    ]);
    expect(valuesOf(args, '--ro-bind', 2)).toContainEqual(['/srv/src', '/opt/src']);
  });

  it('keeps the session for a terminal step', () => {
    expect(bwrapArgs(SPEC, { ...REQ, tty: true }, '/')).not.toContain('--new-session');
  });

  it('passes hostile values as single arguments', () => {
    const script = '"; rm -rf / #\n--bind / /';
    const args = bwrapArgs(SPEC, { ...REQ, script, env: { X: '--unshare-all' } }, '/');
    expect(args.at(-1)).toBe(script);
    expect(valuesOf(args, '--setenv', 2)).toEqual([['X', '--unshare-all']]);
  });
});
