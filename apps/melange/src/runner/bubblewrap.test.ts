import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImageConfig } from '@tk/apko';
import { assembleGuest } from '../guest/assemble.ts';
import { createBubblewrapRunner } from './bubblewrap.ts';
import { ALL_CAPABILITIES, DEFAULT_ROOT_CAPABILITIES } from './capabilities.ts';
import type { Pod, RunRequest, RunnerSpec } from './types.ts';

const REPO = fileURLToPath(new URL('../../../../.cache/bootstrap/repo', import.meta.url));
const haveRepo = existsSync(join(REPO, 'x86_64', 'APKINDEX.tar.gz'));
const haveArmRepo = existsSync(join(REPO, 'aarch64', 'APKINDEX.tar.gz'));
const bwrap = ['/usr/bin/bwrap', '/usr/local/bin/bwrap', '/bin/bwrap'].find((p) => existsSync(p));
const isRoot = process.getuid?.() === 0;
const hostIsX86 = process.arch === 'x64';

function binfmtAarch64(): string | undefined {
  try {
    const text = readFileSync('/proc/sys/fs/binfmt_misc/qemu-aarch64', 'utf8');
    if (!text.startsWith('enabled')) return 'qemu-aarch64 is registered but disabled';
    if (!/^flags: [A-Z]*F/m.test(text)) return 'qemu-aarch64 is registered without the F flag';
    return undefined;
  } catch {
    return 'no /proc/sys/fs/binfmt_misc/qemu-aarch64 (apt-get install qemu-user-static)';
  }
}

const skipReason =
  bwrap === undefined
    ? 'bwrap is not installed (apt-get install bubblewrap)'
    : !haveRepo
      ? `no bootstrap repository at ${REPO} (node test-fixtures/bootstrap/build-repo.mjs)`
      : !hostIsX86
        ? 'these tests assemble an x86_64 guest and need an x86_64 host'
        : undefined;
const armSkip = skipReason ?? (!haveArmRepo ? 'no aarch64 bootstrap repository' : binfmtAarch64());

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin';
const GUEST_ENV = `contents:
  repositories: [${REPO}]
  keyring: [${join(REPO, 'tk-bootstrap.rsa.pub')}]
  packages: [busybox, busybox-binsh, tk-baselayout]
accounts:
  users: [{ username: build, uid: 1000, gid: 1000 }]
  groups: [{ groupname: build, gid: 1000 }]
`;

let scratch: string;
let guestDir: string;

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

