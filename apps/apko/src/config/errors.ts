import { TkError, type TkErrorOptions } from '@tk/core';

/** Stable error codes of the apko configuration loader. Tests assert on these, never on message text. */
export type ConfigErrorCode =
  /** The image configuration (or a flag that overlays it) has problems; `data.issues` lists every one. */
  | 'CONFIG_INVALID'
  /** The configuration uses a key tk accepts from apko but does not implement yet (layering, erofs, baseimage). */
  | 'CONFIG_UNSUPPORTED'
  /** The file is not well-formed YAML (or not UTF-8, or holds several documents). */
  | 'CONFIG_YAML_SYNTAX'
  /** The configuration file or one of its includes does not exist. */
  | 'CONFIG_NOT_FOUND'
  /** The configuration file could not be read (permissions, a directory instead of a file). */
  | 'CONFIG_READ_FAILED'
  /** A configuration file is larger than the limit (1 MiB), nests too deeply or expands to too many nodes. */
  | 'CONFIG_TOO_LARGE'
  /** `include:` files include each other in a cycle. */
  | 'CONFIG_INCLUDE_CYCLE'
  /** `include:` chains are nested deeper than the limit (16). */
  | 'CONFIG_INCLUDE_TOO_DEEP'
  /** An architecture name is not one apko knows (OCI or apk spelling). */
  | 'CONFIG_UNKNOWN_ARCH'
  /** No architecture was given by `--arch`, by `archs:` or as the host architecture. */
  | 'CONFIG_NO_ARCHS';

/**
 * One problem found in a configuration. `line`/`column` are 1-based; both are 0 when the problem is not
 * tied to a place in a file (a command-line flag).
 */
export interface ConfigIssue {
  /** Dotted path of the offending value, e.g. `accounts.users[0].uid` (`''` for the whole document). */
  path: string;
  /** What is wrong, with the offending value. */
  message: string;
  /** The file (as given to the loader) or `<command line>`. */
  file: string;
  line: number;
  column: number;
  /** What the user can do about it, when there is something specific to say. */
  hint?: string;
  /** `CONFIG_INVALID`, `CONFIG_UNSUPPORTED` or `CONFIG_YAML_SYNTAX`. */
  code: ConfigErrorCode;
}

/** An error from loading or validating an apko image configuration. */
export class ConfigError extends TkError<ConfigErrorCode> {
  constructor(code: ConfigErrorCode, message: string, options?: TkErrorOptions) {
    super(code, message, options);
  }
}

/**
 * Render one issue as `file:line:column: path: message (hint: …)`, the form every config error uses.
 *
 * @param issue - the issue
 * @returns one line of text
 */
export function formatConfigIssue(issue: ConfigIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.column}: ` : `${issue.file}: `;
  const path = issue.path === '' ? '' : `${issue.path}: `;
  const hint = issue.hint === undefined ? '' : ` (hint: ${issue.hint})`;
  return `${where}${path}${issue.message}${hint}`;
}

/**
 * Throw one {@link ConfigError} listing every issue, one per line. The code is the issues' common code
 * (`CONFIG_UNSUPPORTED` when every issue is about an unsupported key), `CONFIG_INVALID` otherwise.
 *
 * @param issues - at least one issue
 * @param subject - what was being checked, for the first line (`apko.yaml`)
 * @throws {ConfigError} always
 */
export function throwIssues(issues: readonly ConfigIssue[], subject: string): never {
  const sorted = sortIssues(issues);
  const first = sorted[0]?.code ?? 'CONFIG_INVALID';
  const code: ConfigErrorCode = sorted.every((i) => i.code === first) ? first : 'CONFIG_INVALID';
  const noun = sorted.length === 1 ? 'problem' : 'problems';
  const lines = sorted.map((i) => `  ${formatConfigIssue(i)}`);
  const hint =
    code === 'CONFIG_UNSUPPORTED'
      ? 'remove the listed keys: tk does not implement them yet (see docs/apko-config.md)'
      : code === 'CONFIG_YAML_SYNTAX'
        ? 'fix the YAML at the positions shown'
        : 'fix the listed problems; docs/apko-config.md describes every key';
  throw new ConfigError(
    code,
    `${subject}: ${sorted.length} ${noun} in the image configuration:\n${lines.join('\n')}`,
    {
      hint,
      data: { issues: sorted },
    },
  );
}

/**
 * Order issues by file, line and column, dropping exact duplicates.
 *
 * @param issues - issues in the order they were found
 * @returns a new, sorted array
 */
export function sortIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const key = `${issue.file}\0${issue.line}\0${issue.column}\0${issue.path}\0${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(issue);
  }
  // Files keep the order they were first reported in (the root config before its includes); within a
  // file, issues go by position. The sort is stable: issues at one place keep the order they were found.
  const rank = new Map<string, number>();
  for (const issue of out) if (!rank.has(issue.file)) rank.set(issue.file, rank.size);
  return out.sort(
    (a, b) => (rank.get(a.file) ?? 0) - (rank.get(b.file) ?? 0) || a.line - b.line || a.column - b.column,
  );
}
