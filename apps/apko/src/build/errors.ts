import { TkError, type TkErrorOptions } from '@tk/core';

/** Stable error codes of the apko build. */
export type ApkoErrorCode =
  /** `entrypoint.command` or `cmd` cannot be split into words (unterminated quote…). */
  | 'APKO_BAD_COMMAND'
  /** A flag or environment value is malformed (`--build-date`, `SOURCE_DATE_EPOCH`, an output path…). */
  | 'APKO_BAD_OPTION'
  /** The configuration asks for something this build cannot do (an unsupported certificates provider…). */
  | 'APKO_UNSUPPORTED'
  /** The lock file does not belong to this configuration or these archs. */
  | 'APKO_LOCK_MISMATCH';

/** An error from building an image. */
export class ApkoError extends TkError<ApkoErrorCode> {
  constructor(code: ApkoErrorCode, message: string, options?: TkErrorOptions) {
    super(code, message, options);
  }
}
