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
import { xorshiftBytes } from '../test/samples.ts';
import { splitGzipMembers } from './inflate.ts';

const WASM_DIR = fileURLToPath(new URL('../wasm/', import.meta.url));
/** sha256 of each module as wasm/build.sh builds it from Debian's source tarballs. */
const WASM_SHA256: Record<string, string> = {
  'zlib.wasm': '0b9f2a968f151edb194108bf968ac95cee5cadb6d0f49ba9d1d8420428ec3105',
  'libdeflate.wasm': 'eda572aee0050635be95ef8fbfbf771ea6cd9d11a4a7c79e13a4bd8aca4da52e',
};
const WASM_EXPORTS: Record<string, string[]> = {
  'zlib.wasm': ['tk_alloc', 'tk_bound', 'tk_deflate_block', 'tk_free'],
  'libdeflate.wasm': ['tk_alloc', 'tk_bound', 'tk_deflate_raw', 'tk_free'],
};

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
  return xorshiftBytes(length, seed, (i, x) => {
    const region = (i >> 12) % 4;
    if (region === 0) return x & 0xff;
    if (region === 1) return 97 + ((i * 7 + (x & 3)) % 26);
    return region === 2 ? 0 : (i * 31) & 0x3f;
  });
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

describe('the WebAssembly modules', () => {
  for (const [file, digest] of Object.entries(WASM_SHA256)) {
    it(`${file} is the recorded build, imports nothing and exports only its memory and four functions`, () => {
      const wasm = readFileSync(join(WASM_DIR, file));
      expect(sha256(wasm)).toBe(digest);
      const { Module } = (globalThis as unknown as { WebAssembly: { Module: WasmModuleClass } }).WebAssembly;
      const module = new Module(wasm);
      expect(Module.imports(module)).toEqual([]);
      expect(
        Module.exports(module)
          .map((e) => `${e.kind} ${e.name}`)
          .sort(),
      ).toEqual([...WASM_EXPORTS[file]!.map((name) => `function ${name}`), 'memory memory']);
    });
  }

  it('are rebuilt byte for byte by wasm/build.sh from Debian source', () => {
    // Needs clang-14, lld-14, wasi-libc (scripts/setup.sh installs them) and the two source tarballs
    // (test-fixtures/bootstrap/sources.mjs); build.sh says which is missing.
    const dir = mkdtempSync(join(tmpdir(), 'tk-wasm-'));
    try {
      execFileSync(join(WASM_DIR, 'build.sh'), [dir], { stdio: 'pipe' });
      for (const [file, digest] of Object.entries(WASM_SHA256))
        expect(sha256(readFileSync(join(dir, file))), file).toBe(digest);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('zlib blocks', () => {
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

describe('libdeflate members', () => {
  const input = sample(3 * (1 << 20) + 777, 7);

  it('cut the input into one gzip member per block, each a valid stream of its block', () => {
    const out = gzipSync(input, { engine: 'libdeflate' });
    const members = splitGzipMembers(out, { maxOutputBytes: 1 << 24 });
    expect(members.map((m) => m.data.length)).toEqual([1 << 20, 1 << 20, 1 << 20, 777]);
    expect(members.every((m) => m.header.mtime === 0 && m.header.os === 255)).toBe(true);
    expect(sha256(Buffer.concat(members.map((m) => m.data)))).toBe(sha256(input));
    // Readers that follow RFC 1952 read the members as one stream (node:zlib here, Go's in registries).
    expect(sha256(gunzipSync(out))).toBe(sha256(input));
  });

  it('give the same bytes on workers and in-thread, and the recorded digest', async () => {
    const inThread = gzipSync(input, { engine: 'libdeflate' });
    expect(sha256(await gzip(input, { engine: 'libdeflate', threads: 2 }))).toBe(sha256(inThread));
    expect(sha256(await gzip(input, { engine: 'libdeflate', threads: 3 }))).toBe(sha256(inThread));
    expect(sha256(inThread)).toBe('ab6c598b824866175d3019787dbd6bb3386d4e52c3c03ef6287e26fb2d8a650d');
  });

  it('honour the level (0 stores; 1, 6 and 9 give different streams of the same bytes)', () => {
    const outputs = [1, 6, 9].map((level) => gzipSync(input, { engine: 'libdeflate', level }));
    expect(new Set(outputs.map(sha256)).size).toBe(3);
    for (const out of outputs) {
      expect(out.length).toBeLessThan(input.length / 2);
      expect(sha256(gunzipSync(out))).toBe(sha256(input));
    }
    const stored = gzipSync(input, { engine: 'libdeflate', level: 0 });
    expect(stored.length).toBeGreaterThan(input.length);
    expect(sha256(gunzipSync(stored))).toBe(sha256(input));
  });

  it('handle an empty input as one empty member', () => {
    const out = gzipSync(new Uint8Array(0), { engine: 'libdeflate' });
    expect(gunzipSync(out).length).toBe(0);
    expect(splitGzipMembers(out)).toHaveLength(1);
  });

  it('refuse an unknown engine', () => {
    expect(() => gzipSync(input, { engine: 'brotli' as 'zlib' })).toThrow(
      /engine must be zlib or libdeflate/,
    );
  });
});

describe('worker input', () => {
  it('leaves a caller’s Buffer usable (blocks are copied before they move to a worker)', async () => {
    const data = Buffer.from(sample(3 << 20, 8));
    const before = sha256(data);
    for (const engine of ['zlib', 'libdeflate'] as const) {
      const out = await gzip(data, { engine, threads: 2 });
      expect(sha256(gunzipSync(out))).toBe(before);
    }
    expect(data.length).toBe(3 << 20);
    expect(sha256(data)).toBe(before);
  });
});
