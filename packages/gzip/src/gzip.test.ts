import { execFileSync } from 'node:child_process';
import { gunzipSync, gzipSync as nodeGzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { closeGzipWorkers, gzip, gzipSync } from './deflate.ts';
import { gunzip, parseGzipHeader, splitGzipMembers } from './inflate.ts';
import { xorshiftBytes } from '../test/samples.ts';

/** Deterministic pseudo-random bytes with some redundancy (xorshift32), so tests never use Math.random. */
function sampleBytes(length: number, seed = 0x9e3779b9): Uint8Array {
  return xorshiftBytes(length, seed, (i, x) => (i % 7 === 0 ? x & 0xff : (i * 31) & 0x3f));
}

afterAll(async () => {
  await closeGzipWorkers();
});

describe('gzip writer', () => {
  it('writes a Go-style header with zero mtime and round-trips', () => {
    const data = new TextEncoder().encode('hello, world\n'.repeat(100));
    const out = gzipSync(data);
    expect([...out.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    expect(new Uint8Array(gunzipSync(out))).toEqual(data);
  });

  it('produces the same deflate bytes as reference zlib for a single block', () => {
    const data = sampleBytes(200_000);
    const ours = gzipSync(data);
    const reference = execFileSync(
      'python3',
      [
        '-c',
        'import sys,zlib;c=zlib.compressobj(6,zlib.DEFLATED,-15);sys.stdout.buffer.write(c.compress(sys.stdin.buffer.read())+c.flush())',
      ],
      {
        input: data,
      },
    );
    expect(Buffer.from(ours.subarray(10, ours.length - 8)).equals(reference)).toBe(true);
  });

  it('gives identical bytes for any thread count and chunking, and gzip(1) accepts them', async () => {
    const data = sampleBytes(3 * 65536 + 12345);
    const options = { blockSize: 65536 };
    const single = gzipSync(data, options);
    const chunked = gzipSync(
      [data.subarray(0, 1000), data.subarray(1000, 70000), data.subarray(70000)],
      options,
    );
    expect(chunked).toEqual(single);
    for (const threads of [1, 2, 3]) expect(await gzip(data, { ...options, threads })).toEqual(single);
    expect(new Uint8Array(gunzipSync(single))).toEqual(data);
    execFileSync('gzip', ['-t'], { input: single });
  });

  it('handles empty input', async () => {
    const out = await gzip(new Uint8Array(0));
    expect(gunzip(out)).toEqual(new Uint8Array(0));
  });

  it('refuses bad options', () => {
    expect(() => gzipSync(new Uint8Array(1), { level: 11 })).toThrow(
      expect.objectContaining({ code: 'GZIP_BAD_HEADER' }),
    );
    expect(() => gzipSync(new Uint8Array(1), { blockSize: 10 })).toThrow(
      expect.objectContaining({ code: 'GZIP_BAD_HEADER' }),
    );
  });
});

describe('gzip member splitting', () => {
  const a = nodeGzipSync(Buffer.from('first member'));
  const b = nodeGzipSync(Buffer.from('second'));
  const both = new Uint8Array(Buffer.concat([a, b]));

  it('finds member boundaries exactly', () => {
    const members = splitGzipMembers(both);
    expect(members.map((m) => [m.start, m.end])).toEqual([
      [0, a.length],
      [a.length, a.length + b.length],
    ]);
    expect(new TextDecoder().decode(members[1]!.data)).toBe('second');
    expect(new TextDecoder().decode(gunzip(both))).toBe('first membersecond');
  });

  it('parses optional header fields', () => {
    const withName = Uint8Array.of(
      0x1f,
      0x8b,
      8,
      0x08 | 0x10,
      1,
      0,
      0,
      0,
      0,
      3,
      ...Buffer.from('f.tar\0note\0'),
      ...a.subarray(10),
    );
    const header = parseGzipHeader(withName);
    expect(header).toMatchObject({ name: 'f.tar', comment: 'note', mtime: 1, os: 3 });
    expect(new TextDecoder().decode(gunzip(withName))).toBe('first member');
  });

  const hostile: [string, Uint8Array, string][] = [
    ['empty input', new Uint8Array(0), 'GZIP_TRUNCATED'],
    ['a truncated header', both.subarray(0, 5), 'GZIP_TRUNCATED'],
    ['truncated deflate data', both.subarray(0, 15), 'GZIP_TRUNCATED'],
    ['a missing trailer', both.subarray(0, a.length - 3), 'GZIP_TRUNCATED'],
    ['bad magic', Uint8Array.of(0x1f, 0x8c, ...a.subarray(2)), 'GZIP_BAD_HEADER'],
    ['a wrong method', Uint8Array.of(0x1f, 0x8b, 7, ...a.subarray(3)), 'GZIP_BAD_HEADER'],
    ['reserved flags', Uint8Array.of(0x1f, 0x8b, 8, 0x80, ...a.subarray(4)), 'GZIP_BAD_HEADER'],
    [
      'an FEXTRA length past the end',
      Uint8Array.of(0x1f, 0x8b, 8, 0x04, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 1, 2),
      'GZIP_TRUNCATED',
    ],
    ['an unterminated FNAME', Uint8Array.of(0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3, 65, 65), 'GZIP_TRUNCATED'],
    [
      'a corrupt CRC',
      (() => {
        const c = new Uint8Array(a);
        c[c.length - 6]! ^= 0xff;
        return c;
      })(),
      'GZIP_BAD_CHECKSUM',
    ],
    [
      'corrupt deflate data',
      (() => {
        const c = new Uint8Array(a);
        c[10] = 0xff;
        c[11] = 0xff;
        return c;
      })(),
      'GZIP_BAD_DATA',
    ],
    ['garbage after the last member', new Uint8Array([...a, 0, 0, 0]), 'GZIP_TRUNCATED'],
    ['a member boundary in the wrong place', new Uint8Array([...a, ...b.subarray(3)]), 'GZIP_BAD_HEADER'],
  ];
  it.each(hostile)('refuses %s with a coded error', (_name, input, code) => {
    expect(() => splitGzipMembers(input)).toThrow(expect.objectContaining({ code }));
  });

  it('stops a decompression bomb at the limit', () => {
    const bomb = nodeGzipSync(Buffer.alloc(10_000_000));
    expect(bomb.length).toBeLessThan(20_000);
    expect(() => splitGzipMembers(new Uint8Array(bomb), { maxOutputBytes: 1_000_000 })).toThrow(
      expect.objectContaining({ code: 'GZIP_TOO_LARGE' }),
    );
    expect(() => splitGzipMembers(both, { maxOutputBytes: 15 })).toThrow(
      expect.objectContaining({ code: 'GZIP_TOO_LARGE' }),
    );
  });
});
