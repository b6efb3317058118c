/**
 * The exact verdict of apk-tools 2.14.10's `apk verify` on a file, damaged or not.
 *
 * `apk verify` does not parse a package and then judge it: it streams the file through zlib, a tar
 * reader and a signature context at once (`src/app_verify.c`), and the first of them to fail decides the
 * line it prints. That is why a damaged file gets different verdicts depending on where it is damaged:
 *
 * - `-5 - IO ERROR`: zlib reports an error (corrupt deflate data, a CRC or length mismatch, a bad
 *   header) before anything else failed;
 * - `0 - UNTRUSTED`: the file ends cleanly (at a 512-byte tar record) before a signature was checked,
 *   or no signature names a trusted key;
 * - `-74 - BAD archive`: the file ends inside a tar record, or after the signature was checked but before
 *   the data was; or a gzip member follows the end of the data;
 * - `-129 - BAD signature`: the trusted signature or the datahash does not match, or the file ends while
 *   still in the signature section;
 * - `-1026 - package file format error`: the tar reader meets a header without the `ustar` magic or with
 *   a malformed number (zlib hands out data in 128 KiB reads, so garbage can reach the tar reader
 *   before zlib notices the damage further on);
 * - `-42 - archive does not contain expected data`: a data file inside the control section of a package
 *   whose `.PKGINFO` has a datahash.
 *
 * This module reproduces that pipeline step by step (`internal/apktools/`): the 128 KiB file and gzip
 * buffers, `gzi_read`'s member boundaries and callbacks, zlib 1.2.13's error detection, `apk_tar_parse`,
 * and the signature context, including its quirks. It is checked against apk-tools itself on hundreds
 * of damaged real packages and indexes (`test-fixtures/parity/apk-verify-mutants.json`).
 */
import type { Keyring } from '@tk/keys';
import type { ApkErrorCode } from './errors.ts';
import { GzipIStream } from './internal/apktools/gunzip.ts';
import {
  EAPKFORMAT,
  EBADMSG,
  EIO,
  EKEYREJECTED,
  ENAMETOOLONG,
  ENOKEY,
  ENOMSG,
  FileIStream,
} from './internal/apktools/istream.ts';
import { SignContext, type SignEvent } from './internal/apktools/sign.ts';
import { tarParse, type TarFailure } from './internal/apktools/tar.ts';
import type { VerifyStatus } from './verify.ts';

/** apk-tools' verdict on one file. */
export interface ApkToolsVerdict {
  /** The number apk-tools prints: 0 for OK and UNTRUSTED, otherwise a negative errno. */
  result: number;
  /** The text after the number: `OK`, `UNTRUSTED`, `BAD signature`, `IO ERROR`, `BAD archive`, … */
  text: string;
  status: VerifyStatus;
  /** What decided the verdict, in words. */
  reason: string;
  /** A code for verdicts other than OK and UNTRUSTED. */
  code?: ApkErrorCode;
  /** The key whose signature was checked, if one was. */
  keyName?: string;
}

/** Options of {@link apkToolsVerify}. */
export interface ApkToolsVerifyOptions {
  /**
   * Inflate every gzip member with tk's port of zlib instead of Node's zlib for the intact ones (slower;
   * the verdict is the same, which tests check).
   */
  zlibPortOnly?: boolean;
}

/** `strerror()` (glibc) for the errors a verification can end with. */
const STRERROR: Readonly<Record<number, string>> = {
  1: 'Operation not permitted',
  2: 'No such file or directory',
  5: 'Input/output error',
  12: 'Cannot allocate memory',
  13: 'Permission denied',
  21: 'Is a directory',
  22: 'Invalid argument',
  36: 'File name too long',
  105: 'No buffer space available',
};

/**
 * apk-tools' text for an error number (`apk_error_str` in `src/print.c`, falling back to glibc's
 * `strerror`).
 *
 * @param result - a negative errno (or apk-tools' own codes from 1024)
 * @returns e.g. `BAD archive` for -74
 */
export function apkToolsErrorText(result: number): string {
  const error = Math.abs(result);
  switch (error) {
    case ENOKEY:
      return 'UNTRUSTED signature';
    case EKEYREJECTED:
      return 'BAD signature';
    case EIO:
      return 'IO ERROR';
    case EBADMSG:
      return 'BAD archive';
    case ENOMSG:
      return 'archive does not contain expected data';
    case 65:
      return "could not find a repo which provides this package (check repositories file and run 'apk update')";
    case 103:
      return 'network connection aborted';
    case 1024:
      return 'invalid URL (check your repositories file)';
    case 1025:
      return "package mentioned in index not found (try 'apk update')";
    case EAPKFORMAT:
      return 'package file format error';
    case 1027:
      return 'package dependency format error';
    case 1028:
      return 'database file format error';
    case 1029:
      return 'cache not available';
    case 1030:
      return 'cryptocraphic library error';
    default:
      return STRERROR[error] ?? `Unknown error ${error}`;
  }
}

const scheme = (algorithm: string | undefined): string =>
  algorithm === 'sha1' ? 'RSA' : algorithm === 'sha512' ? 'RSA512' : 'RSA256';

