/**
 * The bubblewrap runner (melange `pkg/container/bubblewrap_runner.go`, reference §5.2): each step is one
 * `bwrap … /bin/sh -c SCRIPT` invocation over the guest folder, so only files carry over between steps.
 *
 * Users: a uid/gid (the `build` user, 1000) runs in a user namespace (`--unshare-user --uid --gid`), which
 * maps it to the invoking user outside. When tk runs as root that is outside uid 0, so the workspace, owned
 * by root, is writable inside, and files the build writes are owned by root outside. `root` runs without a
 * user namespace when tk is root (real root, with Docker's default capabilities), and as uid 0 of a user
 * namespace otherwise.
 *
 * Status: bwrap writes `{"child-pid": N}` and, when the command ends, `{"exit-code": N}` on
 * `--json-status-fd`. A bwrap that exits without reporting an exit code failed to set up the sandbox (a
 * missing folder, a denied namespace): that is a runner error quoting bwrap, not a failing step.
 *
 * Kill: bwrap is spawned in its own process group; a timeout or an abort kills the group with SIGKILL, and
 * `--die-with-parent` plus the pid namespace take every process of the step with it.
 */
import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { lstat, stat } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { isAbsolute, join, normalize, posix } from 'node:path';
import { silentLogger, type Logger } from '@tk/core';
import { MelangeError } from '../errors.ts';
import { badSpec, checkId, findExecutable, isDirectory, stepEndError } from './common.ts';
import { bwrapArgs, CACHE_PATH, STATUS_FD, WORKSPACE_PATH, type CheckedSpec, type UserMode } from './args.ts';
import { checkEmulation } from './binfmt.ts';
import { DEFAULT_ROOT_CAPABILITIES, resolveCapabilities } from './capabilities.ts';
import { createLineSplitter } from './output.ts';
import type { Pod, RunRequest, RunResult, Runner, RunnerSpec } from './types.ts';

/** The runner's name. */
export const BUBBLEWRAP_RUNNER = 'bubblewrap';

/** Where bwrap is looked for when no `searchPath` is given. */
export const DEFAULT_SEARCH_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The longest script `/bin/sh -c` can take as one argument (Linux MAX_ARG_STRLEN, less its NUL). */
export const MAX_SCRIPT_BYTES = 128 * 1024 - 1;

/** Spawns a process (node:child_process `spawn`, or a test double). */
export type SpawnFunction = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

/** Options of {@link createBubblewrapRunner}. */
export interface BubblewrapRunnerOptions {
  /** The bwrap binary (absolute, or a name looked up in `searchPath`). Default `bwrap`. */
  bwrapPath?: string;
  /** Folders searched for a bare `bwrapPath`, `:`-separated (the CLI passes its PATH). */
  searchPath?: string;
  /** Spawns processes (tests inject one). */
  spawn?: SpawnFunction;
  /** Whether tk runs as root: `root` steps then run without a user namespace. Default false. */
  isRoot?: boolean;
  /** The host's arch (Node `process.arch` or apk name), to tell foreign guests. Default: this process's. */
  hostArch?: string;
  /** Where binfmt_misc is mounted (tests point it elsewhere). */
  binfmtDir?: string;
  /** The host's resolv.conf, bound into network builds. Default `/etc/resolv.conf`. */
  resolvConf?: string;
  /** The sandbox's host name (a fixed one keeps builds from recording the machine's). Default `localhost`. */
  hostname?: string;
  logger?: Logger;
}

const ENV_NAME = /^[^=\0]+$/;

function checkGuestPath(path: string, what: string): string {
  if (!posix.isAbsolute(path) || path.includes('\0')) {
    badSpec(
      `${what} ${JSON.stringify(path)} is not an absolute guest path`,
      'give an absolute path such as /home/build',
    );
  }
  return posix.normalize(path);
}

