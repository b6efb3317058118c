import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ENGINE_VARIABLES,
  execArgs,
  globalArgs,
  KEEPALIVE,
  killArgs,
  removeArgs,
  runArgs,
  STEP_MARKER,
  stepWrapper,
  type ContainerSpec,
} from './container-args.ts';

const spec: ContainerSpec = {
  name: 'tk-melange-0123456789abcdef',
  image: 'localhost/tk-melange-guest:aa-bb',
  platform: 'linux/arm64',
  user: '1000:1000',
  network: false,
  capabilities: ['CAP_NET_ADMIN'],
  workspaceDir: '/tmp/ws',
  cacheDir: '/tmp/cache',
  extraMounts: [{ source: '/opt/src', dest: '/opt/dest', readonly: true }],
  hostname: 'localhost',
  runtime: 'runc',
  ulimits: ['nofile=1024:1024', 'nproc=1024:1024'],
};

function after(args: readonly string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));
}

describe('runArgs', () => {
  it('starts podman with the runtime as a global flag, no engine environment and the guest /etc/hosts', () => {
    expect(globalArgs('podman', 'runc')).toEqual(['--runtime', 'runc']);
    const args = runArgs('podman', spec);
    expect(args.slice(0, 3)).toEqual(['run', '--detach', '--interactive']);
    expect(args).toContain('--unsetenv-all');
    expect(args).toContain('--no-hosts');
    expect(args).not.toContain('--runtime');
    expect(after(args, '--name')).toEqual([spec.name]);
    expect(after(args, '--platform')).toEqual(['linux/arm64']);
    expect(after(args, '--user')).toEqual(['1000:1000']);
    expect(after(args, '--network')).toEqual(['none']);
    expect(after(args, '--pull')).toEqual(['never']);
    expect(after(args, '--hostname')).toEqual(['localhost']);
    expect(after(args, '--cap-drop')).toEqual(['ALL']);
    expect(after(args, '--cap-add')).toEqual(['CAP_NET_ADMIN']);
    expect(after(args, '--ulimit')).toEqual(['nofile=1024:1024', 'nproc=1024:1024']);
    expect(after(args, '--mount')).toEqual([
      'type=bind,source=/tmp/ws,destination=/home/build',
      'type=bind,source=/tmp/cache,destination=/var/cache/melange',
      'type=bind,source=/opt/src,destination=/opt/dest,readonly',
    ]);
    // The image, then the keep-alive command, end the line.
    expect(args.slice(-4)).toEqual([spec.image, ...KEEPALIVE]);
  });

  it('gives docker the runtime on run, and only flags docker has', () => {
    expect(globalArgs('docker', 'runc')).toEqual([]);
    const args = runArgs('docker', { ...spec, network: true, cacheDir: undefined!, extraMounts: [] });
    expect(after(args, '--runtime')).toEqual(['runc']);
    expect(args).not.toContain('--unsetenv-all');
    expect(args).not.toContain('--no-hosts');
    expect(after(args, '--network')).toEqual(['host']);
    expect(after(args, '--mount')).toEqual(['type=bind,source=/tmp/ws,destination=/home/build']);
  });

  it('drops every capability when the set is empty', () => {
    const args = runArgs('podman', { ...spec, capabilities: [] });
    expect(after(args, '--cap-drop')).toEqual(['ALL']);
    expect(args).not.toContain('--cap-add');
  });

  it('removes at once: podman needs --time 0, docker kills on --force', () => {
    expect(removeArgs('podman', 'c')).toEqual(['rm', '--force', '--time', '0', 'c']);
    expect(removeArgs('docker', 'c')).toEqual(['rm', '--force', 'c']);
    expect(killArgs('c', '1000:1000')).toEqual([
      'exec',
      '--user',
      '1000:1000',
      'c',
      '/bin/sh',
      '-c',
      'kill -9 -1 2>/dev/null; exit 0',
    ]);
  });
});

