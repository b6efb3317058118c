/**
 * The logger interface library packages emit through. Libraries never print: the CLI decides how a
 * message or a progress event is rendered (a terminal bar, plain lines, or nothing).
 */

/** A unit of long work: downloading, compressing, pushing. `total` is in `unit`s when known. */
export interface ProgressEvent {
  /** Stable id of the task, so updates replace each other on a terminal. */
  id: string;
  /** Short human label ("compress x86_64 layer"). */
  label: string;
  /** Work done so far. */
  current: number;
  /** Work in all, when known. */
  total?: number;
  /** What `current` and `total` count. */
  unit?: 'bytes' | 'items';
  /** True on the last event of the task. */
  done?: boolean;
}

/** Where library code sends messages and progress. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  /** A recoverable problem. `code` is a stable warning code when there is one. */
  warn(message: string, code?: string): void;
  progress(event: ProgressEvent): void;
}

/** A logger that drops everything: the default for library calls that were given none. */
export const silentLogger: Logger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  progress() {},
});

/** A logger that records every message: for tests. */
export interface RecordingLogger extends Logger {
  readonly messages: { level: 'debug' | 'info' | 'warn'; message: string; code?: string }[];
  readonly events: ProgressEvent[];
}

/**
 * Create a {@link RecordingLogger}.
 *
 * @returns a logger whose `messages` and `events` arrays fill as it is used
 */
export function createRecordingLogger(): RecordingLogger {
  const messages: RecordingLogger['messages'] = [];
  const events: ProgressEvent[] = [];
  return {
    messages,
    events,
    debug: (message) => void messages.push({ level: 'debug', message }),
    info: (message) => void messages.push({ level: 'info', message }),
    warn: (message, code) =>
      void messages.push(code === undefined ? { level: 'warn', message } : { level: 'warn', message, code }),
    progress: (event) => void events.push({ ...event }),
  };
}
