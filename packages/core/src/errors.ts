/**
 * tk's error model. Every failure a user can cause or fix is a {@link TkError}: a stable, documented
 * `code`, a message that says what happened with concrete values, and a `hint` that says what to do next.
 * Packages subclass it with their own code union (`ApkError<'APK_…'>`). Bugs are {@link InternalError}s;
 * intended non-zero exits are {@link ExitError}s. Only the CLI turns these into output and exit codes.
 */

/** Options shared by every tk error. */
export interface TkErrorOptions {
  /** What the user can do next. */
  hint?: string;
  /** The underlying error, if any (ES2022 `cause`). */
  cause?: unknown;
  /** Structured data for callers (paths, offsets, package names). */
  data?: Readonly<Record<string, unknown>>;
}

/**
 * Base class of all user-facing tk errors.
 *
 * @example
 * throw new TkError('APK_BAD_GZIP', 'truncated gzip member at byte 647', { hint: 'download the file again' });
 */
export class TkError<C extends string = string> extends Error {
  readonly code: C;
  readonly hint: string | undefined;
  readonly data: Readonly<Record<string, unknown>> | undefined;

  constructor(code: C, message: string, options: TkErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.data = options.data;
  }
}

/** A bug in tk: rendered with its stack and a "please report" line. */
export class InternalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InternalError';
  }
}

/** An intended non-zero exit (for example `tk apk verify` finding a bad signature). Prints nothing itself. */
export class ExitError extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message = `exit ${exitCode}`) {
    super(message);
    this.name = 'ExitError';
    this.exitCode = exitCode;
  }
}

/**
 * Narrow an unknown thrown value to a {@link TkError}.
 *
 * @param error - anything that was thrown
 * @returns true if it is a TkError (from any package)
 */
export function isTkError(error: unknown): error is TkError {
  return error instanceof TkError;
}

/**
 * Throw an {@link InternalError}; use where the type system cannot prove a case impossible.
 *
 * @param message - what invariant broke
 * @throws {InternalError} always
 */
export function internalError(message: string, cause?: unknown): never {
  throw new InternalError(message, cause === undefined ? undefined : { cause });
}
