import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyError } from './errors.ts';
import { generateKeyPair } from './generate.ts';
import { parsePrivateKey, parsePublicKey } from './key.ts';
import { signBytes, verifyBytes } from './sign.ts';

describe('generateKeyPair', () => {
  it('makes a 2048-bit RSA pair with e=65537, in the PEM formats melange writes', async () => {
    const { privateKey, publicKey } = await generateKeyPair({ bits: 2048 });
    expect(privateKey.bits).toBe(2048);
    expect(publicKey.bits).toBe(2048);
    expect(privateKey.pem).toMatch(
      /^-----BEGIN RSA PRIVATE KEY-----\n(?:[A-Za-z0-9+/=]{1,64}\n)+-----END RSA PRIVATE KEY-----\n$/,
    );
    expect(publicKey.pem).toMatch(
      /^-----BEGIN PUBLIC KEY-----\n(?:[A-Za-z0-9+/=]{1,64}\n)+-----END PUBLIC KEY-----\n$/,
    );
    expect(privateKey.fingerprint).toBe(publicKey.fingerprint);
    expect(createPublicKey(publicKey.pem).asymmetricKeyDetails?.publicExponent).toBe(65537n);
    expect(createPrivateKey(privateKey.pem).asymmetricKeyType).toBe('rsa');
    // The PEM round-trips through the parsers unchanged.
    expect(parsePrivateKey(privateKey.pem).pem).toBe(privateKey.pem);
    expect(parsePublicKey(publicKey.pem).pem).toBe(publicKey.pem);
    const data = new TextEncoder().encode('hello');
    expect(verifyBytes(publicKey, data, signBytes(privateKey, data, 'sha256'), 'sha256')).toBe(true);
  });

  it('makes a different key each time', async () => {
    const [a, b] = await Promise.all([generateKeyPair({ bits: 2048 }), generateKeyPair({ bits: 2048 })]);
    expect(a.publicKey.fingerprint).not.toBe(b.publicKey.fingerprint);
  });

  it.each([[1024], [2047], [512], [0], [-4096]])('refuses %d bits with KEY_TOO_SMALL', async (bits) => {
    await expect(generateKeyPair({ bits })).rejects.toMatchObject({ code: 'KEY_TOO_SMALL' });
  });

  it.each([[2048.5], [Number.NaN], [Number.POSITIVE_INFINITY], [32768]])(
    'refuses %d bits with KEY_BAD_SIZE',
    async (bits) => {
      const error: unknown = await generateKeyPair({ bits }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(KeyError);
      expect((error as KeyError).code).toBe('KEY_BAD_SIZE');
    },
  );

  it('makes 4096-bit keys by default (slow)', { timeout: 120_000 }, async () => {
    const { privateKey, publicKey } = await generateKeyPair();
    expect(privateKey.bits).toBe(4096);
    expect(publicKey.bits).toBe(4096);
  });
});
