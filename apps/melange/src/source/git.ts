/**
 * Getting the repositories of `git-checkout` steps into the melange cache on the host, before the
 * sandbox starts, so that hermetic builds (no network in the sandbox) still check out.
 *
 * Each repository is mirrored to `<cacheDir>/git/<first 16 hex of sha256(url)>.git` (`git clone --mirror`,
 * or `git fetch` into an existing mirror). The steps then get git configuration through the environment
 * (`GIT_CONFIG_COUNT`, `GIT_CONFIG_KEY_n`, `GIT_CONFIG_VALUE_n`): `url.file:///var/cache/melange/git/….git
 * .insteadOf=<url>`, so the pipeline's own `git clone <url>` reads the mirror and the recipe is unchanged.
 *
 * The cache is writable from the sandbox, so a mirror is not trusted on the host: its config is rewritten
 * before every use, alternates are dropped, hooks are off, and symlinks in place of the mirror are
 * refused. Git runs with argument arrays, `protocol.ext.allow=never` and `protocol.fd.allow=never`;
 * `ext::` and `fd::` repositories are refused outright.
 */
import { spawn } from 'node:child_process';
import type { Stats } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { silentLogger, type Logger } from '@tk/core';
import { redactUrl } from '@tk/repo';
import { MelangeError } from '../errors.ts';
import type { CompiledStep } from '../recipe/types.ts';

/** The guest path of the melange cache (where the runner mounts `cacheDir`). */
const GUEST_CACHE = '/var/cache/melange';

/** Options of {@link prefetchGitSources}. */
export interface GitPrefetchOptions {
  /** The melange cache dir (`--cache-dir`), mounted at /var/cache/melange in the sandbox. */
  cacheDir: string;
  /** Use the mirrors in the cache only; a missing one is an error (MELANGE_SOURCE_OFFLINE). */
  offline?: boolean;
  logger?: Logger;
  /** The environment git runs with on the host (PATH, HOME, proxies, credentials). Default: none. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The git executable. Default `git`. */
  git?: string;
}

/** One repository mirrored into the cache. */
export interface GitMirror {
  /** The repository as the recipe gives it (credentials redacted). */
  repository: string;
  /** The mirror on the host. */
  path: string;
  /** The mirror as the sandbox sees it (`file:///var/cache/melange/git/<key>.git`). */
  guestUrl: string;
  /** True when the mirror was used without contacting the remote. */
  fromCache: boolean;
}

/** What {@link prefetchGitSources} gives the build. */
export interface GitPrefetchResult {
  mirrors: GitMirror[];
  /** Git configuration for the steps (`url.<mirror>.insteadOf=<url>`, `safe.directory=<mirror>`), in order. */
  config: Array<[key: string, value: string]>;
}

/** How a repository string is handled on the host. */
export type GitRepositoryKind =
  | { kind: 'remote'; url: string }
  /** A path or file:// URL: it is read inside the sandbox, nothing to mirror. */
  | { kind: 'local' }
  /** Another remote helper (`<transport>::<address>`) or an unknown scheme: left to the sandbox. */
  | { kind: 'other'; reason: string };

function refuse(repository: string, why: string): MelangeError {
  const shown = redactUrl(repository).slice(0, 200);
  return new MelangeError(
    'MELANGE_SOURCE_GIT_URL',
    `git-checkout repository ${JSON.stringify(shown)}: ${why}`,
    {
      hint: 'give an https://, http://, git:// or ssh:// URL of the repository',
      data: { repository: shown },
    },
  );
}

/**
 * Classify a git-checkout `repository` value. Throws MELANGE_SOURCE_GIT_URL for URLs that are never
 * fetched: `ext::`/`fd::` transports (they run commands), control characters, a leading `-`.
 */
