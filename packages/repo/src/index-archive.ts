/**
 * `APKINDEX.tar.gz`:
 *
 *     [ gzip: tar { .SIGN.RSA256.<key> … } (no end-of-archive) ]   optional, one or more signatures
 *     [ gzip: tar { APKINDEX, DESCRIPTION } (closed) ]
 *
 * Each signature covers every byte after the signature member (the unsigned archive as it was before
 * signing): SHA-1 for `.SIGN.RSA.`, SHA-256 for `.SIGN.RSA256.`. tk writes the body as melange/apko do
 * (APKINDEX then DESCRIPTION, mode 0644, mtime 0, closed) and signs with RSA-SHA256 by default.
 */
import { concatBytes, fromUtf8, utf8, type Logger } from '@tk/core';
import { gzip, splitGzipMembers } from '@tk/gzip';
import {
  parseSignatureEntryName,
  verifyBytes,
  type Keyring,
  type PrivateKey,
  type SignatureAlgorithm,
  type SignatureScheme,
} from '@tk/keys';
import { buildSignatureMember } from '@tk/apk';
import { readTar, TarWriter } from '@tk/tar';
import { isAscii, isUtf8 } from 'node:buffer';
import { RepoError } from './errors.ts';
import { warmUpScanner } from './index-scan.ts';
import { scanIndex, type IndexTable } from './index-table.ts';
import { serializeIndexText, type IndexEntry } from './index-text.ts';

/** apko's limit on a decompressed index (300 MiB). */
export const DEFAULT_MAX_INDEX_BYTES = 300 << 20;

/** A signature over an index. */
export interface IndexSignature {
  entryName: string;
  scheme: SignatureScheme;
  algorithm: SignatureAlgorithm | 'unsupported';
  keyName: string;
  signature: Uint8Array;
}

/** A parsed `APKINDEX.tar.gz`. */
export interface IndexArchive {
  description?: string;
  /**
   * The records, built on first access (from {@link table}, whose `entry(i)` is `entries[i]`). A
   * resolve reads {@link table} instead and builds only the records it needs.
   */
  entries: IndexEntry[];
  /** The records, read on demand. */
  table: IndexTable;
  signatures: IndexSignature[];
  /** Offset where the signed part starts (0 when unsigned). */
  signedStart: number;
}

/** Options for {@link readIndexArchive}. */
export interface ReadIndexOptions {
  maxBytes?: number;
  strict?: boolean;
  logger?: Logger;
  source?: string;
}

/** Compressed size from which {@link readIndexArchive} warms the compiled scan up (its inflated text is about 1 MB). */
const WARM_UP_SIZE = 256 * 1024;

