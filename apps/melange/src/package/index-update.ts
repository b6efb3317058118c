/**
 * Adding a build's packages to its arch's signed `APKINDEX.tar.gz` (melange `pkg/index`, reference
 * melange.md §6.8): under the arch's index lock, read the existing index, merge the new packages (an entry
 * with the same name and version is replaced), sign, write to a temporary file and rename it over the index.
 *
 * - An existing index that does not parse is never overwritten: that would silently drop every package it
 *   lists (`MELANGE_INDEX_CORRUPT`); the user decides (delete it, or rebuild it with `tk melange index`).
 * - A write that fails leaves the old index as it was (`writeFileAtomic`: temporary file, fsync, rename).
 * - A package built for another arch is skipped with a warning (melange dereferences a nil entry there).
 * - The description of the existing index is kept; entries are sorted by name and version, so the same set
 *   of packages always gives the same index bytes.
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { readApk } from '@tk/apk';
import { isTkError, silentLogger, writeFileAtomic, type Logger } from '@tk/core';
import { readPrivateKey, signatureKeyName } from '@tk/keys';
import {
  indexEntryFromApk,
  mergeIndexEntries,
  readIndexArchive,
  writeIndexArchive,
  type IndexEntry,
  type IndexSigner,
} from '@tk/repo';
import { MelangeError } from '../errors.ts';
import { acquireIndexLock, type IndexLockOptions } from './index-lock.ts';

/** The index file's name in an arch directory. */
export const INDEX_FILE_NAME = 'APKINDEX.tar.gz';

/** Options of {@link updateIndex}. */
export interface UpdateIndexOptions {
  /** `<out-dir>/<arch>`. */
  archDir: string;
  /** The new `.apk` files. */
  packages: readonly string[];
  /** The directory's apk arch; packages of other arches (not `noarch`) are skipped. */
  arch: string;
  /** Private key file to sign the index with. */
  signingKey?: string;
  /** `sha256` (RSA256, default) or `sha1`. */
  signatureAlgorithm?: 'sha256' | 'sha1';
  logger?: Logger;
  /** Lock identity and time limit (default: this process, 2 minutes). */
  lock?: IndexLockOptions;
  /** How the new index is written. Default `writeFileAtomic`; tests inject failures here. */
  writeIndex?: (path: string, bytes: Uint8Array) => Promise<void>;
}

async function readExisting(path: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined;
    throw new MelangeError('MELANGE_INDEX_CORRUPT', `cannot read ${path}: ${(error as Error).message}`, {
      hint: 'check the permissions of the output directory',
      cause: error,
      data: { path },
    });
  }
}

/**
 * Merge packages into an arch directory's `APKINDEX.tar.gz`, under its lock.
 *
 * @param options - arch directory, package files, arch, signing key, logger, lock options
 * @returns the index path
 * @throws {MelangeError} MELANGE_INDEX_CORRUPT (existing index unreadable), MELANGE_INDEX_LOCK_TIMEOUT,
 *   MELANGE_INDEX_WRITE_FAILED; {@link ApkError} for an unreadable package; {@link KeyError} for the key
 * @example
 * await updateIndex({ archDir: 'packages/x86_64', packages: ['packages/x86_64/hello-2.12-r0.apk'],
 *   arch: 'x86_64', signingKey: 'melange.rsa' });
 */
export async function updateIndex(options: UpdateIndexOptions): Promise<string> {
  const logger = options.logger ?? silentLogger;
  const indexPath = join(options.archDir, INDEX_FILE_NAME);
  const added: IndexEntry[] = [];
  for (const file of options.packages) {
    const pkg = readApk(new Uint8Array(await readFile(file)), { source: file, logger });
    const arch = pkg.pkginfo.arch;
    if (arch !== undefined && arch !== options.arch && arch !== 'noarch') {
      logger.warn(
        `${basename(file)}: arch ${arch} is not ${options.arch}; not added to ${indexPath}`,
        'MELANGE_INDEX_ARCH_MISMATCH',
      );
      continue;
    }
    added.push(indexEntryFromApk(pkg));
  }
  const signer: IndexSigner | undefined =
    options.signingKey === undefined
      ? undefined
      : {
          key: await readPrivateKey(options.signingKey),
          keyName: signatureKeyName(options.signingKey),
          algorithm: options.signatureAlgorithm ?? 'sha256',
        };

  const lock = await acquireIndexLock(options.archDir, {
    ...options.lock,
    onWait: (holder) => {
      logger.info(`waiting for the index lock of ${options.archDir} (held by ${holder})`);
      options.lock?.onWait?.(holder);
    },
  });
  try {
    const bytes = await readExisting(indexPath);
    let existing: IndexEntry[] = [];
    let description: string | undefined;
    if (bytes !== undefined) {
      try {
        const archive = readIndexArchive(bytes, { source: indexPath, logger });
        existing = archive.entries;
        description = archive.description;
      } catch (error) {
        if (!isTkError(error)) throw error;
        throw new MelangeError(
          'MELANGE_INDEX_CORRUPT',
          `${indexPath} cannot be read (${error.code}): ${error.message}`,
          {
            hint: `it was left unchanged; delete it to start a new index, or rebuild it: tk melange index -o ${indexPath} ${join(options.archDir, '*.apk')}`,
            cause: error,
            data: { path: indexPath },
          },
        );
      }
    }
    const entries = mergeIndexEntries(existing, added);
    const archive = await writeIndexArchive(
      { entries, ...(description === undefined || description === '' ? {} : { description }) },
      signer === undefined ? {} : { signer },
    );
    try {
      await (options.writeIndex ?? ((path, data) => writeFileAtomic(path, data)))(indexPath, archive);
    } catch (error) {
      throw new MelangeError(
        'MELANGE_INDEX_WRITE_FAILED',
        `cannot write ${indexPath}: ${(error as Error).message}`,
        {
          hint: 'the previous index is unchanged; check free space and permissions, then rerun tk melange index',
          cause: error,
          data: { path: indexPath },
        },
      );
    }
    logger.info(
      `updated ${indexPath}: ${entries.length} package(s), ${added.length} added${signer === undefined ? '' : `, signed with ${signer.keyName}`}`,
    );
    return indexPath;
  } finally {
    await lock.release();
  }
}
