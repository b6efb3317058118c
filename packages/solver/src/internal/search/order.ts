/**
 * Which name to decide next and in which order to try its providers: apk-tools' dequeue in
 * `apk_solver_solve` (`compare_name_dequeue`) and its `compare_providers`.
 */
import { compareProvidersStatic, isVirtualOnly, namesOf, type Provider, nameInfoOf } from '../universe.ts';
import { hasPositiveConstraint, type SearchState } from './state.ts';

/** The key of a name-version in the `prefer` and `common` sets. */
function keyOf(name: string, version: string): string {
  return `${name}\u0000${version}`;
}

/** The tags the world requires `name` with (`''` for no tag). */
function worldTagsFor(state: SearchState, name: string): Set<string> {
  const tags = new Set<string>();
  for (const constraint of state.constraints.get(name) ?? []) {
    if (constraint.from === undefined && !constraint.dep.conflict) tags.add(constraint.dep.tag ?? '');
  }
  return tags;
}

/**
 * The full candidate order for a name, best first (apk-tools' `compare_providers`). Dynamic criteria
 * first, then the static order ({@link compareProvidersStatic}):
 *
 * 1. preferred pinning: for a name the world requires with `@tag`, packages of that tagged
 *    repository; otherwise packages of untagged repositories (so dependencies prefer untagged
 *    repositories even when a tag allows another) — apk-tools' `tag_preferred`;
 * 2. for a virtual name, a provider whose own name is required anyway;
 * 3. packages in the `prefer` set (installed or locked) — apk-tools' "prefer installed";
 * 4. in a multi-arch solve, a name-version present on every arch;
 * 5. the static order: higher version of the requested name, higher package version (same
 *    package name), higher `provider_priority`, lower repository index, name, index position.
 *
 * @param state - the search state
 * @param name - the name being decided
 * @param providers - its candidates
 * @param sortedStatic - whether `providers` are already in the static order
 * @returns the candidates, best first
 */
export function candidateOrder(
  state: SearchState,
  name: string,
  providers: readonly Provider[],
  sortedStatic: boolean,
): Provider[] {
  const { prefer, common } = state;
  const worldTags = worldTagsFor(state, name);
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
    const requiredItself = pkg.entry.name !== name && hasPositiveConstraint(state, pkg.entry.name);
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
}

/**
 * The next pending name to decide, by (1) auto-selectable before virtual-only names, (2) a name
 * with a single provider whose potential requirers are all decided (apk-tools' "fast select"),
 * (3) any name whose potential requirers are all decided, (4) the name pending longest.
 * apk-tools: the dequeue loop of `apk_solver_solve` with `compare_name_dequeue`.
 *
 * @param state - the search state
 * @returns the name, or undefined when nothing is pending
 */
export function pickNext(state: SearchState): string | undefined {
  const { pending, blockers, universe } = state;
  let best: string | undefined;
  let bestKey = Number.POSITIVE_INFINITY;
  // apk-tools decides a required virtual-only name as soon as one of its providers is triggered by
  // install_if, before the triggered package itself, and so refuses it (`provides14`): a trigger
  // does not stand in for naming a provider. One pass collects both sides.
  let virtualNames: string[] | undefined;
  let triggered: Provider[][] | undefined;
  for (const [name, entry] of pending) {
    if (entry.kind === 'iif') (triggered ??= []).push(entry.triggered ?? []);
    const info = nameInfoOf(universe, name);
    const virtualOnly = entry.kind === 'require' && info !== undefined && isVirtualOnly(info);
    if (virtualOnly) (virtualNames ??= []).push(name);
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
  if (virtualNames !== undefined && triggered !== undefined) {
    const provided = new Set<string>();
    for (const providers of triggered) {
      for (const provider of providers) for (const item of namesOf(provider.pkg)) provided.add(item.name);
    }
    const first = virtualNames.find((name) => provided.has(name));
    if (first !== undefined) return first;
  }
  return best;
}
