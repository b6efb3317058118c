import { generateKeyPair, writeKeyPair, type WrittenKeyPair } from '@tk/keys';

/** Options of {@link keygen}. */
export interface KeygenOptions {
  /** Private key path; the public key goes to `<path>.pub`. */
  path: string;
  /** RSA modulus size, at least 2048. Default 4096. */
  bits?: number;
  /** Overwrite existing files. */
  force?: boolean;
}

/**
 * `melange keygen`: an RSA key pair, PKCS#1 PEM private key (0600) and SPKI PEM public key (0644).
 *
 * @param options - path, size, force
 * @returns the paths written
 * @throws {KeyError} KEY_TOO_SMALL, KEY_EXISTS
 */
export async function keygen(options: KeygenOptions): Promise<WrittenKeyPair> {
  const pair = await generateKeyPair(options.bits === undefined ? {} : { bits: options.bits });
  return writeKeyPair(options.path, pair, { force: options.force ?? false });
}
