/**
 * The solver's view of a set of repositories for one arch: every eligible package once (deduplicated
 * by decoded identity checksum, in one repository and across them, as apk-tools does), and for every name the packages that provide
 * it, in repository and index order (apk-tools' provider order).
 *
 * Building it is one pass over the records that allocates little per record: it reads each record's
 * arch and the hash of its checksum's identity (from a repository's `IndexTable` when it has one, which
 * hashes the checksums straight from the index bytes; the checksum itself is read only on a hash match),
 * then files every occurrence of a name (own name, `p:` and `i:` tokens) under the name's hash, from
 * the hashes the `IndexTable` reads straight from the index text: no name is built until a lookup
 * asks for it ({@link NameTable}). Everything else is built the first time the search asks: a package object (with its full index record) when it
 * first appears as a provider or an install_if user of a name the search looks at, a name's
 * {@link NameInfo} when the search first looks the name up ({@link nameInfoOf}), the full, validating
 * parse of a package's `D:`, `p:` and `i:` tokens when the search first considers the package. A
 * resolve against a 5,000-package index so builds a few hundred records, not all of them. Universes
 * are cached per repositories array and arch, so repeated solves against the same (immutable)
 * repositories reuse them.
 */
import { compareVersions, parseDependency, parseProvide, type Dependency } from '@tk/apk';
import { compareCodePoints, isTkError } from '@tk/core';
import {
  hashName,
  identityHash,
  identityKey,
  nameHashesOf,
  type IndexEntry,
  type IndexTable,
  type NameHashes,
} from '@tk/repo';
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
  /**
   * The record's number over all repositories (repository order, then index order; not dense: records
   * of other arches and repeated identities have numbers too), so ids order packages as the indexes do.
   */
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

/** Read access to one repository's records: its `IndexTable`, or its entries array. */
interface RecordSource {
  readonly length: number;
  name(index: number): string;
  version(index: number): string;
  arch(index: number): string | undefined;
  checksum(index: number): string;
  depends(index: number): readonly string[];
  provides(index: number): readonly string[];
  installIf(index: number): readonly string[];
  entry(index: number): IndexEntry;
  nameHashes(): NameHashes;
  identityHashes(): Int32Array;
}

function entriesSource(entries: readonly IndexEntry[]): RecordSource {
  return {
    length: entries.length,
    name: (index) => entries[index]!.name,
    version: (index) => entries[index]!.version,
    arch: (index) => entries[index]!.arch,
    checksum: (index) => entries[index]!.checksum,
    depends: (index) => entries[index]!.depends,
    provides: (index) => entries[index]!.provides,
    installIf: (index) => entries[index]!.installIf,
    entry: (index) => entries[index]!,
    nameHashes: () => nameHashesOf(entries),
    identityHashes: () => Int32Array.from(entries, (entry) => identityHash(entry.checksum)),
  };
}

function sourceOf(repository: SolverRepository): RecordSource | IndexTable {
  return repository.table ?? entriesSource(repository.entries);
}

/** Occurrences of other names met in one hash bucket after which {@link NameTable} files the bucket's nodes in a `Map`. */
const MAX_NAME_PROBES = 64;

/** The records of one name, as {@link NameTable.lookup} returns them. */
interface NameOccurrences {
  /** Providing records, in order, with the `p:` token that provides the name (-1: its own name). */
  readonly providers: number[];
  readonly providerTokens: number[];
  /** Records whose `i:` mentions the name, in order. */
  readonly iifUsers: number[];
}

