/**
 * The first half of a build, shared by build, publish, lock and show-packages: read the configuration,
 * overlay the flags, load the keyring, load every repository's index for every arch, and resolve (or
 * replay a lock file).
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { silentLogger, type Logger } from '@tk/core';
import type { Keyring } from '@tk/keys';
import {
  createDiskCache,
  createHttpFetcher,
  loadKeys,
  loadRepository,
  parseHttpAuth,
  parseRepository,
  type DiskCache,
  type Fetcher,
  type LoadedRepository,
  type RepositorySpec,
} from '@tk/repo';
import {
  installListFromLock,
  parseLockFile,
  solveMultiArch,
  type LockFile,
  type ResolvedPackage,
  type SolverRepository,
} from '@tk/solver';
// The config modules themselves, not the config/index.ts barrel, which also loads zod.
import { toApkArch } from '../config/arch.ts';
import { loadImageConfig, type ConfigFile } from '../config/load.ts';
import { applyBuildOptions } from '../config/options.ts';
import type { ImageConfig } from '../config/schema.ts';
import type { BuildOptions } from './options.ts';
import { baseDirFor, isUrl, resolveConfigPath } from './paths.ts';

/** A configured repository and where it is used. */
export interface ConfiguredRepository {
  spec: RepositorySpec;
  /** build: build time only; image: build time and /etc/apk/repositories; runtime: the image only. */
  role: 'build' | 'image' | 'runtime';
}

/**
 * The options the resolve and fetch steps read: a subset of {@link BuildOptions}, so that a caller that
 * has an already-compiled configuration (melange's build environment) needs no configuration file.
 */
export type PrepareSettings = Pick<
  BuildOptions,
  'workdir' | 'env' | 'cacheDir' | 'offline' | 'allowUntrusted' | 'lockfile' | 'logger'
>;

/** The configuration, trust and sources of a build. */
export interface PreparedBuild<O extends PrepareSettings = BuildOptions> {
  options: O;
  config: ImageConfig;
  configFiles: ConfigFile[];
  configDir: string;
  /** apk arch names, in the order they are built. */
  archs: string[];
  keyring: Keyring;
  /** Keyring entries as configured and their resolved location (for /etc/apk/keys and the lock). */
  keys: { name: string; source: string; location: string }[];
  repositories: ConfiguredRepository[];
  fetcher: Fetcher;
  cache?: DiskCache;
  logger: Logger;
}

/**
 * Read and overlay the configuration, load keys, parse repositories.
 *
 * @param options - build options
 * @returns the prepared build; close `fetcher` when done
 */
export async function prepareBuild(options: BuildOptions): Promise<PreparedBuild> {
  const logger = options.logger ?? silentLogger;
  const configPath = resolve(options.workdir, options.configPath);
  const loaded = await loadImageConfig(configPath, {
    logger,
    includePaths: (options.includePaths ?? []).map((p) => resolve(options.workdir, p)),
  });
  const config = applyBuildOptions(loaded.config, {
    hostArch: options.hostArch,
    ...(options.archs === undefined ? {} : { archs: options.archs }),
    ...(options.keyringAppend === undefined ? {} : { keyringAppend: options.keyringAppend }),
    ...(options.repositoryAppend === undefined ? {} : { repositoryAppend: options.repositoryAppend }),
    ...(options.buildRepositoryAppend === undefined
      ? {}
      : { buildRepositoryAppend: options.buildRepositoryAppend }),
    ...(options.packageAppend === undefined ? {} : { packageAppend: options.packageAppend }),
    ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
  });
  return prepareBuildFromConfig(config, options, {
    configDir: dirname(configPath),
    configFiles: loaded.files,
  });
}

/**
 * Load keys and parse repositories for a configuration that is already loaded and overlaid (melange's
 * compiled build environment, a test's inline configuration). `config.archs` decides the archs.
 *
 * @param config - the configuration, flags already applied
 * @param options - working directory (relative paths resolve here first), environment (HTTP_AUTH),
 *   cache, offline, trust
 * @param source - the configuration's directory (fallback for relative paths) and files (for the lock)
 * @returns the prepared build; close `fetcher` when done
 */
