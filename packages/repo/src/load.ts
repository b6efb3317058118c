/**
 * Loading repositories for a build: the index of one repository for one architecture, verified against the
 * keyring; the packages it lists, verified against the index; and the keys themselves, from files, folders
 * and URLs.
 *
 * Trust flows one way: a key in the keyring vouches for the index (its signature); the index vouches for
 * each package's control section (`C:` is its SHA-1); the control section's `.PKGINFO` vouches for the data
 * (`datahash` is its SHA-256); and each file's `APK-TOOLS.checksum.SHA1` vouches for the file. Every link is
 * checked here, before anything is returned, whether the bytes came from the network, a local folder or the
 * cache. Unsigned or untrusted indexes are refused unless the caller allows untrusted input (then a warning).
 *
 * Unlike apko, a repository without an index for the architecture is an error (REPO_INDEX_NOT_FOUND) rather
 * than a warning and a silently dropped repository: the build would otherwise fail later with "package not
 * found" and no hint as to why.
 */
import { stat } from 'node:fs/promises';
import { isAbsolute, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApkPackage, ReadApkOptions } from '@tk/apk';
import { internalError, silentLogger, type Logger } from '@tk/core';
import { createKeyring, loadKeyring, MAX_KEY_INPUT_BYTES, type Keyring } from '@tk/keys';
import { verifyPackageBytesAsync, type DiskCache } from './cache.ts';
import { RepoError } from './errors.ts';
import {
  DEFAULT_MAX_INDEX_BYTES,
  readIndexArchive,
  verifyIndexArchive,
  type IndexArchive,
  type IndexVerifyResult,
} from './index-archive.ts';
import type { IndexEntry } from './index-text.ts';
import type { Fetcher } from './fetcher.ts';
import { indexUrl, packageUrl, redactUrl, type RepositorySpec } from './repository.ts';

/** The largest package downloaded by default (2 GiB). */
export const DEFAULT_MAX_PACKAGE_BYTES = 2 ** 31;

/** A repository's index for one architecture, read and verified. */
export interface LoadedRepository {
  spec: RepositorySpec;
  arch: string;
  /** Where the index came from. */
  indexUrl: URL;
  archive: IndexArchive;
  /** The index records (same as `archive.entries`: built on first access; a resolve reads `archive.table`). */
  entries: IndexEntry[];
  /** The signature verdict (OK, or UNTRUSTED/BAD when untrusted indexes were allowed). */
  verification: IndexVerifyResult;
  /** Whether untrusted input was allowed when it was loaded (the default for {@link fetchPackage}). */
  allowUntrusted: boolean;
}

/** Options of {@link loadRepository}. */
export interface LoadRepositoryOptions {
  fetcher: Fetcher;
  /** Cache for remote indexes (revalidated with ETag / Last-Modified when online). */
  cache?: DiskCache;
  /** Use the cache only; never touch the network (local folders are still read). */
  offline?: boolean;
  /** Trusted keys. */
  keyring: Keyring;
  /** Accept an unsigned or badly signed index, with a warning. Default false. */
  allowUntrusted?: boolean;
  logger?: Logger;
  /** Largest index, compressed and decompressed. Default 300 MiB (apko). */
  maxIndexBytes?: number;
}

/** Options of {@link fetchPackage}. */
export interface FetchPackageOptions {
  fetcher: Fetcher;
  /** Cache for remote packages (cached copies are re-verified before use). */
  cache?: DiskCache;
  /** Use the cache only for remote packages. */
  offline?: boolean;
  logger?: Logger;
  /** Largest package file. Default 2 GiB; never more than the index `S:` when it has one. */
  maxBytes?: number;
  /** Accept a package without a datahash. Default: the repository's `allowUntrusted`. */
  allowUntrusted?: boolean;
  /** Limits for reading the package. */
  readOptions?: Omit<ReadApkOptions, 'source' | 'logger'>;
}

/** A downloaded and verified package. */
export interface FetchedPackage {
  bytes: Uint8Array;
  pkg: ApkPackage;
  url: URL;
  /** True when the bytes came from the cache. */
  fromCache: boolean;
}

