/**
 * Resolving a world against repositories, with apk-tools 2.14 semantics (`src/solver.c`), not
 * apko's greedy resolver (reference `apk-and-apko.md` §4, §4.9):
 *
 * - versions and operators are apk-tools' (`= < > <= >= ~ =~ ~= >~ <~`, `><Q1…` identity pins,
 *   `!name` conflicts in the world and in `D:`), via `@tk/apk`;
 * - a constraint on a name applies to every provider of it; only one package may provide a versioned
 *   name; several may share a virtual (unversioned) one;
 * - a virtual provider is never picked on its own unless it has a `provider_priority` (`k:`) or its
 *   own name is required too, even when it is the only provider: apk-tools 2.14's
 *   `is_provider_auto_selectable` (apko, unlike apk-tools, auto-selects them);
 * - tagged repositories (`@local ./packages`) are only eligible under their tag, which dependencies
 *   inherit; untagged packages are still preferred for dependencies;
 * - `install_if` packages join when all their conditions hold, to a fixpoint;
 * - candidates are ordered as apk-tools' `compare_providers` does (see `candidateOrder` in
 *   `internal/search.ts`): preferred pinning, preferred (installed/locked) packages, then the
 *   highest version of the requested name, the highest package version, the highest
 *   `provider_priority`, the lowest repository index (apko instead prefers the newer package), name;
 * - where apk-tools' single pass would give up, the search backtracks.
 */
import { parseDependency, formatDependency, type Dependency } from '@tk/apk';
import { isTkError, silentLogger } from '@tk/core';
import { SolverError } from './errors.ts';
import { installOrder } from './internal/order.ts';
import { runSearch, type SearchResult } from './internal/search.ts';
import { getUniverse, type UPackage, type Universe } from './internal/universe.ts';
import type { ResolvedPackage, Solution, SolveRequest, SolverRepository } from './types.ts';

/** Default search budget (candidate evaluations). Real worlds take a few hundred to a few thousand. */
export const DEFAULT_MAX_STEPS = 1_000_000;
/** The most world tokens a request may have. */
const MAX_WORLD_TOKENS = 100_000;
const ARCH_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** A parsed world token. */
export interface WorldToken {
  readonly dep: Dependency;
  readonly token: string;
}

/**
 * apk-tools' display order for names (`apk_name_cmp_display`): case-insensitive first, then exact.
 *
 * @param a - a name
 * @param b - another name
 * @returns negative, zero or positive
 */
export function compareNamesForDisplay(a: string, b: string): number {
  const lowerA = asciiLower(a);
  const lowerB = asciiLower(b);
  if (lowerA !== lowerB) return lowerA < lowerB ? -1 : 1;
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/** `Array.isArray` without its `any[]` narrowing (inputs are typed; this guards untyped callers). */
function isList(value: unknown): boolean {
  return Array.isArray(value);
}

function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (char) => String.fromCharCode(char.charCodeAt(0) + 32));
}

function badRequest(message: string, hint: string, data: Record<string, unknown> = {}): never {
  throw new SolverError('SOLVER_BAD_CONSTRAINT', message, { hint, data });
}

/**
 * Parse, normalise, deduplicate and sort a world (apk-tools' order: by name, case-insensitively, then
 * by token).
 *
 * @param world - the tokens
 * @param repositories - the repositories (to check `@tag`s)
 * @returns the parsed world
 * @throws {SolverError} SOLVER_BAD_CONSTRAINT for an invalid token, SOLVER_UNKNOWN_TAG for a tag no repository has
 */
export function parseWorld(
  world: readonly string[],
  repositories: readonly SolverRepository[],
): WorldToken[] {
  if (!isList(world))
    badRequest('the world must be an array of dependency tokens', 'pass world: ["busybox", …]');
  if (world.length > MAX_WORLD_TOKENS) {
    badRequest(
      `the world has ${world.length} tokens; the limit is ${MAX_WORLD_TOKENS}`,
      'this many top-level packages is not a real image; check the input',
    );
  }
  const tags = new Set(
    repositories.flatMap((repository) => (repository.tag === undefined ? [] : [repository.tag])),
  );
  const byToken = new Map<string, WorldToken>();
  world.forEach((raw, index) => {
    if (typeof raw !== 'string')
      badRequest(`world token ${index + 1} is not a string`, 'pass dependency tokens as strings');
    const token = raw.trim();
    let dep: Dependency;
    try {
      dep = parseDependency(token);
    } catch (error) {
      if (!isTkError(error)) throw error;
      throw new SolverError('SOLVER_BAD_CONSTRAINT', `world token ${index + 1}: ${error.message}`, {
        hint: error.hint ?? 'write [!]name[@tag][op version]',
        cause: error,
        data: { token: raw, index },
      });
    }
    if (dep.tag !== undefined && !tags.has(dep.tag)) {
      const known = [...tags].map((tag) => `@${tag}`).join(', ');
      throw new SolverError(
        'SOLVER_UNKNOWN_TAG',
        `world token ${JSON.stringify(token)} names repository tag @${dep.tag}, but no repository has that tag`,
        {
          hint:
            known === ''
              ? 'add a tagged repository line "@' + dep.tag + ' <url>", or drop the tag'
              : `configured tags: ${known}`,
          data: { token, tag: dep.tag },
        },
      );
    }
    const normalised = formatDependency(dep);
    if (!byToken.has(normalised)) byToken.set(normalised, { dep, token: normalised });
  });
  return [...byToken.values()].sort(
    (a, b) =>
      compareNamesForDisplay(a.dep.name, b.dep.name) || (a.token < b.token ? -1 : a.token > b.token ? 1 : 0),
  );
}

