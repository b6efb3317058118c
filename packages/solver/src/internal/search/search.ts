/**
 * The main loop and backtracking: apk-tools' loop in `apk_solver_solve` (dequeue a name, `select_package`,
 * propagate) with a trail, so that a dead end jumps back to the latest decision that caused it instead
 * of ending the solve.
 */
import { SolverError } from '../../errors.ts';
import { staticOrder, type Provider, nameInfoOf } from '../universe.ts';
import { evaluate } from './checks.ts';
import { categoryOf, chainLinkFor, errorOf, failureOf, quote } from './explain.ts';
import { iifUsersOf, triggerInstallIf } from './install-if.ts';
import { candidateOrder, pickNext } from './order.ts';
import {
  addConstraint,
  apply,
  createState,
  decline,
  removePending,
  undo,
  unionInto,
  type Frame,
  type SearchOptions,
  type SearchState,
} from './state.ts';
import type { UPackage } from '../universe.ts';

/** What {@link runSearch} returns. */
export interface SearchResult {
  readonly selected: readonly UPackage[];
  readonly chosen: (name: string) => Provider | undefined;
  readonly allowedTags: (pkg: UPackage) => readonly string[];
  readonly steps: number;
  readonly backtracks: number;
}

/** Record the world's tokens as level-0 constraints (apk-tools: `apply_constraint` over the world). */
function addWorld(state: SearchState, world: SearchOptions['world']): void {
  for (const { dep, token } of world) {
    addConstraint(state, dep.name, {
      dep,
      token,
      from: undefined,
      level: 0,
      tags: dep.tag === undefined ? [] : [dep.tag],
    });
  }
}

/**
 * Open a decision for pending `name`: order its candidates and consume its pending entry.
 *
 * @param state - the search state
 * @param name - the name picked by `pickNext`
 * @returns the new frame, already pushed
 */
function openFrame(state: SearchState, name: string): Frame {
  const entry = state.pending.get(name)!;
  const info = nameInfoOf(state.universe, name);
  const order =
    entry.kind === 'iif'
      ? candidateOrder(state, name, entry.triggered ?? [], false)
      : candidateOrder(state, name, info === undefined ? [] : staticOrder(info), true);
  // The frame consumes the pending entry; undoing to baseMark makes the name pending again.
  const chain = chainLinkFor(state, name, entry);
  const requiredAs = (state.constraints.get(name) ?? [])
    .filter((constraint) => !constraint.dep.conflict)
    .map((constraint) => constraint.token);
  const baseMark = state.trail.length;
  removePending(state, name);
  const frame: Frame = {
    chain,
    requiredAs,
    level: state.frames.length + 1,
    name,
    pending: entry,
    order,
    next: 0,
    baseMark,
    trailMark: state.trail.length,
    conflict: new Set(),
    rejections: [],
    chosen: undefined,
  };
  state.frames.push(frame);
  return frame;
}

/**
 * Try the frame's remaining candidates from its initial state; true when one (or a skip) applies.
 * An install_if name none of whose packages can be installed is skipped (declined), not a failure.
 *
 * @param state - the search state
 * @param frame - the decision to advance
 * @returns false when the frame ran out of candidates
 * @throws {SolverError} `SOLVER_TOO_COMPLEX` when the step budget runs out
 */
function advance(state: SearchState, frame: Frame): boolean {
  undo(state, frame.trailMark);
  frame.chosen = undefined;
  while (frame.next < frame.order.length) {
    const provider = frame.order[frame.next++]!;
    state.steps++;
    if (state.steps > state.maxSteps) {
      const { arch, maxSteps, steps, backtracks } = state;
      throw new SolverError(
        'SOLVER_TOO_COMPLEX',
        `${arch}: gave up after ${maxSteps} candidate evaluations (${backtracks} backtracks) while choosing a provider of ${quote(frame.name)}`,
        {
          hint: 'pin versions in the world (name=version) to narrow the search, or raise maxSteps',
          data: { arch, name: frame.name, steps, backtracks },
        },
      );
    }
    const rejection = evaluate(state, frame, provider);
    if (rejection !== undefined) {
      frame.rejections.push({ provider, ...rejection });
      unionInto(frame.conflict, rejection.culprits);
      continue;
    }
    apply(state, frame, provider);
    return true;
  }
  if (frame.pending.kind === 'iif') {
    decline(state, frame.name);
    return true;
  }
  return false;
}

/**
 * Dead end: jump back to the latest decision that contributed to it, merging conflict sets, until a
 * decision has another candidate that applies (conflict-directed backjumping; apk-tools has none).
 *
 * @param state - the search state
 * @param frame - the frame that ran out of candidates
 * @throws {SolverError} when the dead end is caused by the world alone
 */
function backjump(state: SearchState, frame: Frame): void {
  const { frames } = state;
  let failed: Frame = frame;
  for (;;) {
    undo(state, failed.trailMark);
    const conflict = new Set(failed.conflict);
    for (const constraint of state.constraints.get(failed.name) ?? []) {
      if (!constraint.dep.conflict) conflict.add(constraint.level);
    }
    conflict.delete(failed.level);
    conflict.delete(0);
    let target = 0;
    for (const level of conflict) if (level > target) target = level;
    const failure = failureOf(failed);
    if (target === 0) throw errorOf(state, failure);
    state.backtracks++;
    while (frames.length > target) undo(state, frames.pop()!.baseMark);
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
    state.logger.debug(
      `solver ${state.arch}: dead end at ${failed.name}, back to ${back.name} (level ${target})`,
    );
    if (advance(state, back)) return;
    failed = back;
  }
}

/**
 * Run the search.
 *
 * @param options - universe, world and preferences
 * @returns the chosen packages and lookups over the final state
 * @throws {SolverError} when no solution exists or the budget runs out
 */
export function runSearch(options: SearchOptions): SearchResult {
  const state = createState(options);
  addWorld(state, options.world);
  for (;;) {
    // The package chosen last may complete some install_if conditions.
    if (state.applied.length > 0) triggerInstallIf(state, iifUsersOf(state, state.applied.splice(0)));
    const name = pickNext(state);
    if (name === undefined) {
      if (triggerInstallIf(state, iifUsersOf(state, state.selected))) continue;
      break;
    }
    const frame = openFrame(state, name);
    if (advance(state, frame)) continue;
    backjump(state, frame);
  }

  const { selected, locks, allowed, steps, backtracks } = state;
  state.logger.debug(
    `solver ${state.arch}: ${selected.length} packages, ${steps} steps, ${backtracks} backtracks`,
  );
  const chosen = (name: string): Provider | undefined => locks.get(name)?.providers[0];
  return {
    selected: [...selected],
    chosen,
    allowedTags: (pkg) => allowed.get(pkg) ?? [],
    steps,
    backtracks,
  };
}
