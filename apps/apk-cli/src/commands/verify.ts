import { readFile } from 'node:fs/promises';
import { apkToolsVerdict, verifyApk } from '@tk/apk';
import { isTkError, silentLogger, type Logger } from '@tk/core';
import { gunzip } from '@tk/gzip';
import { loadKeyring, type Keyring } from '@tk/keys';
import { readIndexArchive, verifyIndexArchive } from '@tk/repo';
import { readTar } from '@tk/tar';

/** The verdict on one file, with apk-tools' numeric result. */
export interface FileVerdict {
  file: string;
  kind: 'package' | 'index';
  status: 'OK' | 'UNTRUSTED' | 'BAD';
  /** apk-tools' `r`: 0, -129 (EKEYREJECTED), -74 (EBADMSG) or -5 (EIO). */
  result: number;
  /** apk-tools' text for `result`: OK, UNTRUSTED, BAD signature, BAD archive, IO ERROR. */
  text: string;
  reason: string;
  code?: string;
}

/** The text apk-tools prints for a verdict: `FILE: 0 - OK`. */
export function formatVerdict(v: FileVerdict): string {
  return `${v.file}: ${v.result} - ${v.text}`;
}

function looksLikeIndex(bytes: Uint8Array): boolean {
  try {
    // Only the first members matter; an index has an APKINDEX entry right after its signatures.
    const tar = readTar(gunzip(bytes, { maxOutputBytes: 64 << 20 }));
    return (
      tar.entries.some((e) => e.name === 'APKINDEX' || e.name === 'DESCRIPTION') &&
      !tar.entries.some((e) => e.name === '.PKGINFO')
    );
  } catch {
    return false;
  }
}

/**
 * Verify packages (and indexes) as `apk verify` does.
 *
 * @param files - paths of `.apk` or `APKINDEX.tar.gz` files
 * @param keyring - trusted keys
 * @param logger - warnings from parsing
 * @returns one verdict per file
 */
export async function verifyFiles(
  files: readonly string[],
  keyring: Keyring,
  logger: Logger = silentLogger,
): Promise<FileVerdict[]> {
  const verdicts: FileVerdict[] = [];
  for (const file of files) {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(file));
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'EIO';
      verdicts.push({
        file,
        kind: 'package',
        status: 'BAD',
        result: -2,
        text: 'IO ERROR',
        reason: (error as Error).message,
        code,
      });
      continue;
    }
    if (looksLikeIndex(bytes)) {
      try {
        const archive = readIndexArchive(bytes, { source: file, logger });
        const v = verifyIndexArchive(bytes, archive, keyring);
        const line = apkToolsVerdict({ status: v.status, code: 'APK_BAD_SIGNATURE', reason: v.reason });
        verdicts.push({
          file,
          kind: 'index',
          status: v.status,
          ...line,
          reason: `${v.reason} (${archive.entries.length} packages)`,
        });
      } catch (error) {
        if (!isTkError(error)) throw error;
        verdicts.push({
          file,
          kind: 'index',
          status: 'BAD',
          result: -74,
          text: 'BAD archive',
          reason: error.message,
          code: error.code,
        });
      }
      continue;
    }
    const v = verifyApk(bytes, keyring, { source: file, logger });
    verdicts.push({
      file,
      kind: 'package',
      status: v.status,
      ...apkToolsVerdict(v),
      reason: v.reason,
      ...(v.code === undefined ? {} : { code: v.code }),
    });
  }
  return verdicts;
}

/**
 * Load the trusted keys for `tk apk verify`.
 *
 * @param paths - key files and directories
 * @param logger - warnings about skipped files
 * @returns the keyring
 */
export async function keyringFrom(paths: readonly string[], logger: Logger): Promise<Keyring> {
  return loadKeyring([...paths], { logger });
}
