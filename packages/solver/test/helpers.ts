/**
 * Test helpers: table rows to repositories, and an independent check of a solution (written against
 * @tk/apk's token semantics, not against the solver's internals).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDependencySatisfied, parseDependency, type Dependency } from '@tk/apk';
import type { IndexEntry } from '@tk/repo';
import type { ResolvedPackage, Solution, SolverRepository } from '@tk/solver';

export const FIXTURES = join(import.meta.dirname, '../../../test-fixtures');

export function readFixture(path: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURES, path)));
}

export function readJsonFixture<T>(path: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, path), 'utf8')) as T;
}

/** A package of a parity-table row, with APKINDEX letters as keys. */
export interface TablePackage {
  P: string;
  V: string;
  A?: string;
  C?: string;
  D?: string;
  p?: string;
  i?: string;
  k?: number;
}

export interface TableRepository {
  name?: string;
  tag?: string;
  packages: TablePackage[];
}

/** An index entry for tests; the checksum is derived from repository, name, version and arch unless given. */
export function entry(pkg: TablePackage, arch: string, repository = 'main'): IndexEntry {
  const pkgArch = pkg.A ?? arch;
  return {
    checksum:
      pkg.C ??
      `Q1${createHash('sha1').update(`${repository}/${pkg.P}-${pkg.V}-${pkgArch}`).digest('base64')}`,
    name: pkg.P,
    version: pkg.V,
    arch: pkgArch,
    size: 1,
    installedSize: 1,
    ...(pkg.k === undefined ? {} : { providerPriority: pkg.k }),
    depends: pkg.D === undefined ? [] : pkg.D.split(' '),
    provides: pkg.p === undefined ? [] : pkg.p.split(' '),
    installIf: pkg.i === undefined ? [] : pkg.i.split(' '),
    other: [],
  };
}

export function tableRepositories(
  repositories: readonly TableRepository[],
  arch: string,
): SolverRepository[] {
  return repositories.map((repository) => {
    const name = repository.name ?? 'main';
    return {
      name,
      ...(repository.tag === undefined ? {} : { tag: repository.tag }),
      entries: repository.packages.map((pkg) => entry(pkg, arch, name)),
    };
  });
}

export function labels(solution: Solution | readonly ResolvedPackage[]): string[] {
  const packages = 'packages' in solution ? solution.packages : solution;
  return packages.map((pkg) => `${pkg.entry.name}-${pkg.entry.version}`);
}

interface Provision {
  pkg: IndexEntry;
  version: string | undefined;
}

function provisions(packages: readonly IndexEntry[]): Map<string, Provision[]> {
  const byName = new Map<string, Provision[]>();
  const add = (name: string, provision: Provision): void => {
    const list = byName.get(name) ?? [];
    list.push(provision);
    byName.set(name, list);
  };
  for (const pkg of packages) {
    add(pkg.name, { pkg, version: pkg.version });
    for (const token of pkg.provides) {
      const at = token.indexOf('=');
      const name = at < 0 ? token : token.slice(0, at);
      if (name === pkg.name) continue;
      add(name, { pkg, version: at < 0 ? undefined : token.slice(at + 1) });
    }
  }
  return byName;
}

const satisfies = (dep: Dependency, provision: Provision): boolean =>
  isDependencySatisfied(dep, { version: provision.version, checksum: provision.pkg.checksum });

/**
 * Everything wrong with a solution, independently of the solver: unmet world entries and
 * dependencies, violated conflicts, two packages providing one versioned name, and packages
 * installed before a dependency outside a cycle.
 */
export function checkSolution(solution: Solution, world: readonly string[]): string[] {
  const problems: string[] = [];
  const packages = solution.packages.map((resolved) => resolved.entry);
  const byName = provisions(packages);
  const position = new Map(packages.map((pkg, index) => [pkg, index]));
  const label = (pkg: IndexEntry): string => `${pkg.name}-${pkg.version}`;

  const check = (dep: Dependency, from: string): Provision[] => {
    const candidates = byName.get(dep.name) ?? [];
    if (dep.conflict) {
      for (const provision of candidates) {
        if (!satisfies(dep, provision))
          problems.push(`${from}: !${dep.name} is violated by ${label(provision.pkg)}`);
      }
      return [];
    }
    const good = candidates.filter((provision) => satisfies(dep, provision));
    if (good.length === 0) problems.push(`${from}: nothing installed satisfies ${dep.name}`);
    return good;
  };

  for (const token of world) check(parseDependency(token), 'world');
  const edges = new Map<IndexEntry, IndexEntry[]>();
  for (const pkg of packages) {
    const targets: IndexEntry[] = [];
    for (const token of pkg.depends) {
      for (const provision of check(
        parseDependency(token, { versionDialect: 'apk-tools-2.14' }),
        label(pkg),
      )) {
        if (provision.pkg !== pkg) targets.push(provision.pkg);
      }
    }
    edges.set(pkg, targets);
  }
  for (const [name, list] of byName) {
    const versioned = list.filter((provision) => provision.version !== undefined);
    const owners = new Set(list.map((provision) => provision.pkg));
    if (versioned.length > 0 && owners.size > 1) {
      problems.push(`${name} is provided by ${[...owners].map(label).join(' and ')}`);
    }
  }
  const reaches = (from: IndexEntry, to: IndexEntry): boolean => {
    const seen = new Set<IndexEntry>([from]);
    const stack = [from];
    while (stack.length > 0) {
      const current = stack.pop()!;
      if (current === to) return true;
      for (const next of edges.get(current) ?? []) {
        if (!seen.has(next)) {
          seen.add(next);
          stack.push(next);
        }
      }
    }
    return false;
  };
  for (const [pkg, targets] of edges) {
    for (const target of targets) {
      if (position.get(target)! > position.get(pkg)! && !reaches(target, pkg)) {
        problems.push(`${label(pkg)} comes before its dependency ${label(target)}`);
      }
    }
  }
  return problems;
}

/** Whether an install list (of entries) puts every dependency first, cycles aside. */
export function isDependencyOrder(order: readonly IndexEntry[]): boolean {
  const fake: Solution = {
    arch: 'x',
    world: [],
    stats: { steps: 0, backtracks: 0 },
    packages: order.map((e) => ({ entry: e, repository: { name: 'x', entries: [] } })),
  };
  return checkSolution(fake, []).every((problem) => !problem.includes('comes before'));
}