/** Options of {@link loadKeys}. */
export interface LoadKeysOptions {
  /** For key URLs. */
  fetcher: Fetcher;
  /** Add to this keyring; default a new one. */
  keyring?: Keyring;
  /** Absolute folder relative paths are resolved against (config folder or workdir). */
  baseDir: string;
  logger?: Logger;
  /** Cache for keys fetched from URLs. */
  cache?: DiskCache;
  /** Use only cached copies of key URLs. */
  offline?: boolean;
  /** Largest key download. Default 64 KiB. */
  maxBytes?: number;
}

/** How a repository is named in messages: local paths as written, URLs without credentials. */
function repositoryName(spec: RepositorySpec): string {
  return spec.url.protocol === 'file:' ? spec.location : redactUrl(spec.url);
}

function offlineMiss(url: URL, what: string): RepoError {
  const shown = redactUrl(url);
  return new RepoError('REPO_OFFLINE_MISS', `offline: ${what} ${shown} is not in the cache`, {
    hint: 'run once without --offline (with the same --cache-dir) to fill the cache',
    data: { url: shown },
  });
}

interface IndexDownload {
  bytes: Uint8Array;
  fromCache: boolean;
  validators?: { etag?: string; lastModified?: string };
}

async function downloadIndex(
  url: URL,
  options: LoadRepositoryOptions,
  maxBytes: number,
): Promise<IndexDownload> {
  const { fetcher, cache } = options;
  const logger = options.logger ?? silentLogger;
  const label = `index ${url.pathname.split('/').slice(-2).join('/')}`;
  if (url.protocol === 'file:')
    return { bytes: await fetcher.fetch(url, { maxBytes, label }), fromCache: false };
  if (options.offline === true) {
    const hit = await cache?.get(url, { logger });
    if (hit === undefined) throw offlineMiss(url, 'the index');
    return { bytes: hit.bytes, fromCache: true };
  }
  const hit = await cache?.get(url, { logger });
  if (fetcher.fetchIfModified === undefined) {
    return { bytes: await fetcher.fetch(url, { maxBytes, label }), fromCache: false };
  }
  const result = await fetcher.fetchIfModified(url, {
    maxBytes,
    label,
    ...(hit?.metadata.etag === undefined ? {} : { etag: hit.metadata.etag }),
    ...(hit?.metadata.lastModified === undefined ? {} : { lastModified: hit.metadata.lastModified }),
  });
  if (!result.modified) {
    if (hit === undefined)
      throw new RepoError('REPO_FETCH_FAILED', `${redactUrl(url)}: HTTP 304 for a file tk does not have`);
    logger.debug(`${redactUrl(url)}: not modified, using the cached copy`);
    return { bytes: hit.bytes, fromCache: true };
  }
  return {
    bytes: result.bytes,
    fromCache: false,
    validators: {
      ...(result.etag === undefined ? {} : { etag: result.etag }),
      ...(result.lastModified === undefined ? {} : { lastModified: result.lastModified }),
    },
  };
}

async function indexNotFound(
  spec: RepositorySpec,
  arch: string,
  url: URL,
  cause: RepoError,
): Promise<RepoError> {
  const shown = redactUrl(url);
  let detail =
    (cause.data?.status as number | undefined) === undefined
      ? 'does not exist'
      : `does not exist (HTTP ${String(cause.data?.status)})`;
  if (spec.url.protocol === 'file:') {
    const root = fileURLToPath(spec.url);
    const exists = await stat(root).then(
      (s) => s.isDirectory(),
      () => false,
    );
    detail = exists
      ? `does not exist: ${root} has no ${arch}/APKINDEX.tar.gz`
      : `does not exist: there is no folder ${root}`;
  }
  return new RepoError(
    'REPO_INDEX_NOT_FOUND',
    `repository ${JSON.stringify(repositoryName(spec))} has no index for ${arch}: ${shown} ${detail}`,
    {
      cause,
      hint: `check the repository path and that it has an ${arch}/ folder with an APKINDEX.tar.gz (melange build writes packages/<arch>/; melange index creates the index)`,
      data: { url: shown, arch, repository: repositoryName(spec) },
    },
  );
}

