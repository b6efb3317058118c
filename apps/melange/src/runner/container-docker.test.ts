/**
 * The docker flavour of the container runner against a fake `docker` (there is no Docker engine on these
 * machines; podman runs the real tests in container.test.ts). The fake logs its arguments, stores what
 * `load` receives, and runs an `exec`'s command on the host with the environment docker would give it
 * (its PATH, HOSTNAME and HOME, then the env-file and --env values), so that the runner's wrapper is
 * exercised for real. It never runs the in-container `kill -9 -1`: it kills the processes it started.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTar } from '@tk/tar';
import { CONTAINER_LABEL } from './container-args.ts';
import { containerName, createContainerRunner } from './container.ts';
import { runnerFor } from './index.ts';
import type { Pod, RunnerSpec } from './types.ts';

const FAKE_DOCKER = `
const fs = require('node:fs');
const cp = require('node:child_process');
const args = process.argv.slice(2);
const env = process.env;
fs.appendFileSync(env.FAKE_LOG, JSON.stringify(args) + '\\n');
const done = (code) => process.exit(code);
if (env.FAKE_DOWN) {
  process.stderr.write('Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\\n');
  done(1);
}
switch (args[0]) {
  case 'version':
    process.stdout.write('Client: Docker Engine - fake\\n Version: 28.2.2\\n');
    done(0);
    break;
  case 'load': {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => {
      fs.writeFileSync(env.FAKE_ARCHIVE, Buffer.concat(chunks));
      process.stdout.write('Loaded image: fake\\n');
      done(0);
    });
    break;
  }
  case 'run':
    process.stdout.write('f'.repeat(64) + '\\n');
    done(0);
    break;
  case 'exec': {
    let i = 1;
    const childEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOSTNAME: 'f00f00f00f00', HOME: '/root' };
    for (; i < args.length && args[i].startsWith('--'); i++) {
      const flag = args[i];
      if (flag === '--interactive' || flag === '--tty') continue;
      const value = args[++i];
      if (flag === '--env') { const k = value.slice(0, value.indexOf('=')); childEnv[k] = value.slice(k.length + 1); }
      if (flag === '--env-file') {
        for (const line of fs.readFileSync(value, 'utf8').split('\\n')) {
          if (line === '') continue;
          const k = line.slice(0, line.indexOf('='));
          childEnv[k] = line.slice(k.length + 1);
        }
      }
    }
    const command = args.slice(i + 1);
    if (command.join(' ').includes('kill -9 -1')) {
      // Never on the host: kill what this fake started instead.
      // Only processes still running: a finished child removes its file, so no reused pid is hit.
      for (const pid of fs.readdirSync(env.FAKE_PIDS)) {
        try { process.kill(-Number(pid), 'SIGKILL'); } catch {}
      }
      done(0);
    }
    if (env.FAKE_EXEC_FAIL) {
      process.stderr.write('OCI runtime exec failed: exec failed: unable to start container process: exec: "/bin/sh": stat /bin/sh: no such file or directory: unknown\\n');
      done(126);
    }
    const child = cp.spawn(command[0], command.slice(1), { env: childEnv, stdio: 'inherit', cwd: '/', detached: true });
    const pidFile = env.FAKE_PIDS + '/' + child.pid;
    fs.writeFileSync(pidFile, '');
    child.on('close', (code, signal) => {
      fs.rmSync(pidFile, { force: true });
      done(code === null ? 128 + require('node:os').constants.signals[signal] : code);
    });
    break;
  }
  case 'rm':
  case 'rmi':
    done(0);
    break;
  default:
    process.stderr.write('fake docker: unknown command ' + args[0] + '\\n');
    done(125);
}
`;

let dir: string;
let fake: string;
let guestDir: string;
let cliEnv: Record<string, string>;

async function calls(): Promise<string[][]> {
  return (await readFile(cliEnv['FAKE_LOG']!, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as string[]);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tk-fake-docker-'));
  fake = join(dir, 'docker');
  await writeFile(fake, `#!${process.execPath}\n${FAKE_DOCKER}`);
  await chmod(fake, 0o755);
  guestDir = join(dir, 'guest');
  await mkdir(join(guestDir, 'bin'), { recursive: true });
  await writeFile(join(guestDir, 'bin', 'sh'), 'not really a shell');
  cliEnv = {
    FAKE_LOG: join(dir, 'calls.jsonl'),
    FAKE_ARCHIVE: join(dir, 'loaded.tar'),
    FAKE_PIDS: join(dir, 'pids'),
  };
  await mkdir(cliEnv['FAKE_PIDS']!);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the docker runner (fake docker)', () => {
  const runner = () =>
    createContainerRunner({
      cli: 'docker',
      binary: fake,
      cliEnv,
      runtime: 'runc',
      ulimits: ['nofile=1024:1024'],
      isRoot: true,
      tempDir: dir,
    });
  const spec = async (name: string, over: Partial<RunnerSpec> = {}): Promise<RunnerSpec> => {
    const workspaceDir = join(dir, name);
    await mkdir(workspaceDir);
    return {
      guestDir,
      workspaceDir,
      user: { uid: 1000, gid: 1000 },
      network: false,
      arch: 'aarch64',
      ...over,
    };
  };
  let pod: Pod;
  let workspaceDir: string;

  beforeAll(async () => {
    const s = await spec('ws');
    workspaceDir = s.workspaceDir;
    pod = await runner().start(s);
  });
  afterAll(async () => {
    await pod.close();
  });

  it("loads the guest as a docker-archive and starts one container with docker's own flags", async () => {
    const log = await calls();
    expect(log.map((c) => c[0])).toEqual(['version', 'load', 'run', 'exec']);
    const archive = readTar(new Uint8Array(await readFile(cliEnv['FAKE_ARCHIVE']!)));
    expect(archive.entries.map((e) => e.name)).toEqual(['layer.tar', 'config.json', 'manifest.json']);
    const [manifest] = JSON.parse(Buffer.from(archive.entries[2]!.data).toString('utf8')) as {
      RepoTags: string[];
    }[];
    const tag = manifest!.RepoTags[0]!;
    const run = log[2]!;
    // docker takes --runtime on run, and has neither --unsetenv-all nor --no-hosts.
    expect(run[run.indexOf('--runtime') + 1]).toBe('runc');
    expect(run).not.toContain('--unsetenv-all');
    expect(run).not.toContain('--no-hosts');
    expect(run[run.indexOf('--platform') + 1]).toBe('linux/arm64');
    expect(run[run.indexOf('--name') + 1]).toBe(containerName(guestDir, workspaceDir));
    expect(run[run.indexOf('--label') + 1]).toBe(CONTAINER_LABEL);
    expect(run[run.indexOf('--ulimit') + 1]).toBe('nofile=1024:1024');
    expect(run).toContain(tag);
    // The start-up exec primes ld.so.cache as root.
    expect(log[3]![log[3]!.indexOf('--user') + 1]).toBe('0:0');
  });

  it('unsets the variables docker adds, and keeps those the step sets', async () => {
    let out = '';
    const r = await pod.run({
      script: 'export -p',
      env: { KEEP: 'value with spaces', HOME: '/home/build' },
      workdir: '/home/build',
      onOutput: (t) => (out += t),
    });
    expect(r.exitCode).toBe(0);
    const names = out
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => /^(?:export|declare -x) ([^=]+)/.exec(l)?.[1])
      .filter((n) => n !== 'PWD' && n !== 'SHLVL' && n !== 'PATH');
    // (A shell may export a default PATH of its own; docker's HOSTNAME and HOME are gone, the step's HOME stays.)
    expect(names).toEqual(['HOME', 'KEEP']);
    expect(out).toContain('/home/build');
    expect(out).not.toContain('f00f00f00f00');
  });

  it('passes exit codes through, and tells a step that never started from one that exited 126', async () => {
    expect((await pod.run({ script: 'exit 126', env: {}, workdir: '/' })).exitCode).toBe(126);
    expect((await pod.run({ script: 'kill -9 $$', env: {}, workdir: '/' })).exitCode).toBe(137);
    const failing = createContainerRunner({
      cli: 'docker',
      binary: fake,
      cliEnv: { ...cliEnv, FAKE_EXEC_FAIL: '1' },
      isRoot: true,
      tempDir: dir,
    });
    // The start-up exec is the first to fail: the start fails, quoting docker, and cleans up.
    await expect(failing.start(await spec('failing'))).rejects.toMatchObject({
      code: 'MELANGE_RUNNER_FAILED',
      message: expect.stringContaining('OCI runtime exec failed') as unknown,
    });
    const log = await calls();
    expect(log.at(-2)).toEqual(['rm', '--force', containerName(guestDir, join(dir, 'failing'))]);
    expect(log.at(-1)![0]).toBe('rmi');
  });

  it('kills a step past its timeout through an exec in the container', async () => {
    await expect(
      pod.run({ script: 'sleep 30', env: {}, workdir: '/', timeoutMs: 500 }),
    ).rejects.toMatchObject({
      code: 'MELANGE_STEP_TIMEOUT',
    });
    const kill = (await calls()).find((c) => c.join(' ').includes('kill -9 -1'))!;
    expect(kill.slice(0, 3)).toEqual(['exec', '--user', '1000:1000']);
  }, 20_000);

  it('removes the container with rm --force (no --time) and the image on close', async () => {
    const s = await spec('closing', { user: 'root' });
    const closing = await runner().start(s);
    await closing.close();
    const log = await calls();
    expect(log.at(-2)).toEqual(['rm', '--force', containerName(guestDir, s.workspaceDir)]);
    expect(log.at(-1)![0]).toBe('rmi');
    expect(log.at(-1)![1]).toMatch(/^localhost\/tk-melange-guest:[0-9a-f]{16}-[0-9a-f]{12}$/);
  });

  it('says the daemon is not running, with what to do', async () => {
    const down = createContainerRunner({
      cli: 'docker',
      binary: fake,
      cliEnv: { ...cliEnv, FAKE_DOWN: '1' },
    });
    await expect(down.checkUsable()).rejects.toMatchObject({
      code: 'MELANGE_RUNNER_UNUSABLE',
      message: expect.stringContaining('Cannot connect to the Docker daemon') as unknown,
      hint: expect.stringContaining('Docker daemon') as unknown,
    });
  });

  it('is what runnerFor gives for --runner docker, with the options passed through', async () => {
    const chosen = runnerFor('Docker', { isRoot: true, container: { binary: fake, cliEnv } });
    expect(chosen.name).toBe('docker');
    await expect(chosen.checkUsable()).resolves.toBeUndefined();
    expect((await calls()).at(-1)).toEqual(['version']);
  });
});
