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
 *
 * Where each step lives (under `search/`, each function naming its apk-tools counterpart in
 * `src/solver.c`):
 *
 * - `state.ts`: the recorded state and propagation, with the trail that undoes it: constraints
 *   (`apply_constraint`), locked names (`assign_name`), pending names (`queue_unresolved`), applying
 *   a choice (`select_package`), pinning tags (`tag_ok`);
 * - `order.ts`: the next name (`pickNext`: the dequeue in `apk_solver_solve`, `compare_name_dequeue`)
 *   and the order of its providers (`candidateOrder`: `compare_providers`);
 * - `checks.ts`: whether a candidate can be chosen (`checkProvider`, `checkDependency`, `evaluate`:
 *   `disqualify_package`, `dependency_satisfiable`);
 * - `install-if.ts`: install_if triggering (the install_if part of `reconsider_name`);
 * - `search.ts`: the main loop, trying candidates (`advance`) and backjumping from a dead end;
 * - `explain.ts`: a failure's chain, candidate reasons and error (`failureOf`, `errorOf`).
 */
export { packageLabel } from './search/explain.ts';
export { runSearch, type SearchResult } from './search/search.ts';
export type { Constraint, SearchOptions } from './search/state.ts';
