/**
 * gunzipMismatch: a gzip file proven to decompress to given bytes, member by member, or the reason it does
 * not; hostile files (wrong content, bad trailers, truncation, trailing bytes, bombs) are refused without
 * inflating more than the expected size.
 */
import { gzipSync as nodeGzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gzipSync } from './deflate.ts';
import { gunzipMismatch, gunzipMismatchAsync } from './inflate.ts';
import { xorshiftBytes } from '../test/samples.ts';

const content = xorshiftBytes(3 * 65536 + 1234, 7, (i, x) => (x % 5 === 0 ? x & 0xff : 97 + (i % 13)));
const BLOCK = 65536;
/** Four libdeflate members of one block each (the last one shorter). */
const members = gzipSync(content, { engine: 'libdeflate', blockSize: BLOCK });
const single = gzipSync(content, { engine: 'zlib' });

/** `bytes` cut into pieces of the given sizes (the rest in the last piece). */
function pieces(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (const size of sizes) {
    out.push(bytes.subarray(at, at + size));
    at += size;
  }
  out.push(bytes.subarray(at));
  return out;
}

describe('gunzipMismatch', () => {
  it('accepts a file that decompresses to the expected bytes, however both are split', () => {
    expect(members.length).toBeGreaterThan(0);
    for (const data of [members, single, nodeGzipSync(content)])
      for (const expected of [
        [content],
        pieces(content, [1, 511, 70000, 3]),
        pieces(content, [BLOCK, BLOCK]),
      ])
        for (const memberSize of [undefined, 1, BLOCK, 10 * BLOCK])
          expect(
            gunzipMismatch(data, expected, memberSize === undefined ? {} : { memberSize }),
          ).toBeUndefined();
  });

  it('accepts the empty content as one empty member', () => {
    expect(gunzipMismatch(nodeGzipSync(new Uint8Array(0)), [])).toBeUndefined();
    expect(gunzipMismatch(nodeGzipSync(new Uint8Array(0)), [new Uint8Array(0)])).toBeUndefined();
  });

  it('names a difference in the content', () => {
    const other = new Uint8Array(content);
    other[2 * BLOCK + 5]! ^= 1;
    expect(gunzipMismatch(members, [other])).toMatch(/member at byte \d+ differs from the expected bytes/);
    expect(gunzipMismatch(single, [other])).toMatch(/member at byte 0 differs/);
  });

  it('names content that is shorter or longer than expected', () => {
    expect(gunzipMismatch(members, [content, new Uint8Array(1)])).toMatch(
      /decompresses to 197842 bytes, not the expected 197843/,
    );
    expect(gunzipMismatch(members, [content.subarray(0, -1)])).toMatch(/more than the expected 197841 bytes/);
    expect(gunzipMismatch(members, [])).toMatch(/more than the expected 0 bytes/);
  });

  it('refuses a bad CRC-32 or length trailer even when the content matches', () => {
    for (const back of [8, 5, 4, 1]) {
      const bad = new Uint8Array(single);
      bad[bad.length - back]! ^= 0x10;
      expect(gunzipMismatch(bad, [content])).toMatch(/fails its CRC-32\/length check/);
    }
  });

  it('refuses truncated files, trailing bytes, bad headers and an empty file', () => {
    for (const cut of [1, 4, 8, 9, 100, single.length - 10]) {
      const reason = gunzipMismatch(single.subarray(0, single.length - cut), [content]);
      expect(reason, `cut ${cut}`).toMatch(/truncated|corrupt|differs|not the expected/);
    }
    expect(gunzipMismatch(Buffer.concat([members, new Uint8Array(10)]), [content])).toMatch(
      /not gzip|magic|header/i,
    );
    expect(gunzipMismatch(Buffer.concat([members, Buffer.from([0x1f])]), [content])).toMatch(/truncated/);
    const badHeader = new Uint8Array(single);
    badHeader[3] = 0xe0;
    expect(gunzipMismatch(badHeader, [content])).toMatch(/reserved|flag/i);
    expect(gunzipMismatch(new Uint8Array(0), [content])).toBe('it is empty');
  });

  it('stops a bomb at the expected size', () => {
    const bomb = nodeGzipSync(new Uint8Array(64 << 20));
    expect(bomb.length).toBeLessThan(100_000);
    expect(gunzipMismatch(bomb, [new Uint8Array(1000)])).toMatch(/more than the expected 1000 bytes/);
  });

  it('does not let a lying member size hint change the verdict', () => {
    const other = new Uint8Array(content);
    other[content.length - 1]! ^= 1;
    for (const memberSize of [0, -5, Number.MAX_SAFE_INTEGER, Number.NaN]) {
      expect(gunzipMismatch(members, [content], { memberSize })).toBeUndefined();
      expect(gunzipMismatch(members, [other], { memberSize })).toMatch(/differs/);
    }
  });
});

