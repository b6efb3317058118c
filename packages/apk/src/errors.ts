import { TkError, type TkErrorOptions } from '@tk/core';

/** Stable error codes of `@tk/apk`. Tests assert on these, never on message text. */
export type ApkErrorCode =
  /** A version string does not follow apk-tools' grammar. */
  | 'APK_BAD_VERSION'
  /** A dependency token (`name@tag>=1.0`) cannot be parsed. */
  | 'APK_BAD_DEPENDENCY'
  /** The file is not a sequence of gzip members in the apk layout. */
  | 'APK_BAD_FORMAT'
  /** A tar entry is malformed, unsafe or in the wrong section. */
  | 'APK_BAD_ENTRY'
  /** `.PKGINFO` is missing or malformed. */
  | 'APK_BAD_PKGINFO'
  /** A signature entry is malformed or does not verify. */
  | 'APK_BAD_SIGNATURE'
  /** The data section does not hash to `.PKGINFO`'s datahash. */
  | 'APK_DATAHASH_MISMATCH'
  /** A file's content does not hash to its `APK-TOOLS.checksum.SHA1`. */
  | 'APK_FILE_CHECKSUM_MISMATCH'
  /** Input exceeds a configured size limit. */
  | 'APK_TOO_LARGE'
  /** Metadata or files given to the writer are invalid. */
  | 'APK_BAD_INPUT';

/** An error from reading, verifying or writing apk packages. */
export class ApkError extends TkError<ApkErrorCode> {
  constructor(code: ApkErrorCode, message: string, options?: TkErrorOptions) {
    super(code, message, options);
  }
}