/**
 * Fetch, parse and verify a repository's index for one architecture.
 *
 * @param spec - the repository (from {@link parseRepository})
 * @param arch - the apk architecture (`x86_64`, `aarch64`…)
 * @param options - fetcher, cache and offline mode, keyring, `allowUntrusted`, logger, size limit
 * @returns the index and its verdict
 * @throws {RepoError} REPO_INDEX_NOT_FOUND (404 / missing file), REPO_UNTRUSTED_INDEX (unsigned or no trusted
 *   key), REPO_BAD_SIGNATURE (a trusted key's signature fails), REPO_OFFLINE_MISS, REPO_BAD_INDEX_ARCHIVE,
 *   REPO_BAD_INDEX, REPO_TOO_LARGE, and the fetcher's errors
 * @example
 * const repo = await loadRepository(parseRepository('./packages', { baseDir }), 'x86_64', { fetcher, keyring, logger });
 * repo.entries.map((e) => `${e.name}-${e.version}`);
 */
export async function loadRepository(
  spec: RepositorySpec,
  arch: string,
  options: LoadRepositoryOptions,
): Promise<LoadedRepository> {
  const logger = options.logger ?? silentLogger;
  const maxBytes = options.maxIndexBytes ?? DEFAULT_MAX_INDEX_BYTES;
  const allowUntrusted = options.allowUntrusted === true;
  const url = indexUrl(spec, arch);
  const shown = redactUrl(url);
  let download: IndexDownload;
  try {
    download = await downloadIndex(url, options, maxBytes);
  } catch (error) {
    if (error instanceof RepoError && error.code === 'REPO_NOT_FOUND')
      throw await indexNotFound(spec, arch, url, error);
    throw error;
  }
  const refuse = async (error: RepoError): Promise<never> => {
    // Never keep (or keep using) an index that was refused: the next run downloads it again.
    if (download.fromCache) await options.cache?.remove(url);
    throw error;
  };
  let archive: IndexArchive;
  try {
    archive = readIndexArchive(download.bytes, { maxBytes, logger, source: shown });
  } catch (error) {
    if (error instanceof RepoError) return refuse(error);
    throw error;
  }
  const verification = verifyIndexArchive(download.bytes, archive, options.keyring);
  if (verification.status !== 'OK') {
    const keys = options.keyring.names();
    const trusted = keys.length === 0 ? 'the keyring is empty' : `trusted keys: ${keys.join(', ')}`;
    if (!allowUntrusted) {
      const code = verification.status === 'BAD' ? 'REPO_BAD_SIGNATURE' : 'REPO_UNTRUSTED_INDEX';
      await refuse(
        new RepoError(
          code,
          `index ${shown} for ${arch} is ${verification.status}: ${verification.reason} (${trusted})`,
          {
            hint: 'add the key that signed it with --keyring-append / -k (for apko configs: contents.keyring), or pass --allow-untrusted to use it unverified',
            data: {
              url: shown,
              arch,
              status: verification.status,
              signatures: archive.signatures.map((s) => s.keyName),
            },
          },
        ),
      );
    }
    logger.warn(
      `using ${verification.status} index ${shown} (${verification.reason}) because untrusted input is allowed`,
      verification.status === 'BAD' ? 'REPO_BAD_SIGNATURE' : 'REPO_UNTRUSTED_INDEX',
    );
  } else {
    logger.debug(`${shown}: ${archive.table.length} packages, ${verification.reason}`);
  }
  if (!download.fromCache && options.cache !== undefined && url.protocol !== 'file:') {
    try {
      await options.cache.put(url, download.bytes, download.validators);
    } catch (error) {
      logger.warn(`cache: cannot store ${shown}: ${(error as Error).message}`, 'REPO_CACHE_WRITE_FAILED');
    }
  }
  return {
    spec,
    arch,
    indexUrl: url,
    archive,
    get entries(): IndexEntry[] {
      return archive.entries;
    },
    verification,
    allowUntrusted,
  };
}

