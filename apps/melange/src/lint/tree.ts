/**
 * A package tree as the linters see it: entries in directory-walk order (as Go's `fs.WalkDir` visits them),
 * with normalised modes and Go's `filepath.Ext`/`Base`/`Dir` semantics, which several rules depend on.
 */
import { comparePaths } from '@tk/apk';
import type { LintFile } from './types.ts';

/** One entry, normalised. */
export interface LintEntry {
  path: string;
  /** True for directories. */
  dir: boolean;
  /** True for regular files (hard links are not: their data is stored once, under the first name). */
  regular: boolean;
  /** True for symlinks. */
  symlink: boolean;
  /** Permission bits (0o7777). */
  mode: number;
  /** Content of a regular file (empty otherwise). */
  data: Uint8Array;
}

const PERMISSION_BITS = 0o7777;
const EMPTY = new Uint8Array(0);

/**
 * Normalise and order a package's files.
 *
 * @param files - walked output or an apk's data entries (paths relative; a leading `./` or `/` is dropped)
 * @returns entries in directory-walk order, duplicates (same path) keeping the last
 */
export function toLintEntries(files: readonly LintFile[]): LintEntry[] {
  const byPath = new Map<string, LintEntry>();
  for (const f of files) {
    const path = f.path.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
    if (path === '' || path === '.') continue;
    const dir = f.type === 'directory';
    const defaultMode = dir ? 0o755 : f.type === 'symlink' ? 0o777 : 0o644;
    byPath.set(path, {
      path,
      dir,
      regular: f.type === 'file',
      symlink: f.type === 'symlink',
      mode: (f.mode ?? defaultMode) & PERMISSION_BITS,
      data: f.type === 'file' ? (f.data ?? EMPTY) : EMPTY,
    });
  }
  return [...byPath.values()].sort((a, b) => comparePaths(a.path, b.path));
}

/**
 * Go's `filepath.Ext`: the suffix from the last `.` of the last path element (`''` when there is none).
 *
 * @param path - a slash-separated path
 * @returns the extension with its dot
 */
export function goExt(path: string): string {
  for (let i = path.length - 1; i >= 0 && path[i] !== '/'; i--) {
    if (path[i] === '.') return path.slice(i);
  }
  return '';
}

/**
 * Go's `filepath.Base` for the clean relative paths of a package.
 *
 * @param path - a slash-separated path
 * @returns the last element
 */
export function goBase(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

/**
 * Go's `filepath.Dir` for the clean relative paths of a package (`.` for a top-level entry).
 *
 * @param path - a slash-separated path
 * @returns everything before the last element
 */
export function goDir(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '.' : path.slice(0, i);
}

/**
 * Paths that no file linter looks at: the SBOM tk (and melange) put into every package.
 *
 * @param path - a package path
 * @returns whether it is under `var/lib/db/sbom/`
 */
export function isIgnoredPath(path: string): boolean {
  return path.startsWith('var/lib/db/sbom/');
}

/**
 * `1` or `n` and the plural: `1 file`, `3 files`.
 *
 * @param n - the count
 * @param one - singular
 * @param many - plural
 * @returns the word for `n`
 */
export function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}
