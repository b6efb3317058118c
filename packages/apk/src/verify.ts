/**
 * Package verification with apk-tools 2.14's verdicts (`apk verify`, `src/app_verify.c` + `package.c`):
 *
 * - the first signature whose key is in the keyring (looked up by exact file name) decides, and its
 *   scheme picks the digest; later signatures are ignored;
 * - with a `datahash`, the signature covers the raw control member and the data members must hash to the
 *   datahash (SHA-256); without one (legacy), the signature covers control and data together;
 * - no usable signature: UNTRUSTED, even when the data does not match the datahash (apk-tools checks
 *   the datahash only after a trusted signature vouched for it); a signature or datahash that does not
 *   verify: BAD signature (EKEYREJECTED, printed by apk as `-129 - BAD signature`).
 *
 * tk also reports *why*, and treats a malformed package as BAD rather than crashing.
 */
import { isTkError } from '@tk/core';
import { verifyBytes, type Keyring } from '@tk/keys';
import { readApk, type ApkPackage, type ReadApkOptions } from './reader.ts';

/** apk-tools' three verdicts. */
export type VerifyStatus = 'OK' | 'UNTRUSTED' | 'BAD';

/** The outcome of verifying a package. */
export interface ApkVerifyResult {
  status: VerifyStatus;
  /** What decided the verdict, in words. */
  reason: string;
  /** Error code for BAD verdicts. */
  code?: string;
  /** The key that verified (OK) or failed (BAD). */
  keyName?: string;
  /** The parsed package, when it could be parsed. */
  pkg?: ApkPackage;
}

/**
 * Verify a parsed package against a keyring.
 *
 * @param pkg - the package from {@link readApk}
 * @param bytes - the same file's bytes (signatures cover raw members)
 * @param keyring - trusted public keys by file name
 * @returns the verdict with its reason
 */
export function verifyParsedApk(pkg: ApkPackage, bytes: Uint8Array, keyring: Keyring): ApkVerifyResult {
  const { control, data } = pkg.sections;
  const datahash = pkg.pkginfo.datahash;
  const dataMismatch = datahash !== undefined && datahash !== pkg.dataHash;
  const chosen = pkg.signatures.find(
    (s) => s.algorithm !== 'unsupported' && keyring.get(s.keyName, { exact: true }) !== undefined,
  );
  if (chosen === undefined || chosen.algorithm === 'unsupported') {
    // apk-tools checks the datahash only once a trusted signature has vouched for it: UNTRUSTED either way.
    const reason =
      (pkg.signatures.length === 0
        ? 'the package is not signed'
        : `no trusted key for ${pkg.signatures.map((s) => JSON.stringify(s.keyName)).join(', ')} in the keyring`) +
      (dataMismatch ? `; also, its data section does not match its datahash` : '');
    return { status: 'UNTRUSTED', reason, pkg };
  }
  const key = keyring.get(chosen.keyName, { exact: true })!;
  const signed =
    datahash === undefined
      ? bytes.subarray(control.start, data.end)
      : bytes.subarray(control.start, control.end);
  if (!verifyBytes(key, signed, chosen.signature, chosen.algorithm)) {
    return {
      status: 'BAD',
      code: 'APK_BAD_SIGNATURE',
      reason: `the ${chosen.scheme} signature by ${JSON.stringify(chosen.keyName)} does not verify with the key of that name (key fingerprint sha256:${key.fingerprint.slice(0, 16)}…)`,
      keyName: chosen.keyName,
      pkg,
    };
  }
  if (dataMismatch) {
    return {
      status: 'BAD',
      code: 'APK_DATAHASH_MISMATCH',
      reason: `data section hashes to ${pkg.dataHash}, but the signed .PKGINFO datahash is ${datahash}`,
      keyName: chosen.keyName,
      pkg,
    };
  }
  return {
    status: 'OK',
    reason: `${chosen.scheme} signature by ${JSON.stringify(chosen.keyName)}${datahash === undefined ? ' over control and data' : ', datahash matches'}`,
    keyName: chosen.keyName,
    pkg,
  };
}

/**
 * The line apk-tools' `apk verify` prints for a verdict of tk's own verifier: its result number and text.
 * This is a classification of tk's verdict, right for intact files; for damaged files apk-tools' line
 * depends on where its streaming reader trips first, which only `apkToolsVerify` (`apktools-verify.ts`)
 * reproduces exactly. `tk apk verify` prints that one.
 *
 * @param result - a verdict from {@link verifyApk}
 * @returns e.g. `{ result: 0, text: 'OK' }`, `{ result: -129, text: 'BAD signature' }` (EKEYREJECTED),
 *   `{ result: -74, text: 'BAD archive' }` (EBADMSG) for malformed packages, `{ result: -5, text: 'IO ERROR' }`
 *   for files that are not gzip at all
 */
export function apkToolsVerdict(result: Pick<ApkVerifyResult, 'status' | 'code' | 'reason'>): {
  result: number;
  text: string;
} {
  if (result.status === 'OK') return { result: 0, text: 'OK' };
  if (result.status === 'UNTRUSTED') return { result: 0, text: 'UNTRUSTED' };
  if (
    result.code === 'APK_BAD_SIGNATURE' ||
    result.code === 'APK_DATAHASH_MISMATCH' ||
    result.code === 'APK_FILE_CHECKSUM_MISMATCH'
  ) {
    return { result: -129, text: 'BAD signature' };
  }
  if (result.code === 'APK_BAD_FORMAT' && /no gzip member at byte 0\b/.test(result.reason))
    return { result: -5, text: 'IO ERROR' };
  return { result: -74, text: 'BAD archive' };
}

/**
 * Parse and verify a package file's bytes. Malformed packages are BAD, with the parse error's code.
 *
 * @param bytes - the `.apk` file
 * @param keyring - trusted public keys by file name
 * @param options - reader options (limits, per-file checksums)
 * @returns the verdict
 * @example
 * const { status } = verifyApk(bytes, await loadKeyring(['/etc/apk/keys']));
 */
export function verifyApk(
  bytes: Uint8Array,
  keyring: Keyring,
  options: ReadApkOptions = {},
): ApkVerifyResult {
  let pkg: ApkPackage;
  try {
    pkg = readApk(bytes, options);
  } catch (error) {
    if (isTkError(error)) return { status: 'BAD', code: error.code, reason: error.message };
    throw error;
  }
  return verifyParsedApk(pkg, bytes, keyring);
}
