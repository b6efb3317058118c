import { TkError, type TkErrorOptions } from '@tk/core';

/** Stable error codes of `@tk/repo`. */
export type RepoErrorCode =
  /** An APKINDEX record or line is malformed. */
  | 'REPO_BAD_INDEX'
  /** The APKINDEX.tar.gz archive has the wrong layout. */
  | 'REPO_BAD_INDEX_ARCHIVE'
  /** The index is not signed by a trusted key (and untrusted indexes were not allowed). */
  | 'REPO_UNTRUSTED_INDEX'
  /** An index signature does not verify. */
  | 'REPO_BAD_SIGNATURE'
  /** The index is already signed and re-signing was not forced. */
  | 'REPO_ALREADY_SIGNED'
  /** Input exceeds a size limit. */
  | 'REPO_TOO_LARGE';

/** An error from reading, writing or verifying repository indexes. */
export class RepoError extends TkError<RepoErrorCode> {
  constructor(code: RepoErrorCode, message: string, options?: TkErrorOptions) {
    super(code, message, options);
  }
}
