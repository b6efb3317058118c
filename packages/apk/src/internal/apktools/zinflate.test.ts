import {
  constants,
  crc32,
  deflateSync,
  gunzipSync as nodeGunzip,
  gzipSync as nodeGzip,
  unzipSync,
} from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '@tk/core';
import {
  ZInflate,
  Z_BUF_ERROR,
  Z_DATA_ERROR,
  Z_NEED_DICT,
  Z_OK,
  Z_STREAM_END,
  type ZStream,
} from './zinflate.ts';

/** Node returns Buffers, whose slice() shares memory: work on plain copies. */
const gzipSync = (data: Uint8Array, options?: Parameters<typeof nodeGzip>[1]): Uint8Array =>
  new Uint8Array(nodeGzip(data, options));

interface PortResult {
  ret: number;
  output: Uint8Array;
  msg?: string;
  consumed: number;
}

/**
 * Drive the port as apk-tools drives zlib: input in pieces of `inChunk` bytes, output windows of
 * `outChunk` bytes, until the stream ends, fails or makes no progress.
 */
function runPort(input: Uint8Array, inChunk = input.length, outChunk = 1 << 16): PortResult {
  const z = new ZInflate();
  let output = new Uint8Array(1 << 16);
  const zs: ZStream = { input, nextIn: 0, availIn: 0, output, nextOut: 0, availOut: 0 };
  let fed = 0;
  for (;;) {
    if (zs.availIn === 0 && fed < input.length) {
      const n = Math.min(inChunk, input.length - fed);
      zs.nextIn = fed;
      zs.availIn = n;
      fed += n;
    }
    // Each call gets a fresh window of `outChunk` bytes right after the output so far.
    if (output.length - zs.nextOut < outChunk) {
      const grown = new Uint8Array(Math.max(output.length * 2, zs.nextOut + outChunk));
      grown.set(output.subarray(0, zs.nextOut));
      output = grown;
      zs.output = output;
    }
    zs.availOut = outChunk;
    const ret = z.inflate(zs);
    if (ret === Z_OK) continue;
    if (ret === Z_BUF_ERROR && fed < input.length) continue;
    return {
      ret,
      output: output.slice(0, zs.nextOut),
      ...(zs.msg === undefined ? {} : { msg: zs.msg }),
      consumed: zs.nextIn,
    };
  }
}

/** What Node's zlib (a build of the same inflate code) says about a single gzip or zlib member. */
function nodeResult(
  input: Uint8Array,
): { ok: true; output: Uint8Array } | { ok: false; code: string; msg: string } {
  try {
    return { ok: true, output: new Uint8Array(unzipSync(input)) };
  } catch (error) {
    const e = error as { code: string; message: string };
    return { ok: false, code: e.code, msg: e.message };
  }
}

function sample(random: () => number, length: number): Uint8Array {
  // Compressible but varied: words from a small alphabet, runs and noise.
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const r = random();
    out[i] =
      r < 0.6 ? 97 + Math.floor(random() * 6) : r < 0.8 ? (out[i - 7] ?? 32) : Math.floor(random() * 256);
  }
  return out;
}

