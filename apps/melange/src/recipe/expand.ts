/**
 * Recipe-level expansion before pipelines are compiled (melange.md §1.3, §1.5, §1.7, §3.2):
 * `--vars-file` and `--build-option` merged into `vars` and the build packages, `range` subpackages cloned per
 * item of their `data` table (sorted keys), and the substitution of variables into package fields,
 * dependencies, scriptlets and environments.
 *
 * Differences from melange, on purpose:
 * - A range clone gets `${{range.key}}`/`${{range.value}}` in **every** field, `setcap` included (melange #603
 *   copies only some fields, and drops `setcap`).
 * - Build options are applied before anything is substituted, so their `vars` are visible everywhere
 *   (melange applies them after its parse-time pass). An unknown `--build-option` is an error (melange
 *   ignores it silently).
 * - A `--vars-file` works without a `vars:` block (melange copies into a nil map).
 * - `vars` values are literals: a `${{…}}` inside a var's value is not resolved (melange resolves it against
 *   an empty map, which fails or depends on map order).
 */
import type { ImageConfig } from '@tk/apko';
import { MelangeError } from '../errors.ts';
import type { Dependencies, PackageMeta, Recipe, Scriptlets, Setcap, Subpackage } from './types.ts';
import { PACKAGE_NAME_PATTERN } from './schema.ts';
import { substitute, type VariableLookup } from './subst.ts';

/** `vars` and build packages after `--vars-file` and `--build-option`s. */
export interface MergedOptions {
  /** `vars` ⊕ vars-file ⊕ each enabled option's `vars`, in that order (later wins). */
  vars: Record<string, string>;
  /** `environment.contents.packages` with each option's `add` appended and `remove` taken out. */
  packages: string[];
  /** Enabled options, deduplicated, in the order given. */
  enabled: string[];
}

function packageNameOf(entry: string): string {
  return (entry.split(/[=<>~]/)[0] ?? '').split('@')[0] ?? '';
}

/**
 * Remove packages from a list: an entry goes when it equals a `remove` item, or when the item is a bare
 * name (no constraint) and the entry names that package (`foo` removes `foo>=1.2`).
 *
 * @param list - package entries
 * @param remove - entries or names to remove
 * @returns a new list, order kept
 */
export function removePackages(list: readonly string[], remove: readonly string[]): string[] {
  return list.filter(
    (entry) => !remove.some((r) => r === entry || (packageNameOf(r) === r && packageNameOf(entry) === r)),
  );
}

/**
 * Merge the vars file and the enabled build options into `vars` and the build package list.
 *
 * @param recipe - the recipe
 * @param varsFile - `--vars-file` values (merged over `vars`)
 * @param buildOptions - `--build-option` names, in order
 * @returns vars, packages and the enabled option names
 * @throws {MelangeError} MELANGE_UNKNOWN_BUILD_OPTION for a name the recipe does not declare
 */
export function mergeOptions(
  recipe: Recipe,
  varsFile: Readonly<Record<string, string>> = {},
  buildOptions: readonly string[] = [],
): MergedOptions {
  const vars: Record<string, string> = { ...recipe.vars, ...varsFile };
  let packages = [...recipe.environment.contents.packages];
  const enabled = [...new Set(buildOptions)];
  for (const name of enabled) {
    const option = Object.hasOwn(recipe.options, name) ? recipe.options[name] : undefined;
    if (option === undefined) {
      const known = Object.keys(recipe.options).sort();
      throw new MelangeError(
        'MELANGE_UNKNOWN_BUILD_OPTION',
        `build option "${name}" is not declared in the recipe's options`,
        {
          hint:
            known.length > 0
              ? `declared options: ${known.join(', ')}`
              : 'the recipe declares no options: drop --build-option',
          data: { option: name, known },
        },
      );
    }
    Object.assign(vars, option.vars);
    packages = removePackages(
      [...packages, ...option.environment.contents.packages.add],
      option.environment.contents.packages.remove,
    );
  }
  return { vars, packages, enabled };
}

/** Compare strings by UTF-8 bytes (Go's `sort.Strings`), which is code point order. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** One subpackage after range expansion (fields not yet substituted). */
export interface ExpandedSubpackage {
  subpackage: Subpackage;
  /** The `range` item this clone stands for. */
  range?: { key: string; value: string };
  /** Index in the recipe's `subpackages`. */
  index: number;
}

/**
 * Clone each `range` subpackage once per item of its `data` table, in sorted key order.
 *
 * @param recipe - the recipe
 * @param where - prefix for messages (the recipe file)
 * @returns subpackages in recipe order, ranges expanded
 * @throws {MelangeError} MELANGE_UNKNOWN_RANGE when a `range` names no `data` table
 */
