/**
 * The solver's view of a set of repositories for one arch: every eligible package once (deduplicated
 * by decoded identity checksum, in one repository and across them, as apk-tools does), and for every name the packages that provide
 * it, in repository and index order (apk-tools' provider order).
 *
 * Building it is linear in the number of entries and parses nothing expensive: provides are split at
 * their `=` only, and the full, validating parse of a package's `D:`, `p:` and `i:` tokens happens the
 * first time the solver looks at that package (a 100,000-entry index is indexed in a few dozen
 * milliseconds and a solve parses only the packages it reaches). Universes are cached per
 * repositories array and arch, so repeated solves against the same (immutable) repositories reuse them.
 */
import { compareVersions, parseDependency, parseProvide, type Dependency } from '@tk/apk';
import { compareCodePoints, isTkError } from '@tk/core';
import type { IndexEntry } from '@tk/repo';
import type { SolverRepository } from '../types.ts';
import { nameBucket } from './apk-hash.ts';

/** A name a package provides: its own name (with its version) or a `p:` token. */
export interface ProvidedName {
  readonly name: string;
  /** Absent for a virtual (unversioned) provide. */
  readonly version: string | undefined;
}

/** One package of the universe. */
export interface UPackage {
  /** Position in {@link Universe.packages}: repository order, then index order. */
  readonly id: number;
  readonly entry: IndexEntry;
  /** Indexes of the repositories holding this package, ascending (shared arrays: replace, never mutate). */
  repos: readonly number[];
  /** True when at least one untagged repository holds it. */
  untagged: boolean;
  /** Tags of the tagged repositories holding it, in repository order, distinct (replace, never mutate). */
  tags: readonly string[];
  /** Its own name first, then each distinct `p:` name; built on first use ({@link namesOf}). */
  names?: ProvidedName[];
  /** Lookup by name for packages with many provides; built on first use. */
  nameIndex?: Map<string, ProvidedName>;
  /** Whether {@link ensureParsed} ran. */
  parsed: boolean;
  /**
   * Why it can never be installed (bad tokens, unknown uppercase index field, a name it provides twice);
   * set by {@link ensureParsed}.
   */
  broken: string | undefined;
  /** Whether {@link broken} is a conflict with itself (a name provided twice) rather than a bad record. */
  brokenByConflict?: boolean;
  /** `D:` parsed; valid once {@link ensureParsed} ran and `broken` is unset. */
  deps: Dependency[];
  /** `i:` parsed; same validity. */
  installIf: Dependency[];
}

/** A package as a provider of one name. */
export interface Provider {
  readonly pkg: UPackage;
  /** The version it provides the name at; absent for a virtual provide. */
  readonly version: string | undefined;
}

/** Everything the universe knows about one name. */
export interface NameInfo {
  readonly name: string;
  /** The providing packages, in repository and index order (parallel to {@link providerTokens}). */
  readonly providerPackages: UPackage[];
  /** For each providing package, the `p:` token that provides the name, or null for its own name. */
  readonly providerTokens: (string | null)[];
  /** Providers, built from the two arrays on first use ({@link providersOf}). */
  providers?: Provider[];
  /** Packages whose `i:` mentions this name. */
  iifUsers: UPackage[];
  /**
   * apk-tools' `rinstall_if`: the own names and provided names of the packages whose `i:` mentions
   * this name, distinct, in index order. The install order walk checks the package *chosen* for
   * each of them (apk-tools `cset_check_install_by_iif`).
   */
  iifNames: string[];
  /** {@link iifNames} in apk-tools' name-table order; built on first use. */
  iifNamesApkOrder?: string[];
  /** Providers in the static preference order; built on first use. */
  staticOrder?: Provider[];
  /** Names the providers' `D:` mention (other than this name); built on first use. */
  depNames?: string[];
  /** Whether no provider can be auto-selected (all virtual, no priority); built on first use. */
  virtualOnly?: boolean;
}

/** An entry left out because of its arch, kept to explain "nothing provides". */
export interface OtherArchEntry {
  readonly entry: IndexEntry;
  readonly repository: SolverRepository;
}

/** The indexed repositories for one arch. */
export interface Universe {
  readonly arch: string;
  readonly repositories: readonly SolverRepository[];
  readonly packages: UPackage[];
  readonly names: Map<string, NameInfo>;
  /** Own names of entries left out for their arch (at most a few entries per name). */
  readonly otherArch: Map<string, OtherArchEntry[]>;
  /** Tags of the tagged repositories. */
  readonly tags: ReadonlySet<string>;
  /** The order in which apk-tools would have created each name while reading the indexes; built on first use. */
  nameSerials?: Map<string, number>;
}

