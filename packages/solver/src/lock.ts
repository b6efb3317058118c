/**
 * apko's lock file, `<config>.lock.json` (reference `apk-and-apko.md` §4.7; apko `pkg/lock/lock.go`,
 * `internal/cli/lock.go`): the exact packages of an image per arch, in install order, with the byte
 * ranges and digests of each package's three sections, so that an image can be rebuilt without
 * solving.
 *
 *     { "version": "v1",
 *       "config": { "name": "apko.yaml", "checksum": "sha256-…" },            (optional; members omitempty)
 *       "contents": {
 *         "keyring": [{ "name", "url", "content"? }],                          (sorted by name)
 *         "build_repositories": [LockRepository], "runtime_repositories": [LockRepository],
 *         "repositories": [{ "name": "<repo>/<arch>", "url": "<repo>/<arch>/APKINDEX.tar.gz", "architecture" }],
 *         "packages": [{ "name", "url", "version", "architecture",
 *                        "signature": { "range": "bytes=0-646", "checksum": "sha1-<b64>" },
 *                        "control":   { "range": "bytes=647-1660", "checksum": "sha1-<b64>" },
 *                        "data":      { "range": "bytes=1661-2960", "checksum": "sha256-<b64>" },
 *                        "checksum": "Q1…" }] } }                              (per arch, install order)
 *
 * {@link serializeLockFile} writes what Go's `json.MarshalIndent(lock, "", "  ")` plus a newline
 * writes, so a parsed apko lock file is reproduced byte for byte.
 *
 * One tk addition: apko drops the `@tag` of tagged repositories from the lock (`RemoveLabel`), so a
 * package that came from `@local ./packages` cannot be re-pinned when the lock is replayed (apko
 * #1541, #557). tk writes the tag as an extra `"tag"` member of the repository entry (after
 * `architecture`, only when there is one); Go's decoder ignores unknown members, so apko still reads
 * such a file.
 */
import { compareCodePoints, stringifyCanonical, toBase64, type JsonValue } from '@tk/core';
import { isValidVersion } from '@tk/apk';
import { SolverError } from './errors.ts';
import { compareNamesForDisplay } from './solve.ts';
import { getUniverse, type UPackage, nameInfoOf } from './internal/universe.ts';
import type { ResolvedPackage, SolverRepository } from './types.ts';

/** The lock format version tk reads and writes. */
export const LOCK_VERSION = 'v1';
/** The largest lock file {@link parseLockFile} accepts (bytes of UTF-8). */
export const MAX_LOCK_FILE_BYTES = 64 << 20;
/** The most entries a lock list may have. */
const MAX_LOCK_ITEMS = 200_000;
/** The longest string member (a PEM keyring content is a few KiB). */
const MAX_STRING = 1 << 20;
/** Issues collected before giving up. */
const MAX_ISSUES = 20;

/** The configuration a lock was made from. */
export interface LockConfig {
  /** The config file path as given to `apko lock`. */
  name?: string;
  /** `sha256-<base64>` of the config (and its includes). */
  checksum?: string;
}

/** A key of the keyring. */
export interface LockKeyring {
  name: string;
  url: string;
  /** The PEM text of the key; omitted when empty. */
  content?: string;
}

/** A repository, for one arch. */
export interface LockRepository {
  /** `<repo>/<arch>`, without `http(s)://` and without any `@tag ` label. */
  name: string;
  /** `<repo>/<arch>/APKINDEX.tar.gz`. */
  url: string;
  architecture: string;
  /** tk extension: the repository's tag (`local` for `@local ./packages`). Absent in apko's files. */
  tag?: string;
}

/** A byte range of a package file and the digest of those bytes. */
export interface LockRangeChecksum {
  /** `bytes=<first>-<last>` (inclusive), or empty for an unsigned package's signature. */
  range: string;
  /** `sha1-<base64>` (signature, control) or `sha256-<base64>` (data), or empty. */
  checksum: string;
}