describe('gunzipMismatchAsync', () => {
  /** Members of `block` bytes each, like a block writer; `level` 0 stores the bytes as they are. */
  const blocks = (bytes: Uint8Array, block: number, level = 6): Uint8Array => {
    const parts: Uint8Array[] = [];
    for (let at = 0; at < bytes.length; at += block)
      parts.push(nodeGzipSync(bytes.subarray(at, at + block), { level }));
    return Buffer.concat(parts);
  };

  it('gives the sequential verdict on good, damaged and oddly shaped files', async () => {
    const other = new Uint8Array(content);
    other[BLOCK + 7]! ^= 1;
    const cases: [string, Uint8Array, Uint8Array[]][] = [
      ['libdeflate members', members, [content]],
      ['libdeflate members, split expected', members, pieces(content, [5, BLOCK, 3000])],
      ['node members', blocks(content, BLOCK), [content]],
      ['one member', single, [content]],
      ['content differs', members, [other]],
      ['too short', members, [content, new Uint8Array(1)]],
      ['too long', members, [content.subarray(0, -1)]],
      ['cut', members.subarray(0, members.length - 3), [content]],
      ['trailing bytes', Buffer.concat([members, new Uint8Array(12)]), [content]],
      ['a member missing', blocks(content.subarray(BLOCK), BLOCK), [content]],
      ['members of another size', blocks(content, BLOCK / 2), [content]],
      ['empty', new Uint8Array(0), [content]],
    ];
    for (const back of [1, 5, 9]) {
      const bad = new Uint8Array(members);
      bad[bad.length - back]! ^= 0x20;
      cases.push([`trailer byte -${back}`, bad, [content]]);
    }
    for (const [name, data, expected] of cases)
      expect(await gunzipMismatchAsync(data, expected, { memberSize: BLOCK }), name).toBe(
        gunzipMismatch(data, expected, { memberSize: BLOCK }),
      );
  });

  it('is not misled by header bytes inside compressed data', async () => {
    // Stored (level 0) members carry the content as it is, so a content full of gzip headers puts the
    // header pattern inside every member: the guessed boundaries are wrong, the sequential check decides.
    const header = nodeGzipSync(new Uint8Array(0), { level: 0 }).subarray(0, 10);
    const tricky = new Uint8Array(3 * 4096);
    for (let at = 0; at + 10 <= tricky.length; at += 100) tricky.set(header, at);
    const data = blocks(tricky, 4096, 0);
    expect(gunzipMismatch(data, [tricky], { memberSize: 4096 })).toBeUndefined();
    expect(await gunzipMismatchAsync(data, [tricky], { memberSize: 4096 })).toBeUndefined();
    const other = new Uint8Array(tricky);
    other[5000]! ^= 1;
    expect(await gunzipMismatchAsync(data, [other], { memberSize: 4096 })).toMatch(/differs/);
  });

  it('checks without a member size, one member at a time', async () => {
    expect(await gunzipMismatchAsync(members, [content])).toBeUndefined();
    expect(await gunzipMismatchAsync(members, [content.subarray(0, -1)])).toMatch(/more than the expected/);
  });
});
