import { TkError, type TkErrorOptions } from '@tk/core';

/** Stable error codes of `@tk/tar`. */
export type TarErrorCode =
  /** A header block is malformed: checksum, magic, numeric field or type. */
  | 'TAR_BAD_HEADER'
  /** The archive ends inside a header or an entry's data. */
  | 'TAR_TRUNCATED'
  /** A PAX or GNU long-name extension is malformed or too large. */
  | 'TAR_BAD_EXTENSION'
  /** An entry path is unsafe: absolute, `..`, control characters, empty. */
  | 'TAR_UNSAFE_PATH'
  /** An entry type tk does not support (sparse files, volume headers…). */
  | 'TAR_UNSUPPORTED'
  /** The writer was given an entry it cannot represent. */
  | 'TAR_BAD_INPUT';

/** An error from reading or writing tar archives; `data.offset` is the header's byte offset when known. */
export class TarError extends TkError<TarErrorCode> {
  constructor(code: TarErrorCode, message: string, options?: TkErrorOptions) {
    super(code, message, options);
  }
}
