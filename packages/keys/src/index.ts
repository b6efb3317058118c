/**
 * `@tk/keys`: RSA signing keys for apk packages and indexes. Generate key pairs as `melange keygen` does,
 * read PEM keys as melange, abuild and apko write them, sign and verify with RSA PKCS#1 v1.5 over SHA-1,
 * SHA-256 or SHA-512, and hold trusted public keys in a keyring by file name, as apk does.
 */
export { KeyError } from './errors.ts';
export type { KeyErrorCode } from './errors.ts';
export { DEFAULT_KEY_BITS, MIN_KEY_BITS, MAX_KEY_BITS, MAX_KEY_INPUT_BYTES } from './constants.ts';
export { parsePrivateKey, parsePublicKey, publicKeyFromPrivate } from './key.ts';
export type { PrivateKey, PublicKey, KeyPair } from './key.ts';
export { generateKeyPair } from './generate.ts';
export type { GenerateKeyPairOptions } from './generate.ts';
export { signBytes, verifyBytes, signDigest, verifyDigest, SIGNATURE_ALGORITHMS } from './sign.ts';
export type { SignatureAlgorithm } from './sign.ts';
export {
  signatureKeyName,
  signatureEntryName,
  parseSignatureEntryName,
  isValidKeyName,
  assertKeyName,
} from './names.ts';
export type { SignatureEntryName, SignatureScheme } from './names.ts';
export { createKeyring } from './keyring.ts';
export type { Keyring, KeyringEntry, KeyLookupOptions } from './keyring.ts';
export { readPrivateKey, readPublicKey } from './node/read.ts';
export { writeKeyPair } from './node/write.ts';
export type { WriteKeyPairOptions, WrittenKeyPair } from './node/write.ts';
export { loadKeyring } from './node/load-keyring.ts';
export type { LoadKeyringOptions } from './node/load-keyring.ts';
