/**
 * The docker-compatible runner (melange `pkg/container/docker/docker_runner.go`, reference §5.3): it drives
 * the `podman` or `docker` command-line tool. The guest folder becomes an image (container-image.ts), each
 * pod is one long-lived container, and each step is one `exec` (container-args.ts).
 *
 * Users and files: the build user runs as itself inside the container, and a rootful engine does not map
 * uids, so the workspace and the cache are lent to the build user before the container starts and taken back
 * after it is removed (container-owner.ts). The result equals bubblewrap's: what the build wrote is the
 * invoking user's, with the modes the build gave it (setuid included). That needs tk to run as root; a build
 * that runs as root needs no lending.
 *
 * Exit status: the engine's exec exits with the step's status (128 + N when a signal N killed it). A step
 * whose wrapper never printed its start marker did not start: that is a MELANGE_RUNNER_FAILED quoting the
 * engine, not a failing step (the engine's own failures are 125 to 127, which a step may also return).
 *
 * Kill: killing the `podman exec` client leaves the step running in the container. A timeout or an abort
 * therefore first runs `kill -9 -1` in the container as the build user (every process but the container's
 * first; steps of one pod run one at a time, so that is the step and whatever it started), then kills the
 * client's process group.
 *
 * Foreign arches run through the host's binfmt_misc entries (qemu-user with the F flag), as with bubblewrap.
 *
 * Cost, measured with test-fixtures/melange/libgreet (a 205 MB build-base guest, rootful podman 4.3 + runc, 2
 * busy cores): loading the guest image 5.4 s (0.6 s when podman already has the layer: `keepImage`), `run`
 * 0.3 s, each step's `exec` about 0.35 s more than under bubblewrap, `rm` 1 s, `rmi` 0.9 s. The whole build
 * took 17.7 s against bubblewrap's 4.2 s (guest from the cache in both), and gave byte-identical packages.
 */
