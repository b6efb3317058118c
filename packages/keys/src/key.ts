/**
 * RSA key values and their PEM codecs.
 *
 * Formats read (what melange, abuild/OpenSSL and apko write):
 * - private keys: PKCS#1 `RSA PRIVATE KEY` (melange `keygen`, OpenSSL 1.x `genrsa`) and unencrypted PKCS#8
 *   `PRIVATE KEY` (OpenSSL 3 `genrsa`, which abuild-keygen runs);
 * - public keys: PKIX/SPKI `PUBLIC KEY` (every key in `/etc/apk/keys`) and PKCS#1 `RSA PUBLIC KEY`.
 *
 * Formats written (normalised `pem`): PKCS#1 for private keys and SPKI for public keys, 64-column base64
 * with a final newline, exactly as melange's `keygen` writes them (Go `x509.MarshalPKCS1PrivateKey`,
 * `x509.MarshalPKIXPublicKey`).
 *
 * A key's `fingerprint` is the lowercase hex SHA-256 of its DER SPKI encoding. apk finds keys by file name
 * only, and different keys share names in the wild (`melange.rsa.pub`), so the fingerprint is how callers
 * tell them apart.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { digest, internalError, toHex } from '@tk/core';
import { KeyError } from './errors.ts';
import { badDer, decodePem } from './internal/pem.ts';

/** The source name used in messages when the caller gives none. */
const DEFAULT_SOURCE = '<input>';

/** An RSA public key. Plain data; create one with {@link parsePublicKey} or {@link readPublicKey}. */
export interface PublicKey {
  readonly type: 'public';
  /** Modulus size in bits (2048, 4096, …). */
  readonly bits: number;
  /** Normalised PEM text: SPKI `-----BEGIN PUBLIC KEY-----`, 64-column lines, final newline. */
  readonly pem: string;
  /** Lowercase hex SHA-256 of the DER SPKI encoding. */
  readonly fingerprint: string;
  /** Where the key came from (file path, URL, or `<input>`), for messages. */
  readonly source: string;
}

/**
 * An RSA private key. `pem` is not enumerable, so logging, `JSON.stringify` or a test diff of the object
 * does not print the secret.
 */
export interface PrivateKey {
  readonly type: 'private';
  /** Modulus size in bits. */
  readonly bits: number;
  /** Normalised PEM text: PKCS#1 `-----BEGIN RSA PRIVATE KEY-----`, as melange writes it. */
  readonly pem: string;
  /** The fingerprint of the public half (hex SHA-256 of its DER SPKI encoding). */
  readonly fingerprint: string;
  /** Where the key came from (file path, or `<input>`), for messages. */
  readonly source: string;
}

/** A private key and its public half. */
export interface KeyPair {
  readonly privateKey: PrivateKey;
  readonly publicKey: PublicKey;
}

// node:crypto key objects behind each key value, so signing does not re-parse PEM. Keys that were built by
// hand (for example deserialised) are re-parsed from their `pem` on first use.
const publicObjects = new WeakMap<PublicKey, KeyObject>();
const privateObjects = new WeakMap<PrivateKey, KeyObject>();

function spkiFingerprint(publicObject: KeyObject): string {
  return toHex(digest('sha256', new Uint8Array(publicObject.export({ type: 'spki', format: 'der' }))));
}

function modulusBits(keyObject: KeyObject): number {
  const bits = keyObject.asymmetricKeyDetails?.modulusLength;
  if (bits === undefined) internalError('an RSA key object has no modulusLength');
  return bits;
}

function assertRsa(keyObject: KeyObject, source: string): void {
  const type = keyObject.asymmetricKeyType;
  if (type === 'rsa') return;
  throw new KeyError('KEY_NOT_RSA', `${source}: the key is ${type ?? 'of an unknown type'}, not RSA`, {
    hint:
      type === 'rsa-pss'
        ? 'apk signatures use RSA PKCS#1 v1.5; generate a plain RSA key with "tk melange keygen".'
        : 'apk signs with RSA only; generate an RSA key with "tk melange keygen".',
    data: { source, keyType: type },
  });
}

/**
 * Wrap a node:crypto RSA public key object.
 *
 * @param keyObject - an RSA public key
 * @param source - where it came from
 * @returns the key value
 */
export function toPublicKey(keyObject: KeyObject, source: string): PublicKey {
  const key: PublicKey = Object.freeze({
    type: 'public',
    bits: modulusBits(keyObject),
    pem: keyObject.export({ type: 'spki', format: 'pem' }) as string,
    fingerprint: spkiFingerprint(keyObject),
    source,
  });
  publicObjects.set(key, keyObject);
  return key;
}

