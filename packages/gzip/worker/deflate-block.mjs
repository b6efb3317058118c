// Compresses one block of a pigz-style parallel gzip stream. Plain JavaScript so that both the worker
// threads and the in-thread path (from TypeScript sources or dist) run the very same code: the output
// must not depend on where a block was compressed.
import pako from 'pako';

const Z_SYNC_FLUSH = 2;
const Z_FINISH = 4;

/**
 * @param {Uint8Array} input the block
 * @param {Uint8Array | undefined} dictionary the last 32 KiB of the previous block, if any
 * @param {boolean} last whether this block ends the stream
 * @param {number} level zlib level 0-9
 * @returns {Uint8Array} raw deflate bytes: byte-aligned (sync flush) unless last
 */
export function deflateBlock(input, dictionary, last, level) {
  const options = { level, raw: true, windowBits: 15, memLevel: 8, strategy: 0 };
  if (dictionary !== undefined && dictionary.length > 0) options.dictionary = dictionary;
  const deflator = new pako.Deflate(options);
  deflator.push(input, last ? Z_FINISH : Z_SYNC_FLUSH);
  if (deflator.err) throw new Error(`deflate failed: ${deflator.msg}`);
  // On Z_FINISH pako joins its chunks into `result`; after a sync flush they are still in `chunks`.
  if (last) return deflator.result;
  const chunks = deflator.chunks;
  if (chunks.length === 1) return chunks[0];
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
