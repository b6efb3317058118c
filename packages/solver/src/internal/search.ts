/**
 * The search: pick one provider for every required name so that every constraint holds, preferring
 * what apk-tools 2.14 prefers, and backtracking (with conflict-directed backjumping) where apk-tools'
 * single pass would give up.
 *
 * State. Constraints are recorded per name (`D:` tokens of chosen packages and world tokens, each
 * with the decision level that added it; the world is level 0). Choosing a package *locks* its own
 * name and every name it provides; a name can be locked by several packages only if all of them
 * provide it virtually (apk-tools' `assign_name`). A constraint on a name applies to every provider of
 * that name, whatever it was chosen for (apk-tools' `apply_constraint`): `!foo` rules out every
 * provider of `foo`, `so:libx>=2` rules out a package that provides `so:libx=1`.
 *
 * Order of decisions. A name becomes *pending* when a positive constraint needs it. The next name to
 * decide is (1) one that can be auto-selected (virtual-only names, which apk-tools picks last, come
 * last), (2) one that no other pending name may still constrain (all potential requirers decided, so
 * every version constraint on it is known: apk-tools' `reverse_deps_done`), (3) the one pending the
 * longest. When nothing is pending, `install_if` packages whose triggers are all satisfied become
 * pending (optional: when none can be installed the name is skipped), until a fixpoint.
 *
 * Candidates of a name are tried best first (`candidateOrder`); a candidate is ruled out when
 * it breaks a constraint on any name it provides, clashes with a locked name, comes from a tagged
 * repository it is not allowed from, or has a dependency that can no longer be satisfied (one level of
 * look-ahead, apk-tools' "dependency no longer satisfiable"). Every rejection records the decision
 * levels that caused it; when a name runs out of candidates, the search jumps back to the latest of
 * those levels (or fails, when they are all the world). All of it is iterative and undone through a
 * trail, so depth is bounded only by memory, and a step budget bounds time.
 */
import type { Dependency } from '@tk/apk';
import type { Logger } from '@tk/core';
import { SolverError, type SolverErrorCode } from '../errors.ts';
import { satisfiedBy } from './order.ts';
import {
  compareProvidersStatic,
  dependencyNames,
  ensureParsed,
  isAutoSelectable,
  isVirtualOnly,
  namesOf,
  providedName,
  providersOf,
  staticOrder,
  type Provider,
  type UPackage,
  type Universe,
} from './universe.ts';

/** A recorded requirement on a name. */
export interface Constraint {
  readonly dep: Dependency;
  /** The token as written (world) or as in the index (`D:`). */
  readonly token: string;
  /** The package whose `D:` holds it; undefined for the world. */
  readonly from: UPackage | undefined;
  /** The decision level that added it (0: the world). */
  readonly level: number;
  /** Repository tags a provider satisfying it may come from (pinning carried to dependencies). */
  readonly tags: readonly string[];
}

interface NameLock {
  readonly providers: Provider[];
  readonly levels: number[];
}

interface Pending {
  readonly seq: number;
  readonly kind: 'require' | 'iif';
  /** For `iif`: the triggered packages (as providers of their own name). */
  readonly triggered?: Provider[];
  /** For `iif`: tags inherited from the triggering packages. */
  readonly inherited?: readonly string[];
}

type Category = 'conflict' | 'nothing-provides' | 'virtual' | 'other';

interface Rejection {
  readonly provider: Provider;
  /** Why, when known at once; absent for a candidate that was chosen and failed further down. */
  readonly reason?: string;
  /** For a candidate that was chosen and failed further down: that failure. */
  readonly nested?: Failure;
  readonly category: Category;
  readonly culprits: readonly number[];
  /** Ruled out because no requirer carries the tag of the only repositories holding it. */
  readonly byTag?: boolean;
}

/** One step of "how this name came to be required", linked towards the world. */
interface ChainLink {
  readonly text: string;
  readonly parent: ChainLink | undefined;
}

interface Frame {
  readonly level: number;
  readonly name: string;
  readonly pending: Pending;
  readonly order: Provider[];
  next: number;
  /** Trail length before the frame consumed its pending entry. */
  readonly baseMark: number;
  /** Trail length when the frame's candidates start being tried. */
  readonly trailMark: number;
  readonly conflict: Set<number>;
  readonly rejections: Rejection[];
  chosen: Provider | undefined;
  /** How the name came to be required. */
  readonly chain: ChainLink | undefined;
  /** The positive constraints on the name, as written. */
  readonly requiredAs: readonly string[];
}

/**
 * A dead end: a name none of whose candidates worked. Cheap to record (the text is only built when
 * it is reported), so the search can afford one per dead end however deep it goes.
 */
