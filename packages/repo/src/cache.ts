/**
 * The download cache: indexes and packages fetched from http(s) repositories, kept on disk so that a second
 * build downloads nothing and `--offline` builds work.
 *
 * Layout (one folder per host, so a mirror's files can be found and removed together):
 *
 *     <dir>/<host>[_<port>]/<sha256(url)>        the bytes, exactly as downloaded
 *     <dir>/<host>[_<port>]/<sha256(url)>.json   { url, sha256, size, etag?, lastModified? }
 *
 * The key is the URL without credentials (credentials never reach the disk). Both files are written
 * atomically, the bytes first: a crash between the two leaves bytes whose metadata is missing or describes
 * the previous bytes, which the next read notices and drops.
 *
 * The cache is not trusted. A folder under `$XDG_CACHE_HOME` can be written by anything the user runs, so
 * every read re-checks: the bytes must hash to the metadata's sha256 (corruption), and a package must still
 * be the package the index names: the SHA-1 identity of its control member must equal the index `C:` and
 * its data members must hash to the `.PKGINFO` datahash that the identity covers (tampering). An entry that
 * fails is deleted with a warning, and the caller downloads it again.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readApk, readApkAsync, type ApkPackage, type ReadApkOptions } from '@tk/apk';
import { fromUtf8, isTkError, sha256Hex, silentLogger, utf8, writeFileAtomic, type Logger } from '@tk/core';
import { RepoError } from './errors.ts';
import { redactUrl } from './repository.ts';

/** What is stored next to each cached file. */
export interface CacheMetadata {
  /** The URL, without credentials. */
  url: string;
  /** Hex SHA-256 of the bytes. */
  sha256: string;
  /** Size of the bytes. */
  size: number;
  /** The response's `ETag`, for revalidation. */
  etag?: string;
  /** The response's `Last-Modified`, for revalidation. */
  lastModified?: string;
}

/** A cached file. */
export interface CacheEntry {
  bytes: Uint8Array;
  metadata: CacheMetadata;
}

/** What a package must be: the index's promises about it. */
export interface ExpectedPackage {
  /** The index `C:` identity (`Q1…`): SHA-1 of the package's control member. */
  identity: string;
  /** The datahash the package's data must have, when known beyond its own `.PKGINFO`. */
  datahash?: string;
  /** The index `S:` size, when present. */
  size?: number;
  /** `name-version` (or any label) for messages. */
  label?: string;
}

/** Options of package checks. */
export interface PackageCheckOptions {
  /** Accept a package whose `.PKGINFO` has no datahash (its data is then unverified). Default false. */
  allowMissingDatahash?: boolean;
  /** Limits for {@link readApk}. */
  readOptions?: Omit<ReadApkOptions, 'source' | 'logger'>;
  /** Where warnings go. */
  logger?: Logger;
}

/** A package read and checked. */
export interface VerifiedPackage {
  bytes: Uint8Array;
  pkg: ApkPackage;
}

/** An on-disk cache. Create it with {@link createDiskCache}. */
export interface DiskCache {
  /** The cache folder. */
  readonly dir: string;
  /**
   * Look a file up.
   *
   * @param url - the URL it was downloaded from
   * @param options - logger for the warning when a corrupt entry is dropped
   * @returns the bytes and metadata, or undefined when absent or dropped as corrupt
   */
  get(url: URL, options?: { logger?: Logger }): Promise<CacheEntry | undefined>;
  /**
   * Store a file (atomically).
   *
   * @param url - the URL it was downloaded from
   * @param bytes - the content
   * @param validators - the response's `ETag` / `Last-Modified`
   * @returns the stored metadata
   */
  put(
    url: URL,
    bytes: Uint8Array,
    validators?: { etag?: string; lastModified?: string },
  ): Promise<CacheMetadata>;
  /**
   * Look a package up and check it is the package the index names; a tampered entry is dropped with a
   * warning (REPO_CACHE_TAMPERED) and reported as a miss.
   *
   * @param url - the package URL
   * @param expected - the index's identity (and optionally the datahash and size)
   * @param options - datahash policy, read limits, logger
   * @returns the bytes and the parsed package, or undefined
   */
  getPackage(
    url: URL,
    expected: ExpectedPackage,
    options?: PackageCheckOptions,
  ): Promise<VerifiedPackage | undefined>;
  /**
   * Delete an entry (both files); absent entries are fine.
   *
   * @param url - the URL
   */
  remove(url: URL): Promise<void>;
  /**
   * Where an entry lives.
   *
   * @param url - the URL
   * @returns the paths of the bytes and of the metadata
   */
  pathsFor(url: URL): { data: string; metadata: string };
}

