import { TkError, type TkErrorOptions } from '@tk/core';

/** Stable error codes of `@tk/gzip`. */
export type GzipErrorCode =
  /** Not a gzip member where one was expected (bad magic, method or flags). */
  | 'GZIP_BAD_HEADER'
  /** The input ends inside a member. */
  | 'GZIP_TRUNCATED'
  /** The deflate stream is corrupt. */
  | 'GZIP_BAD_DATA'
  /** The trailer's CRC-32 or length does not match the data. */
  | 'GZIP_BAD_CHECKSUM'
  /** Decompressing would exceed the configured size limit. */
  | 'GZIP_TOO_LARGE';

/** An error from reading or writing gzip data. `data.offset` is the byte offset of the member. */
export class GzipError extends TkError<GzipErrorCode> {
  constructor(code: GzipErrorCode, message: string, options?: TkErrorOptions) {
    super(code, message, options);
  }
}
