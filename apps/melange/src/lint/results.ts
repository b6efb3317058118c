/**
 * Lint results as text (for the terminal) and as JSON: melange's `PackageLintResults` shape
 * (`{"package_name", "findings": {linter: [{"message", "explain", "details"}]}}`, Go's `json.MarshalIndent`
 * layout and HTML escaping), persisted as `<out-dir>/<arch>/lint-<name>-<version>-r<epoch>.json` the way
 * `--persist-lint-results` does it (melange `pkg/linter/results.go`).
 */
import { join } from 'node:path';
import { writeFileAtomic } from '@tk/core';
import { MelangeError } from '../errors.ts';
import type { FilePermissionInfo, LintFinding, PackageLintResult } from './types.ts';

/** A finding as melange writes it. */
interface MelangeFinding {
  message: string;
  explain?: string;
  details?: unknown;
}

/**
 * One package's result in melange's JSON shape (findings by linter, linter names sorted).
 *
 * @param result - a package result
 * @param withLevel - add tk's `level` to each finding (the `--format json` output)
 * @returns a plain object for JSON
 */
export function toMelangeResult(
  result: PackageLintResult,
  withLevel = false,
): { package_name: string; findings: Record<string, MelangeFinding[]> } {
  const findings: Record<string, MelangeFinding[]> = {};
  for (const f of [...result.findings].sort((a, b) =>
    a.linter < b.linter ? -1 : a.linter > b.linter ? 1 : 0,
  )) {
    (findings[f.linter] ??= []).push({
      message: f.message,
      ...(f.explain === undefined || f.explain === '' ? {} : { explain: f.explain }),
      ...(f.details === undefined ? {} : { details: f.details }),
      ...(withLevel ? { level: f.level } : {}),
    });
  }
  return { package_name: result.fullName, findings };
}

/**
 * JSON text as Go's `json.MarshalIndent(v, "", "  ")` writes it: `<`, `>`, `&`, U+2028 and U+2029 escaped.
 *
 * @param value - a JSON value
 * @returns the text, without a final newline (as Go)
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[<>&\u2028\u2029]/g, (c) => {
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

function unsafeComponent(s: string): boolean {
  return s === '' || s.includes('..') || s.includes('/') || s.includes('\\') || s.includes('\0');
}

/**
 * Write the results that have findings, one file per package (melange `--persist-lint-results`).
 *
 * @param results - package results
 * @param outDir - `--out-dir`
 * @returns the files written
 * @throws {MelangeError} MELANGE_LINT_WRITE_FAILED for a name that would leave the folder, or a write error
 */
export async function persistLintResults(
  results: readonly PackageLintResult[],
  outDir: string,
): Promise<string[]> {
  const written: string[] = [];
  for (const r of results) {
    if (r.findings.length === 0) continue;
    const arch = r.arch ?? '';
    if (unsafeComponent(r.fullName) || (arch !== '' && unsafeComponent(arch))) {
      throw new MelangeError(
        'MELANGE_LINT_WRITE_FAILED',
        `cannot persist lint results of ${JSON.stringify(r.fullName)} (arch ${JSON.stringify(arch)}): the name would leave ${outDir}`,
        {
          hint: 'package names, versions and arches must not contain "/" or ".."',
          data: { package: r.fullName },
        },
      );
    }
    const path = join(outDir, arch, `lint-${r.fullName}.json`);
    try {
      await writeFileAtomic(path, goJson(toMelangeResult(r)), { mkdir: true });
    } catch (error) {
      throw new MelangeError(
        'MELANGE_LINT_WRITE_FAILED',
        `cannot write ${path}: ${(error as Error).message}`,
        {
          hint: 'check --out-dir and its permissions',
          cause: error,
          data: { path },
        },
      );
    }
    written.push(path);
  }
  return written;
}

function detailItems(details: unknown): string[] {
  if (details === null || typeof details !== 'object') return [];
  const d = details as Record<string, unknown>;
  const items = (key: string): Record<string, unknown>[] =>
    Array.isArray(d[key]) ? (d[key] as Record<string, unknown>[]) : [];
  if ('duplicates' in d)
    return items('duplicates').map(
      (x) => `${String(x['basename'])} (${String(x['count'])} copies, ${String(x['wasted_size'])} wasted)`,
    );
  if ('references' in d)
    return items('references').map((x) => `${String(x['path'])} (${String(x['platform'])})`);
  if ('binaries' in d)
    return (d['binaries'] as unknown[]).map((x) =>
      typeof x === 'string'
        ? x
        : `${String((x as Record<string, unknown>)['path'])} (${String((x as Record<string, unknown>)['arch'])})`,
    );
  if ('files' in d)
    return (items('files') as unknown as (FilePermissionInfo & { arch?: string })[]).map((f) =>
      f.arch !== undefined
        ? `${f.path} (${f.arch})`
        : `${f.path} (mode: ${f.mode}${f.permissions === undefined ? '' : `, ${f.permissions.join('+')}`})`,
    );
  if ('packages' in d) return (d['packages'] as unknown[]).map(String);
  if ('paths' in d) return (d['paths'] as unknown[]).map(String);
  if ('issues' in d) return (d['issues'] as unknown[]).map(String);
  return [];
}

/** Most items listed per finding in the text form (the JSON has them all). */
const MAX_ITEMS = 20;

/**
 * One finding as lines of text.
 *
 * @param f - the finding
 * @returns the summary line, the message's other lines (or the details' items), the explanation
 */
export function formatFinding(f: LintFinding): string[] {
  const head = `[${f.linter}] ${f.message}${f.level === 'require' ? '' : ' (warning)'}`;
  const extra = f.lines?.map((l) => `  ${l}`) ?? detailItems(f.details).map((i) => `    - ${i}`);
  const shown = extra.slice(0, MAX_ITEMS);
  if (extra.length > MAX_ITEMS) shown.push(`    … and ${extra.length - MAX_ITEMS} more`);
  return [head, ...shown, ...(f.explain === undefined ? [] : [`  → ${f.explain}`])];
}

/**
 * A package result as lines of text.
 *
 * @param r - the result
 * @returns `name: OK`, or the findings
 */
export function formatLintResult(r: PackageLintResult): string[] {
  const what = r.file === undefined ? r.fullName : `${r.fullName} (${r.file})`;
  if (r.findings.length === 0) return [`${what}: no findings`];
  const verdict = r.failed.length > 0 ? `FAILED (${r.failed.join(', ')})` : 'passed with warnings';
  return [`${what}: ${verdict}`, ...r.findings.flatMap((f) => formatFinding(f).map((l) => `  ${l}`))];
}
