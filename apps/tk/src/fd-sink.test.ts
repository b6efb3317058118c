import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FdSink, isTerminal, type FallbackStream, type WriteSync } from './fd-sink.ts';

/** A stream that records what it was given and claims `held` bytes still queued. */
function recordingStream(held = 0): FallbackStream & { chunks: string[]; opened: number } {
  const stream = {
    chunks: [] as string[],
    opened: 0,
    writableLength: held,
    write(chunk: Uint8Array | string): boolean {
      stream.chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    },
  };
  return stream;
}

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(code), { code });
}

describe('FdSink', () => {
  it('writes UTF-8 text to its descriptor, in order, without opening the stream', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tk-fd-sink-'));
    try {
      const path = join(dir, 'out');
      const fd = openSync(path, 'w');
      const stream = recordingStream();
      const sink = new FdSink(fd, () => {
        stream.opened++;
        return stream;
      });
      sink.write('caf\u00e9 ');
      sink.write('');
      sink.write('\u65e5\u672c\n');
      closeSync(fd);
      expect(readFileSync(path, 'utf8')).toBe('caf\u00e9 \u65e5\u672c\n');
      expect(stream.opened).toBe(0);
      expect(sink.pending).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finishes a partial write and retries an interrupted one', () => {
    const written: string[] = [];
    let calls = 0;
    const write: WriteSync = (_fd, buffer, offset, length) => {
      calls++;
      if (calls === 2) throw errno('EINTR');
      // At most 3 bytes per call.
      const count = Math.min(3, length);
      written.push(Buffer.from(buffer.subarray(offset, offset + count)).toString('latin1'));
      return count;
    };
    const sink = new FdSink(1, () => recordingStream(), write);
    sink.write('abcdefgh');
    expect(written.join('')).toBe('abcdefgh');
  });

  it('hands the rest to the stream when the descriptor would block, and everything after it', () => {
    const stream = recordingStream(5);
    let calls = 0;
    const write: WriteSync = (_fd, _buffer, _offset, length) => {
      calls++;
      if (calls === 1) return Math.min(4, length);
      throw errno('EAGAIN');
    };
    const sink = new FdSink(1, () => stream, write);
    sink.write('0123456789');
    sink.write('next');
    expect(stream.chunks).toEqual(['456789', 'next']);
    expect(calls).toBe(2);
    expect(sink.pending).toBe(5);
  });

  it('drops text once the reader has gone, and throws other errors', () => {
    let calls = 0;
    const gone = new FdSink(
      1,
      () => recordingStream(),
      () => {
        calls++;
        throw errno('EPIPE');
      },
    );
    gone.write('a');
    gone.write('b');
    expect(calls).toBe(1);
    const broken = new FdSink(
      1,
      () => recordingStream(),
      () => {
        throw errno('EBADF');
      },
    );
    expect(() => broken.write('a')).toThrow('EBADF');
  });

  it('writes through a pipe to a reader that stops early without failing the writer', () => {
    // `node … | head -c 1` in small: the child writes 1 MiB into a pipe whose reader takes one byte.
    const built = join(import.meta.dirname, '../dist/fd-sink.js');
    expect(existsSync(built), 'run `pnpm build` first (the test command does)').toBe(true);
    const script = `
      const { FdSink } = await import(${JSON.stringify(built)});
      const sink = new FdSink(1, () => process.stdout);
      for (let i = 0; i < 1024; i++) sink.write('x'.repeat(1024));
      process.stderr.write('done');`;
    const result = spawnSync(
      'bash',
      ['-c', `${JSON.stringify(process.execPath)} --input-type=module -e "$0" | head -c 1`, script],
      { encoding: 'utf8' },
    );
    expect(result.stdout).toBe('x');
    expect(result.stderr).toContain('done');
  });
});

describe('isTerminal', () => {
  it('says no for a file or a pipe without asking the stream', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tk-fd-sink-'));
    try {
      const fd = openSync(join(dir, 'f'), 'w');
      let asked = 0;
      expect(
        isTerminal(fd, () => {
          asked++;
          return { isTTY: true };
        }),
      ).toBe(false);
      closeSync(fd);
      expect(asked).toBe(0);
      expect(isTerminal(999_999, () => ({ isTTY: true }))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('asks the stream for a character device (a terminal or /dev/null)', () => {
    const fd = openSync('/dev/null', 'r');
    try {
      expect(isTerminal(fd, () => ({ isTTY: false }))).toBe(false);
      expect(isTerminal(fd, () => ({ isTTY: true }))).toBe(true);
    } finally {
      closeSync(fd);
    }
  });
});