/** Check a request's fields; throws MELANGE_RUNNER_BAD_SPEC. */
export function checkRequest(req: RunRequest): void {
  if (req.script.includes('\0'))
    badSpec('the step script contains a NUL byte', 'remove the NUL byte from the script');
  const bytes = Buffer.byteLength(req.script, 'utf8');
  if (bytes > MAX_SCRIPT_BYTES) {
    badSpec(
      `the step script is ${bytes} bytes; /bin/sh -c takes at most ${MAX_SCRIPT_BYTES}`,
      'move the long part of the script into a file in the workspace and run that file',
      { bytes },
    );
  }
  for (const [name, value] of Object.entries(req.env)) {
    if (!ENV_NAME.test(name)) {
      badSpec(
        `environment variable name ${JSON.stringify(name)} is empty or contains "=" or NUL`,
        'rename the variable',
      );
    }
    if (typeof value !== 'string' || value.includes('\0')) {
      badSpec(`environment variable ${name} has a value that is not text without NUL bytes`, 'fix the value');
    }
  }
  checkGuestPath(req.workdir, 'workdir');
  if (req.timeoutMs !== undefined && !(req.timeoutMs > 0)) {
    badSpec(`timeoutMs ${req.timeoutMs} is not a positive number`, 'leave it out for no timeout');
  }
}

/**
 * The host path a guest directory lives at, when it is inside the workspace, the cache or the guest root,
 * and only when no component of it is a symlink (a symlink inside the guest means something else on the
 * host, so the answer is then "unknown").
 */
async function hostDirOf(spec: CheckedSpec, guestPath: string): Promise<string | undefined> {
  const mounts: [string, string][] = [
    ...spec.extraMounts.map((m): [string, string] => [m.dest, m.source]),
    ...(spec.cacheDir === undefined ? [] : [[CACHE_PATH, spec.cacheDir] as [string, string]]),
    [WORKSPACE_PATH, spec.workspaceDir],
    ['/', spec.guestDir],
  ];
  // The deepest mount point wins: later mounts lie on top of the guest.
  mounts.sort((a, b) => b[0].length - a[0].length);
  for (const [dest, source] of mounts) {
    if (guestPath !== dest && !guestPath.startsWith(dest === '/' ? '/' : `${dest}/`)) continue;
    const rest = guestPath
      .slice(dest.length)
      .split('/')
      .filter((p) => p !== '');
    let host = source;
    for (const part of rest) {
      host = join(host, part);
      try {
        const st = await lstat(host);
        if (!st.isDirectory()) return undefined;
      } catch {
        return undefined;
      }
    }
    return host;
  }
  return undefined;
}

/** The `exit-code` bwrap reported on its status fd (one JSON object per line), if it did. */
function reportedExitCode(text: string): number | undefined {
  let exitCode: number | undefined;
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) continue;
    try {
      const code = (JSON.parse(trimmed) as Record<string, unknown>)['exit-code'];
      if (typeof code === 'number' && Number.isInteger(code)) exitCode = code;
    } catch {
      // not a status line
    }
  }
  return exitCode;
}

function signalNumber(name: string): number {
  return (osConstants.signals as Record<string, number | undefined>)[name] ?? 0;
}

const STDERR_TAIL = 4096;

class BubblewrapPod implements Pod {
  readonly #bwrap: string;
  readonly #spec: CheckedSpec;
  readonly #spawn: SpawnFunction;
  readonly #running = new Set<ChildProcess>();
  #closed = false;

  constructor(bwrap: string, spec: CheckedSpec, spawn: SpawnFunction) {
    this.#bwrap = bwrap;
    this.#spec = spec;
    this.#spawn = spawn;
  }