/**
 * Wrap a node:crypto RSA private key object.
 *
 * @param keyObject - an RSA private key
 * @param source - where it came from
 * @returns the key value, with a non-enumerable `pem`
 */
export function toPrivateKey(keyObject: KeyObject, source: string): PrivateKey {
  const key = {
    type: 'private',
    bits: modulusBits(keyObject),
    fingerprint: spkiFingerprint(createPublicKey(keyObject)),
    source,
  } as const;
  Object.defineProperty(key, 'pem', {
    value: keyObject.export({ type: 'pkcs1', format: 'pem' }) as string,
    enumerable: false,
  });
  const frozen = Object.freeze(key) as PrivateKey;
  privateObjects.set(frozen, keyObject);
  return frozen;
}

function wrongKind(source: string, found: string, expected: 'public' | 'private'): KeyError {
  return new KeyError('KEY_WRONG_KIND', `${source}: found ${found}, expected an RSA ${expected} key`, {
    hint:
      expected === 'public'
        ? 'Give the public half (the ".pub" file next to the private key), or derive it with publicKeyFromPrivate.'
        : 'Give the private key (the file without ".pub"); public keys can only verify.',
    data: { source, found, expected },
  });
}

/**
 * Parse an RSA private key from PEM: PKCS#1 `RSA PRIVATE KEY` or unencrypted PKCS#8 `PRIVATE KEY`.
 * Any size is accepted here; {@link signBytes} refuses keys under 2048 bits.
 *
 * @param pem - PEM text or its bytes (at most 64 KiB)
 * @param source - where the text came from, used in messages (default `<input>`)
 * @returns the private key, normalised to PKCS#1
 * @throws {KeyError} KEY_BAD_PEM (empty, garbage, DER, truncated, damaged), KEY_INPUT_TOO_LARGE,
 *   KEY_ENCRYPTED, KEY_NOT_RSA (EC, DSA, Ed25519, RSA-PSS), KEY_WRONG_KIND (a public key)
 * @example
 * const key = parsePrivateKey(await readFile('melange.rsa', 'utf8'), 'melange.rsa');
 * key.bits; // 4096
 */
export function parsePrivateKey(pem: string | Uint8Array, source: string = DEFAULT_SOURCE): PrivateKey {
  const block = decodePem(pem, source);
  let type: 'pkcs1' | 'pkcs8';
  switch (block.label) {
    case 'RSA PRIVATE KEY':
      type = 'pkcs1';
      break;
    case 'PRIVATE KEY':
      type = 'pkcs8';
      break;
    case 'ENCRYPTED PRIVATE KEY':
      throw new KeyError('KEY_ENCRYPTED', `${source}: the private key is encrypted with a passphrase`, {
        hint: 'Write an unencrypted copy, e.g. "openssl pkey -in KEY -out KEY.plain", and keep it private.',
        data: { source },
      });
    case 'EC PRIVATE KEY':
    case 'DSA PRIVATE KEY':
      throw new KeyError('KEY_NOT_RSA', `${source}: the key is a ${block.label}, not RSA`, {
        hint: 'apk signs with RSA only; generate an RSA key with "tk melange keygen".',
        data: { source, label: block.label },
      });
    case 'PUBLIC KEY':
    case 'RSA PUBLIC KEY':
      throw wrongKind(source, `a ${block.label}`, 'private');
    default:
      throw new KeyError(
        'KEY_BAD_PEM',
        `${source}: PEM block "${block.label}" is not a private key format tk reads`,
        {
          hint:
            block.label === 'OPENSSH PRIVATE KEY'
              ? 'Convert it to PEM with "ssh-keygen -p -m PEM -f KEY" (on a copy), or generate a key with "tk melange keygen".'
              : 'Expected "-----BEGIN RSA PRIVATE KEY-----" or "-----BEGIN PRIVATE KEY-----".',
          data: { source, label: block.label },
        },
      );
  }
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey({ key: Buffer.from(block.der), format: 'der', type });
  } catch (cause) {
    throw badDer(source, block.label, cause);
  }
  assertRsa(keyObject, source);
  return toPrivateKey(keyObject, source);
}

