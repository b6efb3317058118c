/**
 * Solving one world for several archs with consistent versions. apko disqualifies every
 * name-version that is not available on every arch (PR #1180) and fails with "unable to lock
 * packages to a consistent version" when a requested package still differs (reference
 * `apk-and-apko.md` §4.3, §4.7, pain point 6). tk prefers name-versions present on every arch (a
 * preference, not a filter, so an arch-specific dependency such as a firmware package still
 * resolves), and fails with a readable error naming each arch's version when a requested package
 * differs anyway.
 */
import type { Logger } from '@tk/core';
import { SolverError } from './errors.ts';
import { solveDetailed, type SolveOutcome } from './solve.ts';
import { forEachNameVersion, getUniverse } from './internal/universe.ts';
import type { NameVersion, Solution, SolverRepository } from './types.ts';

/** One arch of a {@link solveMultiArch} request. */
export interface ArchRepositories {
  /** The apk arch. */
  readonly arch: string;
  /** That arch's repositories (each with the entries of its `<repo>/<arch>/APKINDEX.tar.gz`). */
  readonly repositories: readonly SolverRepository[];
}

/** What {@link solveMultiArch} resolves. */
export interface MultiArchSolveRequest {
  /** The world, as in {@link SolveRequest.world}. */
  readonly world: readonly string[];
  /** The archs, in the order results should come out. */
  readonly archs: readonly ArchRepositories[];
  /** Where debug messages go. */
  readonly logger?: Logger;
  /** Installed or locked packages to prefer, as in {@link SolveRequest.prefer}. */
  readonly prefer?: readonly NameVersion[];
  /** Search budget per arch, as in {@link SolveRequest.maxSteps}. */
  readonly maxSteps?: number;
}

/** `Array.isArray` without its `any[]` narrowing (the input is typed; this guards untyped callers). */
function isList(value: unknown): boolean {
  return Array.isArray(value);
}

function keysOf(arch: ArchRepositories): Set<string> {
  const keys = new Set<string>();
  forEachNameVersion(getUniverse(arch.repositories, arch.arch), (name, version) => {
    keys.add(`${name}\u0000${version}`);
  });
  return keys;
}

/**
 * Resolve one world for several archs. Where a name has candidates on every arch at the same
 * version, those are preferred over newer versions that some arch lacks.
 *
 * @param request - the world and, per arch, its repositories
 * @returns each arch's solution, keyed by arch, in request order
 * @throws {SolverError} SOLVER_BAD_CONSTRAINT for no archs or a repeated arch; SOLVER_ARCH_MISMATCH
 *   when a package the world names resolves to different versions on different archs (the message
 *   lists each arch's version); any error of {@link solve} for an arch (its message starts with the arch)
 *
 * @example
 * const solutions = solveMultiArch({
 *   world: ['replayout'],
 *   archs: [
 *     { arch: 'x86_64', repositories: [{ name: './packages', entries: x86Entries }] },
 *     { arch: 'aarch64', repositories: [{ name: './packages', entries: armEntries }] },
 *   ],
 * });
 * solutions.get('aarch64')!.packages.map((p) => p.entry.name); // ['pretend-baselayout', 'replayout']
 */
export function solveMultiArch(request: MultiArchSolveRequest): Map<string, Solution> {
  const { archs } = request;
  if (!isList(archs) || archs.length === 0) {
    throw new SolverError('SOLVER_BAD_CONSTRAINT', 'a multi-arch solve needs at least one arch', {
      hint: 'pass archs: [{ arch, repositories }, …]',
    });
  }
  const seen = new Set<string>();
  for (const item of archs) {
    if (seen.has(item.arch)) {
      throw new SolverError('SOLVER_BAD_CONSTRAINT', `arch ${JSON.stringify(item.arch)} is listed twice`, {
        hint: 'list each arch once',
        data: { arch: item.arch },
      });
    }
    seen.add(item.arch);
  }

  let common: Set<string> | undefined;
  if (archs.length > 1) {
    for (const item of archs) {
      const keys = keysOf(item);
      common = common === undefined ? keys : new Set([...common].filter((key) => keys.has(key)));
    }
  }

  const outcomes: SolveOutcome[] = archs.map((item) =>
    solveDetailed(
      {
        world: request.world,
        repositories: item.repositories,
        arch: item.arch,
        ...(request.logger === undefined ? {} : { logger: request.logger }),
        ...(request.prefer === undefined ? {} : { prefer: request.prefer }),
        ...(request.maxSteps === undefined ? {} : { maxSteps: request.maxSteps }),
      },
      common,
    ),
  );

  const mismatches: { name: string; versions: Record<string, string> }[] = [];
  for (const { dep } of outcomes[0]?.world ?? []) {
    if (dep.conflict) continue;
    const versions: Record<string, string> = {};
    const labels = new Set<string>();
    for (const outcome of outcomes) {
      const pkg = outcome.search.chosen(dep.name)?.pkg;
      const label = pkg === undefined ? '(none)' : `${pkg.entry.name}-${pkg.entry.version}`;
      versions[outcome.solution.arch] = label;
      labels.add(label);
    }
    if (labels.size > 1) mismatches.push({ name: dep.name, versions });
  }
  if (mismatches.length > 0) {
    const lines = mismatches.map(
      (item) =>
        `  ${item.name}: ${Object.entries(item.versions)
          .map(([arch, label]) => `${label} (${arch})`)
          .join(', ')}`,
    );
    throw new SolverError(
      'SOLVER_ARCH_MISMATCH',
      ['unable to lock packages to a consistent version across archs:', ...lines].join('\n'),
      {
        hint: 'pin the package to a version every arch has (name=version), or wait until every arch has the newer build',
        data: { mismatches },
      },
    );
  }
  return new Map(outcomes.map((outcome) => [outcome.solution.arch, outcome.solution]));
}
