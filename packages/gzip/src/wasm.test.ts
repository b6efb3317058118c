/**
 * The WebAssembly deflate (wasm/zlib.wasm): the committed file is the one wasm/build.sh builds from
 * Debian's zlib source, it is self-contained, and it gives the bytes tk's layers had with pako.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import pako from 'pako';
import { afterAll, describe, expect, it } from 'vitest';
import { deflateBlock } from '../worker/deflate-block.mjs';
import { closeGzipWorkers, gzip, gzipSync } from './deflate.ts';

const WASM_DIR = fileURLToPath(new URL('../wasm/', import.meta.url));
/** sha256 of wasm/zlib.wasm as wasm/build.sh builds it from zlib_1.2.13.dfsg.orig.tar.bz2. */
const ZLIB_WASM_SHA256 = '735cb2eeda573399f89a14911366e4bb370909aabfef358555421a51a87c6be5';

/** The part of the WebAssembly API this test uses (the DOM lib, which declares it, is not loaded). */
interface WasmModuleClass {
  new (bytes: Uint8Array): object;
  imports(module: object): { module: string; name: string; kind: string }[];
  exports(module: object): { name: string; kind: string }[];
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Deterministic bytes of mixed redundancy (xorshift32 noise, text-like runs, zero runs). */
function sample(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const region = (i >> 12) % 4;
    out[i] =
      region === 0
        ? x & 0xff
        : region === 1
          ? 97 + ((i * 7 + (x & 3)) % 26)
          : region === 2
            ? 0
            : (i * 31) & 0x3f;
  }
  return out;
}

function pakoBlock(
  input: Uint8Array,
  dictionary: Uint8Array | undefined,
  last: boolean,
  level: number,
): Uint8Array {
  const deflator = new pako.Deflate({
    level: level as pako.DeflateOptions['level'],
    raw: true,
    windowBits: 15,
    memLevel: 8,
    strategy: 0,
    ...(dictionary === undefined ? {} : { dictionary }),
  });
  deflator.push(input, last ? 4 : 2);
  if (last) return deflator.result;
  const chunks = (deflator as unknown as { chunks: Uint8Array[] }).chunks;
  return Buffer.concat(chunks);
}

afterAll(async () => {
  await closeGzipWorkers();
});

describe('wasm/zlib.wasm', () => {
  const wasm = readFileSync(join(WASM_DIR, 'zlib.wasm'));

  it('is the recorded build', () => {
    expect(sha256(wasm)).toBe(ZLIB_WASM_SHA256);
  });

  it('imports nothing and exports only its memory and the four functions', () => {
    const { Module } = (globalThis as unknown as { WebAssembly: { Module: WasmModuleClass } }).WebAssembly;
    const module = new Module(wasm);
    expect(Module.imports(module)).toEqual([]);
    expect(
      Module.exports(module)
        .map((e) => `${e.kind} ${e.name}`)
        .sort(),
    ).toEqual([
      'function tk_alloc',
      'function tk_bound',
      'function tk_deflate_block',
      'function tk_free',
      'memory memory',
    ]);
  });

  it('is rebuilt byte for byte by wasm/build.sh from Debian source', () => {
    // Needs clang-14, lld-14, wasi-libc (scripts/setup.sh installs them) and the zlib source tarball
    // (test-fixtures/bootstrap/sources.mjs); build.sh says which is missing.
    const dir = mkdtempSync(join(tmpdir(), 'tk-zlib-wasm-'));
    try {
      const out = join(dir, 'zlib.wasm');
      execFileSync(join(WASM_DIR, 'build.sh'), [out], { stdio: 'pipe' });
      expect(sha256(readFileSync(out))).toBe(ZLIB_WASM_SHA256);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('WebAssembly deflate blocks', () => {
  const inputs = [
    new Uint8Array(0),
    new TextEncoder().encode('hello'),
    sample(70_000, 1),
    sample(1 << 20, 2),
  ];

  it('give pako’s bytes at levels 1-9, with and without a dictionary, flushed and finished', () => {
    let cases = 0;
    for (const input of inputs)
      for (let level = 1; level <= 9; level++)
        for (const dictionary of [undefined, sample(32 * 1024, 3)])
          for (const last of [false, true]) {
            const ours = deflateBlock(input, dictionary, last, level);
            expect(
              sha256(ours),
              `${input.length} bytes, level ${level}, dictionary ${dictionary !== undefined}, last ${last}`,
            ).toBe(sha256(pakoBlock(input, dictionary, last, level)));
            cases++;
          }
    expect(cases).toBe(inputs.length * 9 * 2 * 2);
  });

  it('stores valid blocks at level 0 (whose split of stored blocks differs from pako’s)', () => {
    const input = sample(300_000, 4);
    const member = gzipSync(input, { level: 0 });
    expect(member.length).toBeGreaterThan(input.length);
    expect(sha256(gunzipSync(member))).toBe(sha256(input));
  });

  it('reuses one instance across blocks of growing and shrinking size', () => {
    const big = sample(3 << 20, 5);
    const first = deflateBlock(inputs[2]!, undefined, true, 6);
    deflateBlock(big, undefined, true, 6);
    expect(sha256(deflateBlock(inputs[2]!, undefined, true, 6))).toBe(sha256(first));
  });

  it('gives the recorded gzip digest for a multi-block fixture, on workers and in-thread', async () => {
    const input = sample(5 * (1 << 20) + 12_345, 6);
    const inThread = gzipSync(input);
    const onWorkers = await gzip(input, { threads: 2 });
    expect(sha256(onWorkers)).toBe(sha256(inThread));
    expect(sha256(gunzipSync(inThread))).toBe(sha256(input));
    // The digest pako gave before the WebAssembly deflate (commit 3798c0d), so every layer keeps its digest.
    expect(sha256(inThread)).toBe('70062fcb7c8f6b6f9444323f49e3d8980980b2188ed1ecdead1042c66f765019');
  });
});
