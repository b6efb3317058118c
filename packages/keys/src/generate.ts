/**
 * RSA key generation, as `melange keygen` does it (`pkg/cli/keygen.go`): an RSA key with public exponent
 * 65537, 4096 bits unless asked otherwise, at least 2048.
 */
import { generateKeyPair as generateNodeKeyPair, type KeyObject } from 'node:crypto';
import { DEFAULT_KEY_BITS, MAX_KEY_BITS, MIN_KEY_BITS } from './constants.ts';
import { KeyError } from './errors.ts';
import { toPrivateKey, toPublicKey, type KeyPair } from './key.ts';

/** The RSA public exponent, F4. */
const PUBLIC_EXPONENT = 0x10001;

/** Options of {@link generateKeyPair}. */
export interface GenerateKeyPairOptions {
  /** Modulus size in bits; default 4096, at least 2048. */
  bits?: number;
}

/**
 * Check a requested key size.
 *
 * @param bits - the requested size
 * @throws {KeyError} KEY_TOO_SMALL under 2048, KEY_BAD_SIZE when not an integer or above 16384
 */
function checkBits(bits: number): void {
  if (!Number.isSafeInteger(bits) || bits > MAX_KEY_BITS) {
    throw new KeyError(
      'KEY_BAD_SIZE',
      `key size ${String(bits)} is not a whole number of bits up to ${MAX_KEY_BITS}`,
      {
        hint: `Use ${DEFAULT_KEY_BITS} (the default) or another size from ${MIN_KEY_BITS} to ${MAX_KEY_BITS}.`,
        data: { bits },
      },
    );
  }
  if (bits < MIN_KEY_BITS) {
    throw new KeyError('KEY_TOO_SMALL', `key size ${bits} is below the minimum of ${MIN_KEY_BITS} bits`, {
      hint: `Use ${DEFAULT_KEY_BITS} (the default) or at least ${MIN_KEY_BITS}.`,
      data: { bits, minimum: MIN_KEY_BITS },
    });
  }
}

/**
 * Generate an RSA key pair (e = 65537) on node's thread pool.
 *
 * @param options - `bits`: modulus size, default 4096, at least 2048
 * @returns the private key (PKCS#1 `pem`) and public key (SPKI `pem`)
 * @throws {KeyError} KEY_TOO_SMALL, KEY_BAD_SIZE
 * @example
 * const pair = await generateKeyPair();
 * await writeKeyPair('melange.rsa', pair); // melange.rsa + melange.rsa.pub
 */
export async function generateKeyPair(options: GenerateKeyPairOptions = {}): Promise<KeyPair> {
  const bits = options.bits ?? DEFAULT_KEY_BITS;
  checkBits(bits);
  const { privateKey, publicKey } = await new Promise<{ privateKey: KeyObject; publicKey: KeyObject }>(
    (resolve, reject) => {
      generateNodeKeyPair(
        'rsa',
        { modulusLength: bits, publicExponent: PUBLIC_EXPONENT },
        (error, pub, priv) => {
          if (error) reject(error);
          else resolve({ privateKey: priv, publicKey: pub });
        },
      );
    },
  );
  const source = `<generated ${bits}-bit key>`;
  return { privateKey: toPrivateKey(privateKey, source), publicKey: toPublicKey(publicKey, source) };
}
