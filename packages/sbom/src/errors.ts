import { TkError, type TkErrorOptions } from '@tk/core';

/** Stable error codes of `@tk/sbom`. Tests assert on these, never on message text. */
export type SbomErrorCode =
  /** A digest given for an image, layer or index is not `sha256:` followed by 64 lowercase hex digits. */
  | 'SBOM_BAD_DIGEST'
  /** The caller gave an impossible input: a build date out of range, an empty name or version. */
  | 'SBOM_BAD_INPUT';

/** An error from building an SPDX document. */
export class SbomError extends TkError<SbomErrorCode> {
  constructor(code: SbomErrorCode, message: string, options?: TkErrorOptions) {
    super(code, message, options);
  }
}