describe('execArgs', () => {
  const req = {
    script: 'make "$@" && echo done',
    env: { PATH: '/usr/bin:/bin', SECRET: 'hunter2 with spaces', MULTI: 'line1\nline2', 'A B': 'odd name' },
    workdir: '/home/build/./sub/',
  };

  it('puts values in the env-file, never on the command line, unless a line cannot carry them', () => {
    const { args, envFile } = execArgs('c', '1000:1000', req, '/private/env-1');
    expect(envFile).toBe('PATH=/usr/bin:/bin\nSECRET=hunter2 with spaces\n');
    expect(args.join('\n')).not.toContain('hunter2');
    expect(after(args, '--env')).toEqual(['A B=odd name', 'MULTI=line1\nline2']);
    expect(after(args, '--env-file')).toEqual(['/private/env-1']);
    expect(after(args, '--user')).toEqual(['1000:1000']);
    expect(after(args, '--workdir')).toEqual(['/']);
    expect(args).not.toContain('--tty');
    // The script is one argument, unchanged; the working directory comes last, normalised.
    const c = args.indexOf('c');
    expect(args.slice(c)).toEqual([
      'c',
      '/bin/sh',
      '-c',
      stepWrapper(req.env, true),
      '/bin/sh',
      req.script,
      '/home/build/sub',
    ]);
  });

  it('passes everything as --env without an env-file, and attaches a terminal without the marker', () => {
    const { args, envFile } = execArgs('c', '0:0', { ...req, tty: true });
    expect(envFile).toBeUndefined();
    expect(args.slice(0, 3)).toEqual(['exec', '--interactive', '--tty']);
    expect(after(args, '--env')).toHaveLength(4);
    expect(args).not.toContain('--env-file');
    expect(args).toContain(stepWrapper(req.env, false));
    expect(stepWrapper(req.env, false)).not.toContain(STEP_MARKER);
  });
});

describe.skipIf(!existsSync('/bin/sh'))('stepWrapper, run by the host shell', () => {
  const run = (env: Record<string, string>, script: string, workdir: string): string =>
    execFileSync('/bin/sh', ['-c', stepWrapper(env, true), '/bin/sh', script, workdir], {
      // What an engine adds (docker: PATH, HOSTNAME, HOME), plus what the request gives.
      env: {
        PATH: '/usr/bin:/bin',
        HOSTNAME: 'abc123',
        HOME: '/root',
        TERM: 'xterm',
        container: 'podman',
        ...env,
      },
      encoding: 'utf8',
    });

  it('prints the marker, unsets what the engine added, and runs the script as /bin/sh in the directory', () => {
    const out = run(
      { KEEP: 'yes' },
      'echo "$0"; pwd; echo "${HOSTNAME-unset} ${HOME-unset} ${TERM-unset} ${container-unset} ${OLDPWD-unset} $KEEP"',
      '/tmp',
    );
    expect(out).toBe(`${STEP_MARKER}\n/bin/sh\n/tmp\nunset unset unset unset unset yes\n`);
  });

  it('keeps the variables the request sets, even those an engine also sets', () => {
    // A shell keeps a default PATH of its own when none is exported; the environment is what matters.
    const out = run({ HOME: '/home/build' }, 'export -p | grep -E " (HOME|PATH)="', '/');
    expect(out).toMatch(new RegExp(`^${STEP_MARKER}\\n[^\\n]* HOME='/home/build'\\n$`));
  });

  it('starts in / when the working directory does not exist, and hands the script over unchanged', () => {
    const hostile = `echo "it's \\$1: $1"; printf '%s\\n' "a'b" '"c"' ';' '$(id)'`;
    const out = run({}, hostile, '/no/such/dir');
    expect(out).toBe(`${STEP_MARKER}\nit's $1: \na'b\n"c"\n;\n$(id)\n`);
  });

  it('lists the engine variables it unsets', () => {
    expect(stepWrapper({}, true)).toContain(`unset ${ENGINE_VARIABLES.join(' ')}`);
    expect(stepWrapper(Object.fromEntries(ENGINE_VARIABLES.map((n) => [n, 'x'])), true)).not.toContain(
      'unset',
    );
  });
});