/** A locked package. */
export interface LockPackage {
  name: string;
  /** Where it is fetched from: `<repo>/<arch>/<name>-<version>.apk`. */
  url: string;
  version: string;
  architecture: string;
  signature: LockRangeChecksum;
  control: LockRangeChecksum;
  data: LockRangeChecksum;
  /** The identity checksum `Q1…` (the index's `C:`); empty in locks written before apko 0.13. */
  checksum: string;
}

/** The lists of a lock. */
export interface LockContents {
  keyring: LockKeyring[];
  build_repositories: LockRepository[];
  runtime_repositories: LockRepository[];
  repositories: LockRepository[];
  /** Every arch's packages, each arch in install order. */
  packages: LockPackage[];
}

/** A whole lock file. */
export interface LockFile {
  version: string;
  config?: LockConfig;
  contents: LockContents;
}

// ---------------------------------------------------------------------------------------------------
// Validation (shared by parse and serialize)

const RANGE_PATTERN = /^bytes=(\d{1,15})-(\d{1,15})$/;
const DIGEST_PATTERN = /^(sha1|sha256)-[A-Za-z0-9+/]+={0,2}$/;
const Q1_PATTERN = /^Q1[A-Za-z0-9+/]{27}=$/;
const CONFIG_CHECKSUM_PATTERN = /^sha256-[A-Za-z0-9+/]+={0,2}$/;
/** Whether a string holds a control character (no place in names, versions, urls and archs). */
function hasControl(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

class Issues {
  readonly list: string[] = [];
  add(path: string, problem: string): void {
    if (this.list.length < MAX_ISSUES) this.list.push(`${path}: ${problem}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readString(
  issues: Issues,
  record: Record<string, unknown>,
  key: string,
  path: string,
  options: { optional?: boolean; line?: boolean; pattern?: RegExp; emptyOk?: boolean } = {},
): string | undefined {
  const value = Object.hasOwn(record, key) ? record[key] : undefined;
  if (value === undefined || value === null) {
    if (options.optional !== true) issues.add(`${path}.${key}`, 'is missing');
    return undefined;
  }
  if (typeof value !== 'string') {
    issues.add(`${path}.${key}`, `must be a string, not ${Array.isArray(value) ? 'an array' : typeof value}`);
    return undefined;
  }
  if (value.length > MAX_STRING) {
    issues.add(`${path}.${key}`, `is ${value.length} characters long; the limit is ${MAX_STRING}`);
    return undefined;
  }
  if (options.line === true && hasControl(value)) {
    issues.add(`${path}.${key}`, 'contains a control character');
    return undefined;
  }
  if (value === '' && options.emptyOk === true) return value;
  if (value === '' && options.optional !== true && options.pattern === undefined) {
    issues.add(`${path}.${key}`, 'is empty');
    return undefined;
  }
  if (options.pattern !== undefined && value !== '' && !options.pattern.test(value)) {
    issues.add(`${path}.${key}`, `${JSON.stringify(value.slice(0, 80))} is not in the expected form`);
    return undefined;
  }
  return value;
}

function readArray(issues: Issues, record: Record<string, unknown>, key: string, path: string): unknown[] {
  const value = Object.hasOwn(record, key) ? record[key] : undefined;
  // Go writes a nil slice as null and reads a missing one as nil: both mean empty.
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    issues.add(`${path}.${key}`, 'must be an array');
    return [];
  }
  if (value.length > MAX_LOCK_ITEMS) {
    issues.add(`${path}.${key}`, `has ${value.length} entries; the limit is ${MAX_LOCK_ITEMS}`);
    return [];
  }
  return value;
}

function readRange(
  issues: Issues,
  value: unknown,
  path: string,
  algorithm: 'sha1' | 'sha256',
): LockRangeChecksum {
  if (!isRecord(value)) {
    issues.add(path, 'must be an object with range and checksum');
    return { range: '', checksum: '' };
  }
  const rangeValue = readString(issues, value, 'range', path, { pattern: RANGE_PATTERN, emptyOk: true });
  const checksumValue = readString(issues, value, 'checksum', path, {
    pattern: DIGEST_PATTERN,
    emptyOk: true,
  });
  const range = rangeValue ?? '';
  const checksum = checksumValue ?? '';
  const match = RANGE_PATTERN.exec(range);
  if (match !== null && Number(match[1]) > Number(match[2]))
    issues.add(`${path}.range`, `${range} ends before it starts`);
  if (checksum !== '' && !checksum.startsWith(`${algorithm}-`)) {
    issues.add(`${path}.checksum`, `must be a ${algorithm} digest (${algorithm}-<base64>)`);
  }
  if (rangeValue !== undefined && checksumValue !== undefined && (range === '') !== (checksum === '')) {
    issues.add(path, 'range and checksum must both be set or both be empty');
  }
  return { range, checksum };
}

function readRepository(issues: Issues, value: unknown, path: string): LockRepository {
  if (!isRecord(value)) {
    issues.add(path, 'must be an object');
    return { name: '', url: '', architecture: '' };
  }
  const name = readString(issues, value, 'name', path, { line: true }) ?? '';
  const url = readString(issues, value, 'url', path, { line: true }) ?? '';
  const architecture = readString(issues, value, 'architecture', path, { line: true }) ?? '';
  const tag = readString(issues, value, 'tag', path, { optional: true, pattern: /^[A-Za-z0-9._-]+$/ });
  return { name, url, architecture, ...(tag === undefined || tag === '' ? {} : { tag }) };
}

function readPackage(issues: Issues, value: unknown, path: string): LockPackage {
  const empty = { range: '', checksum: '' };
  if (!isRecord(value)) {
    issues.add(path, 'must be an object');
    return {
      name: '',
      url: '',
      version: '',
      architecture: '',
      signature: empty,
      control: empty,
      data: empty,
      checksum: '',
    };
  }
  const name = readString(issues, value, 'name', path, { line: true, pattern: /^[^\s!<>=~@]+$/ }) ?? '';
  const url = readString(issues, value, 'url', path, { line: true }) ?? '';
  const version = readString(issues, value, 'version', path, { line: true }) ?? '';
  if (version !== '' && !isValidVersion(version, { dialect: 'apk-tools-2.14' })) {
    issues.add(`${path}.version`, `${JSON.stringify(version.slice(0, 80))} is not an apk version`);
  }
  const architecture = readString(issues, value, 'architecture', path, { line: true }) ?? '';
  const signature = readRange(issues, value.signature, `${path}.signature`, 'sha1');
  const control = readRange(issues, value.control, `${path}.control`, 'sha1');
  const data = readRange(issues, value.data, `${path}.data`, 'sha256');
  const checksum = readString(issues, value, 'checksum', path, { pattern: Q1_PATTERN, emptyOk: true }) ?? '';
  return { name, url, version, architecture, signature, control, data, checksum };
}

function readLock(value: unknown, issues: Issues): LockFile {
  if (!isRecord(value)) {
    issues.add('(root)', 'must be an object');
    return { version: '', contents: emptyContents() };
  }
  const version = readString(issues, value, 'version', '(root)') ?? '';
  if (version !== '' && version !== LOCK_VERSION) {
    issues.add(
      'version',
      `${JSON.stringify(version.slice(0, 20))} is not supported (tk reads ${LOCK_VERSION})`,
    );
  }
  let config: LockConfig | undefined;
  if (Object.hasOwn(value, 'config') && value.config !== null && value.config !== undefined) {
    if (!isRecord(value.config)) issues.add('config', 'must be an object');
    else {
      const name = readString(issues, value.config, 'name', 'config', { optional: true, line: true });
      const checksum = readString(issues, value.config, 'checksum', 'config', {
        optional: true,
        pattern: CONFIG_CHECKSUM_PATTERN,
      });
      config = {
        ...(name === undefined || name === '' ? {} : { name }),
        ...(checksum === undefined || checksum === '' ? {} : { checksum }),
      };
    }
  }
  const contentsValue = Object.hasOwn(value, 'contents') ? value.contents : undefined;
  if (!isRecord(contentsValue)) {
    issues.add('contents', 'is missing or not an object');
    return { version, ...(config === undefined ? {} : { config }), contents: emptyContents() };
  }
  const keyring = readArray(issues, contentsValue, 'keyring', 'contents').map((item, index): LockKeyring => {
    const path = `contents.keyring[${index}]`;
    if (!isRecord(item)) {
      issues.add(path, 'must be an object');
      return { name: '', url: '' };
    }
    const name = readString(issues, item, 'name', path, { line: true }) ?? '';
    const url = readString(issues, item, 'url', path, { line: true }) ?? '';
    const content = readString(issues, item, 'content', path, { optional: true });
    return { name, url, ...(content === undefined || content === '' ? {} : { content }) };
  });
  const repositories = (key: string): LockRepository[] =>
    readArray(issues, contentsValue, key, 'contents').map((item, index) =>
      readRepository(issues, item, `contents.${key}[${index}]`),
    );
  const buildRepositories = repositories('build_repositories');
  const runtimeRepositories = repositories('runtime_repositories');
  const mainRepositories = repositories('repositories');
  const packages = readArray(issues, contentsValue, 'packages', 'contents').map((item, index) =>
    readPackage(issues, item, `contents.packages[${index}]`),
  );
  return {
    version,
    ...(config === undefined ? {} : { config }),
    contents: {
      keyring,
      build_repositories: buildRepositories,
      runtime_repositories: runtimeRepositories,
      repositories: mainRepositories,
      packages,
    },
  };
}

function emptyContents(): LockContents {
  return { keyring: [], build_repositories: [], runtime_repositories: [], repositories: [], packages: [] };
}

function badLock(source: string, issues: readonly string[]): never {
  throw new SolverError(
    'SOLVER_BAD_LOCK',
    `${source}: invalid lock file:\n${issues.map((issue) => `  ${issue}`).join('\n')}`,
    {
      hint: 'regenerate the lock file (tk apko lock), or fix the listed members',
      data: { source, issues },
    },
  );
}

/**
 * Parse and validate an `apko.lock.json`. Unknown members are ignored (as Go's decoder does); null
 * or missing lists are empty. Every problem found (up to 20) is reported at once.
 *
 * @param text - the file's text or bytes (UTF-8)
 * @param options - `source` names the file in messages
 * @returns the lock, with only the known members
 * @throws {SolverError} SOLVER_BAD_LOCK for oversized input, invalid UTF-8 or JSON, an unsupported
 *   version, or members of the wrong type or form (the message lists each by path)
 *
 * @example
 * const lock = parseLockFile(readFileSync('apko.lock.json'), { source: 'apko.lock.json' });
 * lock.contents.packages.filter((p) => p.architecture === 'x86_64').map((p) => p.name);
 */
export function parseLockFile(text: string | Uint8Array, options: { source?: string } = {}): LockFile {
  const source = options.source ?? 'lock file';
  const size = typeof text === 'string' ? Buffer.byteLength(text, 'utf8') : text.byteLength;
  if (size > MAX_LOCK_FILE_BYTES) {
    throw new SolverError(
      'SOLVER_BAD_LOCK',
      `${source}: the lock file is ${size} bytes; the limit is ${MAX_LOCK_FILE_BYTES}`,
      {
        hint: 'a real lock file is a few hundred KiB at most; check that this is the right file',
        data: { source, size },
      },
    );
  }
  let decoded: string;
  if (typeof text === 'string') decoded = text;
  else {
    try {
      decoded = new TextDecoder('utf-8', { fatal: true }).decode(text);
    } catch (error) {
      throw new SolverError('SOLVER_BAD_LOCK', `${source}: the lock file is not valid UTF-8`, {
        hint: 'regenerate the lock file',
        cause: error,
        data: { source },
      });
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(decoded) as unknown;
  } catch (error) {
    throw new SolverError(
      'SOLVER_BAD_LOCK',
      `${source}: the lock file is not valid JSON: ${(error as Error).message}`,
      {
        hint: 'regenerate the lock file, or fix the JSON syntax',
        cause: error,
        data: { source },
      },
    );
  }
  const issues = new Issues();
  const lock = readLock(value, issues);
  if (issues.list.length > 0) badLock(source, issues.list);
  return lock;
}

function toJson(lock: LockFile): JsonValue {
  const range = (value: LockRangeChecksum): JsonValue => ({ range: value.range, checksum: value.checksum });
  const repository = (value: LockRepository): JsonValue => ({
    name: value.name,
    url: value.url,
    architecture: value.architecture,
    tag: value.tag === '' ? undefined : value.tag,
  });
  const config = lock.config;
  return {
    version: lock.version,
    config:
      config === undefined
        ? undefined
        : {
            name: config.name === '' ? undefined : config.name,
            checksum: config.checksum === '' ? undefined : config.checksum,
          },
    contents: {
      keyring: lock.contents.keyring.map((key) => ({
        name: key.name,
        url: key.url,
        content: key.content === '' ? undefined : key.content,
      })),
      build_repositories: lock.contents.build_repositories.map(repository),
      runtime_repositories: lock.contents.runtime_repositories.map(repository),
      repositories: lock.contents.repositories.map(repository),
      packages: lock.contents.packages.map((pkg) => ({
        name: pkg.name,
        url: pkg.url,
        version: pkg.version,
        architecture: pkg.architecture,
        signature: range(pkg.signature),
        control: range(pkg.control),
        data: range(pkg.data),
        checksum: pkg.checksum,
      })),
    },
  };
}

/**
 * Write a lock file as apko does: Go's `json.MarshalIndent(lock, "", "  ")` (struct member order,
 * `<`, `>`, `&` escaped, empty optional members left out) and a final newline.
 *
 * @param lock - the lock
 * @returns the file's text
 * @throws {SolverError} SOLVER_BAD_LOCK when the lock would not parse back (same checks as {@link parseLockFile})
 *
 * @example
 * writeFileSync('apko.lock.json', serializeLockFile(lock));
 */
export function serializeLockFile(lock: LockFile): string {
  const issues = new Issues();
  // Validate through the reader, so that what is written always parses back to the same lock.
  readLock(JSON.parse(JSON.stringify(lock)) as unknown, issues);
  if (issues.list.length > 0) badLock('lock to write', issues.list);
  return stringifyCanonical(toJson(lock), { indent: 2, finalNewline: true });
}

// ---------------------------------------------------------------------------------------------------
// Building locks

/** A section of a fetched package: its byte range (end exclusive, as `@tk/apk`'s `ByteRange`) and digest. */
export interface LockSection {
  readonly start: number;
  readonly end: number;
  /** SHA-1 for the signature and control sections, SHA-256 for the data section. */
  readonly digest: Uint8Array;
}

/** What the caller learnt by fetching a resolved package. */
export interface FetchedPackageInfo {
  /** Where it was fetched from; default `<repository>/<arch>/<name>-<version>.apk`. */
  readonly url?: string;
  /** The signature section; absent for an unsigned package. */
  readonly signature?: LockSection;
  readonly control: LockSection;
  readonly data: LockSection;
}

function stripScheme(url: string): string {
  return url.replace(/^https?:\/\//, '');
}

function section(
  value: LockSection | undefined,
  algorithm: 'sha1' | 'sha256',
  what: string,
): LockRangeChecksum {
  if (value === undefined) return { range: '', checksum: '' };
  const size = algorithm === 'sha1' ? 20 : 32;
  if (value.digest.byteLength !== size) {
    throw new SolverError(
      'SOLVER_BAD_LOCK',
      `the ${what} digest is ${value.digest.byteLength} bytes; a ${algorithm} digest is ${size}`,
      {
        hint: `pass the raw ${algorithm} digest of the ${what} section`,
      },
    );
  }
  if (
    !Number.isSafeInteger(value.start) ||
    !Number.isSafeInteger(value.end) ||
    value.start < 0 ||
    value.end <= value.start
  ) {
    throw new SolverError(
      'SOLVER_BAD_LOCK',
      `the ${what} range ${value.start}-${value.end} is not a non-empty byte range`,
      {
        hint: 'pass start (inclusive) and end (exclusive) offsets, as @tk/apk reports them',
      },
    );
  }
  return {
    range: `bytes=${value.start}-${value.end - 1}`,
    checksum: `${algorithm}-${toBase64(value.digest)}`,
  };
}

/**
 * The lock entry of a resolved package.
 *
 * @param resolved - a package of a {@link Solution}
 * @param fetched - its url and the ranges and digests of its sections (from reading the `.apk`)
 * @returns the lock entry
 * @throws {SolverError} SOLVER_BAD_LOCK for a digest of the wrong size or an empty range
 */
export function lockPackageFor(resolved: ResolvedPackage, fetched: FetchedPackageInfo): LockPackage {
  const { entry, repository } = resolved;
  const arch = entry.arch ?? '';
  return {
    name: entry.name,
    url: fetched.url ?? `${repository.name}/${arch}/${entry.name}-${entry.version}.apk`,
    version: entry.version,
    architecture: arch,
    signature: section(fetched.signature, 'sha1', 'signature'),
    control: section(fetched.control, 'sha1', 'control'),
    data: section(fetched.data, 'sha256', 'data'),
    checksum: entry.checksum,
  };
}

/**
 * The lock entry of a repository for one arch, as apko writes it (plus tk's `tag`).
 *
 * @param repository - the repository as configured (`https://…/os`, `./packages`), with its tag
 * @param arch - the apk arch
 * @returns the entry: `name` is `<repo>/<arch>` without the URL scheme, `url` the index URL
 */
export function lockRepositoryFor(
  repository: Pick<SolverRepository, 'name' | 'tag'>,
  arch: string,
): LockRepository {
  return {
    name: stripScheme(`${repository.name}/${arch}`),
    url: `${repository.name}/${arch}/APKINDEX.tar.gz`,
    architecture: arch,
    ...(repository.tag === undefined ? {} : { tag: repository.tag }),
  };
}

// ---------------------------------------------------------------------------------------------------
// Replaying locks

function lockPackagesFor(lock: LockFile, arch: string): LockPackage[] {
  const packages = lock.contents.packages.filter((pkg) => pkg.architecture === arch);
  if (packages.length === 0) {
    const archs = [...new Set(lock.contents.packages.map((pkg) => pkg.architecture))].sort(compareCodePoints);
    throw new SolverError(
      'SOLVER_LOCK_ARCH_MISSING',
      `the lock has no packages for ${arch} (it has ${archs.join(', ') || 'none'})`,
      {
        hint: `regenerate the lock with ${arch} among the archs`,
        data: { arch, archs },
      },
    );
  }
  return packages;
}

/** The lock repository (of the package's arch) whose `name` prefixes the package URL; the longest wins. */
function lockRepositoryOf(lock: LockFile, pkg: LockPackage): LockRepository | undefined {
  const url = stripScheme(pkg.url);
  let best: LockRepository | undefined;
  const all = [
    ...lock.contents.repositories,
    ...lock.contents.build_repositories,
    ...lock.contents.runtime_repositories,
  ];
  for (const repository of all) {
    if (repository.architecture !== pkg.architecture) continue;
    const prefix = `${stripScheme(repository.name)}/`;
    if (url.startsWith(prefix) && (best === undefined || repository.name.length > best.name.length))
      best = repository;
  }
  return best;
}

/**
 * The world that reproduces a lock for one arch without solving: `name=version` for every locked
 * package, with `@tag` for packages of tagged repositories (so a dependency that only exists in a
 * `@local` repository keeps its pin: apko #1541, #557). Sorted as apk-tools sorts a world.
 *
 * @param lock - the lock
 * @param arch - the apk arch
 * @returns the world tokens
 * @throws {SolverError} SOLVER_LOCK_ARCH_MISSING when the lock has no packages for `arch`
 *
 * @example
 * worldFromLock(lock, 'x86_64'); // ['pretend-baselayout=1.0.0-r0', 'replayout=1.0.0-r0']
 */
export function worldFromLock(lock: LockFile, arch: string): string[] {
  const tokens = new Set<string>();
  for (const pkg of lockPackagesFor(lock, arch)) {
    const tag = lockRepositoryOf(lock, pkg)?.tag;
    tokens.add(`${pkg.name}${tag === undefined ? '' : `@${tag}`}=${pkg.version}`);
  }
  return [...tokens].sort((a, b) => {
    const nameA = a.slice(0, a.search(/[@=]/));
    const nameB = b.slice(0, b.search(/[@=]/));
    return compareNamesForDisplay(nameA, nameB) || compareCodePoints(a, b);
  });
}

/**
 * The install list of a lock for one arch, in the lock's order, resolved against the repositories
 * without solving: each locked package must be in an index with the same name, version and identity
 * checksum. The repository is the one whose URL the package's URL starts with, when there is one.
 *
 * @param lock - the lock
 * @param arch - the apk arch
 * @param repositories - the repositories for `arch` (as for {@link solve})
 * @returns the packages, in the lock's order
 * @throws {SolverError} SOLVER_LOCK_ARCH_MISSING when the lock has no packages for `arch`;
 *   SOLVER_BAD_LOCK for a package without a checksum (a lock from apko < 0.13);
 *   SOLVER_LOCK_MISSING_PACKAGE when a package is in no index; SOLVER_LOCK_CHECKSUM_MISMATCH when
 *   the index has it with another checksum (the package was rebuilt: regenerate the lock)
 */
export function installListFromLock(
  lock: LockFile,
  arch: string,
  repositories: readonly SolverRepository[],
): ResolvedPackage[] {
  const universe = getUniverse(repositories, arch);
  return lockPackagesFor(lock, arch).map((locked) => {
    const label = `${locked.name}-${locked.version}`;
    if (locked.checksum === '') {
      throw new SolverError('SOLVER_BAD_LOCK', `locked package ${label} (${arch}) has no checksum`, {
        hint: 'the lock was written by apko older than 0.13: regenerate it',
        data: { name: locked.name, version: locked.version, arch },
      });
    }
    const candidates: UPackage[] = (nameInfoOf(universe, locked.name)?.providerPackages ?? []).filter(
      (pkg) => pkg.entry.name === locked.name && pkg.entry.version === locked.version,
    );
    if (candidates.length === 0) {
      throw new SolverError(
        'SOLVER_LOCK_MISSING_PACKAGE',
        `locked package ${label} (${arch}) is not in any repository index`,
        {
          hint: 'the repository no longer has this version: regenerate the lock, or add the repository that has it',
          data: { name: locked.name, version: locked.version, arch, url: locked.url },
        },
      );
    }
    const pkg = candidates.find((candidate) => candidate.entry.checksum === locked.checksum);
    if (pkg === undefined) {
      const found = candidates.map((candidate) => candidate.entry.checksum).join(', ');
      throw new SolverError(
        'SOLVER_LOCK_CHECKSUM_MISMATCH',
        `locked package ${label} (${arch}) has checksum ${locked.checksum}, but the index has ${found}`,
        {
          hint: 'the package was rebuilt since the lock was made: regenerate the lock (tk apko lock)',
          data: {
            name: locked.name,
            version: locked.version,
            arch,
            expected: locked.checksum,
            actual: found,
          },
        },
      );
    }
    const url = stripScheme(locked.url);
    const lockTag = lockRepositoryOf(lock, locked)?.tag;
    const byUrl = pkg.repos.find((index) => {
      const repository = repositories[index]!;
      return url.startsWith(`${stripScheme(repository.name)}/${arch}/`);
    });
    const byTag = pkg.repos.find((index) => repositories[index]!.tag === lockTag);
    const index =
      byUrl ?? byTag ?? pkg.repos.find((repo) => repositories[repo]!.tag === undefined) ?? pkg.repos[0]!;
    const repository = repositories[index]!;
    return repository.tag === undefined
      ? { entry: pkg.entry, repository }
      : { entry: pkg.entry, repository, pin: repository.tag };
  });
}
