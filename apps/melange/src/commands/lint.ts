/**
 * `tk melange lint FILE…` (melange `pkg/cli/lint.go`): lint built packages (`.apk`, with the recipe they
 * embed) and recipes (`.yaml`), one after the other in the order given. Results come back to the caller
 * (the CLI prints them as text or JSON); with `persist`, packages with findings also get melange's
 * `OUT-DIR/<arch>/lint-<name>-<version>-r<epoch>.json`.
 */
import { open } from 'node:fs/promises';
import type { Logger } from '@tk/core';
import { lintApkFile } from '../lint/apk.ts';
import { CONFIG_LINTER_NAMES, lintRecipeFile } from '../lint/config.ts';
import { persistLintResults, toMelangeResult } from '../lint/results.ts';
import { checkLinterNames, lintFailure, type LintSelection } from '../lint/run.ts';
import type { PackageLintResult } from '../lint/types.ts';
import type { MelangeError } from '../errors.ts';

/** Options of {@link lintFiles}. */
export interface LintFilesOptions extends LintSelection {
  /** `.apk` packages and recipe YAML files. */
  paths: string[];
  /** `--persist-lint-results`: write each package's findings under `outDir`. */
  persist?: boolean;
  /** `--out-dir` (default `packages`, relative to the caller's folder: pass it resolved). */
  outDir?: string;
  /** Custom pipeline folders, for recipes (`uses:` of `test/tw/*` and the like). */
  pipelineDirs?: string[];
  logger?: Logger;
}

/** What {@link lintFiles} found. */
export interface LintFilesResult {
  results: PackageLintResult[];
  /** Files written by `persist`. */
  written: string[];
  /** MELANGE_LINT_FAILED when a required linter failed (the caller throws it after printing). */
  failure?: MelangeError;
}

const GZIP_MAGIC = [0x1f, 0x8b];

async function isApk(path: string): Promise<boolean> {
  if (path.endsWith('.apk')) return true;
  if (/\.ya?ml$/.test(path)) return false;
  try {
    const handle = await open(path, 'r');
    try {
      const head = new Uint8Array(2);
      await handle.read(head, 0, 2, 0);
      return head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
    } finally {
      await handle.close();
    }
  } catch {
    return false;
  }
}

/**
 * Lint packages and recipes.
 *
 * @param options - files, linter levels, persistence, pipeline folders, logger
 * @returns every file's result, and the failure to report when a required linter failed
 * @throws {MelangeError} MELANGE_LINT_UNKNOWN_LINTER (before anything is read), MELANGE_LINT_BAD_INPUT,
 *   the recipe loader's file errors, MELANGE_LINT_WRITE_FAILED
 * @example
 * const { results, failure } = await lintFiles({ paths: ['packages/x86_64/hello-2.12-r0.apk'] });
 */
export async function lintFiles(options: LintFilesOptions): Promise<LintFilesResult> {
  checkLinterNames(options, CONFIG_LINTER_NAMES);
  // The package linters' lists: `config/*` names are for recipes; a list of only those leaves the default.
  const packageList = (names: readonly string[] | undefined): { list?: string[] } => {
    const own = names?.filter((n) => !CONFIG_LINTER_NAMES.includes(n));
    return own === undefined || (own.length === 0 && names!.length > 0) ? {} : { list: own };
  };
  const require = packageList(options.require).list;
  const warn = packageList(options.warn).list;
  const selection: LintSelection = {
    ...(require === undefined ? {} : { require }),
    ...(warn === undefined ? {} : { warn }),
    ...(options.disable === undefined
      ? {}
      : { disable: options.disable.filter((n) => !CONFIG_LINTER_NAMES.includes(n)) }),
  };
  const results: PackageLintResult[] = [];
  for (const path of options.paths) {
    if (await isApk(path)) {
      results.push(
        await lintApkFile(path, {
          ...selection,
          ...(options.logger === undefined ? {} : { logger: options.logger }),
        }),
      );
    } else {
      results.push(
        await lintRecipeFile(path, {
          ...(options.require === undefined ? {} : { require: options.require }),
          ...(options.warn === undefined ? {} : { warn: options.warn }),
          ...(options.disable === undefined ? {} : { disable: options.disable }),
          ...(options.pipelineDirs === undefined ? {} : { pipelineDirs: options.pipelineDirs }),
          ...(options.logger === undefined ? {} : { logger: options.logger }),
        }),
      );
    }
  }
  const written =
    options.persist === true ? await persistLintResults(results, options.outDir ?? 'packages') : [];
  const failure = lintFailure(results);
  return { results, written, ...(failure === undefined ? {} : { failure }) };
}

/**
 * The `--format json` output: one object per file, melange's result shape plus the file, the arch and the
 * failed required linters; each finding carries its `level`.
 *
 * @param results - lint results
 * @returns JSON text with a final newline
 */
export function lintResultsJson(results: readonly PackageLintResult[]): string {
  return `${JSON.stringify(
    results.map((r) => ({
      ...(r.file === undefined ? {} : { file: r.file }),
      ...(r.arch === undefined ? {} : { arch: r.arch }),
      ...toMelangeResult(r, true),
      failed: r.failed,
    })),
    null,
    2,
  )}\n`;
}