export function expandRanges(recipe: Recipe, where: string): ExpandedSubpackage[] {
  const tables = new Map(recipe.data.map((d) => [d.name, d.items]));
  const out: ExpandedSubpackage[] = [];
  recipe.subpackages.forEach((sub, index) => {
    if (sub.range === undefined) {
      out.push({ subpackage: sub, index });
      return;
    }
    const items = tables.get(sub.range);
    if (items === undefined) {
      throw new MelangeError(
        'MELANGE_UNKNOWN_RANGE',
        `${where}subpackages[${index}] (${sub.name}): range "${sub.range}" names no data table`,
        {
          hint:
            recipe.data.length > 0
              ? `data tables: ${recipe.data.map((d) => d.name).join(', ')}`
              : 'add a data: table with that name',
          data: { range: sub.range, index },
        },
      );
    }
    for (const key of Object.keys(items).sort(compareUtf8)) {
      out.push({ subpackage: sub, range: { key, value: items[key] ?? '' }, index });
    }
  });
  return out;
}

function list(values: readonly string[], lookup: VariableLookup, where: string): string[] {
  return values.map((v, i) => substitute(v, lookup, `${where}[${i}]`));
}

function opt(value: string | undefined, lookup: VariableLookup, where: string): string | undefined {
  return value === undefined ? undefined : substitute(value, lookup, where);
}

function record(
  values: Readonly<Record<string, string>>,
  lookup: VariableLookup,
  where: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) out[k] = substitute(v, lookup, `${where}.${k}`);
  return out;
}

function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Substitute variables into dependencies.
 *
 * @param deps - `dependencies`
 * @param lookup - the variables in scope
 * @param where - prefix for messages
 * @returns a new object
 * @throws {MelangeError} MELANGE_UNKNOWN_VARIABLE, MELANGE_BAD_SUBSTITUTION
 */
export function substituteDependencies(
  deps: Dependencies,
  lookup: VariableLookup,
  where: string,
): Dependencies {
  return defined({
    runtime: list(deps.runtime, lookup, `${where}.runtime`),
    provides: list(deps.provides, lookup, `${where}.provides`),
    replaces: list(deps.replaces, lookup, `${where}.replaces`),
    'provider-priority': opt(deps['provider-priority'], lookup, `${where}.provider-priority`),
    'replaces-priority': opt(deps['replaces-priority'], lookup, `${where}.replaces-priority`),
  });
}

/**
 * Substitute variables into scriptlets.
 *
 * @param s - `scriptlets`
 * @param lookup - the variables in scope
 * @param where - prefix for messages
 * @returns a new object
 * @throws {MelangeError} MELANGE_UNKNOWN_VARIABLE, MELANGE_BAD_SUBSTITUTION
 */
export function substituteScriptlets(s: Scriptlets, lookup: VariableLookup, where: string): Scriptlets {
  return defined({
    trigger:
      s.trigger === undefined
        ? undefined
        : defined({
            script: opt(s.trigger.script, lookup, `${where}.trigger.script`),
            paths: list(s.trigger.paths, lookup, `${where}.trigger.paths`),
          }),
    'pre-install': opt(s['pre-install'], lookup, `${where}.pre-install`),
    'post-install': opt(s['post-install'], lookup, `${where}.post-install`),
    'pre-deinstall': opt(s['pre-deinstall'], lookup, `${where}.pre-deinstall`),
    'post-deinstall': opt(s['post-deinstall'], lookup, `${where}.post-deinstall`),
    'pre-upgrade': opt(s['pre-upgrade'], lookup, `${where}.pre-upgrade`),
    'post-upgrade': opt(s['post-upgrade'], lookup, `${where}.post-upgrade`),
  });
}

function substituteSetcap(caps: readonly Setcap[], lookup: VariableLookup, where: string): Setcap[] {
  return caps.map((c, i) => ({
    ...c,
    path: substitute(c.path, lookup, `${where}[${i}].path`),
    add: { ...c.add },
  }));
}

function noVariables(value: string, where: string): void {
  if (value.includes('${{')) {
    throw new MelangeError(
      'MELANGE_BAD_SUBSTITUTION',
      `${where}: ${JSON.stringify(value)} may not contain variables`,
      {
        hint: 'write the package name and version literally: the other variables are derived from them',
        data: { where },
      },
    );
  }
}

/**
 * Substitute variables into the main package's fields (name and version are literal: they define
 * `package.*`).
 *
 * @param pkg - `package:`
 * @param lookup - the variables in scope (main context)
 * @param where - prefix for messages (`melange.yaml: `)
 * @param commit - the detected git commit, used when `package.commit` is absent
 * @returns a new object
 * @throws {MelangeError} MELANGE_UNKNOWN_VARIABLE, MELANGE_BAD_SUBSTITUTION
 */
