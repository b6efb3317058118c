/**
 * `melange lint <apk…>`: lint a built package with the linters of melange.md §8, using the `.melange.yaml`
 * it embeds for what the recipe says about it (melange `pkg/linter/apk.go`). The package is read with
 * `@tk/apk`'s reader, which refuses damaged or unsafe archives; file checksums are verified.
 */
import { open, stat } from 'node:fs/promises';
import { readApk, type ApkPackage } from '@tk/apk';
import { fromUtf8, silentLogger, type Logger } from '@tk/core';
import { MelangeError } from '../errors.ts';
import { lintTargetFromEmbedded } from './facts.ts';
import { lintPackageTree, type LintSelection } from './run.ts';
import type { LintPackage, PackageLintResult } from './types.ts';

/** Largest package file read: 1 GiB. */
export const MAX_APK_BYTES = 1024 ** 3;

/** Options of {@link lintApkFile} and {@link lintApk}. */
export interface LintApkOptions extends LintSelection {
  logger?: Logger;
  /** Largest package file accepted (default {@link MAX_APK_BYTES}). */
  maxBytes?: number;
}

function badInput(file: string, what: string, hint: string, cause?: unknown): MelangeError {
  return new MelangeError('MELANGE_LINT_BAD_INPUT', `${file}: ${what}`, {
    hint,
    ...(cause === undefined ? {} : { cause }),
    data: { file },
  });
}

/**
 * Lint a parsed package.
 *
 * @param pkg - the package as `readApk` gives it
 * @param file - its file name, for results and messages
 * @param options - linter selection, logger
 * @returns the package's findings (`arch` and `file` set)
 * @throws {MelangeError} MELANGE_LINT_UNKNOWN_LINTER
 */
export function lintApk(pkg: ApkPackage, file: string, options: LintApkOptions = {}): PackageLintResult {
  const logger = options.logger ?? silentLogger;
  const name = pkg.pkginfo.pkgname;
  const fullName = `${name}-${pkg.pkginfo.pkgver}`;
  const embedded = pkg.control.find((e) => e.name === '.melange.yaml');
  let target: LintPackage = { name, fullName };
  if (embedded === undefined) {
    logger.warn(
      `${file}: no .melange.yaml in the package; linters that need the recipe assume none`,
      'MELANGE_LINT_NO_CONFIG',
    );
  } else {
    let facts: ReturnType<typeof lintTargetFromEmbedded>;
    try {
      facts = lintTargetFromEmbedded(fromUtf8(embedded.data), name);
    } catch (error) {
      facts = { problem: (error as Error).message };
    }
    if ('problem' in facts)
      logger.warn(
        `${file}: cannot read .melange.yaml (${facts.problem}); linting without it`,
        'MELANGE_LINT_BAD_CONFIG',
      );
    else target = { ...facts.target, fullName };
  }
  const result = lintPackageTree(pkg.files, target, { ...options, logger });
  return { ...result, file, ...(pkg.pkginfo.arch === undefined ? {} : { arch: pkg.pkginfo.arch }) };
}

/**
 * Read and lint a package file.
 *
 * @param path - the `.apk` file
 * @param options - linter selection, logger, size limit
 * @returns the package's findings
 * @throws {MelangeError} MELANGE_LINT_BAD_INPUT when the file is missing, too large or not a valid apk;
 *   MELANGE_LINT_UNKNOWN_LINTER
 * @example
 * const result = await lintApkFile('packages/x86_64/hello-2.12-r0.apk');
 * result.failed; // ['usrmerge']
 */
export async function lintApkFile(path: string, options: LintApkOptions = {}): Promise<PackageLintResult> {
  const max = options.maxBytes ?? MAX_APK_BYTES;
  let bytes: Uint8Array;
  try {
    // Refuse FIFOs and devices before opening: opening a FIFO would block.
    if (!(await stat(path)).isFile()) throw badInput(path, 'is not a regular file', 'name an .apk file');
    const handle = await open(path, 'r');
    try {
      const info = await handle.stat();
      if (info.size > max)
        throw badInput(
          path,
          `${info.size} bytes is over the ${max}-byte limit`,
          'lint packages below the limit',
        );
      const buffer = await handle.readFile();
      bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof MelangeError) throw error;
    throw badInput(path, `cannot read: ${(error as Error).message}`, 'check the path', error);
  }
  let pkg: ApkPackage;
  try {
    pkg = readApk(bytes, {
      source: path,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
  } catch (error) {
    throw badInput(
      path,
      `is not a valid apk package: ${(error as Error).message}`,
      'lint .apk files built by melange or tk (or a recipe YAML)',
      error,
    );
  }
  if (pkg.pkginfo.pkgname === '')
    throw badInput(path, '.PKGINFO has no pkgname', 'lint .apk files built by melange or tk');
  return lintApk(pkg, path, options);
}