/** Options of {@link createDiskCache}. */
export interface DiskCacheOptions {
  /** Default logger for warnings about dropped entries. */
  logger?: Logger;
}

/** Metadata files are tiny; anything larger is not ours. */
const MAX_METADATA_BYTES = 64 * 1024;

/**
 * The default cache folder: `$XDG_CACHE_HOME/tk`, or `~/.cache/tk`.
 *
 * @param env - the environment (the CLI passes `process.env`)
 * @param homedir - the user's home folder (the CLI passes `os.homedir()`)
 * @returns an absolute folder path
 * @example
 * defaultCacheDir({ XDG_CACHE_HOME: '/var/cache' }, '/root'); // '/var/cache/tk'
 */
export function defaultCacheDir(env: Readonly<Record<string, string | undefined>>, homedir: string): string {
  const xdg = env.XDG_CACHE_HOME;
  // The XDG spec says relative values are invalid and must be ignored.
  if (xdg !== undefined && xdg.startsWith('/')) return join(xdg, 'tk');
  return join(homedir, '.cache', 'tk');
}

function keyUrl(url: URL): URL {
  const plain = new URL(url.href);
  plain.username = '';
  plain.password = '';
  plain.hash = '';
  return plain;
}

function hostFolder(url: URL): string {
  if (url.protocol === 'file:') return 'local';
  const name = url.host.toLowerCase().replace(/[^a-z0-9.-]/g, '_');
  return name === '' || name === '.' || name === '..' ? '_' : name;
}

function parseMetadata(text: string): CacheMetadata | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const m = value as Record<string, unknown>;
  if (typeof m.url !== 'string' || typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256))
    return undefined;
  if (typeof m.size !== 'number' || !Number.isSafeInteger(m.size) || m.size < 0) return undefined;
  if (m.etag !== undefined && typeof m.etag !== 'string') return undefined;
  if (m.lastModified !== undefined && typeof m.lastModified !== 'string') return undefined;
  return {
    url: m.url,
    sha256: m.sha256,
    size: m.size,
    ...(typeof m.etag === 'string' ? { etag: m.etag } : {}),
    ...(typeof m.lastModified === 'string' ? { lastModified: m.lastModified } : {}),
  };
}

function mismatch(label: string, source: string, what: string, expected: string, actual: string): RepoError {
  return new RepoError(
    'REPO_PACKAGE_MISMATCH',
    `${label} (${source}): ${what} is ${actual}, but ${expected}`,
    {
      hint: 'the package is not the one the index describes (a corrupt download, a stale mirror or tampering); it was not used. Try again; if it persists, rebuild the index or report it to the repository owner',
      data: { package: label, url: source, what, expected, actual },
    },
  );
}

/**
 * Read a package and check it against what the index promised: size (`S:`), identity (`C:` = SHA-1 of the
 * control member), and the data against the `.PKGINFO` datahash that the identity covers; per-file SHA-1
 * records are checked by {@link readApk}.
 *
 * @param bytes - the package file
 * @param expected - identity, optional datahash and size, label
 * @param source - where the bytes came from (a redacted URL), for messages
 * @param options - datahash policy and read limits
 * @returns the parsed package
 * @throws {RepoError} REPO_PACKAGE_MISMATCH (any check, including a package that does not parse)
 */
export function verifyPackageBytes(
  bytes: Uint8Array,
  expected: ExpectedPackage,
  source: string,
  options: PackageCheckOptions = {},
): ApkPackage {
  checkPackageSize(bytes, expected, source);
  let pkg: ApkPackage;
  try {
    pkg = readApk(bytes, packageReadOptions(source, options));
  } catch (error) {
    throw invalidPackage(error, expected, source);
  }
  return checkPackage(pkg, expected, source, options);
}

