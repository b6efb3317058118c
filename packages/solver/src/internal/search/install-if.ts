/**
 * install_if triggering: the install_if part of apk-tools' `reconsider_name`, reached through
 * `reevaluate_reverse_installif` when a name is decided.
 */
import { satisfiedBy } from '../order.ts';
import { ensureParsed, namesOf, type Provider, type UPackage, nameInfoOf } from '../universe.ts';
import { addPending, unionInto, type SearchState } from './state.ts';

/**
 * The install_if packages that name one of `packages`' names among their conditions.
 *
 * @param state - the search state
 * @param packages - packages just chosen
 * @returns the install_if packages to re-evaluate
 */
export function iifUsersOf(state: SearchState, packages: Iterable<UPackage>): Set<UPackage> {
  const users = new Set<UPackage>();
  for (const pkg of packages) {
    for (const provided of namesOf(pkg)) {
      for (const user of nameInfoOf(state.universe, provided.name)?.iifUsers ?? []) users.add(user);
    }
  }
  return users;
}

/**
 * Make the install_if packages among `users` whose conditions now all hold pending, one entry per
 * name. apk-tools re-evaluates a package's install_if as soon as a name it names is decided
 * (`reconsider_name`), so a triggered package competes for the next decision at once rather than
 * after everything else is decided: its dependencies can then settle a provider choice (apk-tools'
 * `installif10`: the triggered package's dependency provides a name another package needs).
 *
 * @param state - the search state
 * @param users - install_if packages to re-evaluate
 * @returns whether any name became pending
 */
export function triggerInstallIf(state: SearchState, users: ReadonlySet<UPackage>): boolean {
  const { locks, declined, pending, allowed } = state;
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
    addPending(state, name, {
      seq: state.seq++,
      kind: 'iif',
      triggered: group.triggered,
      inherited: [...group.inherited],
    });
  }
  return groups.size > 0;
}