export function substitutePackageMeta(
  pkg: PackageMeta,
  lookup: VariableLookup,
  where: string,
  commit?: string,
): PackageMeta {
  noVariables(pkg.name, `${where}package.name`);
  noVariables(pkg.version, `${where}package.version`);
  const p = `${where}package`;
  return defined({
    ...pkg,
    description: opt(pkg.description, lookup, `${p}.description`),
    url: opt(pkg.url, lookup, `${p}.url`),
    commit: opt(pkg.commit, lookup, `${p}.commit`) ?? commit,
    copyright: pkg.copyright.map((c, i) =>
      defined({
        ...c,
        paths: c.paths === undefined ? undefined : list(c.paths, lookup, `${p}.copyright[${i}].paths`),
        license: opt(c.license, lookup, `${p}.copyright[${i}].license`),
        'license-path': opt(c['license-path'], lookup, `${p}.copyright[${i}].license-path`),
      }),
    ),
    dependencies: substituteDependencies(pkg.dependencies, lookup, `${p}.dependencies`),
    scriptlets: substituteScriptlets(pkg.scriptlets, lookup, `${p}.scriptlets`),
    'target-architecture': list(pkg['target-architecture'], lookup, `${p}.target-architecture`),
    annotations: record(pkg.annotations, lookup, `${p}.annotations`),
    setcap: substituteSetcap(pkg.setcap, lookup, `${p}.setcap`),
    checks: { disabled: [...pkg.checks.disabled], enabled: [...pkg.checks.enabled] },
  });
}

/**
 * Substitute variables into a subpackage's own fields (not its name, pipeline, test or `if`, which the
 * compiler handles).
 *
 * @param sub - the subpackage
 * @param lookup - the variables in scope (its context, with `range.*` for a clone)
 * @param where - prefix for messages (`subpackages[2]`)
 * @param commit - the main package's commit, used when the subpackage has none
 * @returns a new object with `range` cleared
 * @throws {MelangeError} MELANGE_UNKNOWN_VARIABLE, MELANGE_BAD_SUBSTITUTION
 */
export function substituteSubpackageMeta(
  sub: Subpackage,
  lookup: VariableLookup,
  where: string,
  commit?: string,
): Subpackage {
  return defined({
    ...sub,
    range: undefined,
    description: opt(sub.description, lookup, `${where}.description`),
    url: opt(sub.url, lookup, `${where}.url`),
    commit: opt(sub.commit, lookup, `${where}.commit`) ?? commit,
    annotations: record(sub.annotations, lookup, `${where}.annotations`),
    dependencies: substituteDependencies(sub.dependencies, lookup, `${where}.dependencies`),
    scriptlets: substituteScriptlets(sub.scriptlets, lookup, `${where}.scriptlets`),
    setcap: substituteSetcap(sub.setcap, lookup, `${where}.setcap`),
    checks: { disabled: [...sub.checks.disabled], enabled: [...sub.checks.enabled] },
  });
}

/**
 * Substitute variables into the parts of an apko configuration a build uses: the `contents` lists,
 * `environment` values and `annotations` values. Other keys are copied.
 *
 * @param env - the configuration
 * @param lookup - the variables in scope
 * @param where - prefix for messages (`environment`)
 * @returns a new configuration
 * @throws {MelangeError} MELANGE_UNKNOWN_VARIABLE, MELANGE_BAD_SUBSTITUTION
 */
export function substituteImageConfig(env: ImageConfig, lookup: VariableLookup, where: string): ImageConfig {
  const c = env.contents;
  return {
    ...env,
    contents: {
      ...c,
      repositories: list(c.repositories, lookup, `${where}.contents.repositories`),
      build_repositories: list(c.build_repositories, lookup, `${where}.contents.build_repositories`),
      runtime_repositories: list(c.runtime_repositories, lookup, `${where}.contents.runtime_repositories`),
      keyring: list(c.keyring, lookup, `${where}.contents.keyring`),
      runtime_keyring: c.runtime_keyring.map((k) => ({ ...k })),
      packages: list(c.packages, lookup, `${where}.contents.packages`),
    },
    accounts: {
      ...env.accounts,
      users: env.accounts.users.map((u) => ({ ...u })),
      groups: env.accounts.groups.map((g) => ({ ...g, members: [...g.members] })),
    },
    environment: record(env.environment, lookup, `${where}.environment`),
    annotations: record(env.annotations, lookup, `${where}.annotations`),
  };
}

/**
 * Check the names of the packages of a build after expansion: each valid and unique.
 *
 * @param main - the main package name
 * @param subs - subpackage names with a label for messages
 * @throws {MelangeError} MELANGE_BAD_SUBPACKAGE
 */
export function checkPackageNames(main: string, subs: readonly { name: string; where: string }[]): void {
  const seen = new Map<string, string>([[main, 'package.name']]);
  for (const { name, where } of subs) {
    if (!PACKAGE_NAME_PATTERN.test(name)) {
      throw new MelangeError(
        'MELANGE_BAD_SUBPACKAGE',
        `${where}: subpackage name ${JSON.stringify(name)} is not a valid package name`,
        {
          hint: `package names match ${PACKAGE_NAME_PATTERN.source} (after \${{…}} substitution and range expansion)`,
          data: { name, where },
        },
      );
    }
    const before = seen.get(name);
    if (before !== undefined) {
      throw new MelangeError(
        'MELANGE_BAD_SUBPACKAGE',
        `${where}: subpackage name "${name}" is already used by ${before}`,
        {
          hint: 'give every package a distinct name; a range subpackage should put ${{range.key}} in its name',
          data: { name, where, other: before },
        },
      );
    }
    seen.set(name, where);
  }
}
