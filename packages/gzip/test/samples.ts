/**
 * Deterministic test bytes, so tests never use Math.random: an xorshift32 stream, and a `mix` that turns each
 * position and stream value into a byte (how compressible the result is depends on it).
 *
 * @param length - how many bytes
 * @param seed - the stream's start (0 becomes 1: xorshift never leaves 0)
 * @param mix - the byte at position `i` given the stream value `x`
 * @returns the bytes
 */
export function xorshiftBytes(
  length: number,
  seed: number,
  mix: (i: number, x: number) => number,
): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = mix(i, x);
  }
  return out;
}