function lastEvent<K extends SignEvent['kind']>(
  events: readonly SignEvent[],
  kind: K,
): Extract<SignEvent, { kind: K }> | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.kind === kind) return e as Extract<SignEvent, { kind: K }>;
  }
  return undefined;
}

function describeUntrusted(sctx: SignContext, bytes: Uint8Array): string {
  const noKey = lastEvent(sctx.events, 'no-trusted-key');
  if (noKey !== undefined) {
    return noKey.signatures.length === 0
      ? 'it is not signed'
      : `no trusted key in the keyring for its signatures (${noKey.signatures.map((s) => JSON.stringify(s.replace(/^\.SIGN\.[^.]*\./, ''))).join(', ')})`;
  }
  return `the file (${bytes.length} bytes) ends before apk-tools checked any signature`;
}

/**
 * Verify a file as `apk verify --keys-dir DIR FILE` (apk-tools 2.14.10) does, and say why.
 *
 * @param bytes - the whole file (a package or an APKINDEX.tar.gz: apk-tools treats both alike)
 * @param keyring - the trusted keys, found by exact file name
 * @param options - test options
 * @returns the line apk-tools prints (`result`, `text`) and the reason
 * @example
 * const v = apkToolsVerify(bytes, keyring);
 * console.log(`${file}: ${v.result} - ${v.text}`);
 */
export function apkToolsVerify(
  bytes: Uint8Array,
  keyring: Keyring,
  options: ApkToolsVerifyOptions = {},
): ApkToolsVerdict {
  const sctx = new SignContext(keyring);
  const file = new FileIStream(bytes);
  const gz = new GzipIStream(file, bytes, sctx.mpartCb, { portOnly: options.zlibPortOnly === true });
  let tarFailure: TarFailure | undefined;
  const tarRc = tarParse(gz, sctx.verifyTar, (f) => {
    tarFailure ??= f;
  });
  const r = sctx.status(tarRc);

  const found = lastEvent(sctx.events, 'key-found');
  const keyName = found?.keyName;
  const base = keyName === undefined ? {} : { keyName };
  if (r === 0) {
    return {
      result: 0,
      text: 'OK',
      status: 'OK',
      reason: `${scheme(found?.algorithm)} signature by ${JSON.stringify(keyName)} verifies${sctx.hasDataChecksum ? ' and the data matches its datahash' : sctx.hasPkginfo ? ' over control and data' : ' over the rest of the file'}`,
      ...base,
    };
  }
  if (r === -ENOKEY)
    return {
      result: 0,
      text: 'UNTRUSTED',
      status: 'UNTRUSTED',
      reason: describeUntrusted(sctx, bytes),
      ...base,
    };

  const text = apkToolsErrorText(r);
  const bad = (reason: string, code: ApkErrorCode): ApkToolsVerdict => ({
    result: r,
    text,
    status: 'BAD',
    reason,
    code,
    ...base,
  });
  switch (-r) {
    case EIO: {
      const f = gz.failure;
      return bad(
        f === undefined
          ? 'the file cannot be read'
          : `gzip member at byte ${f.memberOffset} is corrupt (zlib: ${f.message})`,
        'APK_BAD_FORMAT',
      );
    }
    case EKEYREJECTED: {
      const stale =
        gz.staleBoundary === undefined
          ? ''
          : ` (a gzip member ends exactly at byte ${gz.staleBoundary}, a multiple of apk-tools' 128 KiB read size, where apk-tools 2.14.10 hashes the bytes that follow instead of the member's last ones)`;
      if (lastEvent(sctx.events, 'datahash-mismatch') !== undefined)
        return bad(`the data section does not match the signed datahash${stale}`, 'APK_DATAHASH_MISMATCH');
      const badSig = lastEvent(sctx.events, 'signature-bad');
      if (badSig !== undefined)
        return bad(
          `the ${scheme(found?.algorithm)} signature by ${JSON.stringify(badSig.keyName)} does not verify with the key of that name${stale}`,
          'APK_BAD_SIGNATURE',
        );
      return bad('the file ends inside its signature section', 'APK_BAD_SIGNATURE');
    }
    case EBADMSG: {
      if (tarFailure !== undefined)
        return bad(
          `${tarFailure.message} (at byte ${tarFailure.streamOffset} of the tar stream)`,
          'APK_BAD_FORMAT',
        );
      if (lastEvent(sctx.events, 'member-after-end') !== undefined)
        return bad('another gzip member follows the verified data', 'APK_BAD_FORMAT');
      return bad(
        sctx.signatureVerified
          ? 'the signature verifies, but the file ends before its data was verified'
          : 'the file ends before its data was verified',
        'APK_BAD_FORMAT',
      );
    }
    case EAPKFORMAT:
      return bad(
        `${tarFailure?.message ?? 'malformed tar header'} (at byte ${tarFailure?.streamOffset ?? 0} of the tar stream)`,
        'APK_BAD_ENTRY',
      );
    case ENOMSG:
      return bad('a data file appears in the control section of a package with a datahash', 'APK_BAD_FORMAT');
    case ENAMETOOLONG:
      return bad('a tar entry name is too long', 'APK_BAD_ENTRY');
    default:
      return bad(`apk-tools error ${r}`, 'APK_BAD_FORMAT');
  }
}
