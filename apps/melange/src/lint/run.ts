/**
 * Running the package linters on one package tree, at the levels the flags and the package's `checks:` give
 * (melange `pkg/linter/fs.go`, and the level logic of `pkg/build/build.go`):
 *
 * - `require` defaults to melange's required linters, `warn` to its warning ones (`--lint-require` and
 *   `--lint-warn` replace those lists); a linter in both runs once, as required;
 * - `disable` (tk's `--disable`) turns linters off whatever the lists say;
 * - the package's `checks.disabled` lowers required linters to warn (melange also turns on, at warn, linters
 *   that were off; tk does not: "disabled" never enables); `checks.enabled` runs off linters at warn.
 *
 * Warn linters run first, then required ones, each list in its order (as melange).
 */
import { silentLogger, type Logger } from '@tk/core';
import { MelangeError } from '../errors.ts';
import { defaultRequiredLinters, defaultWarnLinters, linterByName, LINTERS } from './linters.ts';
import { toLintEntries } from './tree.ts';
import type { LintFile, LintFinding, LintPackage, PackageLintResult } from './types.ts';

/** Which linters run, at which level. */
export interface LintSelection {
  /** Linters that fail the lint (default: melange's required set). */
  require?: readonly string[];
  /** Linters that only warn (default: melange's warning set). */
  warn?: readonly string[];
  /** Linters not to run at all. */
  disable?: readonly string[];
}

/** Options of {@link lintPackageTree}. */
export interface LintTreeOptions extends LintSelection {
  /** Receives a warning for unknown names in the package's `checks:`. */
  logger?: Logger;
}

/**
 * Check linter names given by the user.
 *
 * @param selection - the lists to check
 * @param extra - further known names (the recipe-level `config/*` checks)
 * @throws {MelangeError} MELANGE_LINT_UNKNOWN_LINTER naming every unknown name
 */
export function checkLinterNames(selection: LintSelection, extra: readonly string[] = []): void {
  const unknown: string[] = [];
  for (const [flag, names] of [
    ['--lint-require', selection.require],
    ['--lint-warn', selection.warn],
    ['--disable', selection.disable],
  ] as const) {
    for (const name of names ?? []) {
      if (linterByName(name) === undefined && !extra.includes(name)) unknown.push(`${flag} ${name}`);
    }
  }
  if (unknown.length > 0) {
    throw new MelangeError('MELANGE_LINT_UNKNOWN_LINTER', `unknown linter: ${unknown.join(', ')}`, {
      hint: `linters: ${[...LINTERS.map((l) => l.name), ...extra].join(', ')}`,
      data: { unknown },
    });
  }
}

/**
 * The level each linter runs at for one package, in running order (warn first, then require).
 *
 * @param selection - the flag lists
 * @param checks - the package's `checks:`
 * @returns linter name → level, for the linters that run
 */
export function resolveLevels(
  selection: LintSelection,
  checks: LintPackage['checks'] = {},
): Map<string, 'require' | 'warn'> {
  const disabled = new Set(selection.disable ?? []);
  const lowered = new Set(checks.disabled ?? []);
  const require = (selection.require ?? defaultRequiredLinters()).filter(
    (n) => !disabled.has(n) && !lowered.has(n),
  );
  const requireSet = new Set(require);
  const warn = [
    ...(selection.warn ?? defaultWarnLinters()),
    ...(selection.require ?? defaultRequiredLinters()).filter((n) => lowered.has(n)),
    ...(checks.enabled ?? []),
  ].filter((n) => !disabled.has(n) && !requireSet.has(n));
  const out = new Map<string, 'require' | 'warn'>();
  for (const n of warn) if (!out.has(n)) out.set(n, 'warn');
  for (const n of require) out.set(n, 'require');
  return out;
}

/**
 * Run the package linters on one package's files.
 *
 * @param files - the package tree: `walkPackageDir` output or an apk's data entries
 * @param pkg - the package name and what the recipe says about it (tests, no-provides, checks)
 * @param options - which linters run at which level; a logger
 * @returns every finding; `failed` lists the required linters that failed (the caller decides to stop)
 * @throws {MelangeError} MELANGE_LINT_UNKNOWN_LINTER for unknown names in `require`, `warn` or `disable`
 * @example
 * const result = lintPackageTree(await walkPackageDir(dir), { name: 'hello', testUses: [] });
 * if (result.failed.length > 0) throw lintFailure([result]);
 */
export function lintPackageTree(
  files: readonly LintFile[],
  pkg: LintPackage,
  options: LintTreeOptions = {},
): PackageLintResult {
  checkLinterNames(options);
  const logger = options.logger ?? silentLogger;
  for (const name of [...(pkg.checks?.disabled ?? []), ...(pkg.checks?.enabled ?? [])]) {
    if (linterByName(name) === undefined)
      logger.warn(
        `${pkg.name}: checks: names an unknown linter "${name}" (ignored)`,
        'MELANGE_LINT_UNKNOWN_CHECK',
      );
  }
  const entries = toLintEntries(files);
  const findings: LintFinding[] = [];
  for (const [name, level] of resolveLevels(options, pkg.checks)) {
    const linter = linterByName(name);
    if (linter === undefined) continue;
    const failure = linter.run({ pkg, entries });
    if (failure === undefined) continue;
    const [first = '', ...rest] = failure.message.split('\n');
    findings.push({
      linter: name,
      level,
      message: first,
      ...(rest.filter((l) => l !== '').length > 0 ? { lines: rest.filter((l) => l !== '') } : {}),
      explain: linter.explain,
      ...(failure.details === undefined ? {} : { details: failure.details }),
    });
  }
  return {
    package: pkg.name,
    fullName: pkg.fullName ?? pkg.name,
    findings,
    failed: findings.filter((f) => f.level === 'require').map((f) => f.linter),
  };
}

/**
 * The error for results with required failures, or undefined when every required linter passed.
 *
 * @param results - lint results
 * @returns a MELANGE_LINT_FAILED error listing the failed linters per package, with `data.results`
 */
export function lintFailure(results: readonly PackageLintResult[]): MelangeError | undefined {
  const failed = results.filter((r) => r.failed.length > 0);
  if (failed.length === 0) return undefined;
  const list = failed.map((r) => `${r.fullName}: ${r.failed.join(', ')}`).join('; ');
  return new MelangeError('MELANGE_LINT_FAILED', `required linters failed: ${list}`, {
    hint: 'fix the findings above; to accept one for a package, list the linter under its checks.disabled (it then only warns)',
    data: { results: failed },
  });
}
