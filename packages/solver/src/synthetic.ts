/**
 * A deterministic, Wolfi-shaped synthetic index for benchmarks and scale tests: many versions per
 * name, `so:` and `cmd:` provides, `-dev` subpackages pinned to their parent's exact version,
 * shared-library major bumps followed by rebuilds of their dependents, virtual names with
 * provider priorities, a few `noarch` and other-arch entries. The same options always give the same
 * entries (a seeded PRNG; no ambient randomness).
 */
import { toBase64, seededRandom } from '@tk/core';
import type { IndexEntry } from '@tk/repo';
import { SolverError } from './errors.ts';

/** Options of {@link createSyntheticIndex}. */
export interface SyntheticIndexOptions {
  /** How many entries to generate. Default 100,000. */
  readonly entries?: number;
  /** PRNG seed. Default 1. */
  readonly seed?: number;
  /** The arch of the entries (a few are `noarch`, a few another arch). Default `x86_64`. */
  readonly arch?: string;
}

/** What {@link createSyntheticIndex} returns. */
export interface SyntheticIndex {
  /** The entries, in generation (build) order. */
  readonly entries: IndexEntry[];
  /** A realistic world for it: a few packages with deep dependency trees, a `-dev` package and a virtual name. */
  readonly world: string[];
}

/** The largest index {@link createSyntheticIndex} generates. */
const MAX_SYNTHETIC_ENTRIES = 2_000_000;
/** Average entries per name, to size the name set. */
const ENTRIES_PER_NAME = 24;
/** Groups of alternative providers of a virtual name. */
const VIRTUAL_GROUPS = 8;

interface SyntheticName {
  readonly id: number;
  readonly name: string;
  readonly library: boolean;
  readonly command: boolean;
  readonly noarch: boolean;
  readonly deps: number[];
  readonly virtualDep: number | undefined;
  major: number;
  minor: number;
  patch: number;
  revision: number;
  stale: boolean;
}

/**
 * Generate a synthetic index.
 *
 * @param options - size, seed and arch
 * @returns the entries and a suggested world
 * @throws {SolverError} SOLVER_BAD_CONSTRAINT for a size outside 1…2,000,000
 *
 * @example
 * const { entries, world } = createSyntheticIndex({ entries: 100_000, seed: 7 });
 * solve({ world, repositories: [{ name: 'synthetic', entries }], arch: 'x86_64' });
 */
