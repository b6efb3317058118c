import { TkError, type TkErrorOptions } from '@tk/core';

/**
 * Stable error codes of `tk apko verify-image`: the image could not be read or cannot be trusted, so
 * nothing was verified (exit 2). Problems found *in* a readable image are findings, not errors.
 */
export type VerifyErrorCode =
  /** IMAGE is neither an existing tarball or OCI layout directory nor a registry reference (`HOST[:PORT]/REPO:TAG`). */
  | 'VERIFY_IMAGE_NOT_FOUND'
  /** The image is malformed: a tarball without the OCI `index.json`, invalid JSON, a document that is neither an index nor a manifest, a blob that is not there, a layer that is not a (gzip) tar or inflates beyond the limit. */
  | 'VERIFY_BAD_IMAGE'
  /** A manifest, config or layer does not match the digest or size its descriptor gives, or a layer does not match its `diff_id`. */
  | 'VERIFY_DIGEST_MISMATCH'
  /** A docker-archive's `manifest.json` (what `docker load` reads) names other configs or layers than its OCI index. */
  | 'VERIFY_ARCHIVE_INCONSISTENT'
  /** The image uses something the verifier does not read (zstd-compressed layers). */
  | 'VERIFY_UNSUPPORTED'
  /** A file of the image or the SBOM folder could not be read (permissions, I/O error, larger than the limit). */
  | 'VERIFY_READ_FAILED';

/** An error that stops `verify-image` before it can give a verdict. */
export class VerifyError extends TkError<VerifyErrorCode> {
  constructor(code: VerifyErrorCode, message: string, options?: TkErrorOptions) {
    super(code, message, options);
  }
}