/**
 * {@link verifyPackageBytes}, with the package's gzip members inflated on libuv's thread pool
 * (`readApkAsync`): an image's packages verify on several cores at once. Same checks and errors.
 *
 * @param bytes - the package file
 * @param expected - identity, optional datahash and size, label
 * @param source - where the bytes came from (a redacted URL), for messages
 * @param options - datahash policy and read limits
 * @returns the parsed package
 * @throws {RepoError} REPO_PACKAGE_MISMATCH (any check, including a package that does not parse)
 */
export async function verifyPackageBytesAsync(
  bytes: Uint8Array,
  expected: ExpectedPackage,
  source: string,
  options: PackageCheckOptions = {},
): Promise<ApkPackage> {
  checkPackageSize(bytes, expected, source);
  let pkg: ApkPackage;
  try {
    pkg = await readApkAsync(bytes, packageReadOptions(source, options));
  } catch (error) {
    throw invalidPackage(error, expected, source);
  }
  return checkPackage(pkg, expected, source, options);
}

function packageReadOptions(source: string, options: PackageCheckOptions): ReadApkOptions {
  return {
    ...options.readOptions,
    source,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  };
}

function checkPackageSize(bytes: Uint8Array, expected: ExpectedPackage, source: string): void {
  if (expected.size !== undefined && bytes.length !== expected.size)
    throw mismatch(
      expected.label ?? 'package',
      source,
      'the file size',
      `the index says ${expected.size}`,
      `${bytes.length} bytes`,
    );
}

function invalidPackage(error: unknown, expected: ExpectedPackage, source: string): unknown {
  if (!isTkError(error)) return error;
  const label = expected.label ?? 'package';
  return new RepoError(
    'REPO_PACKAGE_MISMATCH',
    `${label} (${source}): not a valid package: [${error.code}] ${error.message}`,
    {
      cause: error,
      hint: 'the download is corrupt or the file is not an apk; it was not used. Try again, or report it to the repository owner',
      data: { package: label, url: source, apkCode: error.code },
    },
  );
}

/** The checks after a package parsed: identity, datahash (declared and expected). */
function checkPackage(
  pkg: ApkPackage,
  expected: ExpectedPackage,
  source: string,
  options: PackageCheckOptions,
): ApkPackage {
  const label = expected.label ?? 'package';
  if (pkg.identity !== expected.identity)
    throw mismatch(
      label,
      source,
      'the identity (SHA-1 of the control section)',
      `the index C: says ${expected.identity}`,
      pkg.identity,
    );
  const declared = pkg.pkginfo.datahash;
  if (declared === undefined) {
    if (options.allowMissingDatahash !== true)
      throw new RepoError(
        'REPO_PACKAGE_MISMATCH',
        `${label} (${source}): .PKGINFO has no datahash, so its data section cannot be verified`,
        {
          hint: 'rebuild the package with a current melange or abuild, or pass --allow-untrusted to accept it unverified',
          data: { package: label, url: source, what: 'datahash', expected: 'a datahash', actual: 'none' },
        },
      );
  } else if (pkg.dataHash !== declared) {
    throw mismatch(
      label,
      source,
      'the data section SHA-256',
      `.PKGINFO datahash says ${declared}`,
      pkg.dataHash,
    );
  }
  if (expected.datahash !== undefined && pkg.dataHash !== expected.datahash)
    throw mismatch(
      label,
      source,
      'the data section SHA-256',
      `the expected datahash is ${expected.datahash}`,
      pkg.dataHash,
    );
  return pkg;
}

/**
 * Open (lazily create) an on-disk download cache.
 *
 * @param dir - the cache folder, e.g. {@link defaultCacheDir} or `--cache-dir`
 * @param options - default logger
 * @returns the cache
 * @example
 * const cache = createDiskCache(defaultCacheDir(env, homedir()), { logger });
 * const hit = await cache.get(new URL('https://example.com/os/x86_64/APKINDEX.tar.gz'));
 */
