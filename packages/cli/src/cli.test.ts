import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { ExitError, InternalError, TkError } from '@tk/core';
import { renderError } from './errors.ts';
import { createCliLogger, parseLogLevel } from './logger.ts';

function sink(): { text: () => string; write: (s: string) => boolean } {
  let out = '';
  return { text: () => out, write: (s: string) => ((out += s), true) };
}

describe('createCliLogger', () => {
  it('filters by level and labels warnings with their code', () => {
    const err = sink();
    const logger = createCliLogger(err, { level: 'warn', isTTY: false });
    logger.debug('d');
    logger.info('i');
    logger.warn('careful', 'X_CODE');
    expect(err.text()).toBe('warning [X_CODE] careful\n');
  });

  it('prints one line per finished task off a terminal, and nothing in between', () => {
    const err = sink();
    const logger = createCliLogger(err, { level: 'info', isTTY: false });
    logger.progress({ id: 'a', label: 'fetch', current: 1, total: 3, unit: 'items' });
    logger.progress({ id: 'a', label: 'fetch', current: 3, total: 3, unit: 'items', done: true });
    logger.progress({ id: 'b', label: 'layer', current: 5 * 1024 * 1024, unit: 'bytes', done: true });
    expect(err.text()).toBe('fetch: 3/3\nlayer: 5.0 MiB\n');
  });

  it('redraws one line on a terminal, throttled, and clears it before messages', () => {
    const err = sink();
    let now = 0;
    const logger = createCliLogger(err, { level: 'info', isTTY: true, now: () => now });
    logger.progress({ id: 'a', label: 'push', current: 10, total: 100, unit: 'bytes' });
    now = 50;
    logger.progress({ id: 'a', label: 'push', current: 20, total: 100, unit: 'bytes' }); // throttled
    now = 200;
    logger.progress({ id: 'a', label: 'push', current: 50, total: 100, unit: 'bytes' });
    logger.info('hello');
    expect(err.text()).toBe('\r\x1b[2Kpush 10 B/100 B 10%\r\x1b[2Kpush 50 B/100 B 50%\r\x1b[2Khello\n');
  });

  it('parses log levels', () => {
    expect(parseLogLevel('debug')).toBe('debug');
    expect(parseLogLevel('loud')).toBeUndefined();
  });
});

describe('renderError', () => {
  it('renders tk errors with code and hint, and returns 1', () => {
    const err = sink();
    expect(renderError(new TkError('A_CODE', 'it broke', { hint: 'do this' }), err)).toBe(1);
    expect(err.text()).toBe('error [A_CODE] it broke\n  hint: do this\n');
  });

  it('passes intended exit codes through silently', () => {
    const err = sink();
    expect(renderError(new ExitError(3), err)).toBe(3);
    expect(renderError(new CommanderError(2, 'commander.unknownOption', 'x'), err)).toBe(2);
    expect(err.text()).toBe('');
  });

  it('asks for a report on internal errors and shows OS errors by code', () => {
    const err = sink();
    expect(renderError(new InternalError('invariant'), err)).toBe(70);
    expect(err.text()).toMatch(/^internal error: InternalError: invariant[\s\S]*please report/);
    const os = sink();
    expect(renderError(Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' }), os)).toBe(1);
    expect(os.text()).toBe('error [ENOENT] ENOENT: no such file\n');
  });
});
