import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImageConfig } from '@tk/apko';
import { assembleGuest } from '../guest/assemble.ts';
import { ALL_CAPABILITIES, DEFAULT_ROOT_CAPABILITIES } from './capabilities.ts';
import { containerName, createContainerRunner, GUEST_IMAGE_REPOSITORY } from './container.ts';
import type { ContainerRunnerOptions } from './container.ts';
import type { Pod, RunRequest, RunnerSpec } from './types.ts';

const REPO = fileURLToPath(new URL('../../../../.cache/bootstrap/repo', import.meta.url));
const haveRepo = existsSync(join(REPO, 'x86_64', 'APKINDEX.tar.gz'));
const haveArmRepo = existsSync(join(REPO, 'aarch64', 'APKINDEX.tar.gz'));
const podman = ['/usr/bin/podman', '/usr/local/bin/podman', '/bin/podman'].find((p) => existsSync(p));
const runc = ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc'].find((p) => existsSync(p));
const isRoot = process.getuid?.() === 0;

function binfmtAarch64(): string | undefined {
  try {
    const text = readFileSync('/proc/sys/fs/binfmt_misc/qemu-aarch64', 'utf8');
    if (!text.startsWith('enabled')) return 'qemu-aarch64 is registered but disabled';
    return /^flags: [A-Z]*F/m.test(text) ? undefined : 'qemu-aarch64 is registered without the F flag';
  } catch {
    return 'no /proc/sys/fs/binfmt_misc/qemu-aarch64 (apt-get install qemu-user-static)';
  }
}

const skipReason =
  podman === undefined
    ? 'podman is not installed (apt-get install podman runc)'
    : !isRoot
      ? 'these tests drive rootful podman and lend the workspace to uid 1000, which needs root'
      : !haveRepo
        ? `no bootstrap repository at ${REPO} (node test-fixtures/bootstrap/build-repo.mjs)`
        : process.arch !== 'x64'
          ? 'these tests assemble an x86_64 guest and need an x86_64 host'
          : undefined;
const armSkip = skipReason ?? (!haveArmRepo ? 'no aarch64 bootstrap repository' : binfmtAarch64());

/** What this bench needs (test-bench.md): runc, and ulimits the host allows. */
const BENCH: ContainerRunnerOptions = {
  cli: 'podman',
  isRoot,
  ...(runc === undefined ? {} : { runtime: 'runc' }),
  ulimits: ['nofile=1024:1024', 'nproc=1024:1024'],
};

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin';
const GUEST_ENV = `contents:
  repositories: [${REPO}]
  keyring: [${join(REPO, 'tk-bootstrap.rsa.pub')}]
  packages: [busybox, busybox-binsh, tk-baselayout]
accounts:
  users: [{ username: build, uid: 1000, gid: 1000 }]
  groups: [{ groupname: build, gid: 1000 }]
`;

async function run(pod: Pod, script: string, over: Partial<RunRequest> = {}) {
  let stdout = '';
  let stderr = '';
  const result = await pod.run({
    script,
    env: { PATH },
    workdir: '/home/build',
    onOutput: (text, stream) => {
      if (stream === 'stdout') stdout += text;
      else stderr += text;
    },
    ...over,
  });
  return { ...result, stdout, stderr };
}

function podmanOut(...args: string[]): string {
  return execFileSync(podman!, args, { encoding: 'utf8' }).trim();
}