describe.skipIf(skipReason !== undefined)(
  `the bubblewrap runner${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    const runner = createBubblewrapRunner({ isRoot, bwrapPath: bwrap! });
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

    beforeAll(async () => {
      scratch = await mkdtemp(join(tmpdir(), 'tk-bwrap-test-'));
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
      workspace = join(scratch, 'workspace');
      await mkdir(workspace);
      await runner.checkUsable();
      pod = await runner.start(spec());
    });
    afterAll(async () => {
      await pod.close();
      await rm(scratch, { recursive: true, force: true });
    });

    it('runs as the build user in /home/build, and files it writes appear in the workspace', async () => {
      const r = await run(pod, 'id -u; id -g; pwd; echo made-inside > out.txt; mkdir -p sub/dir');
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe('1000\n1000\n/home/build\n');
      expect(await readFile(join(workspace, 'out.txt'), 'utf8')).toBe('made-inside\n');
      expect(existsSync(join(workspace, 'sub', 'dir'))).toBe(true);
    });

    it('gives the step exactly the given environment, and nothing of the host', async () => {
      process.env['TK_HOST_ONLY_VARIABLE'] = 'leaked';
      try {
        const env = {
          PATH,
          HOME: '/home/build',
          SOURCE_DATE_EPOCH: '1700000000',
          QUOTED: 'a b; $(touch /tmp/pwned) "x"',
          EMPTY: '',
        };
        const r = await run(pod, 'env | sort', { env });
        expect(r.exitCode).toBe(0);
        // The shell itself defines PWD and SHLVL; everything else is exactly what was given.
        const seen = r.stdout.split('\n').filter((l) => l !== '');
        expect(seen.filter((l) => !/^(PWD|SHLVL)=/.test(l))).toEqual(
          Object.entries(env)
            .map(([k, v]) => `${k}=${v}`)
            .sort(),
        );
        expect(seen).toContain('PWD=/home/build');
        expect(r.stdout).not.toContain('leaked');
      } finally {
        delete process.env['TK_HOST_ONLY_VARIABLE'];
      }
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
    });

    it('kills a step that runs past its timeout, with everything it started', async () => {
      const marker = String(90000 + (process.pid % 9000));
      const attempt = run(pod, `sleep ${marker} & sleep ${marker}`, { timeoutMs: 300 });
      await expect(attempt).rejects.toMatchObject({ code: 'MELANGE_STEP_TIMEOUT' });
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
    }, 20_000);

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
    }, 20_000);

    it('has no network but loopback unless asked', async () => {
      const r = await run(pod, 'cat /proc/net/dev');
      const interfaces = r.stdout
        .split('\n')
        .slice(2)
        .map((l) => l.split(':')[0]!.trim())
        .filter((n) => n !== '');
      expect(interfaces).toEqual(['lo']);
      const hostInterfaces = readFileSync('/proc/net/dev', 'utf8')
        .split('\n')
        .slice(2)
        .filter((l) => l.trim() !== '').length;
      const netPod = await runner.start(spec({ network: true }));
      try {
        const shared = await run(netPod, 'cat /proc/net/dev | tail -n +3 | wc -l; cat /etc/resolv.conf');
        expect(shared.stdout.split('\n')[0]!.trim()).toBe(String(hostInterfaces));
        if (existsSync('/etc/resolv.conf'))
          expect(shared.stdout).toContain(readFileSync('/etc/resolv.conf', 'utf8').split('\n')[0]!);
      } finally {
        await netPod.close();
      }
    });

    it("writes to /etc go into the guest, never the host's /etc", async () => {
      const name = `tk-sandbox-probe-${process.pid}`;
      const rootPod = await runner.start(spec({ user: 'root' }));
      try {
        const r = await run(rootPod, `echo inside > /etc/${name} && cat /etc/${name}`);
        expect(r.exitCode).toBe(0);
        expect(existsSync(`/etc/${name}`)).toBe(false);
        expect(await readFile(join(guestDir, 'etc', name), 'utf8')).toBe('inside\n');
        // The host's /sys is there, read-only.
        expect((await run(rootPod, 'touch /sys/tk-probe')).exitCode).not.toBe(0);
      } finally {
        await rootPod.close();
        await rm(join(guestDir, 'etc', name), { force: true });
      }
    });

    it('mounts the cache folder at /var/cache/melange when it exists', async () => {
      const cacheDir = join(scratch, 'cache');
      await mkdir(cacheDir);
      await writeFile(join(cacheDir, 'source.tar'), 'cached bytes');
      const cachePod = await runner.start(spec({ cacheDir }));
      try {
        const r = await run(
          cachePod,
          'cat /var/cache/melange/source.tar; echo new > /var/cache/melange/written',
        );
        expect(r.stdout).toBe('cached bytes');
        expect(await readFile(join(cacheDir, 'written'), 'utf8')).toBe('new\n');
      } finally {
        await cachePod.close();
      }
      const missing = await runner.start(spec({ cacheDir: join(scratch, 'no-such-cache') }));
      try {
        expect((await run(missing, 'ls /var/cache/melange/source.tar')).exitCode).not.toBe(0);
      } finally {
        await missing.close();
      }
    });

    it("runs 'root' as uid 0 with Docker's default capabilities, changed by add and drop", async () => {
      const mask = (caps: readonly string[]): string =>
        caps
          .reduce((m, c) => m | (1n << BigInt(ALL_CAPABILITIES.indexOf(c))), 0n)
          .toString(16)
          .padStart(16, '0');
      const rootPod = await runner.start(
        spec({ user: 'root', capabilities: { add: ['CAP_SYS_PTRACE'], drop: ['CAP_MKNOD'] } }),
      );
      try {
        const r = await run(rootPod, 'id -u; grep CapEff /proc/self/status');
        expect(r.stdout.split('\n')[0]).toBe('0');
        const expected = [...DEFAULT_ROOT_CAPABILITIES.filter((c) => c !== 'CAP_MKNOD'), 'CAP_SYS_PTRACE'];
        expect(r.stdout).toContain(`CapEff:\t${mask(expected)}`);
      } finally {
        await rootPod.close();
      }
      // The build user has none unless the recipe adds some.
      expect((await run(pod, 'grep CapEff /proc/self/status')).stdout).toBe(`CapEff:\t${'0'.repeat(16)}\n`);
    });

    it('starts in / when the working directory does not exist yet (the step creates it)', async () => {
      const r = await run(pod, 'pwd; mkdir -p /home/build/later && cd /home/build/later && pwd', {
        workdir: '/home/build/later',
      });
      expect(r.stdout).toBe('/\n/home/build/later\n');
      expect((await run(pod, 'pwd', { workdir: '/home/build/later' })).stdout).toBe('/home/build/later\n');
    });

    it('mounts extra folders, read-only when asked', async () => {
      const src = join(scratch, 'extra');
      await mkdir(src);
      await writeFile(join(src, 'f'), 'extra');
      const extraPod = await runner.start(
        spec({ extraMounts: [{ source: src, dest: '/opt/extra', readonly: true }] }),
      );
      try {
        const r = await run(extraPod, 'cat /opt/extra/f; touch /opt/extra/g');
        expect(r.stdout).toBe('extra');
        expect(r.exitCode).not.toBe(0);
        // A mount whose source vanished after start: bwrap fails before the step, which is a runner error.
        await rm(src, { recursive: true });
        await expect(run(extraPod, 'true')).rejects.toMatchObject({
          code: 'MELANGE_RUNNER_FAILED',
          message: expect.stringContaining('bwrap') as unknown,
        });
      } finally {
        await extraPod.close();
      }
    });

    it('rejects bad specs and requests with coded errors', async () => {
      await expect(runner.start(spec({ guestDir: join(scratch, 'nope') }))).rejects.toMatchObject({
        code: 'MELANGE_RUNNER_BAD_SPEC',
      });
      await expect(runner.start(spec({ workspaceDir: 'relative/ws' }))).rejects.toMatchObject({
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
      ).rejects.toMatchObject({ code: 'MELANGE_RUNNER_BAD_SPEC' });
      await expect(
        runner.start(spec({ extraMounts: [{ source: scratch, dest: '/opt/../etc', readonly: true }] })),
      ).rejects.toMatchObject({
        code: 'MELANGE_RUNNER_BAD_SPEC',
      });
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
    });

    it('spawns bwrap with an empty environment and the script as the last argument', async () => {
      const calls: { command: string; args: readonly string[]; env: unknown }[] = [];
      const spying = createBubblewrapRunner({
        isRoot,
        bwrapPath: bwrap!,
        spawn: (command, args, options) => {
          calls.push({ command, args, env: options.env });
          return spawn(command, args, options);
        },
      });
      const spyPod = await spying.start(spec());
      try {
        expect((await run(spyPod, 'echo spied')).stdout).toBe('spied\n');
      } finally {
        await spyPod.close();
      }
      const step = calls.at(-1)!;
      expect(step.command).toBe(bwrap);
      expect(step.env).toEqual({});
      expect(step.args.slice(-4)).toEqual(['--', '/bin/sh', '-c', 'echo spied']);
      expect(step.args).toContain('--clearenv');
    });

    it('refuses to run after close', async () => {
      const short = await runner.start(spec());
      await short.close();
      await short.close();
      await expect(run(short, 'true')).rejects.toMatchObject({ code: 'MELANGE_RUNNER_BAD_SPEC' });
    });
  },
);

describe.skipIf(armSkip !== undefined)(
  `an aarch64 guest under qemu-user${armSkip === undefined ? '' : ` (skipped: ${armSkip})`}`,
  () => {
    it('runs uname -m as aarch64', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tk-bwrap-arm-'));
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
        const runner = createBubblewrapRunner({ isRoot, bwrapPath: bwrap! });
        await runner.checkUsable({ arch: 'aarch64' });
        const pod = await runner.start({
          guestDir: join(dir, 'guest'),
          workspaceDir: join(dir, 'ws'),
          user: { uid: 1000, gid: 1000 },
          network: false,
          arch: 'aarch64',
        });
        try {
          const r = await run(pod, 'uname -m; id -u');
          expect(r.stdout).toBe('aarch64\n1000\n');
        } finally {
          await pod.close();
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }, 60_000);

    it('fails with a hint when the binfmt entry is missing', async () => {
      const fake = await mkdtemp(join(tmpdir(), 'tk-binfmt-'));
      try {
        await writeFile(join(fake, 'status'), 'enabled\n');
        const runner = createBubblewrapRunner({
          isRoot,
          bwrapPath: bwrap!,
          binfmtDir: fake,
          hostArch: 'x64',
        });
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

describe('checkUsable without a working bwrap', () => {
  it('names a missing bwrap and how to install it', async () => {
    const runner = createBubblewrapRunner({ searchPath: '/nonexistent/bin' });
    await expect(runner.checkUsable()).rejects.toMatchObject({
      code: 'MELANGE_RUNNER_UNUSABLE',
      hint: expect.stringContaining('install bubblewrap') as unknown,
    });
    await expect(
      createBubblewrapRunner({ bwrapPath: '/nonexistent/bwrap' }).checkUsable(),
    ).rejects.toMatchObject({
      code: 'MELANGE_RUNNER_UNUSABLE',
    });
  });

  it.skipIf(!existsSync('/bin/sh'))(
    'explains a bwrap that cannot create user namespaces (AppArmor, melange#1508)',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tk-fake-bwrap-'));
      try {
        const fake = join(dir, 'bwrap');
        await writeFile(fake, '#!/bin/sh\necho "bwrap: setting up uid map: Permission denied" >&2\nexit 1\n');
        await chmod(fake, 0o755);
        const runner = createBubblewrapRunner({ searchPath: dir });
        await expect(runner.checkUsable()).rejects.toMatchObject({
          code: 'MELANGE_RUNNER_UNUSABLE',
          message: expect.stringContaining('Permission denied') as unknown,
          hint: expect.stringContaining('apparmor_restrict_unprivileged_userns') as unknown,
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  it.skipIf(bwrap === undefined)('passes on this machine', async () => {
    await expect(createBubblewrapRunner({ isRoot }).checkUsable()).resolves.toBeUndefined();
    expect(execFileSync(bwrap!, ['--version'], { encoding: 'utf8' })).toMatch(/^bubblewrap /);
  });
});
