/**
 * RSA PKCS#1 v1.5 signatures (RFC 8017 §8.2, EMSA-PKCS1-v1_5 in §9.2), the only scheme apk uses:
 *
 * | apk entry        | digest  |
 * |------------------|---------|
 * | `.SIGN.RSA.`     | SHA-1   |
 * | `.SIGN.RSA256.`  | SHA-256 |
 * | `.SIGN.RSA512.`  | SHA-512 |
 *
 * PKCS#1 v1.5 is deterministic: the same key, digest and data always give the same signature bytes, so a
 * re-signed package is byte-identical. The signature is as long as the modulus (512 bytes for RSA-4096).
 *
 * `signDigest`/`verifyDigest` take a digest computed elsewhere (for example incrementally while streaming a
 * gzip member) and build the EMSA encoding themselves: `DigestInfo(algorithm, digest)` is RSA-encrypted with
 * type-1 padding, and verification decrypts and compares the whole encoded block, which is how RFC 8017
 * §8.2.2 describes it and rules out the lax-parsing forgeries of Bleichenbacher 2006.
 */
import { constants, privateEncrypt, publicDecrypt, sign, verify } from 'node:crypto';
import { bytesEqual, concatBytes } from '@tk/core';
import { MIN_KEY_BITS } from './constants.ts';
import { KeyError } from './errors.ts';
import { privateKeyObject, publicKeyObject, type PrivateKey, type PublicKey } from './key.ts';

/** A digest used in apk signatures. */
export type SignatureAlgorithm = 'sha1' | 'sha256' | 'sha512';

/** Every {@link SignatureAlgorithm}, weakest first. */
export const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = Object.freeze([
  'sha1',
  'sha256',
  'sha512',
]);

/** DER `DigestInfo` prefixes from RFC 8017 §9.2 note 1, followed by the raw digest. */
const DIGEST_INFO_PREFIX: Readonly<Record<SignatureAlgorithm, Uint8Array>> = {
  sha1: Uint8Array.from([
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
  ]),
  sha256: Uint8Array.from([
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    0x04, 0x20,
  ]),
  sha512: Uint8Array.from([
    0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00,
    0x04, 0x40,
  ]),
};

/** Digest sizes in bytes. */
const DIGEST_SIZE: Readonly<Record<SignatureAlgorithm, number>> = { sha1: 20, sha256: 32, sha512: 64 };

function checkAlgorithm(algorithm: unknown): asserts algorithm is SignatureAlgorithm {
  if (typeof algorithm === 'string' && (SIGNATURE_ALGORITHMS as readonly string[]).includes(algorithm))
    return;
  throw new KeyError(
    'KEY_BAD_ALGORITHM',
    `signature digest "${String(algorithm)}" is not sha1, sha256 or sha512`,
    {
      hint: 'apk signatures use sha256 (.SIGN.RSA256.), sha1 (.SIGN.RSA.) or sha512 (.SIGN.RSA512.).',
      data: { algorithm },
    },
  );
}

function checkDigest(digest: Uint8Array, algorithm: SignatureAlgorithm): void {
  const expected = DIGEST_SIZE[algorithm];
  if (digest.byteLength === expected) return;
  throw new KeyError(
    'KEY_BAD_ALGORITHM',
    `a ${algorithm} digest is ${expected} bytes, got ${digest.byteLength}`,
    {
      hint: 'Pass the raw digest bytes (not hex) of the same algorithm.',
      data: { algorithm, expected, actual: digest.byteLength },
    },
  );
}

function checkSigningKey(key: PrivateKey): void {
  if (key.bits >= MIN_KEY_BITS) return;
  throw new KeyError(
    'KEY_TOO_SMALL',
    `${key.source}: a ${key.bits}-bit key is too small to sign with (minimum ${MIN_KEY_BITS})`,
    {
      hint: 'Generate a new key with "tk melange keygen" (4096 bits by default).',
      data: { source: key.source, bits: key.bits, minimum: MIN_KEY_BITS },
    },
  );
}

function signatureSize(bits: number): number {
  return Math.ceil(bits / 8);
}