describe.skipIf(skipReason !== undefined)(
  `the podman runner${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    const runner = createContainerRunner(BENCH);
    let scratch: string;
    let guestDir: string;
    let workspace: string;
    let pod: Pod;
    const spec = (over: Partial<RunnerSpec> = {}): RunnerSpec => ({
      guestDir,
      workspaceDir: workspace,
      user: { uid: 1000, gid: 1000 },
      network: false,
      arch: 'x86_64',
      ...over,
    });
    const freshWorkspace = async (name: string): Promise<string> => {
      const dir = join(scratch, name);
      await mkdir(dir);
      return dir;
    };

    beforeAll(async () => {
      scratch = await mkdtemp(join(tmpdir(), 'tk-podman-test-'));
      guestDir = join(scratch, 'guest');
      await assembleGuest({
        environment: parseImageConfig(GUEST_ENV),
        arch: 'x86_64',
        baseDir: scratch,
        dir: guestDir,
        sourceDateEpoch: 0,
        env: {},
        isRoot,
      });
      workspace = await freshWorkspace('workspace');
      await writeFile(join(workspace, 'source.c'), 'int main(void) { return 0; }\n');
      await runner.checkUsable();
      pod = await runner.start(spec());
    });
    afterAll(async () => {
      await pod?.close();
      await rm(scratch, { recursive: true, force: true });
    });

    it('runs as the build user in /home/build, which it can write; files appear in the workspace', async () => {
      const r = await run(
        pod,
        'id -u; id -g; pwd; cat source.c; echo made-inside > out.txt; mkdir -p sub/dir',
      );
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe('1000\n1000\n/home/build\nint main(void) { return 0; }\n');
      expect(await readFile(join(workspace, 'out.txt'), 'utf8')).toBe('made-inside\n');
      expect(existsSync(join(workspace, 'sub', 'dir'))).toBe(true);
    });

    it('gives the step exactly the given environment: nothing of the host, nothing of the engine', async () => {
      process.env['TK_HOST_ONLY_VARIABLE'] = 'leaked';
      try {
        const env = {
          PATH,
          HOME: '/home/build',
          SOURCE_DATE_EPOCH: '1700000000',
          QUOTED: 'a b; $(touch /tmp/pwned) "x" \'y\'  ',
          HASH: '#not a comment',
          EMPTY: '',
        };
        const r = await run(pod, 'env | sort', { env });
        expect(r.exitCode).toBe(0);
        // The shells themselves define PWD and SHLVL; everything else is exactly what was given.
        const seen = r.stdout.split('\n').filter((l) => l !== '');
        expect(seen.filter((l) => !/^(PWD|SHLVL)=/.test(l))).toEqual(
          Object.entries(env)
            .map(([k, v]) => `${k}=${v}`)
            .sort(),
        );
        // A value with a newline (it cannot go through the env-file) arrives whole.
        const multi = await run(pod, 'printf "[%s]" "$MULTI"', { env: { MULTI: 'line one\nline two' } });
        expect(multi.stdout).toBe('[line one\nline two]');
        expect(r.stdout).not.toContain('leaked');
        expect(r.stdout).not.toMatch(/^(HOSTNAME|TERM|container)=/m);
        // Without HOME and PATH in the request, the engine's are not there either: HOME is unset, and PATH is
        // busybox ash's own default, exactly as under bubblewrap (`bwrap --clearenv … /bin/sh -c 'export -p'`).
        const bare = await run(pod, 'export -p', { env: { ONLY: '1' } });
        expect(bare.stdout.split('\n').filter((l) => !/ (PWD|SHLVL)=/.test(l))).toEqual([
          "export ONLY='1'",
          "export PATH='/sbin:/usr/sbin:/bin:/usr/bin'",
          '',
        ]);
      } finally {
        delete process.env['TK_HOST_ONLY_VARIABLE'];
      }
    });

    it('never puts a variable value on the command line of podman (secrets stay out of ps)', async () => {
      const calls: (readonly string[])[] = [];
      const spying = createContainerRunner({
        ...BENCH,
        spawn: (command, args, options) => {
          calls.push(args);
          return spawn(command, args, options);
        },
      });
      const ws = await freshWorkspace('spied');
      const spyPod = await spying.start(spec({ workspaceDir: ws }));
      try {
        const r = await run(spyPod, 'echo "$TOKEN"', { env: { PATH, TOKEN: 's3cr3t-value' } });
        expect(r.stdout).toBe('s3cr3t-value\n');
      } finally {
        await spyPod.close();
      }
      const step = calls.find((a) => a.includes('exec') && a.includes('echo "$TOKEN"'))!;
      expect(step.join(' ')).not.toContain('s3cr3t-value');
      expect(step).toContain('--env-file');
      // The env-file is gone once the step ended.
      expect(existsSync(step[step.indexOf('--env-file') + 1]!)).toBe(false);
    });

    it('reports exit codes and streams stdout and stderr separately', async () => {
      const r = await run(pod, 'echo to-out; echo to-err >&2; exit 3');
      expect(r.exitCode).toBe(3);
      expect(r.signal).toBeUndefined();
      expect(r.stdout).toBe('to-out\n');
      expect(r.stderr).toBe('to-err\n');
      expect(r.durationMs).toBeGreaterThan(0);
      const set = await run(pod, 'set -e; false; echo not-reached');
      expect(set.exitCode).toBe(1);
      expect(set.stdout).toBe('');
      expect((await run(pod, 'kill -9 $$')).exitCode).toBe(137);
      // A step that exits 125 to 127 itself is a failing step, not a runner failure.
      const missing = await run(pod, 'no-such-command-here');
      expect(missing.exitCode).toBe(127);
      expect(missing.stderr).toContain('no-such-command-here');
      expect((await run(pod, 'exit 125')).exitCode).toBe(125);
    });

    it('runs the steps of one pod one after the other, in the order they were asked for', async () => {
      await Promise.all([
        run(pod, 'sleep 1; echo first >> order'),
        run(pod, 'echo second >> order'),
        run(pod, 'echo third >> order'),
      ]);
      expect(await readFile(join(workspace, 'order'), 'utf8')).toBe('first\nsecond\nthird\n');
    });

    it('hands each line to onOutput as it comes', async () => {
      const lines: string[] = [];
      await pod.run({
        script: 'printf "a\\nb"; printf "c\\n"; printf "partial"',
        env: { PATH },
        workdir: '/home/build',
        onOutput: (text) => lines.push(text),
      });
      expect(lines).toEqual(['a\n', 'bc\n', 'partial']);
      // Output that starts like the start marker is the step's own.
      expect((await run(pod, 'echo tk-melange-step; echo tk-melange-step-started')).stdout).toBe(
        'tk-melange-step\ntk-melange-step-started\n',
      );
    });

    it('kills a step that runs past its timeout, with everything it started', async () => {
      const marker = String(90000 + (process.pid % 9000));
      const attempt = run(pod, `sleep ${marker} & sleep ${marker}`, { timeoutMs: 1500 });
      await expect(attempt).rejects.toMatchObject({ code: 'MELANGE_STEP_TIMEOUT' });
      // Rootful containers' processes are the host's: none of the step's is left.
      const left = readdirSync('/proc')
        .filter((p) => /^[0-9]+$/.test(p))
        .filter((p) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(marker);
          } catch {
            return false;
          }
        });
      expect(left).toEqual([]);
      // The pod still works.
      expect((await run(pod, 'echo alive')).stdout).toBe('alive\n');
    }, 30_000);

    it('kills a step when its signal aborts', async () => {
      const controller = new AbortController();
      const attempt = run(pod, 'echo started; sleep 100', {
        signal: controller.signal,
        onOutput: () => controller.abort(new Error('user pressed ctrl-c')),
      });
      await expect(attempt).rejects.toMatchObject({ code: 'MELANGE_STEP_ABORTED' });
      const already = new AbortController();
      already.abort();
      await expect(run(pod, 'true', { signal: already.signal })).rejects.toMatchObject({
        code: 'MELANGE_STEP_ABORTED',
      });
    }, 30_000);

    it('has no network but loopback unless asked; with the network it shares the host one', async () => {
      const interfaces = (await run(pod, 'cat /proc/net/dev')).stdout
        .split('\n')
        .slice(2)
        .map((l) => l.split(':')[0]!.trim())
        .filter((n) => n !== '');
      expect(interfaces).toEqual(['lo']);
      const hostInterfaces = readFileSync('/proc/net/dev', 'utf8')
        .split('\n')
        .slice(2)
        .filter((l) => l.trim() !== '').length;
      const netPod = await runner.start(spec({ network: true, workspaceDir: await freshWorkspace('net') }));
      try {
        const shared = await run(netPod, 'cat /proc/net/dev | tail -n +3 | wc -l');
        expect(shared.stdout.trim()).toBe(String(hostInterfaces));
      } finally {
        await netPod.close();
      }
    });

    it('keeps writes outside /home/build in the container: not in the host /etc, not in the guest folder', async () => {
      const name = `tk-sandbox-probe-${process.pid}`;
      const rootPod = await runner.start(
        spec({ user: 'root', workspaceDir: await freshWorkspace('root-etc') }),
      );
      try {
        const r = await run(rootPod, `echo inside > /etc/${name} && cat /etc/${name}`);
        expect(r.exitCode).toBe(0);
        expect(r.stdout).toBe('inside\n');
        expect(existsSync(`/etc/${name}`)).toBe(false);
        expect(existsSync(join(guestDir, 'etc', name))).toBe(false);
        // The build user cannot write the guest's root-owned folders.
        expect((await run(pod, 'touch /etc/tk-probe')).exitCode).not.toBe(0);
        expect((await run(rootPod, 'touch /sys/tk-probe')).exitCode).not.toBe(0);
      } finally {
        await rootPod.close();
      }
    });

    it('mounts the cache folder at /var/cache/melange when it exists, writable by the build user', async () => {
      const cacheDir = join(scratch, 'cache');
      await mkdir(cacheDir);
      await writeFile(join(cacheDir, 'source.tar'), 'cached bytes');
      const cachePod = await runner.start(spec({ cacheDir, workspaceDir: await freshWorkspace('cache-ws') }));
      try {
        const r = await run(
          cachePod,
          'cat /var/cache/melange/source.tar; mkdir -p /var/cache/melange/gomod && echo new > /var/cache/melange/gomod/written',
        );
        expect(r.stdout).toBe('cached bytes');
        expect(r.exitCode).toBe(0);
      } finally {
        await cachePod.close();
      }
      expect(await readFile(join(cacheDir, 'gomod', 'written'), 'utf8')).toBe('new\n');
      // Handed back to the invoking user with the container's removal.
      for (const p of ['', 'source.tar', 'gomod', 'gomod/written'])
        expect((await lstat(join(cacheDir, p))).uid).toBe(0);
      const missing = await runner.start(
        spec({ cacheDir: join(scratch, 'no-such-cache'), workspaceDir: await freshWorkspace('no-cache') }),
      );
      try {
        expect((await run(missing, 'ls /var/cache/melange/source.tar')).exitCode).not.toBe(0);
      } finally {
        await missing.close();
      }
    });

    it("runs 'root' as uid 0 with Docker's default capabilities, changed by add and drop; the build user has only what is added", async () => {
      const mask = (caps: readonly string[]): string =>
        caps
          .reduce((m, c) => m | (1n << BigInt(ALL_CAPABILITIES.indexOf(c))), 0n)
          .toString(16)
          .padStart(16, '0');
      const rootPod = await runner.start(
        spec({
          user: 'root',
          capabilities: { add: ['CAP_SYS_PTRACE'], drop: ['CAP_MKNOD'] },
          workspaceDir: await freshWorkspace('caps-root'),
        }),
      );
      try {
        const r = await run(rootPod, 'id -u; grep CapEff /proc/self/status');
        expect(r.stdout.split('\n')[0]).toBe('0');
        const expected = [...DEFAULT_ROOT_CAPABILITIES.filter((c) => c !== 'CAP_MKNOD'), 'CAP_SYS_PTRACE'];
        expect(r.stdout).toContain(`CapEff:\t${mask(expected)}`);
      } finally {
        await rootPod.close();
      }
      expect((await run(pod, 'grep CapEff /proc/self/status')).stdout).toBe(`CapEff:\t${'0'.repeat(16)}\n`);
      const added = await runner.start(
        spec({
          capabilities: { add: ['NET_ADMIN'], drop: [] },
          workspaceDir: await freshWorkspace('caps-user'),
        }),
      );
      try {
        expect((await run(added, 'grep CapEff /proc/self/status')).stdout).toBe(
          `CapEff:\t${mask(['CAP_NET_ADMIN'])}\n`,
        );
      } finally {
        await added.close();
      }
    });

    it('starts in / when the working directory does not exist yet (the step creates it)', async () => {
      const r = await run(pod, 'pwd; mkdir -p /home/build/later && cd /home/build/later && pwd', {
        workdir: '/home/build/later',
      });
      expect(r.stdout).toBe('/\n/home/build/later\n');
      expect((await run(pod, 'pwd', { workdir: '/home/build/later' })).stdout).toBe('/home/build/later\n');
      // A folder that exists only in the container works too.
      expect((await run(pod, 'pwd', { workdir: '/usr/share' })).stdout).toBe('/usr/share\n');
    });

    it('mounts extra folders, read-only when asked', async () => {
      const src = join(scratch, 'extra');
      await mkdir(src);
      await writeFile(join(src, 'f'), 'extra');
      const extraPod = await runner.start(
        spec({
          extraMounts: [{ source: src, dest: '/opt/extra', readonly: true }],
          workspaceDir: await freshWorkspace('extra-ws'),
        }),
      );
      try {
        const r = await run(extraPod, 'cat /opt/extra/f; touch /opt/extra/g');
        expect(r.stdout).toBe('extra');
        expect(r.exitCode).not.toBe(0);
      } finally {
        await extraPod.close();
      }
    });

    it('gives the workspace back with the owners and modes the build set (melange #2103, #1395)', async () => {
      const ws = await freshWorkspace('modes');
      await mkdir(join(ws, 'melange-out', 'pkg'), { recursive: true });
      await writeFile(join(ws, 'prebuilt-by-1000'), 'x');
      await chown(join(ws, 'prebuilt-by-1000'), 1000, 1000);
      await writeFile(join(ws, 'src-script'), '#!/bin/sh\n');
      await chmod(join(ws, 'src-script'), 0o750);
      const modesPod = await runner.start(spec({ workspaceDir: ws }));
      try {
        const script = [
          'cd melange-out/pkg',
          'mkdir -p usr/bin usr/share/doc var/lib/app',
          'cp /bin/busybox usr/bin/tool && chmod 0755 usr/bin/tool',
          'cp /bin/busybox usr/bin/suid && chmod 4755 usr/bin/suid',
          'cp /bin/busybox usr/bin/sgid && chmod 2711 usr/bin/sgid',
          'echo doc > usr/share/doc/README && chmod 0444 usr/share/doc/README',
          'echo secret > var/lib/app/key && chmod 0600 var/lib/app/key',
          'chmod 1777 var/lib/app',
          'ln -s tool usr/bin/link',
          'ln usr/bin/tool usr/bin/hard',
          'stat -c "%u:%g %a %n" /home/build/src-script',
        ].join('\n');
        const r = await run(modesPod, script);
        expect(r.stderr).toBe('');
        expect(r.exitCode).toBe(0);
        // Inside, the workspace is the build user's, modes as on the host.
        expect(r.stdout).toBe('1000:1000 750 /home/build/src-script\n');
        // While the pod runs, the engine shows the build user's files as uid 1000 on the host.
        expect((await lstat(join(ws, 'melange-out/pkg/usr/bin/tool'))).uid).toBe(1000);
      } finally {
        await modesPod.close();
      }
      const st = async (p: string) => {
        const s = await lstat(join(ws, 'melange-out/pkg', p));
        return `${s.uid}:${s.gid} ${(s.mode & 0o7777).toString(8)}`;
      };
      expect(await st('usr/bin/tool')).toBe('0:0 755');
      expect(await st('usr/bin/suid')).toBe('0:0 4755');
      expect(await st('usr/bin/sgid')).toBe('0:0 2711');
      expect(await st('usr/share/doc/README')).toBe('0:0 444');
      expect(await st('var/lib/app/key')).toBe('0:0 600');
      expect(await st('var/lib/app')).toBe('0:0 1777');
      expect((await lstat(join(ws, 'melange-out/pkg/usr/bin/link'))).isSymbolicLink()).toBe(true);
      expect((await lstat(join(ws, 'melange-out/pkg/usr/bin/hard'))).nlink).toBe(2);
      expect(`${(await lstat(ws)).uid}:${(await lstat(join(ws, 'src-script'))).uid}`).toBe('0:0');
      expect(((await lstat(join(ws, 'src-script'))).mode & 0o7777).toString(8)).toBe('750');
      // A file that was uid 1000's before the build was not lent, so it is not "given back" to root.
      expect((await lstat(join(ws, 'prebuilt-by-1000'))).uid).toBe(1000);
    });

    it('removes its container and image on close, and refuses to run after', async () => {
      const ws = await freshWorkspace('close');
      const name = containerName(guestDir, ws);
      const short = await runner.start(spec({ workspaceDir: ws }));
      expect(podmanOut('ps', '--filter', `name=^${name}$`, '--format', '{{.Names}}')).toBe(name);
      const suffix = name.slice('tk-melange-'.length, 'tk-melange-'.length + 12);
      const tags = () =>
        podmanOut(
          'images',
          '--format',
          '{{.Repository}}:{{.Tag}}',
          '--filter',
          `reference=${GUEST_IMAGE_REPOSITORY}`,
        )
          .split('\n')
          .filter((t) => t.endsWith(`-${suffix}`));
      expect(tags()).toHaveLength(1);
      // Closing kills a step that is still running.
      const running = run(short, 'echo started; sleep 300', {
        onOutput: () => void short.close(),
      });
      const ended = await running;
      expect(ended.exitCode).toBe(137);
      await short.close();
      expect(podmanOut('ps', '-a', '--filter', `name=^${name}$`, '--format', '{{.Names}}')).toBe('');
      expect(tags()).toEqual([]);
      await expect(run(short, 'true')).rejects.toMatchObject({ code: 'MELANGE_RUNNER_BAD_SPEC' });
    });

    it('keeps the image under a content tag when asked, and reuses it', async () => {
      const keeping = createContainerRunner({ ...BENCH, keepImage: true });
      const first = await keeping.start(spec({ workspaceDir: await freshWorkspace('keep-1') }));
      await first.close();
      const kept = podmanOut(
        'images',
        '--format',
        '{{.Repository}}:{{.Tag}} {{.ID}}',
        '--filter',
        `reference=${GUEST_IMAGE_REPOSITORY}`,
      )
        .split('\n')
        .filter((l) => /:[0-9a-f]{16} /.test(l));
      expect(kept).toHaveLength(1);
      const [tag, id] = kept[0]!.split(' ');
      try {
        const second = await keeping.start(spec({ workspaceDir: await freshWorkspace('keep-2') }));
        try {
          expect((await run(second, 'echo again')).stdout).toBe('again\n');
        } finally {
          await second.close();
        }
        expect(podmanOut('image', 'inspect', '--format', '{{.Id}}', tag!).startsWith(id!)).toBe(true);
      } finally {
        podmanOut('rmi', tag!);
      }
    });

    it('reports a step it could not start (the container is gone) as a runner failure quoting podman', async () => {
      const ws = await freshWorkspace('gone');
      const doomed = await runner.start(spec({ workspaceDir: ws }));
      try {
        podmanOut('rm', '--force', '--time', '0', containerName(guestDir, ws));
        await expect(run(doomed, 'echo never')).rejects.toMatchObject({
          code: 'MELANGE_RUNNER_FAILED',
          message: expect.stringContaining('podman') as unknown,
        });
      } finally {
        await doomed.close();
      }
    });

    it('rejects bad specs and requests with coded errors', async () => {
      await expect(runner.start(spec({ guestDir: join(scratch, 'nope') }))).rejects.toMatchObject({
        code: 'MELANGE_RUNNER_BAD_SPEC',
      });
      await expect(runner.start(spec({ workspaceDir: 'relative/ws' }))).rejects.toMatchObject({
        code: 'MELANGE_RUNNER_BAD_SPEC',
      });
      const comma = join(scratch, 'a,b');
      await mkdir(comma);
      await expect(runner.start(spec({ workspaceDir: comma }))).rejects.toMatchObject({
        code: 'MELANGE_RUNNER_BAD_SPEC',
      });
      const empty = join(scratch, 'empty-guest');
      await mkdir(empty);
      await expect(runner.start(spec({ guestDir: empty }))).rejects.toMatchObject({
        code: 'MELANGE_RUNNER_BAD_SPEC',
        message: expect.stringContaining('/bin/sh') as unknown,
      });
      await expect(runner.start(spec({ user: { uid: -1, gid: 0 } }))).rejects.toMatchObject({
        code: 'MELANGE_RUNNER_BAD_SPEC',
      });
      await expect(
        runner.start(spec({ capabilities: { add: ['CAP_FLY'], drop: [] } })),
      ).rejects.toMatchObject({
        code: 'MELANGE_RUNNER_BAD_SPEC',
      });
      await expect(
        runner.start(spec({ extraMounts: [{ source: scratch, dest: '/opt/../etc', readonly: true }] })),
      ).rejects.toMatchObject({ code: 'MELANGE_RUNNER_BAD_SPEC' });
      await expect(run(pod, 'true', { env: { 'A=B': 'x' } })).rejects.toMatchObject({
        code: 'MELANGE_RUNNER_BAD_SPEC',
      });
      await expect(run(pod, 'true', { env: { A: 'x\0y' } })).rejects.toMatchObject({
        code: 'MELANGE_RUNNER_BAD_SPEC',
      });
      await expect(run(pod, 'true', { workdir: 'home/build' })).rejects.toMatchObject({
        code: 'MELANGE_RUNNER_BAD_SPEC',
      });
      await expect(run(pod, 'x'.repeat(200 * 1024))).rejects.toMatchObject({
        code: 'MELANGE_RUNNER_BAD_SPEC',
      });
      // Nothing of these attempts is left behind.
      expect(
        podmanOut(
          'ps',
          '-a',
          '--filter',
          `name=^${containerName(join(scratch, 'nope'), workspace)}$`,
          '--format',
          '{{.Names}}',
        ),
      ).toBe('');
    });

    it('needs root to lend the workspace to a build user that is not root', async () => {
      const notRoot = createContainerRunner({ ...BENCH, isRoot: false, hostUser: { uid: 1234, gid: 1234 } });
      await expect(
        notRoot.start(spec({ workspaceDir: await freshWorkspace('not-root') })),
      ).rejects.toMatchObject({
        code: 'MELANGE_RUNNER_UNUSABLE',
        hint: expect.stringContaining('bubblewrap') as unknown,
      });
    });
  },
);

describe.skipIf(armSkip !== undefined)(
  `an aarch64 guest in podman under qemu-user${armSkip === undefined ? '' : ` (skipped: ${armSkip})`}`,
  () => {
    it('runs uname -m as aarch64, as the build user', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tk-podman-arm-'));
      try {
        await assembleGuest({
          environment: parseImageConfig(GUEST_ENV),
          arch: 'aarch64',
          baseDir: dir,
          dir: join(dir, 'guest'),
          sourceDateEpoch: 0,
          env: {},
          isRoot,
        });
        await mkdir(join(dir, 'ws'));
        const runner = createContainerRunner(BENCH);
        await runner.checkUsable({ arch: 'aarch64' });
        const pod = await runner.start({
          guestDir: join(dir, 'guest'),
          workspaceDir: join(dir, 'ws'),
          user: { uid: 1000, gid: 1000 },
          network: false,
          arch: 'aarch64',
        });
        try {
          const r = await run(pod, 'uname -m; id -u; echo x > arm-made');
          expect(r.stdout).toBe('aarch64\n1000\n');
        } finally {
          await pod.close();
        }
        expect((await lstat(join(dir, 'ws', 'arm-made'))).uid).toBe(0);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }, 120_000);

    it('fails with a hint when the binfmt entry is missing', async () => {
      const fake = await mkdtemp(join(tmpdir(), 'tk-binfmt-'));
      try {
        await writeFile(join(fake, 'status'), 'enabled\n');
        const runner = createContainerRunner({ ...BENCH, binfmtDir: fake, hostArch: 'x64' });
        await expect(runner.checkUsable({ arch: 'aarch64' })).rejects.toMatchObject({
          code: 'MELANGE_RUNNER_NO_EMULATION',
          hint: expect.stringContaining('qemu-user-static') as unknown,
        });
      } finally {
        await rm(fake, { recursive: true, force: true });
      }
    });
  },
);

describe('checkUsable without podman', () => {
  it('names a missing tool and how to install it', async () => {
    await expect(
      createContainerRunner({ cli: 'podman', searchPath: '/nonexistent/bin' }).checkUsable(),
    ).rejects.toMatchObject({
      code: 'MELANGE_RUNNER_UNUSABLE',
      hint: expect.stringContaining('install podman') as unknown,
    });
    await expect(
      createContainerRunner({ cli: 'podman', binary: '/nonexistent/podman' }).checkUsable(),
    ).rejects.toMatchObject({ code: 'MELANGE_RUNNER_UNUSABLE' });
  });

  it.skipIf(podman === undefined)('passes on this machine', async () => {
    await expect(createContainerRunner(BENCH).checkUsable()).resolves.toBeUndefined();
  });
});