/**
 * Parse an RSA public key from PEM: SPKI `PUBLIC KEY` (the apk keys format) or PKCS#1 `RSA PUBLIC KEY`.
 *
 * @param pem - PEM text or its bytes (at most 64 KiB)
 * @param source - where the text came from, used in messages (default `<input>`)
 * @returns the public key, normalised to SPKI
 * @throws {KeyError} KEY_BAD_PEM (empty, garbage, DER, truncated, damaged, a certificate),
 *   KEY_INPUT_TOO_LARGE, KEY_NOT_RSA, KEY_WRONG_KIND (a private key)
 * @example
 * const key = parsePublicKey(await readFile('/etc/apk/keys/melange.rsa.pub'), 'melange.rsa.pub');
 * key.fingerprint; // '3f9c…' (hex SHA-256 of the DER SPKI)
 */
export function parsePublicKey(pem: string | Uint8Array, source: string = DEFAULT_SOURCE): PublicKey {
  const block = decodePem(pem, source);
  let type: 'spki' | 'pkcs1';
  switch (block.label) {
    case 'PUBLIC KEY':
      type = 'spki';
      break;
    case 'RSA PUBLIC KEY':
      type = 'pkcs1';
      break;
    case 'RSA PRIVATE KEY':
    case 'PRIVATE KEY':
    case 'ENCRYPTED PRIVATE KEY':
    case 'EC PRIVATE KEY':
    case 'DSA PRIVATE KEY':
    case 'OPENSSH PRIVATE KEY':
      throw wrongKind(source, `a private key (${block.label})`, 'public');
    default:
      throw new KeyError(
        'KEY_BAD_PEM',
        `${source}: PEM block "${block.label}" is not a public key format tk reads`,
        {
          hint:
            block.label === 'CERTIFICATE'
              ? 'Extract the public key with "openssl x509 -pubkey -noout -in CERT".'
              : 'Expected "-----BEGIN PUBLIC KEY-----" (or "-----BEGIN RSA PUBLIC KEY-----").',
          data: { source, label: block.label },
        },
      );
  }
  let keyObject: KeyObject;
  try {
    keyObject = createPublicKey({ key: Buffer.from(block.der), format: 'der', type });
  } catch (cause) {
    throw badDer(source, block.label, cause);
  }
  assertRsa(keyObject, source);
  return toPublicKey(keyObject, source);
}

/**
 * The public half of a private key.
 *
 * @param key - a private key
 * @returns its public key, with the same fingerprint and source
 * @throws {KeyError} KEY_WRONG_KIND when given something that is not a private key
 */
export function publicKeyFromPrivate(key: PrivateKey): PublicKey {
  return toPublicKey(createPublicKey(privateKeyObject(key)), key.source);
}

/**
 * The node:crypto object of a private key (internal; not exported from the package).
 *
 * @param key - a private key value
 * @returns its key object
 * @throws {KeyError} KEY_WRONG_KIND when `key` is not a private key value
 */
export function privateKeyObject(key: PrivateKey): KeyObject {
  const cached = privateObjects.get(key);
  if (cached !== undefined) return cached;
  if (typeof key !== 'object' || key === null || key.type !== 'private' || typeof key.pem !== 'string') {
    throw wrongKind(describe(key), kindOf(key), 'private');
  }
  const parsed = privateObjects.get(parsePrivateKey(key.pem, key.source));
  if (parsed === undefined) internalError('parsePrivateKey did not register its key object');
  privateObjects.set(key, parsed);
  return parsed;
}

/**
 * The node:crypto object of a public key (internal; not exported from the package).
 *
 * @param key - a public key value
 * @returns its key object
 * @throws {KeyError} KEY_WRONG_KIND when `key` is not a public key value
 */
export function publicKeyObject(key: PublicKey): KeyObject {
  const cached = publicObjects.get(key);
  if (cached !== undefined) return cached;
  if (typeof key !== 'object' || key === null || key.type !== 'public' || typeof key.pem !== 'string') {
    throw wrongKind(describe(key), kindOf(key), 'public');
  }
  const parsed = publicObjects.get(parsePublicKey(key.pem, key.source));
  if (parsed === undefined) internalError('parsePublicKey did not register its key object');
  publicObjects.set(key, parsed);
  return parsed;
}

function describe(value: unknown): string {
  if (typeof value === 'object' && value !== null && 'source' in value && typeof value.source === 'string') {
    return value.source;
  }
  return DEFAULT_SOURCE;
}

function kindOf(value: unknown): string {
  if (typeof value === 'object' && value !== null && 'type' in value) {
    if (value.type === 'private') return 'a private key';
    if (value.type === 'public') return 'a public key without PEM text';
  }
  return 'a value that is not a key';
}