/**
 * Sign bytes with RSA PKCS#1 v1.5.
 *
 * @param key - an RSA private key of at least 2048 bits
 * @param data - the signed bytes (for a package: the raw compressed control gzip member)
 * @param algorithm - the digest: 'sha256' for `.SIGN.RSA256.`, 'sha1' for `.SIGN.RSA.`, 'sha512' for `.SIGN.RSA512.`
 * @returns the signature, as many bytes as the modulus
 * @throws {KeyError} KEY_TOO_SMALL, KEY_BAD_ALGORITHM, KEY_WRONG_KIND
 * @example
 * const signature = signBytes(privateKey, controlMember, 'sha256');
 */
export function signBytes(key: PrivateKey, data: Uint8Array, algorithm: SignatureAlgorithm): Uint8Array {
  checkAlgorithm(algorithm);
  const keyObject = privateKeyObject(key);
  checkSigningKey(key);
  return new Uint8Array(sign(algorithm, data, { key: keyObject, padding: constants.RSA_PKCS1_PADDING }));
}

/**
 * Verify an RSA PKCS#1 v1.5 signature over bytes.
 *
 * @param key - the RSA public key
 * @param data - the signed bytes
 * @param signature - the signature bytes
 * @param algorithm - the digest the signer used
 * @returns true when the signature is valid; false for any wrong, damaged or wrong-length signature
 * @throws {KeyError} KEY_BAD_ALGORITHM, KEY_WRONG_KIND (only for bad arguments, never for a bad signature)
 * @example
 * if (!verifyBytes(publicKey, controlMember, signature, 'sha256')) throw new Error('bad signature');
 */
export function verifyBytes(
  key: PublicKey,
  data: Uint8Array,
  signature: Uint8Array,
  algorithm: SignatureAlgorithm,
): boolean {
  checkAlgorithm(algorithm);
  const keyObject = publicKeyObject(key);
  // apk-tools (OpenSSL RSA_verify) and Go both require a full-length signature.
  if (signature.byteLength !== signatureSize(key.bits)) return false;
  try {
    return verify(algorithm, data, { key: keyObject, padding: constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    // OpenSSL reports some malformed signatures (a value not below the modulus) as errors.
    return false;
  }
}

/**
 * Sign a digest that was computed elsewhere (for example incrementally over a stream). Gives the same bytes
 * as {@link signBytes} over the data the digest was taken of.
 *
 * @param key - an RSA private key of at least 2048 bits
 * @param digest - the raw digest (20, 32 or 64 bytes)
 * @param algorithm - the algorithm the digest was made with
 * @returns the signature
 * @throws {KeyError} KEY_TOO_SMALL, KEY_BAD_ALGORITHM (also for a digest of the wrong length), KEY_WRONG_KIND
 */
export function signDigest(key: PrivateKey, digest: Uint8Array, algorithm: SignatureAlgorithm): Uint8Array {
  checkAlgorithm(algorithm);
  checkDigest(digest, algorithm);
  const keyObject = privateKeyObject(key);
  checkSigningKey(key);
  const encoded = concatBytes([DIGEST_INFO_PREFIX[algorithm], digest]);
  return new Uint8Array(privateEncrypt({ key: keyObject, padding: constants.RSA_PKCS1_PADDING }, encoded));
}

/**
 * Verify a signature against a digest that was computed elsewhere.
 *
 * @param key - the RSA public key
 * @param digest - the raw digest of the signed data
 * @param signature - the signature bytes
 * @param algorithm - the algorithm the digest was made with
 * @returns true when the signature is valid; false otherwise
 * @throws {KeyError} KEY_BAD_ALGORITHM (also for a digest of the wrong length), KEY_WRONG_KIND
 */
export function verifyDigest(
  key: PublicKey,
  digest: Uint8Array,
  signature: Uint8Array,
  algorithm: SignatureAlgorithm,
): boolean {
  checkAlgorithm(algorithm);
  checkDigest(digest, algorithm);
  const keyObject = publicKeyObject(key);
  if (signature.byteLength !== signatureSize(key.bits)) return false;
  let recovered: Uint8Array;
  try {
    recovered = new Uint8Array(
      publicDecrypt({ key: keyObject, padding: constants.RSA_PKCS1_PADDING }, signature),
    );
  } catch {
    // Not type-1 padding, or not below the modulus: not a signature by this key.
    return false;
  }
  return bytesEqual(recovered, concatBytes([DIGEST_INFO_PREFIX[algorithm], digest]));
}
