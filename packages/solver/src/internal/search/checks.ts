/**
 * Whether a candidate can be chosen: apk-tools rules packages out as it propagates
 * (`disqualify_package` from `apply_constraint`, `assign_name` and `reconsider_name`); here the same
 * rules are checked when a candidate comes up, each rejection naming the decision levels behind it.
 */
import type { Dependency } from '@tk/apk';
import { satisfiedBy } from '../order.ts';
import {
  ensureParsed,
  isAutoSelectable,
  namesOf,
  providedName,
  providersOf,
  type Provider,
  type UPackage,
  nameInfoOf,
} from '../universe.ts';
import { MAX_SUB_REASONS, packageLabel, quote, sourceLabel } from './explain.ts';
import {
  allowedTagsFor,
  hasPositiveConstraint,
  requirerLevels,
  tagAllowed,
  unionInto,
  type Frame,
  type SearchState,
  type Verdict,
} from './state.ts';

/**
 * Can `pkg` be installed next to what is locked and required (ignoring its own dependencies)?
 * Returns the first reason it cannot, or undefined. apk-tools: the `disqualify_package` calls of
 * `apply_constraint` ("conflicting dependency") and `assign_name` ("conflicting provides"), and `tag_ok`.
 *
 * @param state - the search state
 * @param pkg - the candidate
 * @param inherited - tags inherited from install_if triggers
 * @returns why it cannot be installed, or undefined
 */
export function checkProvider(
  state: SearchState,
  pkg: UPackage,
  inherited: readonly string[],
): Verdict | undefined {
  ensureParsed(pkg);
  if (pkg.broken !== undefined)
    return {
      reason: pkg.broken,
      category: pkg.brokenByConflict === true ? 'conflict' : 'other',
      culprits: [],
    };
  for (const provided of namesOf(pkg)) {
    const lock = state.locks.get(provided.name);
    if (lock !== undefined && !lock.providers.some((provider) => provider.pkg === pkg)) {
      const shared =
        provided.version === undefined && lock.providers.every((provider) => provider.version === undefined);
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
    for (const constraint of state.constraints.get(provided.name) ?? []) {
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
    const tags = allowedTagsFor(state, pkg, inherited);
    if (!tagAllowed(pkg, tags)) {
      // Ruled out by an absence (no requirer carries the tag): blame the requirers.
      const culprits = requirerLevels(state, pkg);
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
}

/**
 * Can dependency `dep` of `pkg` (about to be chosen, allowed `tags`) still be satisfied? One level
 * of look-ahead: apk-tools' `dependency_satisfiable` ("dependency no longer satisfiable").
 *
 * @param state - the search state
 * @param pkg - the candidate
 * @param dep - one of its dependencies
 * @param token - the dependency as written in the index
 * @param tags - the tags `pkg` may come from
 * @returns why it cannot be satisfied, or undefined
 */
export function checkDependency(
  state: SearchState,
  pkg: UPackage,
  dep: Dependency,
  token: string,
  tags: ReadonlySet<string>,
): Verdict | undefined {
  const own = providedName(pkg, dep.name);
  if (own !== undefined) {
    if (satisfiedBy(dep, { pkg, version: own.version })) return undefined;
    return {
      reason: `it depends on ${token} but provides ${dep.name} itself${own.version === undefined ? ' virtually' : ` at ${own.version}`}`,
      category: dep.conflict ? 'conflict' : 'other',
      culprits: [],
    };
  }
  const lock = state.locks.get(dep.name);
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
  const info = nameInfoOf(state.universe, dep.name);
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
    const rejection = checkProvider(state, provider.pkg, inherited);
    if (rejection === undefined) return undefined;
    unionInto(culprits, rejection.culprits);
    // The tags a dependency may come from are inherited from this package's own requirers.
    if (rejection.byTag === true) unionInto(culprits, requirerLevels(state, pkg));
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
}

/**
 * Whether the frame may choose `provider`: not broken, auto-selectable or required itself
 * (apk-tools' `is_provider_auto_selectable`), installable, and every dependency still satisfiable.
 *
 * @param state - the search state
 * @param frame - the decision being made
 * @param provider - the candidate
 * @returns why it cannot be chosen, or undefined
 */
export function evaluate(state: SearchState, frame: Frame, provider: Provider): Verdict | undefined {
  const { pkg } = provider;
  ensureParsed(pkg);
  if (pkg.broken !== undefined)
    return {
      reason: pkg.broken,
      category: pkg.brokenByConflict === true ? 'conflict' : 'other',
      culprits: [],
    };
  if (!isAutoSelectable(provider) && !hasPositiveConstraint(state, pkg.entry.name)) {
    return {
      reason: `it provides ${frame.name} only virtually and has no provider_priority, so it is never picked on its own (name it explicitly)`,
      category: 'virtual',
      culprits: [],
    };
  }
  const inherited = frame.pending.inherited ?? [];
  const rejection = checkProvider(state, pkg, inherited);
  if (rejection !== undefined) return rejection;
  const tags = allowedTagsFor(state, pkg, inherited);
  for (let index = 0; index < pkg.deps.length; index++) {
    const dep = pkg.deps[index]!;
    const problem = checkDependency(state, pkg, dep, pkg.entry.depends[index] ?? dep.name, tags);
    if (problem !== undefined) return problem;
  }
  return undefined;
}
