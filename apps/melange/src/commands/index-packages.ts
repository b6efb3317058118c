import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { readApk } from '@tk/apk';
import { silentLogger, writeFileAtomic, type Logger } from '@tk/core';
import { MelangeError } from '../errors.ts';
import { readPrivateKey, signatureKeyName } from '@tk/keys';
import {
  indexEntryFromApk,
  mergeIndexEntries,
  readIndexArchive,
  writeIndexArchive,
  type IndexEntry,
} from '@tk/repo';

/** Options of {@link indexPackages}. */
export interface IndexPackagesOptions {
  /** Package files to index. */
  packages: readonly string[];
  /** Where to write `APKINDEX.tar.gz`. */
  output: string;
  /** Merge into an existing index (the output, or `source`). */
  merge?: boolean;
  /** Index to merge into, when not the output itself. */
  source?: string;
  /** Only index packages of this arch (others are skipped with a warning). */
  arch?: string;
  /** Private key to sign the index with. */
  signingKey?: string;
  logger?: Logger;
}

/** What {@link indexPackages} did. */
export interface IndexPackagesResult {
  entries: IndexEntry[];
  added: number;
  skipped: string[];
}

async function readIfExists(path: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * `melange index`: build an `APKINDEX.tar.gz` from packages, optionally merging and signing.
 *
 * @param options - packages, output, merge, arch filter, signing key
 * @returns the records written
 * @throws {ApkError} for unreadable packages; {@link RepoError} for a corrupt index to merge into
 */
export async function indexPackages(options: IndexPackagesOptions): Promise<IndexPackagesResult> {
  const logger = options.logger ?? silentLogger;
  if (options.packages.length === 0) {
    throw new MelangeError('MELANGE_NO_PACKAGES', 'no packages to index', {
      hint: 'give one or more .apk files: tk melange index -o APKINDEX.tar.gz ./packages/x86_64/*.apk',
    });
  }
  const added: IndexEntry[] = [];
  const skipped: string[] = [];
  for (const file of options.packages) {
    const pkg = readApk(new Uint8Array(await readFile(file)), { source: file, logger });
    if (
      options.arch !== undefined &&
      pkg.pkginfo.arch !== undefined &&
      pkg.pkginfo.arch !== options.arch &&
      pkg.pkginfo.arch !== 'noarch'
    ) {
      logger.warn(
        `${basename(file)}: arch ${pkg.pkginfo.arch} is not ${options.arch}; skipped`,
        'MELANGE_INDEX_ARCH_MISMATCH',
      );
      skipped.push(file);
      continue;
    }
    added.push(indexEntryFromApk(pkg));
    logger.debug(`indexed ${pkg.pkginfo.pkgname}-${pkg.pkginfo.pkgver}`);
  }
  let existing: IndexEntry[] = [];
  let description: string | undefined;
  if (options.merge === true) {
    const sourcePath = options.source ?? options.output;
    const bytes = await readIfExists(sourcePath);
    if (bytes !== undefined) {
      const archive = readIndexArchive(bytes, { source: sourcePath, logger });
      existing = archive.entries;
      description = archive.description;
      logger.info(`merging into ${sourcePath} (${existing.length} packages)`);
    }
  }
  const entries = mergeIndexEntries(existing, added);
  const signer =
    options.signingKey === undefined
      ? undefined
      : { key: await readPrivateKey(options.signingKey), keyName: signatureKeyName(options.signingKey) };
  const bytes = await writeIndexArchive(
    { entries, ...(description === undefined || description === '' ? {} : { description }) },
    signer === undefined ? {} : { signer },
  );
  await writeFileAtomic(options.output, bytes, { mkdir: true });
  logger.info(
    `wrote ${options.output} with ${entries.length} package(s)${signer === undefined ? '' : `, signed with ${signer.keyName}`}`,
  );
  return { entries, added: added.length, skipped };
}
