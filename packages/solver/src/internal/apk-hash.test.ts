import { describe, expect, it } from 'vitest';
import { murmur3x86_32, nameBucket } from './apk-hash.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('murmur3x86_32 (apk-tools apk_blob_hash)', () => {
  it.each([
    ['', 0, 0x00000000],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['\u0000\u0000\u0000\u0000', 0, 0x2362f9de],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['abc', 0, 0xb3dd93fa],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
  ])('hashes %j with seed %i to the reference value', (text, seed, expected) => {
    expect(murmur3x86_32(bytes(text), seed)).toBe(expected);
  });

  it('puts names in one of 20,000 buckets, stably', () => {
    const bucket = nameBucket('busybox');
    expect(bucket).toBeGreaterThanOrEqual(0);
    expect(bucket).toBeLessThan(20_000);
    expect(nameBucket('busybox')).toBe(bucket);
    expect(nameBucket('so:libc.musl-aarch64.so.1')).toBe(
      murmur3x86_32(bytes('so:libc.musl-aarch64.so.1'), 5381) % 20_000,
    );
  });
});