export function createDiskCache(dir: string, options: DiskCacheOptions = {}): DiskCache {
  const defaultLogger = options.logger ?? silentLogger;

  const pathsFor = (url: URL): { data: string; metadata: string } => {
    const key = keyUrl(url);
    const name = sha256Hex(utf8(key.href));
    const folder = join(dir, hostFolder(key));
    return { data: join(folder, name), metadata: join(folder, `${name}.json`) };
  };

  const remove = async (url: URL): Promise<void> => {
    const paths = pathsFor(url);
    await rm(paths.metadata, { force: true });
    await rm(paths.data, { force: true });
  };

  const get = async (url: URL, getOptions: { logger?: Logger } = {}): Promise<CacheEntry | undefined> => {
    const logger = getOptions.logger ?? defaultLogger;
    const paths = pathsFor(url);
    const key = keyUrl(url).href;
    let metadataBytes: Uint8Array;
    try {
      metadataBytes = await readFile(paths.metadata);
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return undefined;
      logger.warn(
        `cache: cannot read ${paths.metadata}: ${(error as Error).message}; ignoring the cached copy`,
        'REPO_CACHE_CORRUPT',
      );
      return undefined;
    }
    const drop = async (why: string): Promise<undefined> => {
      logger.warn(`cache: dropping the cached copy of ${redactUrl(key)}: ${why}`, 'REPO_CACHE_CORRUPT');
      await remove(url);
      return undefined;
    };
    if (metadataBytes.length > MAX_METADATA_BYTES) return drop('its metadata is oversized');
    let text: string;
    try {
      text = fromUtf8(metadataBytes);
    } catch {
      return drop('its metadata is not UTF-8');
    }
    const metadata = parseMetadata(text);
    if (metadata === undefined) return drop('its metadata is malformed');
    if (metadata.url !== key) return drop(`its metadata names another URL (${redactUrl(metadata.url)})`);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(paths.data));
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return drop('its content is missing');
      throw error;
    }
    if (bytes.length !== metadata.size)
      return drop(`it is ${bytes.length} bytes, but was stored as ${metadata.size}`);
    const actual = sha256Hex(bytes);
    if (actual !== metadata.sha256)
      return drop(`its content hashes to sha256 ${actual}, but was stored as ${metadata.sha256}`);
    return { bytes, metadata };
  };

  const put = async (
    url: URL,
    bytes: Uint8Array,
    validators: { etag?: string; lastModified?: string } = {},
  ): Promise<CacheMetadata> => {
    const paths = pathsFor(url);
    const metadata: CacheMetadata = {
      url: keyUrl(url).href,
      sha256: sha256Hex(bytes),
      size: bytes.length,
      ...(validators.etag === undefined ? {} : { etag: validators.etag }),
      ...(validators.lastModified === undefined ? {} : { lastModified: validators.lastModified }),
    };
    await writeFileAtomic(paths.data, bytes, { mkdir: true });
    await writeFileAtomic(paths.metadata, `${JSON.stringify(metadata, null, 2)}\n`);
    return metadata;
  };

  const getPackage = async (
    url: URL,
    expected: ExpectedPackage,
    checkOptions: PackageCheckOptions = {},
  ): Promise<VerifiedPackage | undefined> => {
    const logger = checkOptions.logger ?? defaultLogger;
    const entry = await get(url, { logger });
    if (entry === undefined) return undefined;
    try {
      const pkg = await verifyPackageBytesAsync(entry.bytes, expected, redactUrl(keyUrl(url)), {
        ...checkOptions,
        logger,
      });
      return { bytes: entry.bytes, pkg };
    } catch (error) {
      if (!(error instanceof RepoError) || error.code !== 'REPO_PACKAGE_MISMATCH') throw error;
      // A package that passed its sha256 check but is not what the index names: written over on purpose
      // (or the cache was filled from a different repository at the same URL). Never use it.
      logger.warn(
        `cache: the cached copy of ${expected.label ?? redactUrl(keyUrl(url))} does not match the index (${error.message}); dropping it and downloading again`,
        'REPO_CACHE_TAMPERED',
      );
      await remove(url);
      return undefined;
    }
  };

  return { dir, get, put, getPackage, remove, pathsFor };
}
