/**
 * Turning a child's output bytes into line callbacks: UTF-8 is decoded across chunk boundaries, each
 * complete line is passed on with its `\n`, and a line that grows past {@link MAX_LINE_CHARS} without one
 * is passed on in pieces (a step that prints megabytes without a newline must not grow memory).
 */
import { StringDecoder } from 'node:string_decoder';

/** The longest text held back while waiting for a newline. */
export const MAX_LINE_CHARS = 64 * 1024;

/** A line splitter for one stream. */
export interface LineSplitter {
  /** Feed bytes. */
  push(chunk: Uint8Array): void;
  /** Pass on what is left (a last line without `\n`). */
  end(): void;
}

/**
 * Create a line splitter.
 *
 * @param emit - receives each line (with its `\n`, except a last unterminated one or an over-long piece)
 * @param maxLine - pieces of an over-long line (default {@link MAX_LINE_CHARS})
 * @returns the splitter
 */
export function createLineSplitter(emit: (text: string) => void, maxLine = MAX_LINE_CHARS): LineSplitter {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  const drain = (text: string): void => {
    pending += text;
    let start = 0;
    for (;;) {
      const nl = pending.indexOf('\n', start);
      if (nl < 0) break;
      emit(pending.slice(start, nl + 1));
      start = nl + 1;
    }
    pending = pending.slice(start);
    while (pending.length >= maxLine) {
      emit(pending.slice(0, maxLine));
      pending = pending.slice(maxLine);
    }
  };
  return {
    push: (chunk) => drain(decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))),
    end: () => {
      drain(decoder.end());
      if (pending !== '') emit(pending);
      pending = '';
    },
  };
}
