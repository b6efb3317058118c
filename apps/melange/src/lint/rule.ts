/**
 * The shape of one linter, and the helper most of them use: collect the paths that match a predicate.
 */
import type { LintEntry } from './tree.ts';
import type { LintLevel, LintPackage, PathListDetails } from './types.ts';

/** What a linter looks at. */
export interface LinterContext {
  pkg: LintPackage;
  /** The package's entries in directory-walk order. */
  entries: readonly LintEntry[];
}

/** A linter's failure: a message (first line is the summary) and optional structured details. */
export interface LinterFailure {
  message: string;
  details?: unknown;
}

/** A linter: undefined when the package passes. */
export type LinterFunc = (ctx: LinterContext) => LinterFailure | undefined;

/** A registered linter. */
export interface LinterDefinition {
  name: string;
  /** What to do about a failure (melange's `Explain`). */
  explain: string;
  /** Level when no flag or `checks:` says otherwise. */
  defaultLevel: LintLevel;
  run: LinterFunc;
}

/**
 * Fail with every path that matches, in walk order (melange `AllPaths`).
 *
 * @param ctx - the package
 * @param predicate - which entries count
 * @param message - the message for the matched paths
 * @returns the failure, or undefined when nothing matched
 */
export function allPaths(
  ctx: LinterContext,
  predicate: (entry: LintEntry) => boolean,
  message: (paths: string[]) => string,
): LinterFailure | undefined {
  const paths = ctx.entries.filter(predicate).map((e) => e.path);
  if (paths.length === 0) return undefined;
  const details: PathListDetails = { paths };
  return { message: message(paths), details };
}
