import { TkError, type TkErrorOptions } from '@tk/core';

/** Stable error codes of `@tk/melange`. */
export type MelangeErrorCode =
  /** A command that needs package files was given none. */
  'MELANGE_NO_PACKAGES';

/** An error from a melange command. */
export class MelangeError extends TkError<MelangeErrorCode> {
  constructor(code: MelangeErrorCode, message: string, options?: TkErrorOptions) {
    super(code, message, options);
  }
}
