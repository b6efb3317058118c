/**
 * Package and recipe linters (melange.md §8): the API the build and the `lint` command use.
 */
export { lintPackageTree, lintFailure, resolveLevels, checkLinterNames } from './run.ts';
export type { LintSelection, LintTreeOptions } from './run.ts';
export { lintTargetOf, lintTargetFromEmbedded } from './facts.ts';
export { lintApk, lintApkFile } from './apk.ts';
export type { LintApkOptions } from './apk.ts';
export { lintRecipeFile, CONFIG_LINTERS, CONFIG_LINTER_NAMES } from './config.ts';
export type { LintRecipeOptions, ConfigLinter } from './config.ts';
export { LINTERS, linterByName, defaultRequiredLinters, defaultWarnLinters } from './linters.ts';
export { persistLintResults, formatLintResult, formatFinding, toMelangeResult } from './results.ts';
export type { LintFile, LintFinding, LintLevel, LintPackage, PackageLintResult } from './types.ts';