/**
 * Download (or take from the cache) one package of a loaded repository, and verify it before returning it:
 * the file size equals the index `S:`, the control section's SHA-1 equals the index `C:`, the data section
 * hashes to the `.PKGINFO` datahash, and every file matches its SHA-1 record.
 *
 * @param repo - the repository the entry comes from
 * @param entry - the index record
 * @param options - fetcher, cache and offline mode, logger, size limit, datahash policy
 * @returns the package file and the parsed package
 * @throws {RepoError} REPO_PACKAGE_MISMATCH, REPO_OFFLINE_MISS, REPO_BAD_PACKAGE_NAME, and the fetcher's errors
 * @example
 * const { pkg } = await fetchPackage(repo, repo.entries[0], { fetcher, cache, logger });
 */
export async function fetchPackage(
  repo: LoadedRepository,
  entry: IndexEntry,
  options: FetchPackageOptions,
): Promise<FetchedPackage> {
  const logger = options.logger ?? silentLogger;
  const url = packageUrl(repo.spec, repo.arch, entry.name, entry.version);
  const shown = redactUrl(url);
  const label = `${entry.name}-${entry.version}`;
  const expected = {
    identity: entry.checksum,
    label,
    ...(entry.size === undefined ? {} : { size: entry.size }),
  };
  const checkOptions = {
    allowMissingDatahash: options.allowUntrusted ?? repo.allowUntrusted,
    logger,
    ...(options.readOptions === undefined ? {} : { readOptions: options.readOptions }),
  };
  const remote = url.protocol !== 'file:';
  const check = (pkg: ApkPackage): void => {
    if (pkg.pkginfo.pkgname !== entry.name || pkg.pkginfo.pkgver !== entry.version)
      throw new RepoError(
        'REPO_PACKAGE_MISMATCH',
        `${label} (${shown}): the package says it is ${pkg.pkginfo.pkgname}-${pkg.pkginfo.pkgver}`,
        {
          hint: 'the index and the package disagree; rebuild the index',
          data: {
            package: label,
            url: shown,
            what: 'name',
            expected: label,
            actual: `${pkg.pkginfo.pkgname}-${pkg.pkginfo.pkgver}`,
          },
        },
      );
  };
  if (remote && options.cache !== undefined) {
    const hit = await options.cache.getPackage(url, expected, checkOptions);
    if (hit !== undefined) {
      check(hit.pkg);
      logger.debug(`${label}: using the cached copy`);
      return { ...hit, url, fromCache: true };
    }
  }
  if (remote && options.offline === true) throw offlineMiss(url, `package ${label}`);
  const limit = options.maxBytes ?? DEFAULT_MAX_PACKAGE_BYTES;
  const maxBytes = entry.size === undefined ? limit : Math.min(limit, entry.size);
  let bytes: Uint8Array;
  try {
    bytes = await options.fetcher.fetch(url, { maxBytes, label, accept: 'application/octet-stream, */*' });
  } catch (error) {
    if (
      error instanceof RepoError &&
      error.code === 'REPO_TOO_LARGE' &&
      entry.size !== undefined &&
      entry.size < limit
    )
      throw new RepoError(
        'REPO_PACKAGE_MISMATCH',
        `${label} (${shown}): the file is larger than the ${entry.size} bytes the index says (download cut off)`,
        {
          cause: error,
          hint: 'the package is not the one the index describes (a stale mirror or tampering); it was not used',
          data: {
            package: label,
            url: shown,
            what: 'size',
            expected: String(entry.size),
            actual: `> ${entry.size}`,
          },
        },
      );
    throw error;
  }
  const pkg = await verifyPackageBytesAsync(bytes, expected, shown, checkOptions);
  check(pkg);
  if (pkg.pkginfo.datahash === undefined)
    logger.warn(
      `${label}: no datahash; its data section is unverified (untrusted input allowed)`,
      'REPO_NO_DATAHASH',
    );
  if (remote && options.cache !== undefined) {
    try {
      await options.cache.put(url, bytes);
    } catch (error) {
      logger.warn(`cache: cannot store ${shown}: ${(error as Error).message}`, 'REPO_CACHE_WRITE_FAILED');
    }
  }
  return { bytes, pkg, url, fromCache: false };
}