interface Failure {
  readonly code: SolverErrorCode;
  readonly name: string;
  readonly chain: ChainLink | undefined;
  readonly requiredAs: readonly string[];
  readonly rejections: readonly Rejection[];
  /** The name has no provider at all (for this arch). */
  readonly noProviders: boolean;
  /** When the only candidate was chosen and failed further down: that failure (closer to the cause). */
  readonly only?: Failure;
}

/** Options of {@link runSearch}. */
export interface SearchOptions {
  readonly universe: Universe;
  /** The world, parsed, with its tokens. */
  readonly world: readonly { dep: Dependency; token: string }[];
  readonly logger: Logger;
  readonly maxSteps: number;
  /** `name\0version` keys of packages to prefer (installed or locked). */
  readonly prefer: ReadonlySet<string>;
  /** `name\0version` keys present on every arch of a multi-arch solve; preferred when given. */
  readonly common: ReadonlySet<string> | undefined;
}

/** What {@link runSearch} returns. */
export interface SearchResult {
  readonly selected: readonly UPackage[];
  readonly chosen: (name: string) => Provider | undefined;
  readonly allowedTags: (pkg: UPackage) => readonly string[];
  readonly steps: number;
  readonly backtracks: number;
}

/** How many nested failures a one-line summary descends into. */
const MAX_SUMMARY_DEPTH = 3;
/** Candidates listed in the error's data. */
const MAX_CANDIDATES_IN_DATA = 100;
/** Chains longer than this are shortened in messages (the data keeps them whole). */
const MAX_CHAIN_SHOWN = 24;
/** Sub-reasons shown for a dependency none of whose providers can be installed. */
const MAX_SUB_REASONS = 3;
/** Candidate lines shown in a message. */
const MAX_CANDIDATE_LINES = 12;

/**
 * `name-version`, as apk-tools prints a package.
 *
 * @param pkg - the package
 * @returns the label
 */
export function packageLabel(pkg: UPackage): string {
  return `${pkg.entry.name}-${pkg.entry.version}`;
}

function sourceLabel(constraint: Constraint): string {
  return constraint.from === undefined ? 'world' : packageLabel(constraint.from);
}

/** Nested failure summaries are clipped so that messages stay bounded however deep the search went. */
const MAX_SUMMARY = 600;

function clip(text: string): string {
  return text.length > MAX_SUMMARY ? `${text.slice(0, MAX_SUMMARY)}…` : text;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}

function keyOf(name: string, version: string): string {
  return `${name}\u0000${version}`;
}

function unionInto<T>(target: Set<T>, values: Iterable<T>): void {
  for (const value of values) target.add(value);
}

/**
 * Run the search.
 *
 * @param options - universe, world and preferences
 * @returns the chosen packages and lookups over the final state
 * @throws {SolverError} when no solution exists or the budget runs out
 */
