// Compresses one block of a parallel gzip stream. Plain JavaScript so that both the worker threads and
// the in-thread path (from TypeScript sources or dist) run the very same code: the output must not
// depend on where a block was compressed.
//
// Two deflate engines, each compiled to WebAssembly by wasm/build.sh from Debian's source packages:
// reference zlib 1.2.13 (wasm/zlib.wasm) and libdeflate 1.14 (wasm/libdeflate.wasm). WebAssembly integer
// code runs the same on every CPU and Node version, so the bytes do not depend on the machine. One
// instance of each per thread, made on first use; its memory grows to the largest block it was given
// and is reused.
import { readFileSync } from 'node:fs';

/** A WebAssembly module with its working buffers. */
class Engine {
  constructor(file) {
    this.url = new URL(`../wasm/${file}`, import.meta.url);
    this.exports = undefined;
    this.input = [0, 0];
    this.output = [0, 0];
  }

  get api() {
    if (this.exports === undefined)
      this.exports = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(this.url)), {}).exports;
    return this.exports;
  }

  /** Make room for `inputSize` input bytes and `outputSize` output bytes; returns the two pointers. */
  reserve(inputSize, outputSize) {
    this.input = this.#grow(this.input, inputSize);
    this.output = this.#grow(this.output, outputSize);
    return [this.input[0], this.output[0]];
  }

  #grow(current, size) {
    if (current[1] >= size) return current;
    const api = this.api;
    if (current[0] !== 0) api.tk_free(current[0]);
    const capacity = Math.max(size, 64 * 1024);
    const pointer = api.tk_alloc(capacity);
    if (pointer === 0) throw new Error(`WebAssembly deflate could not allocate ${capacity} bytes`);
    return [pointer, capacity];
  }

  /** The memory as bytes (a fresh view: growing the memory detaches the old buffer). */
  memory() {
    return new Uint8Array(this.api.memory.buffer);
  }
}

const zlib = new Engine('zlib.wasm');
const libdeflate = new Engine('libdeflate.wasm');

const ZLIB_ERRORS = new Map([
  [-1, 'deflateInit2 failed'],
  [-2, 'deflateSetDictionary failed'],
  [-3, 'deflate reported a stream error'],
  [-4, 'the output buffer was too small'],
]);
const LIBDEFLATE_ERRORS = new Map([
  [-1, 'the level is out of range'],
  [-2, 'the compressor could not be allocated'],
  [-4, 'the output buffer was too small'],
]);

/**
 * zlib: one block of a pigz-style stream, primed with the previous block's tail.
 *
 * @param {Uint8Array} input the block
 * @param {Uint8Array | undefined} dictionary the last 32 KiB of the previous block, if any
 * @param {boolean} last whether this block ends the stream
 * @param {number} level zlib level 0-9
 * @returns {Uint8Array} raw deflate bytes: byte-aligned (sync flush) unless last
 */
export function deflateBlock(input, dictionary, last, level) {
  const api = zlib.api;
  const dictionaryLength = dictionary?.length ?? 0;
  const [inputPointer, outputPointer] = zlib.reserve(
    input.length + dictionaryLength,
    Number(api.tk_bound(input.length)),
  );
  const memory = zlib.memory();
  memory.set(input, inputPointer);
  if (dictionaryLength > 0) memory.set(dictionary, inputPointer + input.length);
  const written = Number(
    api.tk_deflate_block(
      inputPointer,
      input.length,
      inputPointer + input.length,
      dictionaryLength,
      last ? 1 : 0,
      level,
      outputPointer,
      zlib.output[1],
    ),
  );
  if (written < 0) throw new Error(`deflate failed: ${ZLIB_ERRORS.get(written) ?? `code ${written}`}`);
  return zlib.memory().slice(outputPointer, outputPointer + written);
}

/**
 * libdeflate: one block as a complete raw deflate stream (the caller frames it as a gzip member).
 *
 * @param {Uint8Array} input the block
 * @param {number} level libdeflate level 0-12
 * @returns {Uint8Array} raw deflate bytes, final block set
 */
export function deflateWhole(input, level) {
  const api = libdeflate.api;
  const [inputPointer, outputPointer] = libdeflate.reserve(input.length, Number(api.tk_bound(input.length)));
  libdeflate.memory().set(input, inputPointer);
  const written = Number(
    api.tk_deflate_raw(inputPointer, input.length, level, outputPointer, libdeflate.output[1]),
  );
  if (written < 0)
    throw new Error(`libdeflate failed: ${LIBDEFLATE_ERRORS.get(written) ?? `code ${written}`}`);
  return libdeflate.memory().slice(outputPointer, outputPointer + written);
}
