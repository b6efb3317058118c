/**
 * The install order of a solution, as apk-tools 2.14 generates its changeset (`generate_changeset`
 * in `src/solver.c`): walk the world in sorted order; for each name, first walk the chosen package's
 * `D:` names in order, then emit the package; right after emitting a package, emit (with their own
 * dependencies first) the `install_if` packages whose every trigger has now been walked. Names are
 * marked as walked before their dependencies are, so a cycle is cut where the walk re-enters it.
 *
 * The walk is iterative (an explicit stack), so a 10,000-deep dependency chain cannot overflow the
 * call stack.
 */
import { isDependencySatisfied, type Dependency } from '@tk/apk';
import {
  namesOf,
  reverseInstallIf,
  type Provider,
  type UPackage,
  type Universe,
  nameInfoOf,
} from './universe.ts';

/**
 * Whether the provider chosen for a name (or none) satisfies a dependency on it, as apk-tools'
 * `apk_dep_is_provided`: with no provider only a conflict is satisfied.
 *
 * @param dep - the dependency
 * @param provider - the chosen provider of `dep.name`, if any
 * @returns true when satisfied
 */
export function satisfiedBy(dep: Dependency, provider: Provider | undefined): boolean {
  if (provider === undefined) return dep.conflict;
  return isDependencySatisfied(dep, { version: provider.version, checksum: provider.pkg.entry.checksum });
}

type Frame =
  | { kind: 'deps'; pkg: UPackage; next: number }
  | { kind: 'iif'; pkg: UPackage; nameIndex: number; userIndex: number };

/**
 * Order the chosen packages for installation.
 *
 * @param universe - the universe the packages come from
 * @param world - the world dependencies, already in apk-tools' sorted order
 * @param chosen - the provider chosen for a name, if any
 * @param selected - every selected package (those the walk does not reach are walked last, by id)
 * @returns the packages in install order
 */
export function installOrder(
  universe: Universe,
  world: readonly Dependency[],
  chosen: (name: string) => Provider | undefined,
  selected: readonly UPackage[],
): UPackage[] {
  const walkedNames = new Set<string>();
  const walkedPackages = new Set<UPackage>();
  const out: UPackage[] = [];
  const stack: Frame[] = [];

  const walkName = (name: string): void => {
    if (walkedNames.has(name)) return;
    walkedNames.add(name);
    const pkg = chosen(name)?.pkg;
    if (pkg === undefined || walkedPackages.has(pkg)) return;
    walkedPackages.add(pkg);
    for (const provided of namesOf(pkg)) walkedNames.add(provided.name);
    stack.push({ kind: 'deps', pkg, next: 0 });
  };

  /** apk-tools' `cset_check_install_by_iif`: is the install_if package chosen for `name` due now? */
  const iifDue = (name: string): boolean => {
    if (walkedNames.has(name)) return false;
    const pkg = chosen(name)?.pkg;
    if (pkg === undefined) return false;
    // As in apk-tools, a chosen package without install_if passes vacuously: the name is in the
    // reverse install_if list because another provider of it has one.
    return pkg.installIf.every((dep) => walkedNames.has(dep.name) && satisfiedBy(dep, chosen(dep.name)));
  };

  const run = (): void => {
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      if (frame.kind === 'deps') {
        const dep = frame.pkg.deps[frame.next];
        if (dep !== undefined) {
          frame.next++;
          walkName(dep.name);
          continue;
        }
        out.push(frame.pkg);
        stack[stack.length - 1] = { kind: 'iif', pkg: frame.pkg, nameIndex: 0, userIndex: 0 };
        continue;
      }
      const provided = namesOf(frame.pkg)[frame.nameIndex];
      if (provided === undefined) {
        stack.pop();
        continue;
      }
      const info = nameInfoOf(universe, provided.name);
      const names = info === undefined ? [] : reverseInstallIf(universe, info);
      const name = names[frame.userIndex];
      if (name === undefined) {
        frame.nameIndex++;
        frame.userIndex = 0;
        continue;
      }
      frame.userIndex++;
      if (iifDue(name)) walkName(name);
    }
  };

  for (const dep of world) {
    walkName(dep.name);
    run();
  }
  for (const pkg of [...selected].sort((a, b) => a.id - b.id)) {
    if (walkedPackages.has(pkg)) continue;
    walkedPackages.add(pkg);
    for (const provided of namesOf(pkg)) walkedNames.add(provided.name);
    stack.push({ kind: 'deps', pkg, next: 0 });
    run();
  }
  return out;
}
