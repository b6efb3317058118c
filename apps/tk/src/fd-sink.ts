/**
 * Standard output and standard error as {@link TextSink}s that write straight to their file descriptors.
 *
 * On Linux, Node's `process.stdout` and `process.stderr` write synchronously to files, pipes and
 * terminals, but building either one loads Node's `net` and `tty` modules and a stream: about 3 ms of a
 * short command (measured here with a pipe: `node -e 'process.stdout'` 63 ms, `node -e 0` 60 ms). A
 * {@link FdSink} writes with `writeSync` instead, so the same bytes reach the same descriptor in the same
 * order. When a write cannot go through at once (a non-blocking pipe that is full: `EAGAIN`), the sink
 * hands that text and all later text to the stream, which waits for the reader. When the reader has gone
 * (`EPIPE`, as in `tk apko show-packages … | head -1`), later text is dropped: there is nobody to read it.
 */
import { fstatSync, writeSync } from 'node:fs';
import type { TextSink } from '@tk/cli';

/** `fs.writeSync`'s buffer form: how many bytes of `buffer[offset, offset + length)` were written. */
export type WriteSync = (fd: number, buffer: Uint8Array, offset: number, length: number) => number;

/** The stream a sink falls back to: what Node would have used (`process.stdout` or `process.stderr`). */
export interface FallbackStream {
  write(chunk: Uint8Array | string): boolean;
  readonly writableLength: number;
}

/** A {@link TextSink} on a file descriptor (see the module comment). */
export class FdSink implements TextSink {
  readonly #fd: number;
  readonly #openStream: () => FallbackStream;
  readonly #writeSync: WriteSync;
  #stream: FallbackStream | undefined;
  #closed = false;

  /**
   * @param fd - the descriptor (1 or 2)
   * @param openStream - the stream to fall back to, made on first need
   * @param write - the synchronous write (tests pass their own)
   */
  constructor(fd: number, openStream: () => FallbackStream, write: WriteSync = writeSync) {
    this.#fd = fd;
    this.#openStream = openStream;
    this.#writeSync = write;
  }

  /**
   * Write text (UTF-8).
   *
   * @param text - the text
   * @throws the write's error, other than `EAGAIN`, `EINTR` and `EPIPE`
   */
  write(text: string): void {
    if (this.#closed || text === '') return;
    if (this.#stream !== undefined) {
      this.#stream.write(text);
      return;
    }
    const bytes = Buffer.from(text, 'utf8');
    let offset = 0;
    while (offset < bytes.length) {
      try {
        offset += this.#writeSync(this.#fd, bytes, offset, bytes.length - offset);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EINTR') continue;
        if (code === 'EPIPE') {
          this.#closed = true;
          return;
        }
        if (code !== 'EAGAIN') throw error;
        this.#stream = this.#openStream();
        this.#stream.write(bytes.subarray(offset));
        return;
      }
    }
  }

  /** Bytes the fallback stream still holds (0 when none was needed): the process may end when both are 0. */
  get pending(): number {
    return this.#stream?.writableLength ?? 0;
  }
}

/**
 * Whether a descriptor is a terminal, without building a stream when it cannot be one: only a character
 * device can be a terminal, and pipes and files (scripts, CI) are not.
 *
 * @param fd - the descriptor
 * @param stream - its stream, asked only for a character device (a terminal or `/dev/null`)
 * @returns whether it is a terminal
 */
export function isTerminal(fd: number, stream: () => { readonly isTTY?: boolean }): boolean {
  try {
    if (!fstatSync(fd).isCharacterDevice()) return false;
  } catch {
    return false;
  }
  return stream().isTTY === true;
}