export function classifyRepository(repository: string): GitRepositoryKind {
  const repo = repository.trim();
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(repo)) throw refuse(repo, 'contains control characters');
  if (repo.startsWith('-')) throw refuse(repo, 'starts with "-" (would be read as an option)');
  if (repo === '') return { kind: 'local' };
  const helper = /^([A-Za-z0-9][A-Za-z0-9+.-]*)::/.exec(repo);
  if (helper !== null) {
    const transport = helper[1]!.toLowerCase();
    if (transport === 'ext' || transport === 'fd')
      throw refuse(repo, `the ${transport}:: transport runs commands and is never allowed`);
    return { kind: 'other', reason: `remote helper ${transport}:: is not mirrored` };
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(repo);
  if (scheme !== null) {
    const name = scheme[1]!.toLowerCase();
    if (name === 'file') return { kind: 'local' };
    if (['http', 'https', 'git', 'ssh', 'git+ssh', 'ssh+git'].includes(name))
      return { kind: 'remote', url: repo };
    if (name === 'ext' || name === 'fd') throw refuse(repo, `the ${name} transport is never allowed`);
    return { kind: 'other', reason: `scheme ${name}:// is not mirrored` };
  }
  // scp-like `[user@]host:path`: a colon before the first slash (git's own rule).
  const colon = repo.indexOf(':');
  const slash = repo.indexOf('/');
  if (colon > 0 && (slash === -1 || colon < slash)) return { kind: 'remote', url: repo };
  return { kind: 'local' };
}

/** The cache key of a repository URL: the first 16 hex digits of its SHA-256. */
export function mirrorKey(url: string): string {
  return createHash('sha256').update(url, 'utf8').digest('hex').slice(0, 16);
}

/**
 * The environment variables that give git the `config` entries, numbered after any GIT_CONFIG_COUNT
 * already in `base` (which are kept).
 */
