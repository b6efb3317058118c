import { TkError, type TkErrorOptions } from '@tk/core';

/** Stable error codes of `@tk/repo`. */
export type RepoErrorCode =
  /** A repository line cannot be parsed (empty, whitespace or control characters inside, bad tag, unsupported scheme). */
  | 'REPO_BAD_REPOSITORY'
  /** A package name, version or architecture cannot be part of a repository path (`/`, `..`, unsafe characters). */
  | 'REPO_BAD_PACKAGE_NAME'
  /** A repository has no `<arch>/APKINDEX.tar.gz` (HTTP 404 or a missing local file). */
  | 'REPO_INDEX_NOT_FOUND'
  /** A file asked of a repository or key URL does not exist (HTTP 404/410 or a missing local file). */
  | 'REPO_NOT_FOUND'
  /** The server refused the request (HTTP 401/403): credentials are missing or wrong. */
  | 'REPO_UNAUTHORIZED'
  /** A download failed: network error, timeout, truncated body or an HTTP error status, after the retries. */
  | 'REPO_FETCH_FAILED'
  /** A redirect was refused: too many hops, an https to http downgrade, or a target that is not http(s). */
  | 'REPO_BAD_REDIRECT'
  /** Offline mode was asked for and the file is not in the cache. */
  | 'REPO_OFFLINE_MISS'
  /** A package's bytes do not match its index record (identity `C:`, size `S:`) or its own datahash. */
  | 'REPO_PACKAGE_MISMATCH'
  /** An `HTTP_AUTH` value is not `basic:<host>:<user>:<password>`. */
  | 'REPO_BAD_HTTP_AUTH'
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