  async run(req: RunRequest): Promise<RunResult> {
    if (this.#closed) badSpec('the pod is closed', 'start a new pod');
    checkRequest(req);
    if (req.signal?.aborted === true) {
      throw new MelangeError('MELANGE_STEP_ABORTED', 'the step was cancelled before it started', {
        cause: req.signal.reason,
      });
    }
    const workdir = posix.normalize(req.workdir);
    const chdir = (await hostDirOf(this.#spec, workdir)) === undefined ? '/' : workdir;
    const args = bwrapArgs(this.#spec, req, chdir);
    return this.#exec(args, req);
  }

  #exec(args: string[], req: RunRequest): Promise<RunResult> {
    const tty = req.tty === true;
    const started = performance.now();
    return new Promise<RunResult>((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = this.#spawn(this.#bwrap, args, {
          stdio: tty ? ['inherit', 'inherit', 'inherit', 'pipe'] : ['ignore', 'pipe', 'pipe', 'pipe'],
          env: {},
          detached: !tty,
        });
      } catch (error) {
        reject(spawnFailure(this.#bwrap, error));
        return;
      }
      this.#running.add(child);
      let status = '';
      let stderrTail = '';
      let ended: 'timeout' | 'abort' | undefined;
      let callbackError: unknown;
      let spawnError: unknown;

      const kill = (): void => {
        if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
        try {
          if (tty) child.kill('SIGKILL');
          else process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      const forward = (stream: 'stdout' | 'stderr') => {
        const splitter = createLineSplitter((text) => {
          if (callbackError !== undefined) return;
          try {
            req.onOutput?.(text, stream);
          } catch (error) {
            callbackError = error;
            kill();
          }
        });
        return splitter;
      };
      const out = forward('stdout');
      const err = forward('stderr');
      child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
      child.stderr?.on('data', (chunk: Buffer) => {
        err.push(chunk);
        stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
      });
      const statusStream = child.stdio[STATUS_FD];
      statusStream?.on('data', (chunk: Buffer) => {
        if (status.length < 65536) status += chunk.toString('utf8');
      });

      const timer =
        req.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              ended ??= 'timeout';
              kill();
            }, req.timeoutMs);
      const onAbort = (): void => {
        ended ??= 'abort';
        kill();
      };
      req.signal?.addEventListener('abort', onAbort, { once: true });

      child.on('error', (error) => {
        spawnError = error;
      });
      child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
        this.#running.delete(child);
        if (timer !== undefined) clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        out.end();
        err.end();
        const durationMs = performance.now() - started;
        if (spawnError !== undefined) {
          reject(spawnFailure(this.#bwrap, spawnError));
          return;
        }
        const failure = stepEndError(ended, callbackError, req, durationMs);
        if (failure !== undefined) {
          reject(failure);
          return;
        }
        const exitCode = reportedExitCode(status);
        if (exitCode !== undefined) {
          resolve({ exitCode, durationMs });
          return;
        }
        if (signal !== null) {
          resolve({ exitCode: 128 + signalNumber(signal), signal, durationMs });
          return;
        }
        const bwrapSaid = stderrTail.trim().split('\n').slice(-5).join('\n');
        reject(
          new MelangeError(
            'MELANGE_RUNNER_FAILED',
            `bwrap could not set up the sandbox (exit status ${code ?? 'unknown'})${bwrapSaid === '' ? '' : `: ${bwrapSaid}`}`,
            {
              hint: 'check that the guest, workspace and mount folders exist and that user namespaces are allowed (tk melange build runs `bwrap --unshare-user` checks first)',
              data: { exitCode: code, stderr: stderrTail },
            },
          ),
        );
      });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const waits = [...this.#running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            resolve();
            return;
          }
          child.once('close', () => resolve());
          try {
            if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
          } catch {
            child.kill('SIGKILL');
          }
        }),
    );
    await Promise.all(waits);
  }
}

function spawnFailure(bwrap: string, error: unknown): MelangeError {
  const code = (error as { code?: string }).code;
  return new MelangeError(
    'MELANGE_RUNNER_UNUSABLE',
    `cannot run ${bwrap}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
    {
      hint: 'install bubblewrap (apt-get install bubblewrap, dnf install bubblewrap, apk add bubblewrap)',
      cause: error,
    },
  );
}

/**
 * Create the bubblewrap runner.
 *
 * @param options - bwrap location, root or not, host arch, test doubles
 * @returns the runner
 * @example
 * const runner = createBubblewrapRunner({ isRoot: process.getuid?.() === 0, searchPath: process.env.PATH });
 * await runner.checkUsable();
 * const pod = await runner.start({ guestDir, workspaceDir, user: { uid: 1000, gid: 1000 }, network: false, arch: 'x86_64' });
 * const { exitCode } = await pod.run({ script: 'make', env: { PATH: '/usr/bin:/bin' }, workdir: '/home/build' });
 */
export function createBubblewrapRunner(options: BubblewrapRunnerOptions = {}): Runner {
  const spawn: SpawnFunction = options.spawn ?? ((command, args, opts) => nodeSpawn(command, args, opts));
  const isRoot = options.isRoot ?? false;
  const hostArch = options.hostArch ?? process.arch;
  const logger = options.logger ?? silentLogger;
  let bwrapPath: Promise<string> | undefined;
  let usable: Promise<void> | undefined;

  const locate = (): Promise<string> => {
    bwrapPath ??= (async () => {
      const name = options.bwrapPath ?? 'bwrap';
      const searchPath = options.searchPath ?? DEFAULT_SEARCH_PATH;
      const found = await findExecutable(name, searchPath);
      if (found === undefined) {
        throw new MelangeError(
          'MELANGE_RUNNER_UNUSABLE',
          name.includes('/')
            ? `${name} is not an executable file`
            : `bwrap is not installed (looked in ${searchPath})`,
          {
            hint: 'install bubblewrap (apt-get install bubblewrap, dnf install bubblewrap, apk add bubblewrap), or choose another runner',
          },
        );
      }
      return found;
    })();
    bwrapPath.catch(() => {
      bwrapPath = undefined;
    });
    return bwrapPath;
  };

  const probe = async (): Promise<void> => {
    const bwrap = await locate();
    // A throwaway sandbox with the namespaces a step uses, over the host's own root, running bwrap itself
    // (an executable that is certainly there) to print its version.
    const args = [
      '--unshare-user',
      '--unshare-pid',
      '--unshare-ipc',
      '--unshare-uts',
      '--ro-bind',
      '/',
      '/',
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--die-with-parent',
      '--',
      bwrap,
      '--version',
    ];
    const result = await new Promise<{ code: number | null; stderr: string; error?: unknown }>((resolve) => {
      let stderr = '';
      let child: ChildProcess;
      try {
        child = spawn(bwrap, args, { stdio: ['ignore', 'ignore', 'pipe'], env: {} });
      } catch (error) {
        resolve({ code: null, stderr: '', error });
        return;
      }
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL);
      });
      let error: unknown;
      child.on('error', (e) => {
        error = e;
      });
      child.on('close', (code) => resolve({ code, stderr, ...(error === undefined ? {} : { error }) }));
    });
    if (result.error !== undefined) throw spawnFailure(bwrap, result.error);
    if (result.code !== 0) {
      throw new MelangeError(
        'MELANGE_RUNNER_UNUSABLE',
        `bwrap cannot create a user namespace here (exit status ${result.code ?? 'unknown'})${result.stderr.trim() === '' ? '' : `: ${result.stderr.trim()}`}`,
        {
          hint:
            'allow unprivileged user namespaces: on Ubuntu 24.04 AppArmor restricts them (sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, ' +
            'or an AppArmor profile for bwrap; melange#1508); on older Debian sysctl -w kernel.unprivileged_userns_clone=1; ' +
            'inside a container, run it with --privileged or a seccomp profile that allows unshare',
          data: { stderr: result.stderr },
        },
      );
    }
    logger.debug(`bubblewrap: ${bwrap} can create namespaces`);
  };

  const checkUsable = async (check?: { arch?: string }): Promise<void> => {
    usable ??= probe();
    usable.catch(() => {
      usable = undefined;
    });
    await usable;
    if (check?.arch !== undefined) {
      const mode = await checkEmulation({
        guestArch: check.arch,
        hostArch,
        ...(options.binfmtDir === undefined ? {} : { binfmtDir: options.binfmtDir }),
      });
      if (mode === 'emulated')
        logger.debug(`bubblewrap: ${check.arch} guests run through qemu-user (binfmt_misc)`);
    }
  };

  const checkSpec = async (spec: RunnerSpec): Promise<CheckedSpec> => {
    for (const [what, path] of [
      ['guestDir', spec.guestDir],
      ['workspaceDir', spec.workspaceDir],
    ] as const) {
      if (!isAbsolute(path))
        badSpec(`${what} ${JSON.stringify(path)} is not an absolute path`, 'pass absolute host paths');
      if (!(await isDirectory(path)))
        badSpec(`${what} ${path} is not a folder`, 'assemble the guest and create the workspace first', {
          [what]: path,
        });
    }
    try {
      await lstat(join(spec.guestDir, 'bin', 'sh'));
    } catch {
      badSpec(
        `the guest ${spec.guestDir} has no /bin/sh`,
        'add a shell to the build environment (busybox and busybox-binsh, or bash)',
        {
          guestDir: spec.guestDir,
        },
      );
    }
    let user: UserMode;
    if (spec.user === 'root') user = isRoot ? { kind: 'host-root' } : { kind: 'mapped', uid: 0, gid: 0 };
    else user = { kind: 'mapped', uid: checkId(spec.user.uid, 'uid'), gid: checkId(spec.user.gid, 'gid') };
    // root gets Docker's default set; another user has none unless the recipe adds some (then exactly those).
    const resolved = resolveCapabilities(
      spec.user === 'root' ? DEFAULT_ROOT_CAPABILITIES : [],
      spec.capabilities,
    );
    const capabilities = spec.user === 'root' || resolved.length > 0 ? resolved : undefined;
    const extraMounts = [];
    for (const m of spec.extraMounts ?? []) {
      if (!isAbsolute(m.source))
        badSpec(
          `mount source ${JSON.stringify(m.source)} is not an absolute path`,
          'pass absolute host paths',
        );
      const dest = checkGuestPath(m.dest, 'mount destination');
      if (dest === '/' || m.dest.split('/').includes('..')) {
        badSpec(`mount destination ${JSON.stringify(m.dest)} is not allowed`, 'mount below /, without ".."');
      }
      try {
        await stat(m.source);
      } catch {
        badSpec(`mount source ${m.source} does not exist`, 'create it first, or leave the mount out');
      }
      extraMounts.push({ source: normalize(m.source), dest, readonly: m.readonly });
    }
    const resolvConf = options.resolvConf ?? '/etc/resolv.conf';
    const withResolv =
      spec.network &&
      (await stat(resolvConf).then(
        (s) => s.isFile(),
        () => false,
      ));
    const cacheOk =
      spec.cacheDir !== undefined && isAbsolute(spec.cacheDir) && (await isDirectory(spec.cacheDir));
    if (spec.cacheDir !== undefined && !cacheOk)
      logger.debug(`bubblewrap: no cache folder at ${spec.cacheDir}; ${CACHE_PATH} is not mounted`);
    return {
      guestDir: normalize(spec.guestDir),
      workspaceDir: normalize(spec.workspaceDir),
      ...(cacheOk && spec.cacheDir !== undefined ? { cacheDir: normalize(spec.cacheDir) } : {}),
      user,
      network: spec.network,
      ...(capabilities === undefined ? {} : { capabilities }),
      ...(withResolv ? { resolvConf } : {}),
      extraMounts,
      hostname: options.hostname ?? 'localhost',
    };
  };

  return {
    name: BUBBLEWRAP_RUNNER,
    checkUsable,
    async start(spec: RunnerSpec): Promise<Pod> {
      const checked = await checkSpec(spec);
      await checkUsable({ arch: spec.arch });
      const pod = new BubblewrapPod(await locate(), checked, spawn);
      // melange primes ld.so.cache for glibc < 2.37 guests; only guests with an ld.so.conf have a use for it.
      if (
        await lstat(join(checked.guestDir, 'etc', 'ld.so.conf')).then(
          () => true,
          () => false,
        )
      ) {
        await pod.run({
          script: '[ -x /sbin/ldconfig ] && /sbin/ldconfig || true',
          env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
          workdir: '/',
        });
      }
      return pod;
    },
  };
}
