import { TkError, type TkErrorOptions } from '@tk/core';

/** Stable error codes of `@tk/keys`. Tests assert on these, never on message text. */
export type KeyErrorCode =
  /** The input is not a readable PEM key: empty, binary/DER, no BEGIN/END, bad base64, unparsable body. */
  | 'KEY_BAD_PEM'
  /** The input is larger than {@link MAX_KEY_INPUT_BYTES}; no real key is that big. */
  | 'KEY_INPUT_TOO_LARGE'
  /** The private key is passphrase-protected; tk (like melange and abuild) reads unencrypted keys only. */
  | 'KEY_ENCRYPTED'
  /** The key is valid but not plain RSA (EC, DSA, Ed25519, RSA-PSS). */
  | 'KEY_NOT_RSA'
  /** A public key was given where a private key is needed, or the other way round. */
  | 'KEY_WRONG_KIND'
  /** A key pair's private and public halves do not belong together. */
  | 'KEY_PAIR_MISMATCH'
  /** The RSA modulus is smaller than 2048 bits (generation and signing only). */
  | 'KEY_TOO_SMALL'
  /** A requested key size is not an integer or is larger than 16384 bits. */
  | 'KEY_BAD_SIZE'
  /** The digest algorithm is not sha1, sha256 or sha512, or a digest has the wrong length. */
  | 'KEY_BAD_ALGORITHM'
  /** The key file does not exist. */
  | 'KEY_NOT_FOUND'
  /** The key file exists but cannot be read (permissions, a directory, a FIFO, a symlink loop). */
  | 'KEY_READ_FAILED'
  /** Writing a key file failed. */
  | 'KEY_WRITE_FAILED'
  /** The target key file already exists and `force` was not given. */
  | 'KEY_EXISTS'
  /** A key name is not a plain file name (empty, `.`, `..`, contains `/`, NUL or control characters). */
  | 'KEY_BAD_NAME'
  /** Two keys with different content were added under one name. */
  | 'KEY_DUPLICATE_NAME';

/** An error from generating, reading, writing or using signing keys. */
export class KeyError extends TkError<KeyErrorCode> {
  constructor(code: KeyErrorCode, message: string, options?: TkErrorOptions) {
    super(code, message, options);
  }
}