describe('the zlib 1.2.13 inflate port decodes what zlib decodes', () => {
  const random = seededRandom(0x21f);
  const inputs: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['small text', new TextEncoder().encode('hello hello hello apk')],
    ['64 KiB varied', sample(random, 65536)],
    ['120 KiB varied (a full 32 KiB window)', sample(random, 120_000)],
    ['incompressible', new Uint8Array(Array.from({ length: 40_000 }, () => Math.floor(random() * 256)))],
  ];
  const streams = (data: Uint8Array): [string, Uint8Array][] => [
    ['gzip level 0 (stored blocks)', gzipSync(data, { level: 0 })],
    ['gzip level 1', gzipSync(data, { level: 1 })],
    ['gzip level 9', gzipSync(data, { level: 9 })],
    ['gzip fixed codes (Z_FIXED)', gzipSync(data, { strategy: constants.Z_FIXED })],
    ['gzip Huffman only', gzipSync(data, { strategy: constants.Z_HUFFMAN_ONLY })],
    ['zlib wrapper (adler32)', new Uint8Array(deflateSync(data))],
  ];

  for (const [name, data] of inputs) {
    it.each(streams(data))(`${name}: %s, with any input and output piece sizes`, (_kind, stream) => {
      const pieces: (readonly [number, number])[] = [
        [stream.length, 1 << 20],
        [7, 258],
        [4096, 131072],
      ];
      if (data.length < 100_000) pieces.push([1, 1]);
      for (const [inChunk, outChunk] of pieces) {
        const r = runPort(stream, inChunk, outChunk);
        expect(r.ret).toBe(Z_STREAM_END);
        expect(Buffer.from(r.output).equals(Buffer.from(data))).toBe(true);
        expect(r.consumed).toBe(stream.length);
      }
    });
  }

  it('reads gzip headers with FEXTRA, FNAME, FCOMMENT and a correct FHCRC', () => {
    const body = gzipSync(new TextEncoder().encode('payload'));
    const header = [0x1f, 0x8b, 8, 0x1e, 0, 0, 0, 0, 0, 3, 3, 0, 1, 2, 3, ...Buffer.from('name\0comment\0')];
    const hcrc = crc32(Uint8Array.from(header)) & 0xffff;
    const stream = Uint8Array.from([...header, hcrc & 0xff, hcrc >>> 8, ...body.subarray(10)]);
    expect(new TextDecoder().decode(runPort(stream).output)).toBe('payload');
    stream[header.length] = stream[header.length]! ^ 1;
    expect(runPort(stream)).toMatchObject({ ret: Z_DATA_ERROR, msg: 'header crc mismatch' });
  });

  it('asks for a dictionary when a zlib header sets FDICT', () => {
    const stream = deflateSync(new TextEncoder().encode('abcabc'), { dictionary: Buffer.from('abc') });
    expect(runPort(stream).ret).toBe(Z_NEED_DICT);
  });

  it('gives back all that truncated input decodes, and Z_BUF_ERROR after', () => {
    const data = sample(random, 50_000);
    const stream = gzipSync(data, { level: 6 });
    for (const cut of [5, 10, 11, 500, Math.floor(stream.length / 2), stream.length - 9, stream.length - 1]) {
      const r = runPort(stream.subarray(0, cut));
      expect(r.ret).toBe(Z_BUF_ERROR);
      // Node's zlib with Z_SYNC_FLUSH also returns everything decodable from the prefix.
      const ref = nodeGunzip(stream.subarray(0, cut), { finishFlush: constants.Z_SYNC_FLUSH });
      expect(Buffer.from(r.output).equals(ref)).toBe(true);
      if (cut >= stream.length - 8) expect(r.output.length).toBe(data.length);
    }
  });
});

describe('the port fails where zlib fails, with zlib’s message', () => {
  it('agrees with Node’s zlib on 500 damaged members (bit flips, zeroed runs, cuts)', () => {
    const random = seededRandom(0xbad);
    const bases = [
      gzipSync(sample(random, 8000), { level: 9 }),
      gzipSync(sample(random, 3000), { level: 1 }),
      gzipSync(sample(random, 2000), { strategy: constants.Z_FIXED }),
      gzipSync(sample(random, 9000), { level: 0 }),
      new Uint8Array(deflateSync(sample(random, 5000))),
    ];
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const base = bases[i % bases.length]!;
      const m = base.slice();
      const kind = Math.floor(random() * 3);
      if (kind === 0)
        for (let k = 0; k < 1 + Math.floor(random() * 3); k++)
          m[Math.floor(random() * m.length)]! ^= 1 << Math.floor(random() * 8);
      else if (kind === 1) {
        const at = Math.floor(random() * m.length);
        m.fill(0, at, at + 1 + Math.floor(random() * 40));
      } else m[Math.floor(random() * m.length)] = Math.floor(random() * 256);
      const port = runPort(m, 1 + Math.floor(random() * m.length), 1 + Math.floor(random() * 40_000));
      const node = nodeResult(m);
      if (node.ok) {
        // zlib stops at the end of the first member; Node's unzip may read on, so compare that member only.
        expect(port.ret, `mutant ${i}`).toBe(Z_STREAM_END);
        expect(
          Buffer.from(node.output.subarray(0, port.output.length)).equals(Buffer.from(port.output)),
        ).toBe(true);
      } else if (node.code === 'Z_BUF_ERROR') {
        expect(port.ret, `mutant ${i}: ${node.msg}`).toBe(Z_BUF_ERROR);
      } else if (port.ret === Z_STREAM_END) {
        // The member ended cleanly and Node choked on what follows it (trailing bytes).
        expect(port.consumed).toBeLessThan(m.length);
      } else {
        expect({ ret: port.ret, msg: port.msg }, `mutant ${i}`).toEqual({ ret: Z_DATA_ERROR, msg: node.msg });
        seen.add(node.msg);
      }
    }
    // The damage reaches most of zlib's checks.
    expect(seen.size).toBeGreaterThanOrEqual(8);
  });
});