export function gitConfigEnv(
  config: ReadonlyArray<readonly [string, string]>,
  base: Readonly<Record<string, string>> = {},
): Record<string, string> {
  if (config.length === 0) return {};
  const existing = Number.parseInt(base['GIT_CONFIG_COUNT'] ?? '0', 10);
  const start = Number.isSafeInteger(existing) && existing > 0 ? existing : 0;
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(start + config.length) };
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${start + i}`] = key;
    env[`GIT_CONFIG_VALUE_${start + i}`] = value;
  });
  return env;
}

/** Enabled `git-checkout` steps, at any depth, in order. */
function* gitSteps(steps: readonly CompiledStep[]): Generator<CompiledStep> {
  for (const step of steps) {
    if (!step.enabled) continue;
    if (step.uses === 'git-checkout') yield step;
    yield* gitSteps(step.pipeline);
  }
}

interface GitRun {
  code: number;
  stdout: string;
  stderr: string;
}

const SAFE_CONFIG = [
  '-c',
  'protocol.ext.allow=never',
  '-c',
  'protocol.fd.allow=never',
  '-c',
  'core.hooksPath=/dev/null',
  '-c',
  'core.fsmonitor=false',
];

function runGit(gitBin: string, args: string[], env: Record<string, string>): Promise<GitRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(gitBin, [...SAFE_CONFIG, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < 1 << 20) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 16_384) stderr += d;
    });
    child.on('error', (error) =>
      reject(
        new MelangeError('MELANGE_SOURCE_GIT_FAILED', `cannot run ${gitBin}: ${error.message}`, {
          hint: 'install git on the host (git-checkout steps are mirrored on the host before the build)',
          cause: error,
        }),
      ),
    );
    child.on('close', (code) => resolvePromise({ code: code ?? 1, stdout, stderr }));
  });
}

/** Make every file and directory under `dir` readable (and directories searchable) by everyone. */
async function makeReadable(dir: string): Promise<void> {
  const info = await lstat(dir);
  if (info.isSymbolicLink()) return;
  if (info.isDirectory()) {
    await chmod(dir, (info.mode & 0o7777) | 0o555);
    for (const name of await readdir(dir)) await makeReadable(join(dir, name));
  } else if (info.isFile()) await chmod(dir, (info.mode & 0o7777) | 0o444);
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch {
    return undefined;
  }
}

/** Rewrite the mirror's config to a known one (the sandbox could have changed it) and drop alternates. */
async function resetMirrorConfig(gitBin: string, path: string, url: string, env: Record<string, string>) {
  const configPath = join(path, 'config');
  // Keep the object format of a sha256 mirror; read as a plain file (nothing in it is executed).
  const format = await runGit(
    gitBin,
    ['config', '--file', configPath, '--get', 'extensions.objectformat'],
    env,
  );
  const sha256 = format.code === 0 && format.stdout.trim() === 'sha256';
  await rm(configPath, { force: true });
  await rm(join(path, 'objects', 'info', 'alternates'), { force: true });
  await writeFile(
    configPath,
    sha256
      ? '[core]\n\trepositoryformatversion = 1\n\tbare = true\n[extensions]\n\tobjectformat = sha256\n'
      : '[core]\n\trepositoryformatversion = 0\n\tbare = true\n',
    { flag: 'wx', mode: 0o644 },
  );
  for (const [key, value] of [
    ['remote.origin.url', url],
    ['remote.origin.fetch', '+refs/*:refs/*'],
    ['remote.origin.mirror', 'true'],
  ] as const) {
    const r = await runGit(gitBin, ['config', '--file', configPath, key, value], env);
    if (r.code !== 0) throw failed(url, `git config ${key}`, r.stderr);
  }
}

function failed(url: string, what: string, stderr: string): MelangeError {
  const shown = redactUrl(url);
  return new MelangeError(
    'MELANGE_SOURCE_GIT_FAILED',
    `git-checkout ${shown}: ${what} failed: ${stderr.trim().slice(-2000)}`,
    {
      hint: 'check the repository URL and that the host can reach it (the mirror is made on the host); --offline uses the cache only',
      data: { repository: shown },
    },
  );
}

/** Whether the mirror holds `expected` (a commit or tag object id) and the ref the step checks out. */
async function mirrorHas(
  gitBin: string,
  path: string,
  step: CompiledStep,
  env: Record<string, string>,
): Promise<boolean> {
  const expected = (step.with['expected-commit'] ?? '').trim();
  const tag = (step.with.tag ?? '').trim();
  const branch = (step.with.branch ?? '').trim();
  if (expected === '' || !/^[0-9a-f]{7,64}$/.test(expected)) return false;
  const obj = await runGit(gitBin, ['--git-dir', path, 'cat-file', '-e', `${expected}^{commit}`], env);
  if (obj.code !== 0) return false;
  const ref = tag !== '' ? `refs/tags/${tag}` : branch !== '' ? `refs/heads/${branch}` : 'HEAD';
  const r = await runGit(
    gitBin,
    ['--git-dir', path, 'rev-parse', '--verify', '--quiet', '--end-of-options', ref],
    env,
  );
  return r.code === 0;
}

const inFlight = new Map<string, Promise<GitMirror>>();

async function mirrorOne(
  url: string,
  steps: CompiledStep[],
  gitDir: string,
  options: GitPrefetchOptions,
  env: Record<string, string>,
): Promise<GitMirror> {
  const gitBin = options.git ?? 'git';
  const logger = options.logger ?? silentLogger;
  const key = mirrorKey(url);
  const path = join(gitDir, `${key}.git`);
  const shown = redactUrl(url);
  const guestUrl = `file://${GUEST_CACHE}/git/${key}.git`;
  const info = await lstatOrUndefined(path);
  if (info !== undefined && !info.isDirectory()) {
    throw new MelangeError('MELANGE_SOURCE_GIT_FAILED', `git mirror ${path} of ${shown} is not a directory`, {
      hint: `remove ${path} (it may have been replaced from inside a sandbox)`,
      data: { path, repository: shown },
    });
  }
  if (info !== undefined) {
    await resetMirrorConfig(gitBin, path, url, env);
    let fresh = true;
    for (const step of steps) if (!(await mirrorHas(gitBin, path, step, env))) fresh = false;
    if (fresh || options.offline === true) {
      if (!fresh)
        logger.warn(`git-checkout ${shown}: offline, and the mirror may lack the expected commit or ref`);
      logger.debug(`git-checkout ${shown}: using the mirror ${path}`);
      await makeReadable(path);
      return { repository: shown, path, guestUrl, fromCache: true };
    }
    logger.info(`git-checkout ${shown}: updating the mirror`);
    const r = await runGit(gitBin, ['--git-dir', path, 'fetch', '--quiet', '--prune', 'origin'], env);
    if (r.code !== 0) throw failed(url, 'git fetch', r.stderr);
    await makeReadable(path);
    return { repository: shown, path, guestUrl, fromCache: false };
  }
  if (options.offline === true) {
    throw new MelangeError(
      'MELANGE_SOURCE_OFFLINE',
      `git-checkout ${shown}: offline, and the cache has no mirror of it (${path})`,
      {
        hint: 'build once without --offline to mirror the repository into the cache',
        data: { repository: shown, path },
      },
    );
  }
  logger.info(`git-checkout ${shown}: mirroring into ${path}`);
  const tmp = join(gitDir, `.tmp-${key}-${randomBytes(6).toString('hex')}`);
  try {
    const r = await runGit(gitBin, ['clone', '--mirror', '--quiet', '--', url, tmp], env);
    if (r.code !== 0) throw failed(url, 'git clone --mirror', r.stderr);
    await resetMirrorConfig(gitBin, tmp, url, env);
    await makeReadable(tmp);
    try {
      await rename(tmp, path);
    } catch (error) {
      // Another build made it meanwhile: use theirs.
      if ((await lstatOrUndefined(path))?.isDirectory() !== true) throw error;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { repository: shown, path, guestUrl, fromCache: false };
}

/**
 * Mirror the repository of every enabled `git-checkout` step into `<cacheDir>/git`, and return the git
 * configuration that makes the steps clone from the mirrors (see {@link gitConfigEnv}).
 *
 * @example
 * const git = await prefetchGitSources(steps, { cacheDir, offline, logger, env: process.env });
 * const stepEnv = { ...base, ...gitConfigEnv(git.config, base) };
 */
export async function prefetchGitSources(
  steps: readonly CompiledStep[],
  options: GitPrefetchOptions,
): Promise<GitPrefetchResult> {
  const logger = options.logger ?? silentLogger;
  const byUrl = new Map<string, CompiledStep[]>();
  for (const step of gitSteps(steps)) {
    const kind = classifyRepository(step.with.repository ?? '');
    if (kind.kind === 'remote') byUrl.set(kind.url, [...(byUrl.get(kind.url) ?? []), step]);
    else if (kind.kind === 'other')
      logger.warn(
        `git-checkout ${redactUrl(step.with.repository ?? '')}: ${kind.reason}; it needs the build's network`,
      );
  }
  if (byUrl.size === 0) return { mirrors: [], config: [] };
  const gitDir = join(resolve(options.cacheDir), 'git');
  await mkdir(gitDir, { recursive: true, mode: 0o755 });
  const dirInfo = await lstat(gitDir);
  if (!dirInfo.isDirectory()) {
    throw new MelangeError('MELANGE_SOURCE_GIT_FAILED', `${gitDir} is not a directory`, {
      hint: `remove ${gitDir}; tk keeps git mirrors there`,
      data: { path: gitDir },
    });
  }
  await chmod(gitDir, (dirInfo.mode & 0o7777) | 0o555);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.env ?? {})) if (v !== undefined) env[k] = v;
  env['GIT_TERMINAL_PROMPT'] = '0';
  env['LC_ALL'] = 'C';
  const mirrors: GitMirror[] = [];
  const config: Array<[string, string]> = [];
  for (const [url, urlSteps] of byUrl) {
    const path = join(gitDir, `${mirrorKey(url)}.git`);
    // One mirror operation per path at a time (parallel arch builds share the cache).
    const previous = inFlight.get(path) ?? Promise.resolve(undefined);
    const current = previous
      .catch(() => undefined)
      .then(() => mirrorOne(url, urlSteps, gitDir, options, env));
    inFlight.set(path, current);
    try {
      const mirror = await current;
      mirrors.push(mirror);
      config.push([`url.${mirror.guestUrl}.insteadOf`, url]);
      config.push(['safe.directory', `${GUEST_CACHE}/git/${mirrorKey(url)}.git`]);
    } finally {
      if (inFlight.get(path) === current) inFlight.delete(path);
    }
  }
  return { mirrors, config };
}
