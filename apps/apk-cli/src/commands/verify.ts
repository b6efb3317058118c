import { constants } from 'node:os';
import { readFile } from 'node:fs/promises';
import { apkToolsErrorText, apkToolsVerify, verifyApk, type ApkToolsVerdict } from '@tk/apk';
import { isTkError, silentLogger, type Logger } from '@tk/core';
import { gunzip } from '@tk/gzip';
import { loadKeyring, type Keyring } from '@tk/keys';
import { readIndexArchive, verifyIndexArchive } from '@tk/repo';
import { readTar } from '@tk/tar';

/** The verdict on one file, with apk-tools' numeric result. */
export interface FileVerdict {
  file: string;
  kind: 'package' | 'index';
  /** OK only when apk-tools says OK and tk's own checks agree. */
  status: 'OK' | 'UNTRUSTED' | 'BAD';
  /**
   * apk-tools' `r`: 0 (OK, UNTRUSTED), -5 (EIO), -74 (EBADMSG), -129 (EKEYREJECTED), -1026 (format), or
   * another negative errno (-2 for a missing file).
   */
  result: number;
  /** apk-tools' text for `result`: OK, UNTRUSTED, BAD signature, BAD archive, IO ERROR, … */
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

/** tk's own reading of the file: the package reader and verifier, or the index reader (apko's rule). */
function tkVerdict(
  file: string,
  bytes: Uint8Array,
  keyring: Keyring,
  index: boolean,
  logger: Logger,
): { status: FileVerdict['status']; reason: string; code?: string } {
  if (index) {
    try {
      const archive = readIndexArchive(bytes, { source: file, logger });
      const v = verifyIndexArchive(bytes, archive, keyring);
      return {
        status: v.status,
        reason: `${v.reason} (${archive.entries.length} packages)`,
        ...(v.status === 'BAD' ? { code: 'APK_BAD_SIGNATURE' } : {}),
      };
    } catch (error) {
      if (!isTkError(error)) throw error;
      return { status: 'BAD', reason: error.message, code: error.code };
    }
  }
  const v = verifyApk(bytes, keyring, { source: file, logger });
  return { status: v.status, reason: v.reason, ...(v.code === undefined ? {} : { code: v.code }) };
}

/**
 * The verdict on a file's bytes: apk-tools' line (reproduced exactly, see `apkToolsVerify`), and tk's
 * reason. tk is stricter than apk-tools in one way: when its own checks refuse a file apk-tools accepts
 * (a file whose content does not match its checksum record, an unsafe path), the line stays apk-tools'
 * but the verdict is BAD.
 *
 * @param file - the name to report
 * @param bytes - the file's content
 * @param keyring - trusted keys
 * @param logger - warnings from parsing
 * @returns the verdict
 */
export function verifyFileBytes(
  file: string,
  bytes: Uint8Array,
  keyring: Keyring,
  logger: Logger = silentLogger,
): FileVerdict {
  const apk: ApkToolsVerdict = apkToolsVerify(bytes, keyring);
  const index = looksLikeIndex(bytes);
  const tk = tkVerdict(file, bytes, keyring, index, logger);
  const line = {
    file,
    kind: index ? ('index' as const) : ('package' as const),
    result: apk.result,
    text: apk.text,
  };
  if (apk.status === 'OK' && tk.status !== 'OK') {
    return {
      ...line,
      status: 'BAD',
      reason: `apk-tools accepts it, but tk does not: ${tk.reason}`,
      ...(tk.code === undefined ? {} : { code: tk.code }),
    };
  }
  if (apk.status === 'OK') return { ...line, status: 'OK', reason: tk.reason };
  // apk-tools' reason explains its line; tk's reading is added when it sees the file differently.
  const reason = tk.status === apk.status ? apk.reason : `${apk.reason} (tk: ${tk.reason})`;
  return { ...line, status: apk.status, reason, ...(apk.code === undefined ? {} : { code: apk.code }) };
}

/** apk-tools' line for a file it cannot open or read: `-errno - strerror`. */
function readErrorVerdict(file: string, error: unknown): FileVerdict {
  const code = (error as { code?: string }).code ?? 'EIO';
  const errno = (constants.errno as Record<string, number | undefined>)[code] ?? 5;
  return {
    file,
    kind: 'package',
    status: 'BAD',
    result: -errno,
    text: apkToolsErrorText(-errno),
    reason: (error as Error).message,
    code,
  };
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
      verdicts.push(readErrorVerdict(file, error));
      continue;
    }
    verdicts.push(verifyFileBytes(file, bytes, keyring, logger));
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
