/**
 * The recorded state of the search and propagation: constraints per name, locked names, pending
 * names, and the trail that undoes every change. apk-tools keeps the same facts in `name->ss` and
 * `pkg->ss` and never undoes them; here every change pushes its inverse on the trail.
 */
import type { Dependency } from '@tk/apk';
import type { Logger } from '@tk/core';
import type { SolverErrorCode } from '../../errors.ts';
import { satisfiedBy } from '../order.ts';
import {
  dependencyNames,
  namesOf,
  type Provider,
  type UPackage,
  type Universe,
  nameInfoOf,
} from '../universe.ts';

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

/** The packages a name is locked to, each with the decision level that locked it. */
export interface NameLock {
  readonly providers: Provider[];
  readonly levels: number[];
}

/** A name waiting to be decided. */
export interface Pending {
  readonly seq: number;
  readonly kind: 'require' | 'iif';
  /** For `iif`: the triggered packages (as providers of their own name). */
  readonly triggered?: Provider[];
  /** For `iif`: tags inherited from the triggering packages. */
  readonly inherited?: readonly string[];
}

/** What kind of failure ruled a candidate out; decides the error code of a dead end. */
export type Category = 'conflict' | 'nothing-provides' | 'virtual' | 'other';

/** A candidate ruled out, with why and which decision levels caused it. */
export interface Rejection {
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

/** A rejection before it is tied to its candidate. */
export type Verdict = Omit<Rejection, 'provider'>;

/** One step of "how this name came to be required", linked towards the world. */
export interface ChainLink {
  readonly text: string;
  readonly parent: ChainLink | undefined;
}

/** One decision: a name, its candidates in order, and how far through them the search is. */
export interface Frame {
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
export interface Failure {
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

/** Options of `runSearch`. */
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

/** Everything one search knows; every change to the maps goes through a function that records it on the trail. */
export interface SearchState {
  readonly universe: Universe;
  readonly arch: string;
  readonly logger: Logger;
  readonly maxSteps: number;
  readonly prefer: ReadonlySet<string>;
  readonly common: ReadonlySet<string> | undefined;
  readonly trail: (() => void)[];
  readonly constraints: Map<string, Constraint[]>;
  readonly locks: Map<string, NameLock>;
  readonly pending: Map<string, Pending>;
  /** Per name, how many pending names may still constrain it (apk-tools' `reverse_deps_done` when 0). */
  readonly blockers: Map<string, number>;
  readonly selected: UPackage[];
  readonly selectedAt: Map<UPackage, Frame>;
  readonly allowed: Map<UPackage, readonly string[]>;
  readonly declined: Set<string>;
  readonly frames: Frame[];
  /** Packages applied since the main loop last looked for install_if packages they trigger. */
  readonly applied: UPackage[];
  seq: number;
  steps: number;
  backtracks: number;
}

/**
 * A fresh state for `options`, nothing recorded yet.
 *
 * @param options - universe, world and preferences
 * @returns the state
 */
export function createState(options: SearchOptions): SearchState {
  const { universe, logger, maxSteps, prefer, common } = options;
  return {
    universe,
    arch: universe.arch,
    logger,
    maxSteps,
    prefer,
    common,
    trail: [],
    constraints: new Map(),
    locks: new Map(),
    pending: new Map(),
    blockers: new Map(),
    selected: [],
    selectedAt: new Map(),
    allowed: new Map(),
    declined: new Set(),
    frames: [],
    applied: [],
    seq: 0,
    steps: 0,
    backtracks: 0,
  };
}

/** Add every value to `target`. */
export function unionInto<T>(target: Set<T>, values: Iterable<T>): void {
  for (const value of values) target.add(value);
}

/** Undo the trail down to length `mark`. */
export function undo(state: SearchState, mark: number): void {
  const { trail } = state;
  while (trail.length > mark) trail.pop()!();
}

/** Count `name`'s dependency names as blocked (`delta` 1) or released (-1) by it being pending. */
function adjustBlockers(state: SearchState, name: string, delta: number): void {
  const info = nameInfoOf(state.universe, name);
  if (info === undefined) return;
  const { blockers } = state;
  for (const target of dependencyNames(info)) blockers.set(target, (blockers.get(target) ?? 0) + delta);
}

/** Make `name` pending (apk-tools' `queue_unresolved`). */
export function addPending(state: SearchState, name: string, entry: Pending): void {
  state.pending.set(name, entry);
  adjustBlockers(state, name, 1);
  state.trail.push(() => {
    state.pending.delete(name);
    adjustBlockers(state, name, -1);
  });
}

/** Take `name` off the pending names. */
export function removePending(state: SearchState, name: string): void {
  const entry = state.pending.get(name);
  if (entry === undefined) return;
  state.pending.delete(name);
  adjustBlockers(state, name, -1);
  state.trail.push(() => {
    state.pending.set(name, entry);
    adjustBlockers(state, name, 1);
  });
}

/**
 * Record a constraint on `name`; a positive one makes an undecided name pending (apk-tools'
 * `apply_constraint`).
 */
export function addConstraint(state: SearchState, name: string, constraint: Constraint): void {
  let list = state.constraints.get(name);
  if (list === undefined) {
    list = [];
    state.constraints.set(name, list);
  }
  const target = list;
  target.push(constraint);
  state.trail.push(() => {
    target.pop();
  });
  if (!constraint.dep.conflict && !state.locks.has(name) && !state.pending.has(name)) {
    addPending(state, name, { seq: state.seq++, kind: 'require' });
  }
}

/** Lock `name` to `provider` at `level` (apk-tools' `assign_name`). */
export function lockName(state: SearchState, name: string, provider: Provider, level: number): void {
  const existing = state.locks.get(name);
  if (existing !== undefined) {
    existing.providers.push(provider);
    existing.levels.push(level);
    state.trail.push(() => {
      existing.providers.pop();
      existing.levels.pop();
    });
    return;
  }
  state.locks.set(name, { providers: [provider], levels: [level] });
  state.trail.push(() => {
    state.locks.delete(name);
  });
  removePending(state, name);
}

/** Mark an install_if name as skipped (none of its triggered packages could be installed). */
export function decline(state: SearchState, name: string): void {
  state.declined.add(name);
  state.trail.push(() => {
    state.declined.delete(name);
  });
}

/** The levels of the positive constraints on any name a package provides (who requires it). */
export function requirerLevels(state: SearchState, pkg: UPackage): number[] {
  const levels: number[] = [];
  for (const provided of namesOf(pkg)) {
    for (const constraint of state.constraints.get(provided.name) ?? []) {
      if (!constraint.dep.conflict) levels.push(constraint.level);
    }
  }
  return levels;
}

/** Whether some recorded constraint requires `name`. */
export function hasPositiveConstraint(state: SearchState, name: string): boolean {
  return state.constraints.get(name)?.some((constraint) => !constraint.dep.conflict) ?? false;
}

// ---- pinning ----

/** Tags a package may come from, given the constraints it satisfies (and extra inherited tags). */
export function allowedTagsFor(state: SearchState, pkg: UPackage, inherited: readonly string[]): Set<string> {
  const tags = new Set(inherited);
  for (const provided of namesOf(pkg)) {
    for (const constraint of state.constraints.get(provided.name) ?? []) {
      if (constraint.dep.conflict || constraint.tags.length === 0) continue;
      if (!satisfiedBy(constraint.dep, { pkg, version: provided.version })) continue;
      for (const tag of constraint.tags) tags.add(tag);
    }
  }
  return tags;
}

/** Whether `pkg` may come from its repositories given the allowed `tags` (apk-tools' `tag_ok`). */
export function tagAllowed(pkg: UPackage, tags: ReadonlySet<string>): boolean {
  return pkg.untagged || pkg.tags.some((tag) => tags.has(tag));
}

// ---- applying a choice ----

/**
 * Choose `provider` for the frame's name: lock every name it provides and record its dependencies
 * as constraints (apk-tools' `select_package`, with `assign_name` and `apply_constraint`).
 */
export function apply(state: SearchState, frame: Frame, provider: Provider): void {
  const { pkg } = provider;
  const level = frame.level;
  frame.chosen = provider;
  state.selected.push(pkg);
  state.applied.push(pkg);
  state.selectedAt.set(pkg, frame);
  const tags = allowedTagsFor(state, pkg, frame.pending.inherited ?? []);
  const tagList = [...tags];
  state.allowed.set(pkg, tagList);
  state.trail.push(() => {
    state.selected.pop();
    state.selectedAt.delete(pkg);
    state.allowed.delete(pkg);
  });
  for (const provided of namesOf(pkg))
    lockName(state, provided.name, { pkg, version: provided.version }, level);
  pkg.deps.forEach((dep, index) => {
    addConstraint(state, dep.name, {
      dep,
      token: pkg.entry.depends[index] ?? dep.name,
      from: pkg,
      level,
      tags: dep.tag === undefined || tags.has(dep.tag) ? tagList : [...tagList, dep.tag],
    });
  });
}