export function runSearch(options: SearchOptions): SearchResult {
  const { universe, logger, maxSteps, prefer, common } = options;
  const arch = universe.arch;

  // ---- state, every change recorded on the trail ----
  const trail: (() => void)[] = [];
  const constraints = new Map<string, Constraint[]>();
  const locks = new Map<string, NameLock>();
  const pending = new Map<string, Pending>();
  const blockers = new Map<string, number>();
  const selected: UPackage[] = [];
  const selectedAt = new Map<UPackage, Frame>();
  const allowed = new Map<UPackage, readonly string[]>();
  const declined = new Set<string>();
  const frames: Frame[] = [];
  /** Packages applied since the main loop last looked for install_if packages they trigger. */
  const applied: UPackage[] = [];
  let seq = 0;
  let steps = 0;
  let backtracks = 0;

  const undo = (mark: number): void => {
    while (trail.length > mark) trail.pop()!();
  };

  const adjustBlockers = (name: string, delta: number): void => {
    const info = universe.names.get(name);
    if (info === undefined) return;
    for (const target of dependencyNames(info)) blockers.set(target, (blockers.get(target) ?? 0) + delta);
  };

  const addPending = (name: string, entry: Pending): void => {
    pending.set(name, entry);
    adjustBlockers(name, 1);
    trail.push(() => {
      pending.delete(name);
      adjustBlockers(name, -1);
    });
  };

  const removePending = (name: string): void => {
    const entry = pending.get(name);
    if (entry === undefined) return;
    pending.delete(name);
    adjustBlockers(name, -1);
    trail.push(() => {
      pending.set(name, entry);
      adjustBlockers(name, 1);
    });
  };

  const addConstraint = (name: string, constraint: Constraint): void => {
    let list = constraints.get(name);
    if (list === undefined) {
      list = [];
      constraints.set(name, list);
    }
    const target = list;
    target.push(constraint);
    trail.push(() => {
      target.pop();
    });
    if (!constraint.dep.conflict && !locks.has(name) && !pending.has(name)) {
      addPending(name, { seq: seq++, kind: 'require' });
    }
  };

  const lockName = (name: string, provider: Provider, level: number): void => {
    const existing = locks.get(name);
    if (existing !== undefined) {
      existing.providers.push(provider);
      existing.levels.push(level);
      trail.push(() => {
        existing.providers.pop();
        existing.levels.pop();
      });
      return;
    }
    locks.set(name, { providers: [provider], levels: [level] });
    trail.push(() => {
      locks.delete(name);
    });
    removePending(name);
  };

  /** The levels of the positive constraints on any name a package provides (who requires it). */
  const requirerLevels = (pkg: UPackage): number[] => {
    const levels: number[] = [];
    for (const provided of namesOf(pkg)) {
      for (const constraint of constraints.get(provided.name) ?? []) {
        if (!constraint.dep.conflict) levels.push(constraint.level);
      }
    }
    return levels;
  };

  const hasPositiveConstraint = (name: string): boolean =>
    constraints.get(name)?.some((constraint) => !constraint.dep.conflict) ?? false;

  // ---- pinning ----

  /** Tags a package may come from, given the constraints it satisfies (and extra inherited tags). */
  const allowedTagsFor = (pkg: UPackage, inherited: readonly string[]): Set<string> => {
    const tags = new Set(inherited);
    for (const provided of namesOf(pkg)) {
      for (const constraint of constraints.get(provided.name) ?? []) {
        if (constraint.dep.conflict || constraint.tags.length === 0) continue;
        if (!satisfiedBy(constraint.dep, { pkg, version: provided.version })) continue;
        for (const tag of constraint.tags) tags.add(tag);
      }
    }
    return tags;
  };

  const tagAllowed = (pkg: UPackage, tags: ReadonlySet<string>): boolean =>
    pkg.untagged || pkg.tags.some((tag) => tags.has(tag));

  // ---- candidate checks ----

  /**
   * Can `pkg` be installed next to what is locked and required (ignoring its own dependencies)?
   * Returns the first reason it cannot, or undefined.
   */
  const checkProvider = (
    pkg: UPackage,
    inherited: readonly string[],
  ): Omit<Rejection, 'provider'> | undefined => {
    ensureParsed(pkg);
    if (pkg.broken !== undefined)
      return {
        reason: pkg.broken,
        category: pkg.brokenByConflict === true ? 'conflict' : 'other',
        culprits: [],
      };
    for (const provided of namesOf(pkg)) {
      const lock = locks.get(provided.name);
      if (lock !== undefined && !lock.providers.some((provider) => provider.pkg === pkg)) {
        const shared =
          provided.version === undefined &&
          lock.providers.every((provider) => provider.version === undefined);
        if (!shared) {
          const other = lock.providers[0]!.pkg;
          const what = provided.name === pkg.entry.name ? 'its name' : `its provide ${quote(provided.name)}`;
          return {
            reason: `${what} is already provided by ${packageLabel(other)} (only one package may provide a name)`,
            category: 'conflict',
            culprits: lock.levels,
          };
        }
      }
      for (const constraint of constraints.get(provided.name) ?? []) {
        if (satisfiedBy(constraint.dep, { pkg, version: provided.version })) continue;
        const source = sourceLabel(constraint);
        if (constraint.dep.conflict) {
          return {
            reason: `conflicts with ${constraint.token} from ${source}`,
            category: 'conflict',
            culprits: [constraint.level],
          };
        }
        let reason: string;
        if (constraint.dep.checksum !== undefined) {
          reason = `its checksum ${pkg.entry.checksum} is not the one ${constraint.token} from ${source} pins`;
        } else if (provided.name === pkg.entry.name) {
          reason = `version ${pkg.entry.version} does not satisfy ${constraint.token} from ${source}`;
        } else if (provided.version === undefined) {
          reason = `it provides ${provided.name} only virtually, which cannot satisfy ${constraint.token} from ${source}`;
        } else {
          reason = `it provides ${provided.name}=${provided.version}, which does not satisfy ${constraint.token} from ${source}`;
        }
        return { reason, category: 'other', culprits: [constraint.level] };
      }
    }
    if (!pkg.untagged) {
      const tags = allowedTagsFor(pkg, inherited);
      if (!tagAllowed(pkg, tags)) {
        // Ruled out by an absence (no requirer carries the tag): blame the requirers.
        const culprits = requirerLevels(pkg);
        const tagList = pkg.tags.map((tag) => `@${tag}`).join(', ');
        return {
          reason: `it is only in tagged repository ${tagList}, which nothing requiring it names (write ${pkg.entry.name}@${pkg.tags[0]!})`,
          category: 'other',
          culprits,
          byTag: true,
        };
      }
    }
    return undefined;
  };

  /** Can dependency `dep` of `pkg` (about to be chosen, allowed `tags`) still be satisfied? */
  const checkDependency = (
    pkg: UPackage,
    dep: Dependency,
    token: string,
    tags: ReadonlySet<string>,
  ): Omit<Rejection, 'provider'> | undefined => {
    const own = providedName(pkg, dep.name);
    if (own !== undefined) {
      if (satisfiedBy(dep, { pkg, version: own.version })) return undefined;
      return {
        reason: `it depends on ${token} but provides ${dep.name} itself${own.version === undefined ? ' virtually' : ` at ${own.version}`}`,
        category: dep.conflict ? 'conflict' : 'other',
        culprits: [],
      };
    }
    const lock = locks.get(dep.name);
    if (lock !== undefined) {
      if (dep.conflict) {
        const clash = lock.providers.find((provider) => !satisfiedBy(dep, provider));
        if (clash === undefined) return undefined;
        return {
          reason: `it conflicts (${token}) with ${packageLabel(clash.pkg)}, which is already chosen`,
          category: 'conflict',
          culprits: lock.levels,
        };
      }
      if (lock.providers.some((provider) => satisfiedBy(dep, provider))) return undefined;
      const chosen = lock.providers[0]!;
      const as =
        chosen.version === undefined
          ? ' (virtually)'
          : chosen.pkg.entry.name === dep.name
            ? ''
            : ` at ${chosen.version}`;
      return {
        reason: `it depends on ${token}, but ${dep.name} is already provided by ${packageLabel(chosen.pkg)}${as}`,
        category: 'conflict',
        culprits: lock.levels,
      };
    }
    if (dep.conflict) return undefined;
    const info = universe.names.get(dep.name);
    if (info === undefined || providersOf(info).length === 0) {
      return {
        reason: `it depends on ${token}, which nothing provides`,
        category: 'nothing-provides',
        culprits: [],
      };
    }
    const inherited = dep.tag === undefined ? [...tags] : [...tags, dep.tag];
    const culprits = new Set<number>();
    const subReasons: string[] = [];
    let anyMatch = false;
    let allConflicts = true;
    for (const provider of providersOf(info)) {
      if (!satisfiedBy(dep, provider)) continue;
      anyMatch = true;
      const rejection = checkProvider(provider.pkg, inherited);
      if (rejection === undefined) return undefined;
      unionInto(culprits, rejection.culprits);
      // The tags a dependency may come from are inherited from this package's own requirers.
      if (rejection.byTag === true) unionInto(culprits, requirerLevels(pkg));
      if (rejection.category !== 'conflict') allConflicts = false;
      if (subReasons.length < MAX_SUB_REASONS)
        subReasons.push(`${packageLabel(provider.pkg)}: ${rejection.reason}`);
    }
    if (!anyMatch) {
      const versions = providersOf(info)
        .slice(0, MAX_SUB_REASONS)
        .map(
          (provider) =>
            `${packageLabel(provider.pkg)}${provider.pkg.entry.name === dep.name ? '' : provider.version === undefined ? ` (${dep.name} virtual)` : ` (${dep.name}=${provider.version})`}`,
        );
      const more =
        providersOf(info).length > MAX_SUB_REASONS
          ? ` and ${providersOf(info).length - MAX_SUB_REASONS} more`
          : '';
      return {
        reason: `it depends on ${token}, which no provider of ${dep.name} satisfies (${versions.join(', ')}${more})`,
        category: 'other',
        culprits: [],
      };
    }
    return {
      reason: `it depends on ${token}, but no provider of ${dep.name} can be installed -> ${subReasons.join('; ')}`,
      category: allConflicts ? 'conflict' : 'other',
      culprits: [...culprits],
    };
  };

  const evaluate = (frame: Frame, provider: Provider): Omit<Rejection, 'provider'> | undefined => {
    const { pkg } = provider;
    ensureParsed(pkg);
    if (pkg.broken !== undefined)
      return {
        reason: pkg.broken,
        category: pkg.brokenByConflict === true ? 'conflict' : 'other',
        culprits: [],
      };
    if (!isAutoSelectable(provider) && !hasPositiveConstraint(pkg.entry.name)) {
      return {
        reason: `it provides ${frame.name} only virtually and has no provider_priority, so it is never picked on its own (name it explicitly)`,
        category: 'virtual',
        culprits: [],
      };
    }
    const inherited = frame.pending.inherited ?? [];
    const rejection = checkProvider(pkg, inherited);
    if (rejection !== undefined) return rejection;
    const tags = allowedTagsFor(pkg, inherited);
    for (let index = 0; index < pkg.deps.length; index++) {
      const dep = pkg.deps[index]!;
      const problem = checkDependency(pkg, dep, pkg.entry.depends[index] ?? dep.name, tags);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };

  // ---- ordering ----

  const worldTagsFor = (name: string): Set<string> => {
    const tags = new Set<string>();
    for (const constraint of constraints.get(name) ?? []) {
      if (constraint.from === undefined && !constraint.dep.conflict) tags.add(constraint.dep.tag ?? '');
    }
    return tags;
  };

  /**
   * The full candidate order for a name, best first. Dynamic criteria first, then the static order
   * ({@link compareProvidersStatic}):
   *
   * 1. preferred pinning: for a name the world requires with `@tag`, packages of that tagged
   *    repository; otherwise packages of untagged repositories (so dependencies prefer untagged
   *    repositories even when a tag allows another) — apk-tools' `tag_preferred`;
   * 2. for a virtual name, a provider whose own name is required anyway;
   * 3. packages in the `prefer` set (installed or locked) — apk-tools' "prefer installed";
   * 4. in a multi-arch solve, a name-version present on every arch;
   * 5. the static order: higher version of the requested name, higher package version (same
   *    package name), higher `provider_priority`, lower repository index, name, index position.
   */
  const candidateOrder = (
    name: string,
    providers: readonly Provider[],
    sortedStatic: boolean,
  ): Provider[] => {
    const worldTags = worldTagsFor(name);
    const base = sortedStatic ? providers : [...providers].sort(compareProvidersStatic);
    const decorated = base.map((provider, index) => {
      const { pkg } = provider;
      const tagPreferred =
        worldTags.size === 0
          ? pkg.untagged
          : (worldTags.has('') && pkg.untagged) || pkg.tags.some((tag) => worldTags.has(tag));
      const key = keyOf(pkg.entry.name, pkg.entry.version);
      // A provider of another name that is itself required will be installed anyway: picking it
      // adds nothing (apk-tools decides the required name first and so gets the same answer).
      const requiredItself = pkg.entry.name !== name && hasPositiveConstraint(pkg.entry.name);
      return {
        provider,
        index,
        rank:
          (tagPreferred ? 0 : 8) +
          (requiredItself ? 0 : 4) +
          (prefer.has(key) ? 0 : 2) +
          (common === undefined || common.has(key) ? 0 : 1),
      };
    });
    decorated.sort((a, b) => a.rank - b.rank || a.index - b.index);
    return decorated.map((item) => item.provider);
  };

  /**
   * The next pending name to decide, by (1) auto-selectable before virtual-only names, (2) a name
   * with a single provider whose potential requirers are all decided (apk-tools' "fast select"),
   * (3) any name whose potential requirers are all decided, (4) the name pending longest.
   */
  const pickNext = (): string | undefined => {
    let best: string | undefined;
    let bestKey = Number.POSITIVE_INFINITY;
    // Names that triggered install_if packages provide. apk-tools decides a required virtual-only
    // name as soon as one of its providers is triggered, before the triggered package itself, and
    // so refuses it (`provides14`): a trigger does not stand in for naming a provider.
    let triggeredNames: Set<string> | undefined;
    for (const entry of pending.values()) {
      if (entry.kind !== 'iif') continue;
      triggeredNames ??= new Set();
      for (const provider of entry.triggered ?? []) {
        for (const provided of namesOf(provider.pkg)) triggeredNames.add(provided.name);
      }
    }
    for (const [name, entry] of pending) {
      const info = universe.names.get(name);
      const virtualOnly = entry.kind === 'require' && info !== undefined && isVirtualOnly(info);
      if (virtualOnly && triggeredNames?.has(name) === true) return name;
      const ready = (blockers.get(name) ?? 0) === 0;
      const single =
        (entry.kind === 'iif' ? (entry.triggered?.length ?? 0) : (info?.providerPackages.length ?? 0)) === 1;
      const rank = (virtualOnly ? 4 : 0) + (ready && single ? 0 : 2) + (ready ? 0 : 1);
      const key = rank * 2 ** 40 + entry.seq;
      if (key < bestKey) {
        best = name;
        bestKey = key;
      }
    }
    return best;
  };

  // ---- applying a choice ----

  const apply = (frame: Frame, provider: Provider): void => {
    const { pkg } = provider;
    const level = frame.level;
    frame.chosen = provider;
    selected.push(pkg);
    applied.push(pkg);
    selectedAt.set(pkg, frame);
    const tags = allowedTagsFor(pkg, frame.pending.inherited ?? []);
    const tagList = [...tags];
    allowed.set(pkg, tagList);
    trail.push(() => {
      selected.pop();
      selectedAt.delete(pkg);
      allowed.delete(pkg);
    });
    for (const provided of namesOf(pkg)) lockName(provided.name, { pkg, version: provided.version }, level);
    pkg.deps.forEach((dep, index) => {
      addConstraint(dep.name, {
        dep,
        token: pkg.entry.depends[index] ?? dep.name,
        from: pkg,
        level,
        tags: dep.tag === undefined || tags.has(dep.tag) ? tagList : [...tagList, dep.tag],
      });
    });
  };

  const decline = (name: string): void => {
    declined.add(name);
    trail.push(() => {
      declined.delete(name);
    });
  };

  /** Try the frame's remaining candidates from its initial state; true when one (or a skip) applies. */
  const advance = (frame: Frame): boolean => {
    undo(frame.trailMark);
    frame.chosen = undefined;
    while (frame.next < frame.order.length) {
      const provider = frame.order[frame.next++]!;
      steps++;
      if (steps > maxSteps) {
        throw new SolverError(
          'SOLVER_TOO_COMPLEX',
          `${arch}: gave up after ${maxSteps} candidate evaluations (${backtracks} backtracks) while choosing a provider of ${quote(frame.name)}`,
          {
            hint: 'pin versions in the world (name=version) to narrow the search, or raise maxSteps',
            data: { arch, name: frame.name, steps, backtracks },
          },
        );
      }
      const rejection = evaluate(frame, provider);
      if (rejection !== undefined) {
        frame.rejections.push({ provider, ...rejection });
        unionInto(frame.conflict, rejection.culprits);
        continue;
      }
      apply(frame, provider);
      return true;
    }
    if (frame.pending.kind === 'iif') {
      decline(frame.name);
      return true;
    }
    return false;
  };

  // ---- explanations ----

  /** How `name` comes to be required now: its earliest positive constraint, linked to its requirer's chain. */
  const chainLinkFor = (name: string, entry: Pending): ChainLink | undefined => {
    let first: Constraint | undefined;
    for (const constraint of constraints.get(name) ?? []) {
      if (!constraint.dep.conflict && (first === undefined || constraint.level < first.level))
        first = constraint;
    }
    if (first === undefined) {
      if (entry.kind !== 'iif') return undefined;
      const added = (entry.triggered ?? []).map((provider) => packageLabel(provider.pkg)).join(', ');
      return { text: `install_if adds ${added}`, parent: undefined };
    }
    if (first.from === undefined) return { text: `world: ${first.token}`, parent: undefined };
    return {
      text: `${packageLabel(first.from)} depends on ${first.token}`,
      parent: selectedAt.get(first.from)?.chain,
    };
  };

  const chainSteps = (link: ChainLink | undefined): string[] => {
    const steps: string[] = [];
    for (let current = link; current !== undefined; current = current.parent) steps.push(current.text);
    return steps.reverse();
  };

  const showChain = (chain: readonly string[]): string => {
    if (chain.length <= MAX_CHAIN_SHOWN) return chain.join(' -> ');
    const head = chain.slice(0, 8);
    const tail = chain.slice(chain.length - (MAX_CHAIN_SHOWN - 8));
    return [...head, `… ${chain.length - MAX_CHAIN_SHOWN} more …`, ...tail].join(' -> ');
  };

  const repositoryLabel = (pkg: UPackage): string => {
    const repository = universe.repositories[pkg.repos[0] ?? 0];
    if (repository === undefined) return '';
    return repository.tag === undefined ? repository.name : `@${repository.tag} ${repository.name}`;
  };

  const failureOf = (frame: Frame): Failure => {
    const noProviders = frame.order.length === 0;
    let code: SolverErrorCode = 'SOLVER_NOTHING_PROVIDES';
    if (!noProviders) {
      const categories = new Set(frame.rejections.map((rejection) => rejection.category));
      const only = categories.size === 1 ? [...categories][0] : undefined;
      code =
        only === 'conflict'
          ? 'SOLVER_CONFLICT'
          : only === 'nothing-provides'
            ? 'SOLVER_NOTHING_PROVIDES'
            : only === 'virtual'
              ? 'SOLVER_VIRTUAL_NEEDS_CHOICE'
              : 'SOLVER_UNSATISFIABLE';
    }
    const single = frame.rejections.length === 1 ? frame.rejections[0]!.nested : undefined;
    return {
      code,
      name: frame.name,
      chain: frame.chain,
      requiredAs: frame.requiredAs,
      rejections: frame.rejections,
      noProviders,
      ...(single === undefined ? {} : { only: single }),
    };
  };

  const wantedOf = (failure: Failure): string =>
    quote(failure.requiredAs.length === 0 ? failure.name : failure.requiredAs.join(', '));

  /** Entries of the name left out for their arch, as candidate lines. */
  const otherArchCandidates = (name: string): { package: string; repository: string; reason: string }[] =>
    (universe.otherArch.get(name) ?? []).map((item) => ({
      package: `${item.entry.name}-${item.entry.version}`,
      repository:
        item.repository.tag === undefined
          ? item.repository.name
          : `@${item.repository.tag} ${item.repository.name}`,
      reason: `wrong arch ${item.entry.arch ?? '?'} (solving for ${arch})`,
    }));

  const otherArchNote = (name: string): string => {
    const elsewhere = universe.otherArch.get(name) ?? [];
    if (elsewhere.length === 0) return '';
    return ` (only ${elsewhere.map((item) => item.entry.arch ?? '?').join(', ')} builds exist)`;
  };

  /** One line, without the chain: for nesting a failure into an earlier candidate's reason. */
  const summaryOf = (failure: Failure, depth: number): string => {
    if (failure.noProviders)
      return clip(`nothing provides ${wantedOf(failure)}${otherArchNote(failure.name)}`);
    const reasons = failure.rejections
      .slice(0, MAX_SUB_REASONS)
      .map((rejection) => `${packageLabel(rejection.provider.pkg)}: ${reasonOf(rejection, depth - 1)}`);
    const more = failure.rejections.length > MAX_SUB_REASONS ? '; …' : '';
    return clip(`no installable provider of ${wantedOf(failure)}: ${reasons.join('; ')}${more}`);
  };

  const reasonOf = (rejection: Rejection, depth: number): string => {
    if (rejection.reason !== undefined) return rejection.reason;
    if (rejection.nested === undefined || depth <= 0) return 'chosen first, but a later choice failed';
    return `chosen first, then ${summaryOf(rejection.nested, depth)}`;
  };

  const hints: Record<string, string> = {
    SOLVER_CONFLICT: 'remove one side of the conflict from the world, or pin a version that avoids it',
    SOLVER_NOTHING_PROVIDES:
      'check the spelling, add a repository that provides it for this arch, or pick a version that does not need it',
    SOLVER_UNSATISFIABLE:
      'relax the version constraints in the world, or add a repository with a matching version',
  };

  const errorOf = (top: Failure): SolverError => {
    // A frame whose only candidate failed further down: report the deeper failure, whose chain runs
    // from the world down to the constraint that could not be met.
    let failure = top;
    while (failure.only !== undefined) failure = failure.only;
    const chain = chainSteps(failure.chain);
    const where = chain.length === 0 ? '' : ` (${showChain(chain)})`;
    const headline = failure.noProviders
      ? `nothing provides ${wantedOf(failure)}${where}`
      : `no installable provider of ${wantedOf(failure)}${where}`;
    const lines = failure.rejections
      .slice(0, MAX_CANDIDATE_LINES)
      .map(
        (rejection) =>
          `  ${packageLabel(rejection.provider.pkg)} [${repositoryLabel(rejection.provider.pkg)}]: ${clip(reasonOf(rejection, MAX_SUMMARY_DEPTH))}`,
      );
    if (failure.rejections.length > MAX_CANDIDATE_LINES) {
      lines.push(`  … and ${failure.rejections.length - MAX_CANDIDATE_LINES} more candidates`);
    }
    const elsewhere = otherArchCandidates(failure.name);
    for (const item of elsewhere) lines.push(`  ${item.package} [${item.repository}]: ${item.reason}`);
    const hint =
      failure.code === 'SOLVER_VIRTUAL_NEEDS_CHOICE'
        ? `add one of the providers of ${quote(failure.name)} to the world explicitly`
        : (hints[failure.code] ?? 'check the world and the repositories');
    const candidates = [
      ...failure.rejections.slice(0, MAX_CANDIDATES_IN_DATA).map((rejection) => ({
        package: packageLabel(rejection.provider.pkg),
        repository: repositoryLabel(rejection.provider.pkg),
        reason: clip(reasonOf(rejection, MAX_SUMMARY_DEPTH)),
      })),
      ...elsewhere,
    ];
    return new SolverError(failure.code, [`${arch}: ${headline}`, ...lines].join('\n'), {
      hint,
      data: {
        arch,
        name: failure.name,
        chain,
        requiredAs: failure.requiredAs,
        candidates,
        steps,
        backtracks,
      },
    });
  };

  // ---- main loop ----

  for (const { dep, token } of options.world) {
    addConstraint(dep.name, {
      dep,
      token,
      from: undefined,
      level: 0,
      tags: dep.tag === undefined ? [] : [dep.tag],
    });
  }

  /** The install_if packages that name one of `packages`' names among their conditions. */
  const iifUsersOf = (packages: Iterable<UPackage>): Set<UPackage> => {
    const users = new Set<UPackage>();
    for (const pkg of packages) {
      for (const provided of namesOf(pkg)) {
        for (const user of universe.names.get(provided.name)?.iifUsers ?? []) users.add(user);
      }
    }
    return users;
  };

  /**
   * Make the install_if packages among `users` whose conditions now all hold pending, one entry per
   * name. apk-tools re-evaluates a package's install_if as soon as a name it names is decided
   * (`reconsider_name`), so a triggered package competes for the next decision at once rather than
   * after everything else is decided: its dependencies can then settle a provider choice (apk-tools'
   * `installif10`: the triggered package's dependency provides a name another package needs).
   */
  const triggerInstallIf = (users: ReadonlySet<UPackage>): boolean => {
    const groups = new Map<string, { triggered: Provider[]; inherited: Set<string> }>();
    for (const user of [...users].sort((a, b) => a.id - b.id)) {
      const name = user.entry.name;
      if (locks.has(name) || declined.has(name) || pending.has(name)) continue;
      ensureParsed(user);
      if (user.broken !== undefined || user.installIf.length === 0) continue;
      const inherited = new Set<string>();
      let triggered = true;
      for (const condition of user.installIf) {
        const lock = locks.get(condition.name);
        if (condition.conflict) {
          if (lock !== undefined && !lock.providers.every((provider) => satisfiedBy(condition, provider))) {
            triggered = false;
            break;
          }
          continue;
        }
        const provider = lock?.providers.find((candidate) => satisfiedBy(condition, candidate));
        if (lock === undefined || provider === undefined) {
          triggered = false;
          break;
        }
        for (const tag of allowed.get(provider.pkg) ?? []) inherited.add(tag);
      }
      if (!triggered) continue;
      let group = groups.get(name);
      if (group === undefined) {
        group = { triggered: [], inherited: new Set() };
        groups.set(name, group);
      }
      group.triggered.push({ pkg: user, version: user.entry.version });
      unionInto(group.inherited, inherited);
    }
    for (const [name, group] of groups) {
      addPending(name, {
        seq: seq++,
        kind: 'iif',
        triggered: group.triggered,
        inherited: [...group.inherited],
      });
    }
    return groups.size > 0;
  };

  for (;;) {
    // The package chosen last may complete some install_if conditions.
    if (applied.length > 0) triggerInstallIf(iifUsersOf(applied.splice(0)));
    const name = pickNext();
    if (name === undefined) {
      if (triggerInstallIf(iifUsersOf(selected))) continue;
      break;
    }
    const entry = pending.get(name)!;
    const info = universe.names.get(name);
    const order =
      entry.kind === 'iif'
        ? candidateOrder(name, entry.triggered ?? [], false)
        : candidateOrder(name, info === undefined ? [] : staticOrder(info), true);
    // The frame consumes the pending entry; undoing to baseMark makes the name pending again.
    const chain = chainLinkFor(name, entry);
    const requiredAs = (constraints.get(name) ?? [])
      .filter((constraint) => !constraint.dep.conflict)
      .map((constraint) => constraint.token);
    const baseMark = trail.length;
    removePending(name);
    const frame: Frame = {
      chain,
      requiredAs,
      level: frames.length + 1,
      name,
      pending: entry,
      order,
      next: 0,
      baseMark,
      trailMark: trail.length,
      conflict: new Set(),
      rejections: [],
      chosen: undefined,
    };
    frames.push(frame);
    if (advance(frame)) continue;

    // Dead end: jump back to the latest decision that contributed to it, merging conflict sets.
    let failed: Frame = frame;
    for (;;) {
      undo(failed.trailMark);
      const conflict = new Set(failed.conflict);
      for (const constraint of constraints.get(failed.name) ?? []) {
        if (!constraint.dep.conflict) conflict.add(constraint.level);
      }
      conflict.delete(failed.level);
      conflict.delete(0);
      let target = 0;
      for (const level of conflict) if (level > target) target = level;
      const failure = failureOf(failed);
      if (target === 0) throw errorOf(failure);
      backtracks++;
      while (frames.length > target) undo(frames.pop()!.baseMark);
      const back = frames[target - 1]!;
      for (const level of conflict) if (level !== target) back.conflict.add(level);
      if (back.chosen !== undefined) {
        back.rejections.push({
          provider: back.chosen,
          nested: failure,
          category: categoryOf(failure.code),
          culprits: [...conflict],
        });
      }
      logger.debug(`solver ${arch}: dead end at ${failed.name}, back to ${back.name} (level ${target})`);
      if (advance(back)) break;
      failed = back;
    }
  }

  logger.debug(`solver ${arch}: ${selected.length} packages, ${steps} steps, ${backtracks} backtracks`);
  const chosen = (name: string): Provider | undefined => locks.get(name)?.providers[0];
  return {
    selected: [...selected],
    chosen,
    allowedTags: (pkg) => allowed.get(pkg) ?? [],
    steps,
    backtracks,
  };
}

function categoryOf(code: SolverErrorCode): Category {
  if (code === 'SOLVER_CONFLICT') return 'conflict';
  if (code === 'SOLVER_NOTHING_PROVIDES') return 'nothing-provides';
  if (code === 'SOLVER_VIRTUAL_NEEDS_CHOICE') return 'virtual';
  return 'other';
}