/** How many left-out entries are remembered per name (only for messages). */
const MAX_OTHER_ARCH_PER_NAME = 4;
/** Use a Map to look up a package's names when it has more than this many. */
const NAME_INDEX_THRESHOLD = 8;

const NO_PACKAGES: UPackage[] = [];
const NO_NAMES: string[] = [];
const NO_DEPENDENCIES: Dependency[] = [];
const NO_TAGS: readonly string[] = [];

const cache = new WeakMap<readonly SolverRepository[], Map<string, { key: unknown[]; universe: Universe }>>();

function nameOfToken(token: string): string {
  const start = token.charCodeAt(0) === 0x21 /* ! */ ? 1 : 0;
  for (let index = start; index < token.length; index++) {
    const code = token.charCodeAt(index);
    // < = > ~ @
    if (code === 0x3c || code === 0x3d || code === 0x3e || code === 0x7e || code === 0x40)
      return token.slice(start, index);
  }
  return start === 0 ? token : token.slice(start);
}

function fingerprint(repositories: readonly SolverRepository[]): unknown[] {
  const key: unknown[] = [];
  for (const repository of repositories) key.push(repository, repository.entries, repository.entries.length);
  return key;
}

function sameFingerprint(a: unknown[], b: unknown[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

/**
 * The universe of `repositories` for `arch`, from the cache when the same repositories array (with
 * the same repository objects and entry arrays) was indexed before.
 *
 * @param repositories - the repositories, in priority order
 * @param arch - the apk arch
 * @returns the universe
 */
export function getUniverse(repositories: readonly SolverRepository[], arch: string): Universe {
  let byArch = cache.get(repositories);
  if (byArch === undefined) {
    byArch = new Map();
    cache.set(repositories, byArch);
  }
  const key = fingerprint(repositories);
  const hit = byArch.get(arch);
  if (hit !== undefined && sameFingerprint(hit.key, key)) return hit.universe;
  const universe = buildUniverse(repositories, arch);
  byArch.set(arch, { key, universe });
  return universe;
}

function nameInfo(names: Map<string, NameInfo>, name: string): NameInfo {
  let info = names.get(name);
  if (info === undefined) {
    info = { name, providerPackages: [], providerTokens: [], iifUsers: NO_PACKAGES, iifNames: NO_NAMES };
    names.set(name, info);
  }
  return info;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** For each character code below 128, its base64 value with the two lowest bits cleared, or -1. */
const CLEARED_VALUE = new Int8Array(128).fill(-1);
for (let value = 0; value < 64; value++) CLEARED_VALUE[BASE64.charCodeAt(value)] = value & ~3;
const HEX_SHA1 = /^X1[0-9a-fA-F]{40}$/;

/** Whether `checksum` is a `Q1` SHA-1: 27 base64 characters and a `=` after the prefix. */
function isQ1Sha1(checksum: string): boolean {
  return (
    checksum.length === 30 &&
    checksum.charCodeAt(0) === 0x51 /* Q */ &&
    checksum.charCodeAt(1) === 0x31 /* 1 */ &&
    checksum.charCodeAt(29) === 0x3d /* = */
  );
}

/**
 * The identity of a package as apk-tools decodes its `C:` (`apk_blob_pull_csum`): the checksum bytes,
 * not their spelling. A `Q1` SHA-1 is 20 bytes in 27 base64 characters and a `=`: the last character
 * carries two padding bits that decoding drops, so `…ysE=` and `…ysF=` are one package. An `X1` hex
 * SHA-1 is the same bytes as its base64 form. Anything else is compared as written.
 *
 * @param checksum - the `C:` value
 * @returns a key equal for two checksums apk-tools decodes to the same bytes
 */
export function identityKey(checksum: string): string {
  if (isQ1Sha1(checksum)) {
    const code = checksum.charCodeAt(28);
    const cleared = code < 128 ? CLEARED_VALUE[code]! : -1;
    if (cleared < 0 || BASE64.charCodeAt(cleared) === code) return checksum;
    return `${checksum.slice(0, 28)}${BASE64.charAt(cleared)}=`;
  }
  if (HEX_SHA1.test(checksum)) return `Q1${Buffer.from(checksum.slice(2), 'hex').toString('base64')}`;
  return checksum;
}

/**
 * A small-integer hash of {@link identityKey}, computed without building the key for `Q1` checksums
 * (nearly every one): the universe hashes every entry of an index, 100,000 in a large one. A SHA-1
 * is uniform, so four of its characters and the decoded last one are enough; a crafted index whose
 * checksums share them only sends {@link IdentityTable} to its `Map`.
 */
function identityHash(checksum: string): number {
  let hash = 0x811c9dc5;
  if (isQ1Sha1(checksum)) {
    for (let i = 2; i < 6; i++) hash = Math.imul(hash ^ checksum.charCodeAt(i), 0x01000193);
    const code = checksum.charCodeAt(28);
    hash = Math.imul(hash ^ (code < 128 ? CLEARED_VALUE[code]! : code), 0x01000193);
    return hash & 0x3fffffff;
  }
  const key = identityKey(checksum);
  // An X1 checksum hashes as the Q1 form it decodes to.
  if (key !== checksum) return identityHash(key);
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return hash & 0x3fffffff;
}

/** Probes after which {@link IdentityTable} stops trusting its hash (a crafted index) and uses a `Map`. */
const MAX_PROBES = 64;

/**
 * Packages by identity: an open-addressing table of package ids over typed arrays (a `Map` of
 * 100,000 string keys costs several times more, and every entry of every index goes through here);
 * equal hashes are told apart by {@link identityKey}. Should a probe run long, which only crafted
 * checksums cause, the table moves into a `Map` keyed by {@link identityKey} (V8's string hashing
 * is seeded), so hostile input costs linear time, not quadratic.
 */
class IdentityTable {
  /** Slot `i` is `table[2i]` (package id + 1, 0 when free) and `table[2i + 1]` (its hash): one cache line. */
  private readonly table: Int32Array;
  private readonly mask: number;
  private readonly packages: readonly UPackage[];
  private fallback: Map<string, UPackage> | undefined;
  /** The free slot the last {@link get} that found nothing stopped at, for the {@link add} that follows. */
  private freeSlot = -1;

  /**
   * @param packages - the universe's packages, by id (ids are looked up here on a hash match)
   * @param expected - how many entries will be offered: the table is sized once, at most half full
   */
  constructor(packages: readonly UPackage[], expected: number) {
    this.packages = packages;
    let size = 1 << 10;
    while (size < expected * 2) size *= 2;
    this.table = new Int32Array(size * 2);
    this.mask = size - 1;
  }

  /** The package with the identity of `checksum` (whose {@link identityHash} is `hash`), if any. */
  get(checksum: string, hash: number): UPackage | undefined {
    this.freeSlot = -1;
    if (this.fallback !== undefined) return this.fallback.get(identityKey(checksum));
    const { table, mask } = this;
    for (let slot = hash & mask, probes = 0; ; slot = (slot + 1) & mask) {
      const id = table[slot * 2]!;
      if (id === 0) {
        this.freeSlot = slot;
        return undefined;
      }
      if (++probes > MAX_PROBES) return this.toMap().get(identityKey(checksum));
      if (table[slot * 2 + 1] !== hash) continue;
      const known = this.packages[id - 1]!;
      const other = known.entry.checksum;
      if (other === checksum || identityKey(other) === identityKey(checksum)) return known;
    }
  }

  /** Record `pkg`, for which {@link get} with `hash` just found nothing. */
  add(hash: number, pkg: UPackage): void {
    if (this.fallback !== undefined || this.freeSlot < 0) {
      this.toMap().set(identityKey(pkg.entry.checksum), pkg);
      return;
    }
    this.table[this.freeSlot * 2] = pkg.id + 1;
    this.table[this.freeSlot * 2 + 1] = hash;
    this.freeSlot = -1;
  }

  private toMap(): Map<string, UPackage> {
    if (this.fallback !== undefined) return this.fallback;
    const map = new Map<string, UPackage>();
    for (let slot = 0; slot <= this.mask; slot++) {
      const id = this.table[slot * 2]!;
      if (id !== 0) map.set(identityKey(this.packages[id - 1]!.entry.checksum), this.packages[id - 1]!);
    }
    this.fallback = map;
    return map;
  }
}

/**
 * Index `repositories` for `arch`.
 *
 * @param repositories - the repositories, in priority order
 * @param arch - the apk arch
 * @returns a new universe
 */
export function buildUniverse(repositories: readonly SolverRepository[], arch: string): Universe {
  const packages: UPackage[] = [];
  const names = new Map<string, NameInfo>();
  const otherArch = new Map<string, OtherArchEntry[]>();
  // apk-tools keys packages by their decoded identity checksum (`apk_db_pkg_add`): a later record with
  // the checksum of a known package is that package, whatever its name says, in the same repository
  // or another; the first record wins and only adds the repository.
  const byIdentity = new IdentityTable(
    packages,
    repositories.reduce((sum, repository) => sum + repository.entries.length, 0),
  );
  const tags = new Set<string>();
  const reverseIif = new Map<NameInfo, Set<string>>();

  repositories.forEach((repository, repoIndex) => {
    const tag = repository.tag;
    if (tag !== undefined) tags.add(tag);
    const repoList: readonly number[] = [repoIndex];
    const tagList: readonly string[] = tag === undefined ? NO_TAGS : [tag];
    for (const entry of repository.entries) {
      if (entry.arch !== undefined && entry.arch !== arch && entry.arch !== 'noarch') {
        let list = otherArch.get(entry.name);
        if (list === undefined) otherArch.set(entry.name, (list = []));
        if (list.length < MAX_OTHER_ARCH_PER_NAME) list.push({ entry, repository });
        continue;
      }
      const identity = identityHash(entry.checksum);
      const known = byIdentity.get(entry.checksum, identity);
      if (known !== undefined) {
        if (known.repos[known.repos.length - 1] !== repoIndex) known.repos = [...known.repos, repoIndex];
        if (tag === undefined) known.untagged = true;
        else if (!known.tags.includes(tag)) known.tags = [...known.tags, tag];
        continue;
      }
      const pkg: UPackage = {
        id: packages.length,
        entry,
        repos: repoList,
        untagged: tag === undefined,
        tags: tagList,
        parsed: false,
        broken: undefined,
        deps: NO_DEPENDENCIES,
        installIf: NO_DEPENDENCIES,
      };
      packages.push(pkg);
      byIdentity.add(identity, pkg);
      const own = nameInfo(names, entry.name);
      own.providerPackages.push(pkg);
      own.providerTokens.push(null);
      for (const token of entry.provides) {
        const at = token.indexOf('=');
        const info = nameInfo(names, at < 0 ? token : token.slice(0, at));
        // A repeated name (or the package's own name again) provides nothing new.
        const last = info.providerPackages.length - 1;
        if (last >= 0 && info.providerPackages[last] === pkg) continue;
        info.providerPackages.push(pkg);
        info.providerTokens.push(token);
      }
      if (entry.installIf.length > 0) {
        const conditionNames = new Set<string>();
        for (const token of entry.installIf) conditionNames.add(nameOfToken(token));
        const provided = namesOf(pkg);
        for (const name of conditionNames) {
          const info = nameInfo(names, name);
          if (info.iifUsers === NO_PACKAGES) info.iifUsers = [];
          info.iifUsers.push(pkg);
          let seen = reverseIif.get(info);
          if (seen === undefined) reverseIif.set(info, (seen = new Set(info.iifNames)));
          for (const item of provided) {
            if (seen.has(item.name)) continue;
            seen.add(item.name);
            if (info.iifNames === NO_NAMES) info.iifNames = [];
            info.iifNames.push(item.name);
          }
        }
      }
    }
  });
  return { arch, repositories, packages, names, otherArch, tags };
}

/**
 * A package's names: its own name first, then each distinct `p:` name (built once, on first use).
 *
 * @param pkg - the package
 * @returns the names it provides, with the versions it provides them at
 */
export function namesOf(pkg: UPackage): ProvidedName[] {
  if (pkg.names !== undefined) return pkg.names;
  const { entry } = pkg;
  const names: ProvidedName[] = [{ name: entry.name, version: entry.version }];
  const many = entry.provides.length > NAME_INDEX_THRESHOLD ? new Set<string>([entry.name]) : undefined;
  for (const token of entry.provides) {
    const at = token.indexOf('=');
    const name = at < 0 ? token : token.slice(0, at);
    if (many !== undefined ? many.has(name) : names.some((item) => item.name === name)) continue;
    many?.add(name);
    names.push({ name, version: at < 0 ? undefined : token.slice(at + 1) });
  }
  pkg.names = names;
  return names;
}

/**
 * A name's providers, in repository and index order (built once, on first use).
 *
 * @param info - the name
 * @returns the providers
 */
export function providersOf(info: NameInfo): Provider[] {
  if (info.providers !== undefined) return info.providers;
  const providers: Provider[] = info.providerPackages.map((pkg, index) => {
    const token = info.providerTokens[index] ?? null;
    if (token === null) return { pkg, version: pkg.entry.version };
    const at = token.indexOf('=');
    return { pkg, version: at < 0 ? undefined : token.slice(at + 1) };
  });
  info.providers = providers;
  return providers;
}

function describeError(error: unknown): string {
  if (isTkError(error)) return error.message;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Parse and validate a package's `D:`, `p:` and `i:` tokens once (apk-tools 2.14 version dialect),
 * marking it broken when one is malformed or when its index record made it uninstallable.
 *
 * @param pkg - the package
 */
export function ensureParsed(pkg: UPackage): void {
  if (pkg.parsed) return;
  pkg.parsed = true;
  const { entry } = pkg;
  if (entry.uninstallable === true) {
    pkg.broken = 'its index record has a field apk-tools does not know (apk-tools will not install it)';
    return;
  }
  const options = { versionDialect: 'apk-tools-2.14' } as const;
  try {
    pkg.deps = entry.depends.map((token) => parseDependency(token, options));
    pkg.installIf = entry.installIf.map((token) => parseDependency(token, options));
    for (const token of entry.provides) parseProvide(token, options);
  } catch (error) {
    pkg.deps = NO_DEPENDENCIES;
    pkg.installIf = NO_DEPENDENCIES;
    pkg.broken = `its index record is malformed: ${describeError(error)}`;
    return;
  }
  const twice = providedTwice(entry);
  if (twice !== undefined) {
    pkg.broken = `it provides ${twice} more than once (${twice === entry.name ? 'its own name, again in p:' : 'two p: tokens'}), which apk-tools counts as a conflict with itself`;
    pkg.brokenByConflict = true;
  }
}

/**
 * A name a package provides more than once, not only virtually: its own name again in `p:`, or two
 * `p:` tokens of one name of which one has a version. apk-tools locks each provided name when it
 * picks a package (`assign_name`); a second lock of the same name is a conflict unless both are
 * virtual, so such a package can never be installed.
 */
function providedTwice(entry: IndexEntry): string | undefined {
  if (entry.provides.length === 0) return undefined;
  const versioned = new Map<string, boolean>([[entry.name, true]]);
  for (const token of entry.provides) {
    const at = token.indexOf('=');
    const name = at < 0 ? token : token.slice(0, at);
    const known = versioned.get(name);
    if (known !== undefined && (known || at >= 0)) return name;
    versioned.set(name, at >= 0);
  }
  return undefined;
}

/**
 * How `pkg` provides `name` (its own name or a `p:` token), if it does.
 *
 * @param pkg - the package
 * @param name - the name
 * @returns the provided name (whose `version` is undefined for a virtual provide), or undefined
 *   when `pkg` does not provide `name`
 */
export function providedName(pkg: UPackage, name: string): ProvidedName | undefined {
  const names = namesOf(pkg);
  if (names.length <= NAME_INDEX_THRESHOLD) return names.find((provided) => provided.name === name);
  if (pkg.nameIndex === undefined)
    pkg.nameIndex = new Map(names.map((provided) => [provided.name, provided]));
  return pkg.nameIndex.get(name);
}

/**
 * The static preference between two providers of one name, best first (negative when `a` is
 * better). This is the tail of apk-tools 2.14's `compare_providers` once the dynamic criteria
 * (pinning, preferred packages) tie:
 *
 * 1. higher version of the requested name (the provided version; a virtual provide has none and
 *    loses to any version);
 * 2. for two packages of the same name, higher package version;
 * 3. higher `provider_priority` (`k:`);
 * 4. lower repository index (the first configured repository wins; apko would pick the newer package);
 * 5. name, then position in the index, so that the order is total and deterministic.
 *
 * @param a - a provider
 * @param b - another provider of the same name
 * @returns negative, zero or positive
 */
export function compareProvidersStatic(a: Provider, b: Provider): number {
  const byVersion = compareVersions(b.version ?? '', a.version ?? '');
  if (byVersion !== 0) return byVersion;
  if (a.pkg.entry.name === b.pkg.entry.name) {
    const byPackageVersion = compareVersions(b.pkg.entry.version, a.pkg.entry.version);
    if (byPackageVersion !== 0) return byPackageVersion;
  }
  const byPriority = (b.pkg.entry.providerPriority ?? 0) - (a.pkg.entry.providerPriority ?? 0);
  if (byPriority !== 0) return byPriority;
  const byRepository = (a.pkg.repos[0] ?? 0) - (b.pkg.repos[0] ?? 0);
  if (byRepository !== 0) return byRepository;
  const byName = compareCodePoints(a.pkg.entry.name, b.pkg.entry.name);
  if (byName !== 0) return byName;
  return a.pkg.id - b.pkg.id;
}

/**
 * A name's providers in static preference order (cached).
 *
 * @param info - the name
 * @returns the sorted providers
 */
export function staticOrder(info: NameInfo): Provider[] {
  info.staticOrder ??= [...providersOf(info)].sort(compareProvidersStatic);
  return info.staticOrder;
}

/**
 * The distinct names that any provider of `info` depends on (cached).
 *
 * @param info - the name
 * @returns the names, in first-seen order
 */
export function dependencyNames(info: NameInfo): string[] {
  if (info.depNames !== undefined) return info.depNames;
  const names = new Set<string>();
  for (const pkg of info.providerPackages) {
    // Names only: a cheap split, so that no package is fully parsed before it is a candidate.
    for (const token of pkg.entry.depends) names.add(nameOfToken(token));
  }
  names.delete(info.name);
  info.depNames = [...names];
  return info.depNames;
}

/**
 * Whether apk-tools 2.14 may pick this provider on its own (`is_provider_auto_selectable`): a
 * versioned provide, or a package with a `provider_priority`. (A package whose own name is required
 * is also selectable; the caller checks that, since it depends on the search state.)
 *
 * @param provider - the provider
 * @returns true when selectable without a request for the package's own name
 */
export function isAutoSelectable(provider: Provider): boolean {
  return provider.version !== undefined || (provider.pkg.entry.providerPriority ?? 0) !== 0;
}

/**
 * When apk-tools would have created each name while reading the indexes: record by record (all archs,
 * as apk-tools does not filter them), the `P:` name, then the names in `D:`, `p:` and `i:`.
 */
function nameSerials(universe: Universe): Map<string, number> {
  if (universe.nameSerials !== undefined) return universe.nameSerials;
  const serials = new Map<string, number>();
  const see = (name: string): void => {
    if (!serials.has(name)) serials.set(name, serials.size);
  };
  for (const repository of universe.repositories) {
    for (const entry of repository.entries) {
      see(entry.name);
      for (const token of entry.depends) see(nameOfToken(token));
      for (const token of entry.provides) see(nameOfToken(token));
      for (const token of entry.installIf) see(nameOfToken(token));
    }
  }
  universe.nameSerials = serials;
  return serials;
}

/**
 * A name's reverse `install_if` list in apk-tools' order: the order of its name table (hash bucket
 * ascending, newest name first within a bucket), which is how apk-tools builds the list.
 *
 * @param universe - the universe
 * @param info - the name
 * @returns the names of packages with an `install_if` condition on `info.name`, in apk-tools' order
 */
export function reverseInstallIf(universe: Universe, info: NameInfo): string[] {
  if (info.iifNamesApkOrder !== undefined) return info.iifNamesApkOrder;
  if (info.iifNames.length < 2) {
    info.iifNamesApkOrder = info.iifNames;
    return info.iifNames;
  }
  const serials = nameSerials(universe);
  const keyed = info.iifNames.map((name) => ({
    name,
    bucket: nameBucket(name),
    serial: serials.get(name) ?? 0,
  }));
  keyed.sort((a, b) => a.bucket - b.bucket || b.serial - a.serial);
  info.iifNamesApkOrder = keyed.map((item) => item.name);
  return info.iifNamesApkOrder;
}

/**
 * Whether every provider of a name is virtual without a priority, so that apk-tools never picks one
 * on its own (cached).
 *
 * @param info - the name
 * @returns true when the name has providers and none is auto-selectable
 */
export function isVirtualOnly(info: NameInfo): boolean {
  info.virtualOnly ??= info.providerPackages.length > 0 && !providersOf(info).some(isAutoSelectable);
  return info.virtualOnly;
}
