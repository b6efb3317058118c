/**
 * Shapes shared by the linters (melange.md §8; melange `pkg/linter/types/types.go`). The JSON field names of
 * the details keep melange's spelling, so that persisted results read the same as melange's.
 */
import type { TarEntryType } from '@tk/tar';

/** How a linter's failure is treated: `require` fails the lint, `warn` only reports, `off` does not run. */
export type LintLevel = 'require' | 'warn' | 'off';

/**
 * One entry of a package tree: the walked output folder (`ApkInputFile`) or an apk's data section (`ApkFile`)
 * both fit this shape.
 */
export interface LintFile {
  /** Relative path without a leading `./` or trailing `/` (`usr/bin/hello`). */
  path: string;
  type: TarEntryType;
  /** Permission bits, setuid/setgid/sticky included (file-type bits, if present, are ignored). */
  mode?: number;
  /** Symlink target or hard-link source. */
  linkname?: string;
  /** Content of a regular file. */
  data?: Uint8Array;
}

/** What the linters know of the package besides its files (from the recipe or the embedded `.melange.yaml`). */
export interface LintPackage {
  /** The package name (`zstd-dev`). */
  name: string;
  /** `name-version-rEPOCH`, for results (default: the name). */
  fullName?: string;
  /**
   * `uses:` of the package's own test pipeline (at any depth), for `pkgconf` and `lddcheck`. `undefined` when
   * no recipe is known (an apk without `.melange.yaml`): those linters then say so in their message.
   */
  testUses?: readonly string[];
  /** `options.no-provides`: the package is meant to be empty (the `empty` linter skips it). */
  noProvides?: boolean;
  /** `checks.disabled` lowers these from require to warn; `checks.enabled` runs these at least at warn. */
  checks?: { disabled?: readonly string[]; enabled?: readonly string[] };
}

/** One linter failure. */
export interface LintFinding {
  /** Linter name (`usrmerge`, `python/docs`, `config/license`). */
  linter: string;
  /** The level it ran at (`require` findings fail the lint). */
  level: 'require' | 'warn';
  /** First line of the linter's message (melange's summary). */
  message: string;
  /** Further lines of the message (itemised paths), if any. */
  lines?: string[];
  /** What to do about it. */
  explain?: string;
  /** Structured details, with melange's JSON field names. */
  details?: unknown;
}

/** The findings for one package (or one recipe). */
export interface PackageLintResult {
  /** Package name (or the recipe's package name). */
  package: string;
  /** `name-version-rEPOCH` when known. */
  fullName: string;
  /** apk arch, when linting an apk. */
  arch?: string;
  /** The file that was linted (apk or recipe), when linting files. */
  file?: string;
  findings: LintFinding[];
  /** Names of the require-level linters that failed. */
  failed: string[];
}

/** `details` of linters that list paths (melange `PathListDetails`). */
export interface PathListDetails {
  paths: string[];
}

/** A file with special permission bits (melange `FilePermissionInfo`). */
export interface FilePermissionInfo {
  path: string;
  /** Octal mode without leading zero (`4755`). */
  mode: string;
  permissions?: string[];
}

/** One set of duplicate files (melange `DuplicateFileInfo`). */
export interface DuplicateFileInfo {
  basename: string;
  count: number;
  size_bytes: number;
  size: string;
  wasted_bytes: number;
  wasted_size: string;
  paths: string[];
}