function archiveError(source: string, message: string, cause?: unknown): RepoError {
  return new RepoError('REPO_BAD_INDEX_ARCHIVE', `${source}: ${message}`, {
    hint: 'the index is corrupt or not an APKINDEX.tar.gz; regenerate it or download it again',
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Parse an `APKINDEX.tar.gz`.
 *
 * @param bytes - the archive
 * @param options - size limit, strictness, logger, source name
 * @returns records, description and signatures (not verified: see {@link verifyIndexArchive})
 * @throws {RepoError} REPO_BAD_INDEX_ARCHIVE, REPO_BAD_INDEX, REPO_TOO_LARGE
 */
export function readIndexArchive(bytes: Uint8Array, options: ReadIndexOptions = {}): IndexArchive {
  const source = options.source ?? 'APKINDEX.tar.gz';
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_INDEX_BYTES;
  // A large index: let V8 optimize the compiled scan while this thread inflates it.
  if (bytes.length >= WARM_UP_SIZE) warmUpScanner();
  let members;
  try {
    members = splitGzipMembers(bytes, { maxOutputBytes: maxBytes });
  } catch (error) {
    if ((error as { code?: string }).code === 'GZIP_TOO_LARGE') {
      throw new RepoError('REPO_TOO_LARGE', `${source}: decompresses to more than ${maxBytes} bytes`, {
        cause: error,
        hint: 'raise the limit only for a trusted repository',
      });
    }
    throw archiveError(source, (error as Error).message, error);
  }
  const signatures: IndexSignature[] = [];
  let signedStart = 0;
  let rest = members;
  const firstTar = (() => {
    try {
      return readTar(members[0]!.data, { maxExtensionSize: 64 * 1024 });
    } catch (error) {
      throw archiveError(source, (error as Error).message, error);
    }
  })();
  if (firstTar.entries[0]?.name.startsWith('.SIGN.') === true) {
    for (const entry of firstTar.entries) {
      const parsed = parseSignatureEntryName(entry.name);
      if (parsed === null || entry.type !== 'file')
        throw archiveError(
          source,
          `entry ${JSON.stringify(entry.name)} in the signature member is not a signature`,
        );
      signatures.push({ entryName: entry.name, ...parsed, signature: entry.data });
    }
    if (firstTar.endOfArchive)
      throw archiveError(source, 'the signature member ends with an end-of-archive marker');
    signedStart = members[0]!.end;
    rest = members.slice(1);
  }
  if (rest.length === 0) throw archiveError(source, 'has signatures but no index');
  let body;
  try {
    body = readTar(rest.length === 1 ? rest[0]!.data : concatBytes(rest.map((m) => m.data)), {
      maxExtensionSize: 64 * 1024,
    });
  } catch (error) {
    throw archiveError(source, (error as Error).message, error);
  }
  let index: Uint8Array | undefined;
  let ascii = false;
  let description: string | undefined;
  for (const entry of body.entries) {
    if (entry.name === 'APKINDEX' && entry.type === 'file') {
      ascii = isAscii(entry.data);
      if (!ascii && !isUtf8(entry.data)) throw archiveError(source, `${entry.name} is not valid UTF-8`);
      index = entry.data;
    } else if (entry.name === 'DESCRIPTION' && entry.type === 'file') {
      try {
        description = fromUtf8(entry.data).replace(/\n$/, '');
      } catch {
        throw archiveError(source, `${entry.name} is not valid UTF-8`);
      }
    } else if (entry.name.startsWith('.SIGN.'))
      throw archiveError(source, `signature ${JSON.stringify(entry.name)} outside the first member`);
    else
      options.logger?.warn(
        `${source}: unexpected entry ${JSON.stringify(entry.name)} ignored`,
        'REPO_INDEX_EXTRA_ENTRY',
      );
  }
  if (index === undefined) throw archiveError(source, 'has no APKINDEX entry');
  const table = scanIndex(
    index,
    {
      source: `${source}: APKINDEX`,
      ...(options.strict === undefined ? {} : { strict: options.strict }),
      ...(options.logger === undefined ? {} : { warn: (m: string, c: string) => options.logger?.warn(m, c) }),
    },
    ascii,
  );
  return {
    ...(description === undefined ? {} : { description }),
    get entries(): IndexEntry[] {
      return table.entries();
    },
    table,
    signatures,
    signedStart,
  };
}

/** The verdict on an index's signatures. */
export interface IndexVerifyResult {
  status: 'OK' | 'UNTRUSTED' | 'BAD';
  reason: string;
  /** Keys whose signatures verified. */
  verifiedBy: string[];
}

/**
 * Verify an index's signatures (apko's rule: one signature by a trusted key that verifies is enough;
 * signatures by unknown keys and DSA/RSA512 ones are skipped).
 *
 * @param bytes - the archive
 * @param archive - the same archive parsed
 * @param keyring - trusted keys; looked up by exact name, then with `.rsa.pub` trimmed (apko)
 * @returns OK, UNTRUSTED (unsigned, or no trusted key) or BAD (every trusted signature fails)
 */
export function verifyIndexArchive(
  bytes: Uint8Array,
  archive: IndexArchive,
  keyring: Keyring,
): IndexVerifyResult {
  if (archive.signatures.length === 0)
    return { status: 'UNTRUSTED', reason: 'the index is not signed', verifiedBy: [] };
  const signed = bytes.subarray(archive.signedStart);
  const verifiedBy: string[] = [];
  const failed: string[] = [];
  for (const sig of archive.signatures) {
    if (sig.algorithm === 'unsupported') continue;
    const key = keyring.get(sig.keyName);
    if (key === undefined) continue;
    if (verifyBytes(key, signed, sig.signature, sig.algorithm)) verifiedBy.push(sig.keyName);
    else failed.push(sig.keyName);
  }
  if (verifiedBy.length > 0)
    return {
      status: 'OK',
      reason: `signed by ${verifiedBy.map((k) => JSON.stringify(k)).join(', ')}`,
      verifiedBy,
    };
  if (failed.length > 0)
    return {
      status: 'BAD',
      reason: `signature by ${failed.map((k) => JSON.stringify(k)).join(', ')} does not verify with the key of that name`,
      verifiedBy,
    };
  return {
    status: 'UNTRUSTED',
    reason: `no trusted key for ${archive.signatures.map((s) => JSON.stringify(s.keyName)).join(', ')}`,
    verifiedBy,
  };
}

/** A key to sign indexes with. */
export interface IndexSigner {
  key: PrivateKey;
  keyName: string;
  algorithm?: SignatureAlgorithm;
}

/**
 * Write an unsigned or signed `APKINDEX.tar.gz`.
 *
 * @param index - records and optional description
 * @param options - signer; `sourceDateEpoch` for the entry times (melange writes 0)
 * @returns the archive bytes
 */
export async function writeIndexArchive(
  index: { entries: readonly IndexEntry[]; description?: string },
  options: { signer?: IndexSigner; sourceDateEpoch?: number } = {},
): Promise<Uint8Array> {
  const mtime = options.sourceDateEpoch ?? 0;
  const tar = new TarWriter();
  tar.add({
    name: 'APKINDEX',
    type: 'file',
    mode: 0o644,
    mtime,
    data: utf8(serializeIndexText(index.entries)),
  });
  tar.add({ name: 'DESCRIPTION', type: 'file', mode: 0o644, mtime, data: utf8(index.description ?? '') });
  const body = await gzip(tar.finish({ endOfArchive: true }));
  return options.signer === undefined ? body : signIndexBody(body, options.signer, mtime);
}

async function signIndexBody(body: Uint8Array, signer: IndexSigner, mtime: number): Promise<Uint8Array> {
  // The same one-entry `.SIGN.` member as a package's, over the whole unsigned index instead of a control member.
  return concatBytes([await buildSignatureMember(body, signer, mtime), body]);
}

/**
 * Sign an existing index (melange `sign-index`). An index that is already signed is refused unless
 * `force`, which replaces its signatures.
 *
 * @param bytes - the archive
 * @param signer - key and name
 * @param options - force
 * @returns the signed archive
 * @throws {RepoError} REPO_ALREADY_SIGNED, and the errors of {@link readIndexArchive}
 */
export async function signIndexArchive(
  bytes: Uint8Array,
  signer: IndexSigner,
  options: { force?: boolean } = {},
): Promise<Uint8Array> {
  const archive = readIndexArchive(bytes);
  if (archive.signatures.length > 0 && options.force !== true) {
    throw new RepoError(
      'REPO_ALREADY_SIGNED',
      `index is already signed by ${archive.signatures.map((s) => s.keyName).join(', ')}`,
      { hint: 'pass --force to replace its signatures' },
    );
  }
  return signIndexBody(bytes.subarray(archive.signedStart), signer, 0);
}
