import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { identityHash, identityKey, q1IdentityHash } from './identity.ts';

/** The Q1 checksum of `text`, as apk-tools writes it. */
function q1(text: string): string {
  return `Q1${createHash('sha1').update(text).digest('base64')}`;
}

describe('package identity', () => {
  it('gives checksums that differ only in the padding bits one key and one hash', () => {
    for (let i = 0; i < 200; i++) {
      const checksum = q1(`package ${i}`);
      const last = checksum.charCodeAt(28);
      // The last base64 digit carries 2 padding bits: its 4 neighbours in the alphabet share 4 bits.
      const digits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
      const value = digits.indexOf(String.fromCharCode(last));
      for (let low = 0; low < 4; low++) {
        const sibling = `${checksum.slice(0, 28)}${digits[(value & ~3) | low]}=`;
        expect(identityKey(sibling)).toBe(identityKey(checksum));
        expect(identityHash(sibling)).toBe(identityHash(checksum));
      }
    }
  });

  it('hashes a Q1 checksum read from bytes as identityHash hashes its string', () => {
    for (let i = 0; i < 500; i++) {
      const checksum = q1(`record ${i}`);
      const bytes = new TextEncoder().encode(`C:${checksum}\n`);
      expect(q1IdentityHash(bytes, 2)).toBe(identityHash(checksum));
    }
  });

  it('hashes an X1 checksum as the Q1 form of the same bytes, and other forms as written', () => {
    const checksum = q1('x');
    const hex = `X1${Buffer.from(checksum.slice(2), 'base64').toString('hex')}`;
    expect(identityKey(hex)).toBe(checksum);
    expect(identityHash(hex)).toBe(identityHash(checksum));
    // Upper-case hex digits are the same bytes.
    expect(identityKey(`X1${hex.slice(2).toUpperCase()}`)).toBe(checksum);
    for (const other of ['Q2abc', 'Q1short=', `${checksum.slice(0, 28)}\u00e9=`, ''])
      expect(identityKey(other)).toBe(other);
    expect(identityHash('Q2abc')).not.toBe(identityHash('Q2abd'));
    expect(identityHash(checksum)).toBeGreaterThanOrEqual(0);
    expect(identityHash(checksum)).toBeLessThan(2 ** 30);
  });
});