import { createHash } from 'node:crypto';
import { spawn as nodeSpawn, type ChildProcess } from 'node:child_process';
import { lstat, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { isAbsolute, join, normalize, posix } from 'node:path';
import { silentLogger, type Logger } from '@tk/core';
import { platformFromArch, platformString } from '@tk/oci';
import { MelangeError } from '../errors.ts';
import { badSpec, checkId, findExecutable, isDirectory, stepEndError } from './common.ts';
import { CACHE_PATH } from './args.ts';
import { checkEmulation } from './binfmt.ts';
import { checkRequest, DEFAULT_SEARCH_PATH, type SpawnFunction } from './bubblewrap.ts';
import { DEFAULT_ROOT_CAPABILITIES, resolveCapabilities } from './capabilities.ts';
import {
  execArgs,
  globalArgs,
  killArgs,
  removeArgs,
  runArgs,
  STEP_MARKER,
  type ContainerCli,
  type ContainerSpec,
} from './container-args.ts';
import { writeGuestArchive, type ArchiveSink } from './container-image.ts';
import { lendFolder, returnFolder, type Ids } from './container-owner.ts';
import { createLineSplitter } from './output.ts';
import type { Mount, Pod, RunRequest, RunResult, Runner, RunnerSpec } from './types.ts';

export type { ContainerCli } from './container-args.ts';

/** The repository of the images the runner loads. */
export const GUEST_IMAGE_REPOSITORY = 'localhost/tk-melange-guest';

/** Options of {@link createContainerRunner}. */
export interface ContainerRunnerOptions {
  /** The tool: `podman` or `docker` (the runner's name). */
  cli: ContainerCli;
  /** The binary (absolute, or a name looked up in `searchPath`). Default: the tool's name. */
  binary?: string;
  /** Folders searched for a bare `binary`, `:`-separated (the CLI passes its PATH). */
  searchPath?: string;
  /**
   * The environment the tool runs with (default: none). The CLI passes what the engine needs, such as HOME,
   * XDG_RUNTIME_DIR or DOCKER_HOST; steps never see it (their environment is given variable by variable).
   */
  cliEnv?: Readonly<Record<string, string>>;
  /** The OCI runtime (`runc`), when not the engine's default (podman needs runc on machines like CI's). */
  runtime?: string;
  /** `--ulimit` values for the container (`nofile=1024:1024`), for engines whose defaults the host refuses. */
  ulimits?: readonly string[];
  /** Keep the guest image after the pod closes (under a content tag, reused by the next identical guest). */
  keepImage?: boolean;
  /** Whether tk runs as root: needed to lend the workspace and cache to a build user that is not root. */
  isRoot?: boolean;
  /** The invoking user: who owns the workspace outside, and gets back what the build wrote. Default 0:0. */
  hostUser?: Ids;
  /** The host's arch (Node or apk name), to tell foreign guests. Default: this process's. */
  hostArch?: string;
  /** Where binfmt_misc is mounted (tests point it elsewhere). */
  binfmtDir?: string;
  /** Where each pod keeps its private files (the steps' env-files). Default: the OS temp folder. */
  tempDir?: string;
  /** The container's host name. Default `localhost`. */
  hostname?: string;
  /** Spawns processes (tests inject one). */
  spawn?: SpawnFunction;
  logger?: Logger;
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const OUTPUT_TAIL = 4096;
const KILL_TIMEOUT_MS = 30_000;
const MARKER_LINE = Buffer.from(`${STEP_MARKER}\n`, 'utf8');

/** A host path the engine's `--mount` syntax can carry (no comma, no control characters). */
function checkMountSource(path: string, what: string): string {
  if (!isAbsolute(path))
    badSpec(`${what} ${JSON.stringify(path)} is not an absolute path`, 'pass absolute host paths');
  // eslint-disable-next-line no-control-regex
  if (/[,\x00-\x1f]/.test(path)) {
    badSpec(
      `${what} ${JSON.stringify(path)} contains a comma or a control character, which --mount cannot carry`,
      'use a folder whose path has no comma',
      { path },
    );
  }
  return normalize(path);
}

function tail(text: string, lines = 5): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

function spawnFailure(binary: string, cli: ContainerCli, error: unknown): MelangeError {
  const code = (error as { code?: string }).code;
  return new MelangeError(
    'MELANGE_RUNNER_UNUSABLE',
    `cannot run ${binary}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
    { hint: installHint(cli), cause: error },
  );
}

function installHint(cli: ContainerCli): string {
  return cli === 'podman'
    ? 'install podman (apt-get install podman runc, dnf install podman), or choose another runner (--runner bubblewrap)'
    : 'install Docker and start its daemon, or choose another runner (--runner podman, --runner bubblewrap)';
}

/** The name of the container of a pod: derived from its guest and workspace folders (one pod per workspace). */
export function containerName(guestDir: string, workspaceDir: string): string {
  return `tk-melange-${createHash('sha256').update(`${guestDir}\0${workspaceDir}`).digest('hex').slice(0, 16)}`;
}

class ContainerPod implements Pod {
  readonly #runner: ContainerRunnerState;
  readonly #name: string;
  readonly #user: string;
  readonly #running = new Set<ChildProcess>();
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #cleanup: () => Promise<void>;
  readonly #privateDir: string;
  #steps = 0;

  constructor(
    runner: ContainerRunnerState,
    name: string,
    user: string,
    privateDir: string,
    cleanup: () => Promise<void>,
  ) {
    this.#runner = runner;
    this.#name = name;
    this.#user = user;
    this.#privateDir = privateDir;
    this.#cleanup = cleanup;
  }

  async run(req: RunRequest): Promise<RunResult> {
    if (this.#closed) badSpec('the pod is closed', 'start a new pod');
    checkRequest(req);
    if (req.signal?.aborted === true) {
      throw new MelangeError('MELANGE_STEP_ABORTED', 'the step was cancelled before it started', {
        cause: req.signal.reason,
      });
    }
    // Steps of one pod run one after the other: the kill of a timed-out step must not hit another one.
    const turn = this.#queue.then(() => this.#exec(req, this.#user));
    this.#queue = turn.catch(() => undefined);
    return turn;
  }

  /** Run a step as a given user (the pod's start-up runs ldconfig as root). */
  async runAs(req: RunRequest, user: string): Promise<RunResult> {
    const turn = this.#queue.then(() => this.#exec(req, user));
    this.#queue = turn.catch(() => undefined);
    return turn;
  }

  async #exec(req: RunRequest, user: string): Promise<RunResult> {
    if (this.#closed) badSpec('the pod is closed', 'start a new pod');
    if (req.signal?.aborted === true) {
      throw new MelangeError('MELANGE_STEP_ABORTED', 'the step was cancelled before it started', {
        cause: req.signal.reason,
      });
    }
    const envFilePath = join(this.#privateDir, `env-${++this.#steps}`);
    const command = execArgs(
      this.#name,
      user,
      { ...req, workdir: posix.normalize(req.workdir) },
      envFilePath,
    );
    // Readable by the invoking user only (the folder is mkdtemp's 0700 one); removed when the step ends.
    await writeFile(envFilePath, command.envFile ?? '', { mode: 0o600 });
    try {
      return await this.#spawnStep(command.args, req, user);
    } finally {
      await rm(envFilePath, { force: true });
    }
  }

  #spawnStep(commandArgs: readonly string[], req: RunRequest, user: string): Promise<RunResult> {
    const { binary, cli, spawn, cliEnv, runtime } = this.#runner;
    const args = [...globalArgs(cli, runtime), ...commandArgs];
    const tty = req.tty === true;
    const started = performance.now();
    return new Promise<RunResult>((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawn(binary, args, {
          stdio: tty ? 'inherit' : ['ignore', 'pipe', 'pipe'],
          env: { ...cliEnv },
          detached: !tty,
        });
      } catch (error) {
        reject(spawnFailure(binary, cli, error));
        return;
      }
      this.#running.add(child);
      let stderrTail = '';
      let ended: 'timeout' | 'abort' | undefined;
      let callbackError: unknown;
      let spawnError: unknown;
      let marker: 'pending' | 'seen' | 'missing' = tty ? 'seen' : 'pending';
      let head = Buffer.alloc(0);

      const killClient = (): void => {
        if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
        try {
          if (tty) child.kill('SIGKILL');
          else process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      const stop = (why: 'timeout' | 'abort' | 'callback'): void => {
        if (why !== 'callback') ended ??= why;
        void this.#killInside(user).finally(killClient);
      };
      const forward = (stream: 'stdout' | 'stderr') =>
        createLineSplitter((text) => {
          if (callbackError !== undefined) return;
          try {
            req.onOutput?.(text, stream);
          } catch (error) {
            callbackError = error;
            stop('callback');
          }
        });
      const out = forward('stdout');
      const err = forward('stderr');
      child.stdout?.on('data', (chunk: Buffer) => {
        if (marker !== 'pending') {
          out.push(chunk);
          return;
        }
        head = Buffer.concat([head, chunk]);
        const n = Math.min(head.length, MARKER_LINE.length);
        if (!head.subarray(0, n).equals(MARKER_LINE.subarray(0, n))) {
          marker = 'missing';
          out.push(head);
        } else if (head.length >= MARKER_LINE.length) {
          marker = 'seen';
          out.push(head.subarray(MARKER_LINE.length));
        }
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        err.push(chunk);
        stderrTail = (stderrTail + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
      });

      const timer =
        req.timeoutMs === undefined ? undefined : setTimeout(() => stop('timeout'), req.timeoutMs);
      const onAbort = (): void => stop('abort');
      req.signal?.addEventListener('abort', onAbort, { once: true });

      child.on('error', (error) => {
        spawnError = error;
      });
      child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
        this.#running.delete(child);
        if (timer !== undefined) clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        if (marker === 'pending' && head.length > 0) out.push(head);
        out.end();
        err.end();
        const durationMs = performance.now() - started;
        if (spawnError !== undefined) {
          reject(spawnFailure(binary, cli, spawnError));
          return;
        }
        const failure = stepEndError(ended, callbackError, req, durationMs);
        if (failure !== undefined) {
          reject(failure);
          return;
        }
        if (marker !== 'seen') {
          const said = tail(stderrTail);
          reject(
            new MelangeError(
              'MELANGE_RUNNER_FAILED',
              `${cli} could not start the step in container ${this.#name} (exit status ${code ?? signal ?? 'unknown'})${said === '' ? '' : `: ${said}`}`,
              {
                hint: `check the container with \`${cli} ps -a --filter name=${this.#name}\` and \`${cli} logs ${this.#name}\`; a container that exited has lost its guest`,
                data: { exitCode: code, stderr: stderrTail },
              },
            ),
          );
          return;
        }
        if (code !== null) resolve({ exitCode: code, durationMs });
        else
          resolve({
            exitCode: 128 + signalNumber(signal),
            ...(signal === null ? {} : { signal }),
            durationMs,
          });
      });
    });
  }

  async #killInside(user: string): Promise<void> {
    const { cli, runtime } = this.#runner;
    await this.#runner.runCli([...globalArgs(cli, runtime), ...killArgs(this.#name, user)], {
      timeoutMs: KILL_TIMEOUT_MS,
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      if (this.#running.size > 0) {
        await this.#killInside(this.#user).catch(() => undefined);
        await Promise.all(
          [...this.#running].map(
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
          ),
        );
      }
      await this.#cleanup();
    })();
    return this.#closing;
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === null ? 0 : ((osConstants.signals as Record<string, number | undefined>)[signal] ?? 0);
}