/** The first index of the ascending `array` whose value is above `value`. */
function upperBound(array: Int32Array, value: number): number {
  let low = 0;
  let high = array.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (array[middle]! <= value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * Every occurrence of a name in the universe's packages (a package's own name, a `p:` token's name, an
 * `i:` token's name), filed by the name's hash ({@link hashName}) without building the name. An
 * occurrence is a node: its position in the repositories' {@link NameHashes} arrays laid end to end
 * (per repository: own names, then `p:` tokens, then `i:` tokens). Each hash bucket is a linked list
 * of nodes, newest first, filed in repository and index order. {@link lookup} walks the bucket of a
 * name's hash and keeps the nodes whose name, read back from the record, is the name, so that a hash
 * collision never yields a wrong provider. A bucket crowded with other names (a crafted index) is
 * filed once in a `Map` keyed by the names themselves (V8's string hashing is seeded), so that
 * lookups stay linear in the index overall.
 */
class NameTable {
  private readonly hashes: readonly NameHashes[];
  private readonly firstRecord: readonly number[];
  /** Per repository, the node of its first own name (its `p:` and `i:` nodes follow). */
  private readonly firstNode: number[] = [];
  /** Per node: the hash of its name, and the next node of its bucket (-1 at the end). */
  private readonly nodeHash: Int32Array;
  private readonly next: Int32Array;
  /** Per bucket: its newest node, or -1. */
  private readonly head: Int32Array;
  private readonly mask: number;
  /** Buckets crowded with names (a crafted index), each filed by name on first use. */
  private readonly crowded = new Map<number, Map<string, number[]>>();
  /** The name of an occurrence, read from its record. */
  private readonly nameOf: (record: number, token: number) => string;

  /**
   * File every occurrence in the eligible records, in repository and index order.
   *
   * @param nameOf - the name of an occurrence, read from its record (only for lookups)
   * @param hashes - each repository's name hashes
   * @param firstRecord - the number of each repository's first record
   * @param eligible - per record number, 1 for a package of the universe
   */
  constructor(
    nameOf: (record: number, token: number) => string,
    hashes: readonly NameHashes[],
    firstRecord: readonly number[],
    eligible: Uint8Array,
  ) {
    this.nameOf = nameOf;
    this.hashes = hashes;
    this.firstRecord = firstRecord;
    let total = 0;
    for (const { own, provideHashes, iifHashes } of hashes) {
      this.firstNode.push(total);
      total += own.length + provideHashes.length + iifHashes.length;
    }
    let size = 16;
    while (size < total) size *= 2;
    this.mask = size - 1;
    this.head = new Int32Array(size).fill(-1);
    this.nodeHash = new Int32Array(total);
    this.next = new Int32Array(total);
    hashes.forEach((recordHashes, repoIndex) =>
      this.fileRepository(recordHashes, this.firstNode[repoIndex]!, eligible, firstRecord[repoIndex]!),
    );
  }

  /** File the occurrences of one repository's eligible records: own name, then `p:` tokens, then `i:` tokens. */
  private fileRepository(hashes: NameHashes, firstNode: number, eligible: Uint8Array, first: number): void {
    const { own, provideStart, provideHashes, iifStart, iifHashes } = hashes;
    const provideNode = firstNode + own.length;
    const iifNode = provideNode + provideHashes.length;
    for (let index = 0; index < own.length; index++) {
      if (eligible[first + index] !== 1) continue;
      this.fileRange(firstNode, own, index, index + 1);
      this.fileRange(provideNode, provideHashes, provideStart[index]!, provideStart[index + 1]!);
      this.fileRange(iifNode, iifHashes, iifStart[index]!, iifStart[index + 1]!);
    }
  }

  /** File nodes `base + from` … `base + to - 1`, whose hashes are `hashes[from, to)`, at the head of their buckets. */
  private fileRange(base: number, hashes: Int32Array, from: number, to: number): void {
    const { nodeHash, next, head, mask } = this;
    for (let at = from; at < to; at++) {
      const node = base + at;
      const hash = hashes[at]!;
      nodeHash[node] = hash;
      next[node] = head[hash & mask]!;
      head[hash & mask] = node;
    }
  }

  /** The record number and token (-1 own name, t >= 0 `p:` t, -2 - t `i:` t) of `node`. */
  private locate(node: number): [record: number, token: number] {
    let repo = this.firstNode.length - 1;
    while (this.firstNode[repo]! > node) repo--;
    const { own, provideStart, provideHashes, iifStart } = this.hashes[repo]!;
    const first = this.firstRecord[repo]!;
    let at = node - this.firstNode[repo]!;
    if (at < own.length) return [first + at, -1];
    at -= own.length;
    if (at < provideHashes.length) {
      const index = upperBound(provideStart, at) - 1;
      return [first + index, at - provideStart[index]!];
    }
    at -= provideHashes.length;
    const index = upperBound(iifStart, at) - 1;
    return [first + index, -2 - (at - iifStart[index]!)];
  }

  /** The name of `node`. */
  private nameOfNode(node: number): string {
    const [record, token] = this.locate(node);
    return this.nameOf(record, token);
  }

  /**
   * The occurrences of `name`, in order: a record appears at most once in a row per list (a name it
   * provides again, or mentions in two `i:` tokens, adds nothing).
   */
  lookup(name: string): NameOccurrences | undefined {
    const hash = hashName(name);
    const bucket = hash & this.mask;
    const crowded = this.crowded.get(bucket);
    if (crowded !== undefined) return this.collect(crowded.get(name));
    const nodes: number[] = [];
    let others = 0;
    for (let node = this.head[bucket]!; node >= 0; node = this.next[node]!) {
      if (this.nodeHash[node] === hash && this.nameOfNode(node) === name) nodes.push(node);
      else if (++others > MAX_NAME_PROBES) return this.collect(this.crowd(bucket).get(name));
    }
    return this.collect(nodes.reverse());
  }

  /** The occurrences of `nodes` (in filing order). */
  private collect(nodes: readonly number[] | undefined): NameOccurrences | undefined {
    if (nodes === undefined || nodes.length === 0) return undefined;
    const occurrences: NameOccurrences = { providers: [], providerTokens: [], iifUsers: [] };
    for (const node of nodes) {
      const [record, token] = this.locate(node);
      const list = token >= -1 ? occurrences.providers : occurrences.iifUsers;
      if (list[list.length - 1] === record) continue;
      list.push(record);
      if (token >= -1) occurrences.providerTokens.push(token);
    }
    return occurrences;
  }

  /** The nodes of a crowded bucket by name, in filing order (built once). */
  private crowd(bucket: number): Map<string, number[]> {
    const nodes: number[] = [];
    for (let node = this.head[bucket]!; node >= 0; node = this.next[node]!) nodes.push(node);
    const map = new Map<string, number[]>();
    for (const node of nodes.reverse()) {
      const name = this.nameOfNode(node);
      const known = map.get(name);
      if (known === undefined) map.set(name, [node]);
      else known.push(node);
    }
    this.crowded.set(bucket, map);
    return map;
  }
}

/** The indexed repositories for one arch. */
export interface Universe {
  readonly arch: string;
  readonly repositories: readonly SolverRepository[];
  /** Each repository's records. */
  readonly sources: readonly (RecordSource | IndexTable)[];
  /** The number of each repository's first record (record numbers run across repositories). */
  readonly firstRecord: readonly number[];
  /** Per record number: 1 when the record is a package of the universe (right arch, first of its identity). */
  readonly eligible: Uint8Array;
  /** Packages built so far, by record number ({@link packageAt}). */
  readonly built: Map<number, UPackage>;
  /** For a package whose identity other records repeat: the repositories of those records, in order. */
  readonly repeatedIn: Map<number, number[]>;
  /** Every name a package provides or an install_if condition mentions, by hash ({@link NameTable}). */
  readonly names: NameTable;
  /** {@link NameInfo}s built so far, by name (null: no package has the name). */
  readonly infos: Map<string, NameInfo | null>;
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
  for (const repository of repositories) {
    // The table when there is one: reading `entries` could build every record.
    const records = repository.table ?? repository.entries;
    key.push(repository, records, records.length);
  }
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

/** Probes after which {@link IdentityTable} stops trusting its hash (a crafted index) and uses a `Map`. */
const MAX_PROBES = 64;

/**
 * Packages by identity: an open-addressing table of record numbers over typed arrays (a `Map` of
 * 100,000 string keys costs several times more, and every entry of every index goes through here);
 * equal hashes are told apart by {@link identityKey}. Should a probe run long, which only crafted
 * checksums cause, the table moves into a `Map` keyed by {@link identityKey} (V8's string hashing
 * is seeded), so hostile input costs linear time, not quadratic.
 */
class IdentityTable {
  /** Slot `i` is `table[2i]` (record number + 1, 0 when free) and `table[2i + 1]` (its hash): one cache line. */
  private readonly table: Int32Array;
  private readonly mask: number;
  private readonly checksumOf: (record: number) => string;
  private fallback: Map<string, number> | undefined;
  /** The free slot the last {@link get} that found nothing stopped at, for the {@link add} that follows. */
  private freeSlot = -1;

  /**
   * @param checksumOf - the `C:` of a record (looked up on a hash match)
   * @param expected - how many entries will be offered: the table is sized once, at most half full
   */
  constructor(checksumOf: (record: number) => string, expected: number) {
    this.checksumOf = checksumOf;
    let size = 1 << 10;
    while (size < expected * 2) size *= 2;
    this.table = new Int32Array(size * 2);
    this.mask = size - 1;
  }

  /**
   * The record with the identity of record `record`'s checksum (whose {@link identityHash} is `hash`),
   * or -1. The checksum itself is read only on a hash match.
   */
  get(record: number, hash: number): number {
    this.freeSlot = -1;
    if (this.fallback !== undefined) return this.fallback.get(identityKey(this.checksumOf(record))) ?? -1;
    const { table, mask } = this;
    for (let slot = hash & mask, probes = 0; ; slot = (slot + 1) & mask) {
      const id = table[slot * 2]!;
      if (id === 0) {
        this.freeSlot = slot;
        return -1;
      }
      if (++probes > MAX_PROBES) return this.toMap().get(identityKey(this.checksumOf(record))) ?? -1;
      if (table[slot * 2 + 1] !== hash) continue;
      const other = this.checksumOf(id - 1);
      const checksum = this.checksumOf(record);
      if (other === checksum || identityKey(other) === identityKey(checksum)) return id - 1;
    }
  }

  /** Record `record`, for which {@link get} with `hash` just found nothing. */
  add(hash: number, record: number): void {
    if (this.fallback !== undefined || this.freeSlot < 0) {
      this.toMap().set(identityKey(this.checksumOf(record)), record);
      return;
    }
    this.table[this.freeSlot * 2] = record + 1;
    this.table[this.freeSlot * 2 + 1] = hash;
    this.freeSlot = -1;
  }

  private toMap(): Map<string, number> {
    if (this.fallback !== undefined) return this.fallback;
    const map = new Map<string, number>();
    for (let slot = 0; slot <= this.mask; slot++) {
      const id = this.table[slot * 2]!;
      if (id !== 0) map.set(identityKey(this.checksumOf(id - 1)), id - 1);
    }
    this.fallback = map;
    return map;
  }
}

/**
 * The name of record `index`'s occurrence `token` (as in {@link NameTable}'s nodes), read from the
 * record (which a lookup builds anyway, and the table keeps).
 */
function nameAt(source: RecordSource | IndexTable, index: number, token: number): string {
  const entry = source.entry(index);
  if (token === -1) return entry.name;
  if (token >= 0) {
    const text = entry.provides[token]!;
    const at = text.indexOf('=');
    return at < 0 ? text : text.slice(0, at);
  }
  return nameOfToken(entry.installIf[-2 - token]!);
}

/**
 * Index `repositories` for `arch`.
 *
 * @param repositories - the repositories, in priority order
 * @param arch - the apk arch
 * @returns a new universe
 */
export function buildUniverse(repositories: readonly SolverRepository[], arch: string): Universe {
  const sources = repositories.map(sourceOf);
  const firstRecord: number[] = [];
  let total = 0;
  for (const source of sources) {
    firstRecord.push(total);
    total += source.length;
  }
  const eligible = new Uint8Array(total);
  const otherArch = new Map<string, OtherArchEntry[]>();
  const repeatedIn = new Map<number, number[]>();
  const checksumOf = (record: number): string => {
    const repo = repositoryOf(firstRecord, record);
    return sources[repo]!.checksum(record - firstRecord[repo]!);
  };
  // apk-tools keys packages by their decoded identity checksum (`apk_db_pkg_add`): a later record with
  // the checksum of a known package is that package, whatever its name says, in the same repository
  // or another; the first record wins and only adds the repository.
  const byIdentity = new IdentityTable(checksumOf, total);
  const tags = new Set<string>();

  repositories.forEach((repository, repoIndex) => {
    if (repository.tag !== undefined) tags.add(repository.tag);
    const source = sources[repoIndex]!;
    const first = firstRecord[repoIndex]!;
    const identities = source.identityHashes();
    for (let index = 0; index < source.length; index++) {
      const record = first + index;
      const recordArch = source.arch(index);
      if (recordArch !== undefined && recordArch !== arch && recordArch !== 'noarch') {
        const name = source.name(index);
        let list = otherArch.get(name);
        if (list === undefined) otherArch.set(name, (list = []));
        if (list.length < MAX_OTHER_ARCH_PER_NAME) list.push({ entry: source.entry(index), repository });
        continue;
      }
      const identity = identities[index]!;
      const known = byIdentity.get(record, identity);
      if (known >= 0) {
        let repeated = repeatedIn.get(known);
        if (repeated === undefined) repeatedIn.set(known, (repeated = []));
        repeated.push(repoIndex);
        continue;
      }
      byIdentity.add(identity, record);
      eligible[record] = 1;
    }
  });
  const nameOf = (record: number, token: number): string => {
    const repo = repositoryOf(firstRecord, record);
    return nameAt(sources[repo]!, record - firstRecord[repo]!, token);
  };
  const hashes = sources.map((source) => source.nameHashes());
  const names = new NameTable(nameOf, hashes, firstRecord, eligible);
  return {
    arch,
    repositories,
    sources,
    firstRecord,
    eligible,
    built: new Map(),
    repeatedIn,
    names,
    infos: new Map(),
    otherArch,
    tags,
  };
}

/** The repository holding record number `record`. */
function repositoryOf(firstRecord: readonly number[], record: number): number {
  let low = 0;
  let high = firstRecord.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (firstRecord[middle]! <= record) low = middle;
    else high = middle - 1;
  }
  return low;
}

/**
 * The package of record number `record` (which must be {@link Universe.eligible}), built on first use.
 *
 * @param universe - the universe
 * @param record - the record number
 * @returns the package
 */
export function packageAt(universe: Universe, record: number): UPackage {
  const known = universe.built.get(record);
  if (known !== undefined) return known;
  const repoIndex = repositoryOf(universe.firstRecord, record);
  const { repositories } = universe;
  const entry = universe.sources[repoIndex]!.entry(record - universe.firstRecord[repoIndex]!);
  const tag = repositories[repoIndex]!.tag;
  let repos: readonly number[] = [repoIndex];
  let untagged = tag === undefined;
  let tags: readonly string[] = tag === undefined ? NO_TAGS : [tag];
  for (const other of universe.repeatedIn.get(record) ?? []) {
    if (repos[repos.length - 1] !== other) repos = [...repos, other];
    const otherTag = repositories[other]!.tag;
    if (otherTag === undefined) untagged = true;
    else if (!tags.includes(otherTag)) tags = [...tags, otherTag];
  }
  const pkg: UPackage = {
    id: record,
    entry,
    repos,
    untagged,
    tags,
    parsed: false,
    broken: undefined,
    deps: NO_DEPENDENCIES,
    installIf: NO_DEPENDENCIES,
  };
  universe.built.set(record, pkg);
  return pkg;
}

/**
 * Every package of the universe, in id order (builds them all: for tests and whole-universe questions).
 *
 * @param universe - the universe
 * @returns the packages
 */
export function allPackages(universe: Universe): UPackage[] {
  const packages: UPackage[] = [];
  universe.eligible.forEach((flag, record) => {
    if (flag === 1) packages.push(packageAt(universe, record));
  });
  return packages;
}

/**
 * Call `visit` with the name and version of every package of the universe, in id order, without
 * building the packages.
 *
 * @param universe - the universe
 * @param visit - called once per package
 */
export function forEachNameVersion(universe: Universe, visit: (name: string, version: string) => void): void {
  universe.sources.forEach((source, repoIndex) => {
    const first = universe.firstRecord[repoIndex]!;
    for (let index = 0; index < source.length; index++) {
      if (universe.eligible[first + index] !== 1) continue;
      visit(source.name(index), source.version(index));
    }
  });
}

/**
 * What the universe knows about a name, built on first use: undefined for a name no package provides
 * and no install_if condition mentions.
 *
 * @param universe - the universe
 * @param name - the name
 * @returns the name's providers and install_if users
 */
export function nameInfoOf(universe: Universe, name: string): NameInfo | undefined {
  const known = universe.infos.get(name);
  if (known !== undefined) return known ?? undefined;
  const occurrences = universe.names.lookup(name);
  if (occurrences === undefined) {
    universe.infos.set(name, null);
    return undefined;
  }
  const providerPackages: UPackage[] = [];
  const providerTokens: (string | null)[] = [];
  occurrences.providers.forEach((record, index) => {
    const pkg = packageAt(universe, record);
    const token = occurrences.providerTokens[index]!;
    providerPackages.push(pkg);
    providerTokens.push(token < 0 ? null : pkg.entry.provides[token]!);
  });
  let iifUsers = NO_PACKAGES;
  let iifNames = NO_NAMES;
  for (const record of occurrences.iifUsers) {
    if (iifUsers === NO_PACKAGES) iifUsers = [];
    iifUsers.push(packageAt(universe, record));
  }
  if (iifUsers.length > 0) {
    const seen = new Set<string>();
    iifNames = [];
    for (const user of iifUsers) {
      for (const item of namesOf(user)) {
        if (seen.has(item.name)) continue;
        seen.add(item.name);
        iifNames.push(item.name);
      }
    }
  }
  const info: NameInfo = { name, providerPackages, providerTokens, iifUsers, iifNames };
  universe.infos.set(name, info);
  return info;
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
  for (const source of universe.sources) {
    for (let index = 0; index < source.length; index++) {
      see(source.name(index));
      for (const token of source.depends(index)) see(nameOfToken(token));
      for (const token of source.provides(index)) see(nameOfToken(token));
      for (const token of source.installIf(index)) see(nameOfToken(token));
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
  const keyed = info.iifNames.map((name) => ({ name, bucket: nameBucket(name), serial: 0 }));
  // The creation order only breaks ties within a bucket (20,000 buckets: rare), and finding it reads every
  // record's tokens, so it is computed only then.
  const buckets = new Set(keyed.map((item) => item.bucket));
  if (buckets.size < keyed.length) {
    const serials = nameSerials(universe);
    for (const item of keyed) item.serial = serials.get(item.name) ?? 0;
  }
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
