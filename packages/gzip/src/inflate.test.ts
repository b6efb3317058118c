import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { gunzipSync, gzipSync as nodeGzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { gunzip, splitGzipMembers, splitGzipMembersAsync, type GunzipOptions } from './inflate.ts';
import { xorshiftBytes } from '../test/samples.ts';

// Wrap node:zlib's inflateRawSync (the real one runs) to see which buffer sizes inflate.ts asks for.
vi.mock('node:zlib', async (importOriginal) => {
  const real = await importOriginal<typeof zlib>();
  return { ...real, inflateRawSync: vi.fn(real.inflateRawSync) };
});
const inflateRawSync = vi.mocked(zlib.inflateRawSync);
/** The `chunkSize` and `maxOutputLength` of each inflateRawSync call since the last test. */
function inflateCalls(): [number | undefined, number | undefined][] {
  return inflateRawSync.mock.calls.map(([, options]) => [options?.chunkSize, options?.maxOutputLength]);
}
afterEach(() => {
  inflateRawSync.mockClear();
});

const FIXTURES = join(import.meta.dirname, '../../../test-fixtures/real');

/** Every real `.apk` under test-fixtures/real. */
function realPackages(): { name: string; bytes: Uint8Array }[] {
  const out: { name: string; bytes: Uint8Array }[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.apk'))
        out.push({ name: path.slice(FIXTURES.length + 1), bytes: new Uint8Array(readFileSync(path)) });
    }
  };
  walk(FIXTURES);
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Deterministic bytes that compress about 3:1 (xorshift32 mixed with a pattern). */
function sampleBytes(length: number, seed = 0x2545f491): Uint8Array {
  return xorshiftBytes(length, seed, (i, x) => (i % 3 === 0 ? x & 0xff : (i * 7) & 0x1f));
}

function gz(data: Uint8Array | string): Uint8Array {
  return new Uint8Array(nodeGzipSync(typeof data === 'string' ? Buffer.from(data) : data));
}

function cat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** A copy of `file` whose last four bytes (the last member's ISIZE) say `size`. */
function withTailSize(file: Uint8Array, size: number): Uint8Array {
  const copy = new Uint8Array(file);
  new DataView(copy.buffer).setUint32(copy.length - 4, size >>> 0, true);
  return copy;
}

/** Bytes the result keeps alive beyond its own length. */
function slack(data: Uint8Array): number {
  return data.buffer.byteLength - data.byteLength;
}

describe('inflating real packages', () => {
  const packages = realPackages();

  it('finds the fixtures', () => {
    expect(packages.length).toBeGreaterThan(10);
  });

  it.each(packages.map((p) => [p.name, p.bytes] as const))(
    '%s: members match zlib byte for byte',
    (_name, bytes) => {
      const members = splitGzipMembers(bytes);
      expect(members.length).toBeGreaterThanOrEqual(2);
      expect(members[0]!.start).toBe(0);
      expect(members.at(-1)!.end).toBe(bytes.length);
      for (const [i, m] of members.entries()) {
        if (i > 0) expect(m.start).toBe(members[i - 1]!.end);
        const reference = new Uint8Array(gunzipSync(bytes.subarray(m.start, m.end)));
        expect(Buffer.from(m.data).equals(reference)).toBe(true);
        // Neither the size hint nor a mostly empty chunk may pin much more memory than the data.
        expect(slack(m.data)).toBeLessThanOrEqual(Math.max(16 * 1024, m.data.length >>> 3));
      }
      expect(Buffer.from(gunzip(bytes)).equals(gunzipSync(bytes))).toBe(true);
    },
  );
});

describe('the ISIZE size hint is never trusted', () => {
  const big = sampleBytes(300_000);
  const bigMember = gz(big);
  const small = gz('a small last member');

  it('inflates an honest single member into one buffer of its size', () => {
    const [member] = splitGzipMembers(bigMember);
    expect(Buffer.from(member!.data).equals(Buffer.from(big))).toBe(true);
    expect(slack(member!.data)).toBeLessThanOrEqual(1);
    expect(inflateCalls()).toEqual([[big.length + 1, big.length]]);
  });

  it('falls back to chunks when the hint is too small, once per member', () => {
    expect(() => splitGzipMembers(withTailSize(bigMember, 1000))).toThrow(
      expect.objectContaining({ code: 'GZIP_BAD_CHECKSUM' }),
    );
    expect(inflateCalls()).toEqual([
      [1001, 1000],
      [64 * 1024, 1 << 30],
    ]);
  });

  it('does not preallocate for a hint over the limit or over deflate’s 1032:1 bound', () => {
    const bound = (bigMember.length - 18) * 1032;
    expect(() => splitGzipMembers(withTailSize(bigMember, bound + 1))).toThrow(
      expect.objectContaining({ code: 'GZIP_BAD_CHECKSUM' }),
    );
    expect(() => splitGzipMembers(bigMember, { maxOutputBytes: big.length - 1 })).toThrow(
      expect.objectContaining({ code: 'GZIP_TOO_LARGE' }),
    );
    expect(inflateCalls()).toEqual([
      [64 * 1024, 1 << 30],
      [64 * 1024, big.length - 1],
    ]);
    inflateRawSync.mockClear();
    expect(() => splitGzipMembers(withTailSize(bigMember, bound))).toThrow(
      expect.objectContaining({ code: 'GZIP_BAD_CHECKSUM' }),
    );
    expect(inflateCalls()).toEqual([[bound + 1, bound]]);
  });

  it('reads earlier members whose size differs from the last one', () => {
    // hint too small for the first member, then too large for the small middle one
    const file = cat(bigMember, small, bigMember);
    const members = splitGzipMembers(file);
    expect(members.map((m) => m.data.length)).toEqual([big.length, 19, big.length]);
    expect(Buffer.from(members[0]!.data).equals(Buffer.from(big))).toBe(true);
    expect(new TextDecoder().decode(members[1]!.data)).toBe('a small last member');
    expect(slack(members[1]!.data)).toBeLessThan(16 * 1024);
    const reversed = splitGzipMembers(cat(small, bigMember, small));
    expect(reversed.map((m) => m.data.length)).toEqual([19, big.length, 19]);
  });

  it.each([
    ['lying small', 1],
    ['lying zero', 0],
    ['lying one byte short', big.length - 1],
    ['lying one byte long', big.length + 1],
    ['lying huge but possible', Math.min(2 ** 32 - 1, (bigMember.length - 18) * 1032)],
    ['lying past deflate’s 1032:1 bound', (bigMember.length - 18) * 1032 + 4096],
    ['lying at 2^32 - 1', 2 ** 32 - 1],
    ['lying by 64 KiB', big.length + 2 ** 16],
  ])('refuses an ISIZE %s with GZIP_BAD_CHECKSUM', (_name, size) => {
    expect(() => splitGzipMembers(withTailSize(bigMember, size))).toThrow(
      expect.objectContaining({ code: 'GZIP_BAD_CHECKSUM' }),
    );
  });

  it('refuses a lying last ISIZE after correctly reading the members before it', () => {
    const file = withTailSize(cat(small, bigMember), 3);
    expect(() => splitGzipMembers(file)).toThrow(
      expect.objectContaining({ code: 'GZIP_BAD_CHECKSUM', data: { offset: small.length } }),
    );
    expect(splitGzipMembers(file, { maxMembers: 1 })[0]!.data.length).toBe(19);
  });

  it('accepts an honest ISIZE of zero', () => {
    const empty = gz('');
    expect(splitGzipMembers(empty)[0]!.data).toEqual(new Uint8Array(0));
    expect(gunzip(cat(gz('x'), empty))).toEqual(Uint8Array.of(0x78));
    expect(gunzip(cat(empty, gz('x')))).toEqual(Uint8Array.of(0x78));
  });

  it.each([
    ['its ISIZE', 4],
    ['its whole trailer', 8],
    ['its trailer and the end of the deflate data', 12],
  ])('refuses a last member missing %s with GZIP_TRUNCATED', (_name, cut) => {
    for (const file of [bigMember, cat(small, bigMember), small]) {
      expect(() => splitGzipMembers(file.subarray(0, file.length - cut))).toThrow(
        expect.objectContaining({ code: 'GZIP_TRUNCATED' }),
      );
    }
  });

  it('refuses trailing bytes that look like a plausible hint', () => {
    const garbage = Uint8Array.of(0, 0, 0, 0, 0x10, 0x27, 0, 0); // "ISIZE" 10000
    expect(() => splitGzipMembers(cat(bigMember, garbage))).toThrow(
      expect.objectContaining({ code: 'GZIP_TRUNCATED' }),
    );
    expect(() => splitGzipMembers(cat(bigMember, Uint8Array.of(0x1f, 0x8b, 8, 0, 0x10, 0x27, 0, 0)))).toThrow(
      expect.objectContaining({ code: 'GZIP_TRUNCATED' }),
    );
  });

  it('keeps the output limit whatever the hint says', () => {
    const bomb = gz(new Uint8Array(10_000_000));
    for (const size of [0, 100, 999_999, 1_000_000, 1_000_001, 10_000_000, 2 ** 32 - 1]) {
      expect(() => splitGzipMembers(withTailSize(bomb, size), { maxOutputBytes: 1_000_000 })).toThrow(
        expect.objectContaining({ code: 'GZIP_TOO_LARGE' }),
      );
    }
    // an honest hint over the limit
    expect(() => splitGzipMembers(bigMember, { maxOutputBytes: big.length - 1 })).toThrow(
      expect.objectContaining({ code: 'GZIP_TOO_LARGE' }),
    );
    expect(splitGzipMembers(bigMember, { maxOutputBytes: big.length })[0]!.data.length).toBe(big.length);
    // the limit covers all members together
    expect(() => splitGzipMembers(cat(small, bigMember), { maxOutputBytes: big.length })).toThrow(
      expect.objectContaining({
        code: 'GZIP_TOO_LARGE',
        data: { offset: small.length, limit: big.length - 19 },
      }),
    );
  });

  it('allows no byte past a used-up limit', () => {
    expect(() => splitGzipMembers(gz('x'), { maxOutputBytes: 0 })).toThrow(
      expect.objectContaining({ code: 'GZIP_TOO_LARGE' }),
    );
    expect(() => splitGzipMembers(cat(gz('ab'), gz('c')), { maxOutputBytes: 2 })).toThrow(
      expect.objectContaining({ code: 'GZIP_TOO_LARGE' }),
    );
    expect(splitGzipMembers(cat(gz('ab'), gz('')), { maxOutputBytes: 2 })).toHaveLength(2);
  });

  it('accepts limits beyond what a Buffer can hold', () => {
    expect(new TextDecoder().decode(gunzip(small, { maxOutputBytes: Number.POSITIVE_INFINITY }))).toBe(
      'a small last member',
    );
    expect(gunzip(bigMember, { maxOutputBytes: 2 ** 40 }).length).toBe(big.length);
  });

  it('reports corrupt data, not a hint problem', () => {
    const corrupt = new Uint8Array(bigMember);
    corrupt[10] = 0xff;
    corrupt[11] = 0xff;
    for (const size of [0, 1, big.length, 2 ** 32 - 1]) {
      expect(() => splitGzipMembers(withTailSize(corrupt, size))).toThrow(
        expect.objectContaining({ code: 'GZIP_BAD_DATA' }),
      );
    }
  });
});

describe('splitGzipMembersAsync gives what splitGzipMembers gives, results and errors', () => {
  /** The outcome of a split: each member's range and data digest, or the error's code and message. */
  const outcome = (run: () => ReturnType<typeof splitGzipMembers>): string => {
    try {
      return JSON.stringify(
        run().map((m) => [m.start, m.end, m.header, Buffer.from(m.data).toString('base64')]),
      );
    } catch (error) {
      return `${(error as { code?: string }).code}: ${(error as Error).message}`;
    }
  };
  const outcomeAsync = async (data: Uint8Array, options?: GunzipOptions): Promise<string> => {
    try {
      const members = await splitGzipMembersAsync(data, options);
      return JSON.stringify(
        members.map((m) => [m.start, m.end, m.header, Buffer.from(m.data).toString('base64')]),
      );
    } catch (error) {
      return `${(error as { code?: string }).code}: ${(error as Error).message}`;
    }
  };
  /** Real packages, and hostile variants of the first ones: cut, flipped, lying sizes, trailing bytes. */
  const cases = (): [string, Uint8Array, GunzipOptions | undefined][] => {
    const out: [string, Uint8Array, GunzipOptions | undefined][] = [];
    const real = realPackages();
    for (const p of real) out.push([p.name, p.bytes, undefined]);
    const positions = xorshiftBytes(24, 99, (_, x) => x & 0xff);
    for (const p of real.slice(0, 3)) {
      for (let i = 0; i < positions.length; i++) {
        const at = Math.floor((positions[i]! / 256) * p.bytes.length);
        out.push([`${p.name} cut at ${at}`, p.bytes.subarray(0, at), undefined]);
        const flipped = new Uint8Array(p.bytes);
        flipped[at]! ^= 1 << i % 8;
        out.push([`${p.name} bit flipped at ${at}`, flipped, undefined]);
      }
      for (const size of [0, 1, 100, 2 ** 32 - 1])
        out.push([`${p.name} ISIZE ${size}`, withTailSize(p.bytes, size), undefined]);
      out.push([`${p.name} trailing bytes`, cat(p.bytes, new Uint8Array([0x1f, 0x8b, 8])), undefined]);
      out.push([`${p.name} small limit`, p.bytes, { maxOutputBytes: 1000 }]);
      out.push([`${p.name} two members only`, p.bytes, { maxMembers: 2 }]);
    }
    out.push(['empty', new Uint8Array(0), undefined]);
    out.push(['a bomb over the limit', gz(new Uint8Array(8 << 20)), { maxOutputBytes: 1 << 20 }]);
    out.push(['many members', cat(gz('a'), gz(''), gz(sampleBytes(100_000)), gz('b')), undefined]);
    return out;
  };

  it('on real packages and hostile variants of them', async () => {
    const all = cases();
    expect(all.length).toBeGreaterThan(150);
    let errors = 0;
    for (const [name, data, options] of all) {
      const expected = outcome(() => splitGzipMembers(data, options));
      if (!expected.startsWith('[')) errors += 1;
      expect(await outcomeAsync(data, options), name).toBe(expected);
    }
    // The variants do reach the error paths.
    expect(errors).toBeGreaterThan(60);
  });
});
