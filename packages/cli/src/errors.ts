/**
 * The one place errors become output and exit codes: `error [CODE] message` and a hint for tk's own
 * errors, the stack and a request to report for bugs, the exit code for intended exits.
 */
import { CommanderError } from 'commander';
import { ExitError, InternalError, isTkError, TkError, type TkErrorOptions } from '@tk/core';
import type { TextSink } from './context.ts';

/** Stable error codes of `@tk/cli`. */
export type CliErrorCode =
  /** A flag's value is malformed (not a number, not one of the allowed values). */
  'CLI_BAD_FLAG';

/** An error in how a command was called. */
export class CliError extends TkError<CliErrorCode> {
  constructor(code: CliErrorCode, message: string, options?: TkErrorOptions) {
    super(code, message, options);
  }
}

/**
 * Render an error thrown by a command.
 *
 * @param error - what was thrown
 * @param stderr - where to write
 * @returns the process exit code
 */
export function renderError(error: unknown, stderr: TextSink): number {
  if (error instanceof ExitError) return error.exitCode;
  if (error instanceof CommanderError) {
    // commander already printed its message (help, version, usage errors).
    return error.exitCode;
  }
  if (isTkError(error)) {
    stderr.write(`error [${error.code}] ${error.message}\n`);
    if (error.hint !== undefined) stderr.write(`  hint: ${error.hint}\n`);
    return 1;
  }
  if (error instanceof InternalError) {
    stderr.write(`internal error: ${error.stack ?? error.message}\n`);
    stderr.write('This is a bug in tk; please report it with the command you ran.\n');
    return 70;
  }
  const err = error as { code?: string; message?: string; path?: string; stack?: string };
  if (typeof err.code === 'string' && /^E[A-Z]+$/.test(err.code)) {
    // Operating-system errors (ENOENT, EACCES…) are the user's environment, not tk bugs.
    stderr.write(`error [${err.code}] ${err.message ?? String(error)}\n`);
    return 1;
  }
  stderr.write(`error: ${err.stack ?? String(error)}\n`);
  return 1;
}
