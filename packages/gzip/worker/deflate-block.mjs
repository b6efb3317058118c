// Compresses one block of a pigz-style parallel gzip stream. Plain JavaScript so that both the worker
// threads and the in-thread path (from TypeScript sources or dist) run the very same code: the output
// must not depend on where a block was compressed.
//
// The deflate is reference zlib's, compiled to WebAssembly (wasm/zlib.wasm, built by wasm/build.sh from Debian's
// zlib source). WebAssembly integer code runs the same on every CPU and Node version, so the bytes do
// not depend on the machine. One instance per thread, made on first use; its memory grows to the
// largest block it was given and is reused.
import { readFileSync } from 'node:fs';

const WASM_URL = new URL('../wasm/zlib.wasm', import.meta.url);

let instance;
let exports;

function zlib() {
  if (exports === undefined) {
    instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(WASM_URL)), {});
    exports = instance.exports;
  }
  return exports;
}

const ERRORS = new Map([
  [-1, 'deflateInit2 failed'],
  [-2, 'deflateSetDictionary failed'],
  [-3, 'deflate reported a stream error'],
  [-4, 'the output buffer was too small'],
]);

// Buffers kept between calls: [pointer, capacity].
let inputArea = [0, 0];
let outputArea = [0, 0];

function area(current, size) {
  if (current[1] >= size) return current;
  const z = zlib();
  if (current[0] !== 0) z.tk_free(current[0]);
  const capacity = Math.max(size, 64 * 1024);
  const pointer = z.tk_alloc(capacity);
  if (pointer === 0) throw new Error(`WebAssembly zlib could not allocate ${capacity} bytes`);
  return [pointer, capacity];
}

/**
 * @param {Uint8Array} input the block
 * @param {Uint8Array | undefined} dictionary the last 32 KiB of the previous block, if any
 * @param {boolean} last whether this block ends the stream
 * @param {number} level zlib level 0-9
 * @returns {Uint8Array} raw deflate bytes: byte-aligned (sync flush) unless last
 */
export function deflateBlock(input, dictionary, last, level) {
  const z = zlib();
  const dictionaryLength = dictionary?.length ?? 0;
  inputArea = area(inputArea, input.length + dictionaryLength);
  const bound = Number(z.tk_bound(input.length));
  outputArea = area(outputArea, bound);
  const [inputPointer] = inputArea;
  const [outputPointer, outputCapacity] = outputArea;
  // Views are made after allocating: growing the memory detaches the old ArrayBuffer.
  const memory = new Uint8Array(z.memory.buffer);
  memory.set(input, inputPointer);
  if (dictionaryLength > 0) memory.set(dictionary, inputPointer + input.length);
  const written = Number(
    z.tk_deflate_block(
      inputPointer,
      input.length,
      inputPointer + input.length,
      dictionaryLength,
      last ? 1 : 0,
      level,
      outputPointer,
      outputCapacity,
    ),
  );
  if (written < 0) throw new Error(`deflate failed: ${ERRORS.get(written) ?? `code ${written}`}`);
  return new Uint8Array(z.memory.buffer, outputPointer, written).slice();
}
