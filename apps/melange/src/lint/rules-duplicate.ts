/**
 * The `duplicate` linter (melange `duplicate.go`): regular files of at least 1 KiB with the same name and the
 * same content in different folders, with the bytes they waste. Licence files are expected to repeat and are
 * left out (melange `license.IsLicenseFile`, from Licensee's file-name rules). Sets are ordered by bytes
 * wasted, largest first; ties by name and first path (melange leaves ties in Go map order).
 */
import { createHash } from 'node:crypto';
import type { LinterContext, LinterFailure } from './rule.ts';
import { goBase, goExt } from './tree.ts';
import type { DuplicateFileInfo } from './types.ts';

const MIN_FILE_SIZE = 1024;

const LICENSE = '(?:un)?licen[sc]e';
const COPYING = 'copy(?:ing|right)';
const PREFERRED_EXT = '\\.(?:md|markdown|txt|html)';
const ANY_EXT = '(?:\\.[^./]+)';
const LICENSE_FILE_REGEXES = [
  `^${LICENSE}$`,
  `^${LICENSE}${PREFERRED_EXT}$`,
  `^${COPYING}$`,
  `^${COPYING}${PREFERRED_EXT}$`,
  `^${LICENSE}${ANY_EXT}$`,
  `^${COPYING}${ANY_EXT}$`,
  `^${LICENSE}[-_][^.]*${ANY_EXT}?$`,
  `^${COPYING}[-_][^.]*${ANY_EXT}?$`,
  `^\\w+[-_]${LICENSE}[^.]*${ANY_EXT}?$`,
  `^\\w+[-_]${COPYING}[^.]*${ANY_EXT}?$`,
  `^ofl${PREFERRED_EXT}`,
  `^ofl${ANY_EXT}`,
  '^ofl$',
  '^patents$',
  `^patents${ANY_EXT}$`,
].map((r) => new RegExp(r, 'i'));
const LICENSE_IGNORED_EXTS = ['.xml', '.go', '.gemspec', '.spdx', '.header'];

/**
 * Whether a file name is a licence file (Licensee's names: LICENSE, COPYING, LICENSE-MIT, OFL, PATENTS…).
 *
 * @param path - a path or a file name
 * @returns true when the base name is a licence file's
 */
export function isLicenseFile(path: string): boolean {
  const base = goBase(path.replace(/-\d+\.\d+\.\d+-/g, '-'));
  if (LICENSE_IGNORED_EXTS.includes(goExt(base))) return false;
  return LICENSE_FILE_REGEXES.some((r) => r.test(base));
}

const SI_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];

/**
 * A byte count in go-humanize's `Bytes` form (SI units): `512 B`, `1.5 kB`, `42 MB`.
 *
 * @param n - bytes (non-negative)
 * @returns the text
 */
export function humanizeBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const e = Math.min(Math.floor(Math.log(n) / Math.log(1000)), SI_UNITS.length - 1);
  const value = Math.floor((n / 1000 ** e) * 10 + 0.5) / 10;
  return `${value < 10 ? value.toFixed(1) : value.toFixed(0)} ${SI_UNITS[e]!}`;
}

/** melange `duplicate`: same-name, same-content files of 1 KiB or more in different folders. */
export const duplicateLinter = (ctx: LinterContext): LinterFailure | undefined => {
  const byKey = new Map<string, { basename: string; size: number; paths: string[] }>();
  for (const e of ctx.entries) {
    if (!e.regular || e.data.length < MIN_FILE_SIZE || isLicenseFile(e.path)) continue;
    const basename = goBase(e.path);
    const hash = createHash('sha256').update(e.data).digest('hex');
    const key = `${hash}/${basename}`;
    const found = byKey.get(key);
    if (found === undefined) byKey.set(key, { basename, size: e.data.length, paths: [e.path] });
    else found.paths.push(e.path);
  }
  const sets = [...byKey.values()]
    .filter((s) => s.paths.length > 1)
    .map((s) => {
      const paths = [...s.paths].sort();
      return { ...s, paths, wasted: (paths.length - 1) * s.size };
    })
    .sort(
      (a, b) =>
        b.wasted - a.wasted ||
        (a.basename < b.basename ? -1 : a.basename > b.basename ? 1 : 0) ||
        (a.paths[0]! < b.paths[0]! ? -1 : 1),
    );
  if (sets.length === 0) return undefined;
  const totalWasted = sets.reduce((sum, s) => sum + s.wasted, 0);
  const duplicates: DuplicateFileInfo[] = sets.map((s) => ({
    basename: s.basename,
    count: s.paths.length,
    size_bytes: s.size,
    size: humanizeBytes(s.size),
    wasted_bytes: s.wasted,
    wasted_size: humanizeBytes(s.wasted),
    paths: s.paths,
  }));
  const lines = sets.flatMap((s) => [
    `  ${s.paths.length} copies of '${s.basename}' (${humanizeBytes(s.size)} each, wasting ${humanizeBytes(s.wasted)}):`,
    ...s.paths.map((p) => `    ${p}`),
  ]);
  return {
    message: [
      `${ctx.pkg.name} contains ${sets.length} duplicate file(s) with same name in different directories (wasting ${humanizeBytes(totalWasted)} total):`,
      ...lines,
    ].join('\n'),
    details: {
      total_duplicate_sets: sets.length,
      total_wasted_bytes: totalWasted,
      total_wasted_size: humanizeBytes(totalWasted),
      duplicates,
    },
  };
};