interface ContainerRunnerState {
  cli: ContainerCli;
  binary: string;
  runtime: string | undefined;
  cliEnv: Record<string, string>;
  spawn: SpawnFunction;
  runCli(
    args: readonly string[],
    options?: { timeoutMs?: number; stdin?: (sink: ArchiveSink) => Promise<unknown> },
  ): Promise<CliResult>;
}

/**
 * Create the podman or docker runner.
 *
 * @param options - the tool, its runtime and limits, ownership, test doubles
 * @returns the runner (named after the tool)
 * @example
 * const runner = createContainerRunner({ cli: 'podman', runtime: 'runc', ulimits: ['nofile=1024:1024'], isRoot: true });
 * await runner.checkUsable({ arch: 'aarch64' });
 * const pod = await runner.start({ guestDir, workspaceDir, user: { uid: 1000, gid: 1000 }, network: false, arch: 'aarch64' });
 * const { exitCode } = await pod.run({ script: 'make', env: { PATH: '/usr/bin:/bin' }, workdir: '/home/build' });
 * await pod.close(); // removes the container and the image; the workspace is the invoking user's again
 */
export function createContainerRunner(options: ContainerRunnerOptions): Runner {
  const cli = options.cli;
  if (cli !== 'podman' && cli !== 'docker') {
    throw new MelangeError(
      'MELANGE_UNKNOWN_RUNNER',
      `the container runner drives podman or docker, not ${JSON.stringify(cli)}`,
      {
        hint: 'use cli: podman or cli: docker',
      },
    );
  }
  const spawn: SpawnFunction = options.spawn ?? ((command, args, opts) => nodeSpawn(command, args, opts));
  const logger = options.logger ?? silentLogger;
  const hostArch = options.hostArch ?? process.arch;
  const hostUser: Ids = options.hostUser ?? { uid: 0, gid: 0 };
  const cliEnv = { ...(options.cliEnv ?? {}) };
  let located: Promise<string> | undefined;
  let usable: Promise<void> | undefined;

  const locate = (): Promise<string> => {
    located ??= (async () => {
      const name = options.binary ?? cli;
      const searchPath = options.searchPath ?? DEFAULT_SEARCH_PATH;
      const found = await findExecutable(name, searchPath);
      if (found === undefined) {
        throw new MelangeError(
          'MELANGE_RUNNER_UNUSABLE',
          name.includes('/')
            ? `${name} is not an executable file`
            : `${cli} is not installed (looked in ${searchPath})`,
          { hint: installHint(cli) },
        );
      }
      return found;
    })();
    located.catch(() => {
      located = undefined;
    });
    return located;
  };

  const runCli: ContainerRunnerState['runCli'] = async (args, opts = {}) => {
    const binary = await locate();
    logger.debug(`${cli}: ${binary} ${args.slice(0, 8).join(' ')}${args.length > 8 ? ' …' : ''}`);
    return new Promise<CliResult>((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawn(binary, args, {
          stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
          env: { ...cliEnv },
        });
      } catch (error) {
        reject(spawnFailure(binary, cli, error));
        return;
      }
      let stdout = '';
      let stderr = '';
      let error: unknown;
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout = (stdout + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
      });
      child.on('error', (e) => {
        error = e;
      });
      const timer =
        opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
      let feeding: Promise<unknown> = Promise.resolve();
      if (opts.stdin !== undefined && child.stdin !== null) {
        const stdin = child.stdin;
        stdin.on('error', () => undefined);
        const sink: ArchiveSink = {
          write: (chunk) =>
            new Promise<void>((res, rej) => {
              stdin.write(chunk, (e) => (e === undefined || e === null ? res() : rej(e)));
            }),
        };
        feeding = opts.stdin(sink).finally(() => stdin.end());
        feeding.catch(() => {
          child.kill('SIGKILL');
        });
      }
      child.on('close', (code) => {
        if (timer !== undefined) clearTimeout(timer);
        if (error !== undefined) {
          reject(spawnFailure(binary, cli, error));
          return;
        }
        // A failure to produce the input (a guest file that cannot be read) comes before the tool's own.
        feeding.then(
          () => resolve({ code, stdout, stderr }),
          (feedError: unknown) => {
            if (feedError instanceof MelangeError) reject(feedError);
            else resolve({ code: code ?? 1, stdout, stderr: `${stderr}\n${(feedError as Error).message}` });
          },
        );
      });
    });
  };

  const probe = async (): Promise<void> => {
    const result = await runCli([...globalArgs(cli, options.runtime), 'version']);
    if (result.code !== 0) {
      const said = tail(result.stderr || result.stdout);
      throw new MelangeError(
        'MELANGE_RUNNER_UNUSABLE',
        `${cli} version failed (exit status ${result.code ?? 'unknown'})${said === '' ? '' : `: ${said}`}`,
        {
          hint:
            cli === 'docker'
              ? 'start the Docker daemon (systemctl start docker) or point DOCKER_HOST at one; or use --runner podman or --runner bubblewrap'
              : 'check that `podman info` works for this user; or use --runner bubblewrap',
          data: { stderr: result.stderr },
        },
      );
    }
    logger.debug(`${cli}: ${tail(result.stdout, 1)}`);
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
        logger.debug(`${cli}: ${check.arch} guests run through qemu-user (binfmt_misc)`);
    }
  };

  const start = async (spec: RunnerSpec): Promise<Pod> => {
    // Check the spec.
    for (const [what, path] of [
      ['guestDir', spec.guestDir],
      ['workspaceDir', spec.workspaceDir],
    ] as const) {
      checkMountSource(path, what);
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
        { guestDir: spec.guestDir },
      );
    }
    const build: Ids | 'root' =
      spec.user === 'root'
        ? 'root'
        : { uid: checkId(spec.user.uid, 'uid'), gid: checkId(spec.user.gid, 'gid') };
    const capabilities = resolveCapabilities(
      build === 'root' ? DEFAULT_ROOT_CAPABILITIES : [],
      spec.capabilities,
    );
    const extraMounts: Mount[] = [];
    for (const m of spec.extraMounts ?? []) {
      const source = checkMountSource(m.source, 'mount source');
      if (!posix.isAbsolute(m.dest) || m.dest.includes('\0') || m.dest.includes(','))
        badSpec(`mount destination ${JSON.stringify(m.dest)} is not an absolute guest path`, 'mount below /');
      const dest = posix.normalize(m.dest);
      if (dest === '/' || m.dest.split('/').includes('..'))
        badSpec(`mount destination ${JSON.stringify(m.dest)} is not allowed`, 'mount below /, without ".."');
      try {
        await stat(source);
      } catch {
        badSpec(`mount source ${m.source} does not exist`, 'create it first, or leave the mount out');
      }
      extraMounts.push({ source, dest, readonly: m.readonly });
    }
    const cacheDir =
      spec.cacheDir !== undefined && isAbsolute(spec.cacheDir) && (await isDirectory(spec.cacheDir))
        ? checkMountSource(spec.cacheDir, 'cacheDir')
        : undefined;
    if (spec.cacheDir !== undefined && cacheDir === undefined)
      logger.debug(`${cli}: no cache folder at ${spec.cacheDir}; ${CACHE_PATH} is not mounted`);
    const lend =
      build !== 'root' && (build.uid !== hostUser.uid || build.gid !== hostUser.gid) ? build : undefined;
    if (lend !== undefined && options.isRoot !== true) {
      throw new MelangeError(
        'MELANGE_RUNNER_UNUSABLE',
        `the ${cli} runner must hand the workspace to the build user (uid ${lend.uid}) and back, which needs tk to run as root`,
        {
          hint: 'run tk as root with a rootful engine, use --runner bubblewrap, or build as root (environment.accounts.run-as: root)',
          data: { uid: lend.uid, gid: lend.gid },
        },
      );
    }

    await checkUsable({ arch: spec.arch });
    const state: ContainerRunnerState = {
      cli,
      binary: await locate(),
      runtime: options.runtime,
      cliEnv,
      spawn,
      runCli,
    };
    const guestDir = normalize(spec.guestDir);
    const workspaceDir = normalize(spec.workspaceDir);
    const name = containerName(guestDir, workspaceDir);
    const podHash = name.slice('tk-melange-'.length, 'tk-melange-'.length + 12);
    const global = globalArgs(cli, options.runtime);
    const platform = platformString(platformFromArch(spec.arch));
    const user = build === 'root' ? '0:0' : `${build.uid}:${build.gid}`;

    // Everything below is undone by `cleanup`, also when a later part of the start fails.
    const lent: string[] = [];
    let privateDir: string | undefined;
    let tag: string | undefined;
    let created = false;
    const cleanup = async (): Promise<void> => {
      const problems: unknown[] = [];
      if (created) {
        const rm = await runCli([...global, ...removeArgs(cli, name)]).catch((e: unknown) => {
          problems.push(e);
          return undefined;
        });
        if (rm !== undefined && rm.code !== 0 && !/no such container|no container with/i.test(rm.stderr))
          logger.warn(`${cli}: could not remove container ${name}: ${tail(rm.stderr)}`);
      }
      if (tag !== undefined && options.keepImage !== true) {
        const rmi = await runCli([...global, 'rmi', tag]).catch(() => undefined);
        if (rmi !== undefined && rmi.code !== 0)
          logger.debug(`${cli}: image ${tag} not removed: ${tail(rmi.stderr)}`);
      }
      for (const dir of lent.reverse()) {
        try {
          const n = await returnFolder(dir, hostUser, lend!);
          logger.debug(`${cli}: gave ${n} entries of ${dir} back to ${hostUser.uid}:${hostUser.gid}`);
        } catch (error) {
          problems.push(error);
        }
      }
      if (privateDir !== undefined) await rm(privateDir, { recursive: true, force: true });
      if (problems.length > 0) throw problems[0];
    };

    try {
      privateDir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'tk-melange-pod-'));
      if (lend !== undefined) {
        for (const dir of [workspaceDir, ...(cacheDir === undefined ? [] : [cacheDir])]) {
          const n = await lendFolder(dir, hostUser, lend);
          lent.push(dir);
          logger.debug(`${cli}: lent ${n} entries of ${dir} to ${lend.uid}:${lend.gid}`);
        }
      }

      let t = performance.now();
      let image: { id: string; tag: string } | undefined;
      const load = await runCli([...global, 'load'], {
        stdin: async (sink) => {
          image = await writeGuestArchive(guestDir, sink, {
            arch: spec.arch,
            tag: (id) =>
              `${GUEST_IMAGE_REPOSITORY}:${id.slice('sha256:'.length, 'sha256:'.length + 16)}${options.keepImage === true ? '' : `-${podHash}`}`,
            onSkip: (path, why) => logger.debug(`${cli}: left ${path} out of the guest image: ${why}`),
          });
        },
      });
      if (image !== undefined) tag = image.tag;
      if (load.code !== 0 || image === undefined) {
        throw new MelangeError(
          'MELANGE_RUNNER_FAILED',
          `${cli} load of the guest image failed (exit status ${load.code ?? 'unknown'}): ${tail(load.stderr || load.stdout)}`,
          {
            hint: `check that \`${cli} load\` works for this user and that the storage has room for the guest`,
            data: { stderr: load.stderr },
          },
        );
      }
      logger.debug(`${cli}: loaded ${image.tag} (${image.id}) in ${Math.round(performance.now() - t)} ms`);

      const containerSpec: ContainerSpec = {
        name,
        image: image.tag,
        platform,
        user,
        network: spec.network,
        capabilities,
        workspaceDir,
        ...(cacheDir === undefined ? {} : { cacheDir }),
        extraMounts,
        hostname: options.hostname ?? 'localhost',
        ...(options.runtime === undefined ? {} : { runtime: options.runtime }),
        ulimits: [...(options.ulimits ?? [])],
      };
      t = performance.now();
      const run = await runCli([...global, ...runArgs(cli, containerSpec)]);
      if (run.code !== 0) {
        const said = tail(run.stderr || run.stdout);
        created = /already in use/i.test(said) ? false : true;
        throw new MelangeError(
          'MELANGE_RUNNER_FAILED',
          `${cli} could not start the build container ${name} (exit status ${run.code ?? 'unknown'}): ${said}`,
          {
            hint: /already in use/i.test(said)
              ? `a container of an earlier build with the same workspace is left; remove it with \`${cli} rm -f ${name}\``
              : /rlimit|ulimit/i.test(said)
                ? "this host refuses the engine's default resource limits: give the runner lower ones (ulimits nofile=1024:1024, nproc=1024:1024) and runtime runc"
                : `run \`${cli} run --rm ${image.tag} /bin/sh -c true\` to see what the engine needs`,
            data: { stderr: run.stderr },
          },
        );
      }
      created = true;
      logger.debug(`${cli}: started ${name} in ${Math.round(performance.now() - t)} ms`);

      const pod = new ContainerPod(state, name, user, privateDir, cleanup);
      // melange's StartPod primes ld.so.cache; as root, since the guest's /etc is root's. This first exec also
      // proves that the container runs.
      await pod.runAs(
        {
          script: '[ -e /etc/ld.so.conf ] && [ -x /sbin/ldconfig ] && /sbin/ldconfig; exit 0',
          env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
          workdir: '/',
        },
        '0:0',
      );
      return pod;
    } catch (error) {
      await cleanup().catch((e: unknown) =>
        logger.warn(`${cli}: clean-up after a failed start: ${(e as Error).message}`),
      );
      throw error;
    }
  };

  return { name: cli, checkUsable, start };
}
