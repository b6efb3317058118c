/**
 * What a command runs with. The binary fills it from the process; tests fill it with buffers, so every
 * command can run in-process and its output can be asserted.
 */
import type { Logger } from '@tk/core';

/** Somewhere text goes. */
export interface TextSink {
  write(text: string): unknown;
}

/** Log levels, from the most to the least verbose. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
/** A log level. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The environment of one command invocation. */
export interface CliContext {
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  stdout: TextSink;
  stderr: TextSink;
  /** Read all of standard input (for `--password-stdin`). */
  readStdin?: () => Promise<string>;
  /** Whether stderr is a terminal: progress is drawn only then. */
  isTTY: boolean;
  /** Set from `--log-level`. */
  logLevel: LogLevel;
  /** The logger commands pass to library code; created from the fields above. */
  logger: Logger;
}
