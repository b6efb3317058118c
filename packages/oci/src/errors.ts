import { TkError, type TkErrorOptions } from '@tk/core';

/**
 * Stable error codes of `@tk/oci`. The registry client (`src/registry/**`) appends its `OCI_REGISTRY_…`
 * members at the end of this union (see the marker comment below it).
 */
export type OciErrorCode =
  /** An architecture or platform is unknown or malformed (`--arch foo`, a platform without an architecture). */
  | 'OCI_BAD_PLATFORM'
  /** A digest string is not `sha256:` followed by 64 lowercase hex digits. */
  | 'OCI_BAD_DIGEST'
  /** A layer entry path is unsafe or malformed: absolute, `..`, control characters, empty, the root itself. */
  | 'OCI_LAYER_UNSAFE_PATH'
  /** A layer entry is malformed: unknown type, bad mode or owner, data on a non-file, a link without a target. */
  | 'OCI_LAYER_BAD_ENTRY'
  /** Two layer entries have the same path. */
  | 'OCI_LAYER_DUPLICATE_PATH'
  /** A layer entry's parent directory is not in the entry list (and synthesising parents was turned off). */
  | 'OCI_LAYER_MISSING_PARENT'
  /** A layer entry's parent path is in the entry list but is not a directory. */
  | 'OCI_LAYER_PARENT_NOT_DIRECTORY'
  /** A hard link's target is missing from the layer or is not a regular file. */
  | 'OCI_LAYER_BAD_HARDLINK'
  /** Image configuration input is invalid: a time out of range, a malformed diff_id, an empty value. */
  | 'OCI_BAD_CONFIG'
  /** A descriptor or blob is inconsistent: its digest or size does not match its bytes, or a media type is wrong. */
  | 'OCI_BAD_DESCRIPTOR'
  /** An index would list two images for the same platform. */
  | 'OCI_DUPLICATE_PLATFORM'
  /** An image reference (`name:tag`) is malformed. */
  | 'OCI_BAD_REFERENCE'
  /** An image reference carries a digest where only a tag makes sense (docker-archive RepoTags). */
  | 'OCI_REFERENCE_HAS_DIGEST'
  /** A docker-archive tarball was asked for without any tag. */
  | 'OCI_NO_TAGS'
  /** Writing an output (OCI layout, tarball) to the filesystem failed. */
  | 'OCI_WRITE_FAILED';
// ── registry client: append its | 'OCI_REGISTRY_…' members (each with a doc comment) to the union above ──

/**
 * An error from building or writing OCI artifacts. `data` carries the offending path, digest or reference.
 *
 * @example
 * throw new OciError('OCI_BAD_DIGEST', 'digest "sha256:xyz" is not sha256 hex', { data: { digest: 'sha256:xyz' } });
 */
export class OciError extends TkError<OciErrorCode> {
  constructor(code: OciErrorCode, message: string, options?: TkErrorOptions) {
    super(code, message, options);
  }
}