export function createSyntheticIndex(options: SyntheticIndexOptions = {}): SyntheticIndex {
  const target = options.entries ?? 100_000;
  const arch = options.arch ?? 'x86_64';
  if (!Number.isSafeInteger(target) || target < 1 || target > MAX_SYNTHETIC_ENTRIES) {
    throw new SolverError(
      'SOLVER_BAD_CONSTRAINT',
      `a synthetic index has 1 to ${MAX_SYNTHETIC_ENTRIES} entries, not ${target}`,
      {
        hint: 'pick a smaller size',
      },
    );
  }
  const random = seededRandom(options.seed ?? 1);
  const pick = (n: number): number => Math.floor(random() * n);
  const nameCount = Math.max(8, Math.ceil(target / ENTRIES_PER_NAME));

  const names: SyntheticName[] = [];
  for (let id = 0; id < nameCount; id++) {
    const library = id === 0 || random() < 0.45;
    const deps = new Set<number>();
    if (id > 0) {
      const count = pick(7);
      // Skewed towards low ids: a few libraries everything uses, like a real distribution.
      for (let k = 0; k < count; k++) deps.add(Math.floor(id * random() * random()));
      deps.delete(0);
    }
    names.push({
      id,
      name: id === 0 ? 'glibc' : `${library ? 'lib' : ''}p${id}`,
      library,
      command: !library || random() < 0.3,
      noarch: id > 0 && random() < 0.02,
      deps: [...deps].sort((a, b) => a - b),
      virtualDep: id > VIRTUAL_GROUPS * 2 && random() < 0.05 ? pick(VIRTUAL_GROUPS) : undefined,
      major: id === 0 ? 6 : 1,
      minor: 0,
      patch: 0,
      revision: 0,
      stale: true,
    });
  }
  const dependents: number[][] = names.map(() => []);
  for (const item of names) for (const dep of item.deps) dependents[dep]!.push(item.id);

  const entries: IndexEntry[] = [];
  const soName = (item: SyntheticName): string =>
    item.id === 0 ? 'so:libc.so.6' : `so:${item.name}.so.${item.major}`;
  const version = (item: SyntheticName): string =>
    `${item.major}.${item.minor}.${item.patch}-r${item.revision}`;
  const push = (fields: Omit<IndexEntry, 'checksum' | 'other' | 'size' | 'installedSize'>): void => {
    // 20 pseudo-random bytes: a well-formed, unique-enough identity without hashing anything.
    const bytes = new Uint8Array(20);
    for (let index = 0; index < 20; index += 4) {
      const word = Math.floor(random() * 4294967296);
      bytes[index] = word & 0xff;
      bytes[index + 1] = (word >>> 8) & 0xff;
      bytes[index + 2] = (word >>> 16) & 0xff;
      bytes[index + 3] = word >>> 24;
    }
    const checksum = `Q1${toBase64(bytes)}`;
    entries.push({ checksum, size: 4096, installedSize: 16384, other: [], ...fields });
  };

  // Alternative providers of virtual names: alt<g>-a and alt<g>-b provide alt<g>, with priorities.
  for (let group = 0; group < VIRTUAL_GROUPS && entries.length < target; group++) {
    for (const [suffix, priority] of [
      ['a', 10],
      ['b', 20],
    ] as const) {
      if (entries.length >= target) break;
      push({
        name: `alt${group}-${suffix}`,
        version: '1.0.0-r0',
        arch,
        providerPriority: priority,
        depends: ['so:libc.so.6'],
        provides: [`alt${group}`, `cmd:alt${group}=1.0.0-r0`],
        installIf: [],
      });
    }
  }

  for (let epoch = 0; entries.length < target; epoch++) {
    for (const item of names) {
      if (entries.length >= target) break;
      if (!item.stale && random() >= 0.07) continue;
      if (!item.stale) {
        const roll = random();
        if (item.library && item.id !== 0 && roll < 0.08) {
          item.major++;
          item.minor = 0;
          item.patch = 0;
          item.revision = 0;
          // Every dependent is rebuilt against the new major (later in this same epoch: ids are ascending).
          for (const dependent of dependents[item.id]!) names[dependent]!.stale = true;
        } else if (roll < 0.5) {
          item.patch++;
          item.revision = 0;
        } else item.revision++;
      } else if (epoch > 0) item.revision++;
      item.stale = false;

      const itemVersion = version(item);
      const depends: string[] = item.noarch ? [] : ['so:libc.so.6'];
      for (const dep of item.deps) {
        const target = names[dep]!;
        if (target.library) depends.push(soName(target));
        else if (target.command && random() < 0.5) depends.push(`cmd:${target.name}`);
        else if (random() < 0.2) depends.push(`${target.name}>=${target.major}.0`);
        else depends.push(target.name);
      }
      if (item.virtualDep !== undefined) depends.push(`alt${item.virtualDep}`);
      const provides: string[] = [];
      if (item.library) {
        provides.push(item.id === 0 ? 'so:libc.so.6=6' : `${soName(item)}=${item.major}`);
        if (item.id === 0) provides.push('so:libm.so.6=6', 'so:ld-linux-x86-64.so.2=2');
      }
      if (item.command) provides.push(`cmd:${item.name}=${itemVersion}`);
      push({
        name: item.name,
        version: itemVersion,
        arch: item.noarch ? 'noarch' : arch,
        origin: item.name,
        depends,
        provides,
        installIf: [],
      });
      if (item.library && entries.length < target) {
        push({
          name: `${item.name}-dev`,
          version: itemVersion,
          arch,
          origin: item.name,
          depends: [`${item.name}=${itemVersion}`],
          provides: [`pc:${item.name}=${itemVersion}`],
          installIf: [],
        });
      }
      if (item.id % 97 === 5 && entries.length < target) {
        // A build for another arch, which a solve for `arch` must ignore.
        push({
          name: item.name,
          version: `${item.major + 50}.0.0-r0`,
          arch: arch === 'aarch64' ? 'x86_64' : 'aarch64',
          depends: [],
          provides: [],
          installIf: [],
        });
      }
    }
  }

  const top = names.filter((item) => !item.noarch).slice(-200);
  const world = [
    ...top.filter((_, index) => index % 25 === 0).map((item) => item.name),
    `${names.find((item) => item.library && item.id > 0)!.name}-dev`,
    'alt3',
  ];
  return { entries, world };
}