/**
 * Load trusted keys from files, folders and URLs (apko's `contents.keyring` and `--keyring-append`).
 *
 * - a local path (relative ones against `baseDir`) or `file:` URL: a key file, named by its basename, or a
 *   folder whose `*.pub` files are all loaded (see `loadKeyring` of `@tk/keys`);
 * - an http(s) URL: downloaded (at most `maxBytes`) and added under the URL's last path segment, which
 *   must therefore be the key's name (`…/melange.rsa.pub`).
 *
 * @param items - paths and URLs, in order
 * @param options - fetcher, keyring to add to, base folder, logger, cache and offline mode, size limit
 * @returns the keyring
 * @throws {KeyError} KEY_BAD_NAME, KEY_BAD_PEM, KEY_NOT_FOUND, KEY_DUPLICATE_NAME… (from `@tk/keys`)
 * @throws {RepoError} the fetcher's errors, REPO_OFFLINE_MISS, REPO_FETCH_FAILED (unsupported scheme)
 * @example
 * const keyring = await loadKeys(['./melange.rsa.pub', 'https://packages.wolfi.dev/os/wolfi-signing.rsa.pub'], { fetcher, baseDir, logger });
 */
export async function loadKeys(items: readonly string[], options: LoadKeysOptions): Promise<Keyring> {
  const logger = options.logger ?? silentLogger;
  const maxBytes = options.maxBytes ?? MAX_KEY_INPUT_BYTES;
  if (!isAbsolute(options.baseDir))
    internalError(`loadKeys: baseDir must be absolute, got ${JSON.stringify(options.baseDir)}`);
  let keyring = options.keyring;
  for (const item of items) {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(item)?.[1]?.toLowerCase();
    if (scheme === 'http' || scheme === 'https') {
      let url: URL;
      try {
        url = new URL(item);
      } catch (error) {
        throw new RepoError(
          'REPO_FETCH_FAILED',
          `key URL ${JSON.stringify(redactUrl(item))} is not a valid URL`,
          {
            cause: error,
            hint: 'write key URLs as https://host/path/name.rsa.pub',
          },
        );
      }
      const segments = url.pathname.split('/');
      let name: string;
      try {
        name = posix.basename(decodeURIComponent(segments[segments.length - 1] ?? ''));
      } catch {
        name = '';
      }
      const shown = redactUrl(url);
      let bytes: Uint8Array;
      const cached = options.cache === undefined ? undefined : await options.cache.get(url, { logger });
      if (cached !== undefined && options.offline === true) bytes = cached.bytes;
      else if (options.offline === true) throw offlineMiss(url, 'the key');
      else {
        bytes = await options.fetcher.fetch(url, {
          maxBytes,
          label: `key ${name}`,
          accept: 'application/x-pem-file, text/plain, */*',
        });
        if (options.cache !== undefined) {
          try {
            await options.cache.put(url, bytes);
          } catch (error) {
            logger.warn(
              `cache: cannot store ${shown}: ${(error as Error).message}`,
              'REPO_CACHE_WRITE_FAILED',
            );
          }
        }
      }
      keyring ??= createKeyring();
      const key = keyring.addKeyFromBytes(name, bytes, shown);
      logger.debug(`trusting ${name} (${key.bits}-bit RSA, sha256 ${key.fingerprint}) from ${shown}`);
      continue;
    }
    let path: string;
    if (scheme === 'file') {
      try {
        path = fileURLToPath(new URL(item));
      } catch (error) {
        throw new RepoError('REPO_FETCH_FAILED', `key ${JSON.stringify(item)} is not a local file: URL`, {
          cause: error,
          hint: 'write local keys as paths or file:///absolute/path',
        });
      }
    } else if (scheme !== undefined) {
      throw new RepoError(
        'REPO_FETCH_FAILED',
        `key ${JSON.stringify(redactUrl(item))}: unsupported scheme "${scheme}:"`,
        {
          hint: `keys are local paths or http(s) URLs; for a file whose name contains ":", write ./${item}`,
        },
      );
    } else {
      path = resolve(options.baseDir, item);
    }
    keyring = await loadKeyring([path], { logger, ...(keyring === undefined ? {} : { keyring }) });
  }
  return keyring ?? createKeyring();
}