export async function prepareBuildFromConfig<O extends PrepareSettings>(
  config: ImageConfig,
  options: O,
  source: { configDir: string; configFiles?: ConfigFile[] },
): Promise<PreparedBuild<O>> {
  const logger = options.logger ?? silentLogger;
  const { configDir } = source;
  const fetcher = createHttpFetcher({ logger, auth: parseHttpAuth(options.env['HTTP_AUTH']) });
  const cache = options.cacheDir === undefined ? undefined : createDiskCache(options.cacheDir, { logger });
  const offline = options.offline ?? false;

  const keys = config.contents.keyring.map((item) => ({
    name: basename(isUrl(item) ? new URL(item).pathname : item),
    source: item,
    location: isUrl(item) ? item : resolveConfigPath(item, options.workdir, configDir, logger),
  }));
  const keyring = await loadKeys(
    keys.map((k) => k.location),
    { fetcher, baseDir: options.workdir, logger, offline, ...(cache === undefined ? {} : { cache }) },
  );

  const parse = (line: string, role: ConfiguredRepository['role']): ConfiguredRepository => {
    const location = line.trim().replace(/^@\S+\s+/, '');
    const spec = parseRepository(line, { baseDir: baseDirFor(location, options.workdir, configDir, logger) });
    return { spec, role };
  };
  const repositories = [
    ...config.contents.build_repositories.map((l) => parse(l, 'build')),
    ...config.contents.repositories.map((l) => parse(l, 'image')),
    ...config.contents.runtime_repositories.map((l) => parse(l, 'runtime')),
  ];
  return {
    options,
    config,
    configFiles: source.configFiles ?? [],
    configDir,
    archs: config.archs.map((a) => toApkArch(a)),
    keyring,
    keys,
    repositories,
    fetcher,
    ...(cache === undefined ? {} : { cache }),
    logger,
  };
}

/** One arch's loaded repositories and resolved install list. */
export interface ResolvedArch {
  arch: string;
  loaded: Map<string, LoadedRepository>;
  /** Solver input (one per build/image repository). */
  repositories: SolverRepository[];
  packages: ResolvedPackage[];
  /** The world as written in the image (`/etc/apk/world`). */
  world: string[];
}

/**
 * Load indexes for every arch and resolve the world (or replay `--lockfile`).
 *
 * @param prepared - from {@link prepareBuild}
 * @returns per arch, in build order
 */
export async function resolveArchs(prepared: PreparedBuild<PrepareSettings>): Promise<ResolvedArch[]> {
  const { options, config, logger } = prepared;
  const buildRepos = prepared.repositories.filter((r) => r.role !== 'runtime');
  const loadedByArch = await Promise.all(
    prepared.archs.map(async (arch) => {
      const loaded = new Map<string, LoadedRepository>();
      const repositories: SolverRepository[] = [];
      for (const repo of buildRepos) {
        const result = await loadRepository(repo.spec, arch, {
          fetcher: prepared.fetcher,
          keyring: prepared.keyring,
          allowUntrusted: options.allowUntrusted ?? false,
          offline: options.offline ?? false,
          logger,
          ...(prepared.cache === undefined ? {} : { cache: prepared.cache }),
        });
        const name = repo.spec.location;
        loaded.set(name, result);
        // The solver reads the table and builds only the records it resolves; `entries` builds them
        // all, so it is handed over unread.
        repositories.push({
          name,
          ...(repo.spec.tag === undefined ? {} : { tag: repo.spec.tag }),
          table: result.archive.table,
          get entries() {
            return result.entries;
          },
        });
      }
      return { arch, loaded, repositories };
    }),
  );
  const world = [...new Set(config.contents.packages)].sort();
  if (options.lockfile !== undefined) {
    const lock: LockFile = parseLockFile(await readFile(resolve(options.workdir, options.lockfile)), {
      source: options.lockfile,
    });
    return loadedByArch.map(({ arch, loaded, repositories }) => ({
      arch,
      loaded,
      repositories,
      packages: installListFromLock(lock, arch, repositories),
      world,
    }));
  }
  const solutions = solveMultiArch({
    world,
    archs: loadedByArch.map(({ arch, repositories }) => ({ arch, repositories })),
    logger,
  });
  return loadedByArch.map(({ arch, loaded, repositories }) => ({
    arch,
    loaded,
    repositories,
    packages: [...(solutions.get(arch)?.packages ?? [])],
    world,
  }));
}
