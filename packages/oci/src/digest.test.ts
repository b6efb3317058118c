import { utf8 } from '@tk/core';
import { describe, expect, it } from 'vitest';
import { digestHex, isDigest, parseDigest, sha256Digest, verifyContent } from './digest.ts';

const EMPTY = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

describe('digests', () => {
  it('hashes chunks in order', () => {
    expect(sha256Digest()).toBe(EMPTY);
    expect(sha256Digest(utf8('ab'), utf8('c'))).toBe(sha256Digest(utf8('abc')));
  });

  it('parses sha256 and sha512 digests', () => {
    expect(parseDigest(EMPTY)).toEqual({ algorithm: 'sha256', hex: EMPTY.slice(7) });
    expect(parseDigest(`sha512:${'0'.repeat(128)}`).algorithm).toBe('sha512');
    expect(digestHex(EMPTY)).toBe(EMPTY.slice(7));
  });

  it.each([
    '',
    'sha256:',
    `sha256:${'A'.repeat(64)}`,
    `sha256:${'a'.repeat(63)}`,
    `md5:${'a'.repeat(32)}`,
    `${EMPTY}\n`,
    `sha512:${'a'.repeat(64)}`,
  ])('refuses %j', (value) => {
    expect(isDigest(value)).toBe(false);
    expect(() => parseDigest(value)).toThrow(expect.objectContaining({ code: 'OCI_BAD_DIGEST' }) as Error);
  });

  it('verifies content against a descriptor', () => {
    expect(() => verifyContent(new Uint8Array(), { digest: EMPTY, size: 0 }, 'x')).not.toThrow();
    expect(() => verifyContent(utf8('a'), { digest: EMPTY, size: 0 }, 'x')).toThrow(
      expect.objectContaining({ code: 'OCI_BAD_DESCRIPTOR' }) as Error,
    );
    expect(() => verifyContent(utf8('a'), { digest: EMPTY, size: 1 }, 'x')).toThrow(
      expect.objectContaining({ code: 'OCI_BAD_DESCRIPTOR' }) as Error,
    );
  });
});
