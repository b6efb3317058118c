/**
 * The terminal logger: messages at or above the level go to stderr as plain lines; progress is drawn as
 * one self-updating line on a terminal, and as a single line per finished task otherwise (clean logs).
 */
import type { Logger, ProgressEvent } from '@tk/core';
import { LOG_LEVELS, type LogLevel, type TextSink } from './context.ts';

const RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

function formatAmount(n: number, unit: ProgressEvent['unit']): string {
  if (unit !== 'bytes') return String(n);
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Check a `--log-level` value.
 *
 * @param value - the flag's value
 * @returns the level, or undefined when it is not one
 */
export function parseLogLevel(value: string): LogLevel | undefined {
  return (LOG_LEVELS as readonly string[]).includes(value) ? (value as LogLevel) : undefined;
}

/**
 * Create the logger commands hand to library code.
 *
 * @param stderr - where it writes
 * @param options - level, whether stderr is a terminal, a clock for throttling (milliseconds)
 * @returns a Logger with a `clear()` that erases a drawn progress line before other output
 */
export function createCliLogger(
  stderr: TextSink,
  options: { level: LogLevel; isTTY: boolean; now?: () => number },
): Logger & { clear(): void } {
  const level = RANK[options.level];
  const now = options.now ?? (() => performance.now());
  let drawn = false;
  let lastDraw = 0;
  const clear = (): void => {
    if (drawn) stderr.write('\r\x1b[2K');
    drawn = false;
  };
  const line = (prefix: string, message: string): void => {
    clear();
    stderr.write(`${prefix}${message}\n`);
  };
  return {
    clear,
    debug: (message) => (level <= RANK.debug ? line('debug ', message) : undefined),
    info: (message) => (level <= RANK.info ? line('', message) : undefined),
    warn: (message, code) =>
      level <= RANK.warn ? line(code === undefined ? 'warning ' : `warning [${code}] `, message) : undefined,
    progress: (event) => {
      if (level > RANK.info) return;
      const amount =
        event.total === undefined
          ? formatAmount(event.current, event.unit)
          : `${formatAmount(event.current, event.unit)}/${formatAmount(event.total, event.unit)}`;
      if (!options.isTTY) {
        if (event.done === true) line('', `${event.label}: ${amount}`);
        return;
      }
      const t = now();
      if (event.done !== true && drawn && t - lastDraw < 100) return;
      lastDraw = t;
      const percent =
        event.total !== undefined && event.total > 0
          ? ` ${Math.floor((100 * event.current) / event.total)}%`
          : '';
      stderr.write(`\r\x1b[2K${event.label} ${amount}${percent}`);
      drawn = true;
      if (event.done === true) {
        stderr.write('\n');
        drawn = false;
      }
    },
  };
}