function checkRequest(request: SolveRequest): void {
  if (typeof request.arch !== 'string' || !ARCH_PATTERN.test(request.arch)) {
    badRequest(`invalid arch ${JSON.stringify(request.arch)}`, 'use an apk arch such as x86_64 or aarch64', {
      arch: request.arch,
    });
  }
  if (!isList(request.repositories)) {
    badRequest('repositories must be an array', 'pass repositories: [{ name, entries }]');
  }
  for (const repository of request.repositories) {
    if (repository.tag !== undefined && !/^[A-Za-z0-9._-]+$/.test(repository.tag)) {
      badRequest(
        `repository ${JSON.stringify(repository.name)} has an invalid tag ${JSON.stringify(repository.tag)}`,
        'a tag is letters, digits, ".", "_" and "-", without the "@"',
      );
    }
  }
  if (request.maxSteps !== undefined && (!Number.isSafeInteger(request.maxSteps) || request.maxSteps < 1)) {
    badRequest(
      `maxSteps must be a positive integer, not ${String(request.maxSteps)}`,
      'omit it for the default',
    );
  }
}

/** Internal result: the solution and lookups used by multi-arch unification. */
export interface SolveOutcome {
  readonly solution: Solution;
  readonly universe: Universe;
  readonly search: SearchResult;
  readonly world: readonly WorldToken[];
}

/**
 * {@link solve}, with multi-arch extras.
 *
 * @param request - the request
 * @param common - `name\0version` keys present on every arch, preferred when given
 * @returns the solution and internals
 * @throws {SolverError} as {@link solve}
 */
export function solveDetailed(request: SolveRequest, common?: ReadonlySet<string>): SolveOutcome {
  checkRequest(request);
  const world = parseWorld(request.world, request.repositories);
  const universe = getUniverse(request.repositories, request.arch);
  const prefer = new Set((request.prefer ?? []).map((item) => `${item.name}\u0000${item.version}`));
  const search = runSearch({
    universe,
    world,
    logger: request.logger ?? silentLogger,
    maxSteps: request.maxSteps ?? DEFAULT_MAX_STEPS,
    prefer,
    common,
  });
  const ordered = installOrder(
    universe,
    world.map((item) => item.dep),
    search.chosen,
    search.selected,
  );
  const packages = ordered.map((pkg) => resolvedPackage(universe, pkg, search.allowedTags(pkg)));
  return {
    solution: {
      arch: request.arch,
      packages,
      world: world.map((item) => item.token),
      stats: { steps: search.steps, backtracks: search.backtracks },
    },
    universe,
    search,
    world,
  };
}

function resolvedPackage(universe: Universe, pkg: UPackage, allowed: readonly string[]): ResolvedPackage {
  const repositories = universe.repositories;
  if (pkg.untagged) {
    const index = pkg.repos.find((repo) => repositories[repo]?.tag === undefined) ?? pkg.repos[0]!;
    return { entry: pkg.entry, repository: repositories[index]! };
  }
  const index =
    pkg.repos.find((repo) => {
      const tag = repositories[repo]?.tag;
      return tag !== undefined && allowed.includes(tag);
    }) ?? pkg.repos[0]!;
  const repository = repositories[index]!;
  return repository.tag === undefined
    ? { entry: pkg.entry, repository }
    : { entry: pkg.entry, repository, pin: repository.tag };
}

/**
 * Resolve a world into an exact, ordered install list for one arch.
 *
 * @param request - world, repositories (with their index entries), arch, and options
 * @returns the packages in install order, and the normalised world
 * @throws {SolverError} SOLVER_BAD_CONSTRAINT for an invalid world token or request;
 *   SOLVER_UNKNOWN_TAG for a world `@tag` no repository has; SOLVER_NOTHING_PROVIDES,
 *   SOLVER_UNSATISFIABLE, SOLVER_CONFLICT or SOLVER_VIRTUAL_NEEDS_CHOICE when no solution exists
 *   (the message gives the chain from the world to the failing constraint and why each candidate
 *   was ruled out; `data` holds the same as fields); SOLVER_TOO_COMPLEX when the step budget runs out
 *
 * @example
 * const index = readIndexArchive(bytes);
 * const { packages } = solve({
 *   world: ['busybox', 'ca-certificates-bundle'],
 *   repositories: [{ name: 'https://dl-cdn.alpinelinux.org/alpine/v3.17/main', entries: index.entries }],
 *   arch: 'aarch64',
 * });
 * packages.map((p) => `${p.entry.name}-${p.entry.version}`); // ['musl-1.2.3-r5', 'busybox-1.35.0-r29', …]
 */
export function solve(request: SolveRequest): Solution {
  return solveDetailed(request).solution;
}
