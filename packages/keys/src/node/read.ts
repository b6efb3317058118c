/**
 * Reading key files. A key file is opened once, checked to be a regular file of at most 64 KiB, and read
 * from the same descriptor, so the checks and the read see the same file. The open is non-blocking, so a
 * FIFO named like a key cannot hang the caller; symlinks are followed, as `/etc/apk/keys` often holds them.
 */
import { constants, open, type FileHandle } from 'node:fs/promises';
import { MAX_KEY_INPUT_BYTES } from '../constants.ts';
import { KeyError } from '../errors.ts';
import { readError } from '../internal/fs-error.ts';
import { parsePrivateKey, parsePublicKey, type PrivateKey, type PublicKey } from '../key.ts';

/**
 * Read a whole key file.
 *
 * @param path - the file
 * @returns its bytes
 * @throws {KeyError} KEY_NOT_FOUND, KEY_READ_FAILED, KEY_INPUT_TOO_LARGE
 */
export async function readKeyFile(path: string): Promise<Uint8Array> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw readError(error, path);
  }
  try {
    const stats = await handle.stat();
    if (stats.isDirectory()) {
      throw new KeyError('KEY_READ_FAILED', `key file ${path} is a directory`, {
        hint: 'Give the path of a key file, or pass the directory where a keyring directory is accepted.',
        data: { path },
      });
    }
    if (!stats.isFile()) {
      throw new KeyError('KEY_READ_FAILED', `key file ${path} is not a regular file`, {
        hint: 'Key files are plain PEM text files.',
        data: { path },
      });
    }
    const tooLarge = (size: number): KeyError =>
      new KeyError(
        'KEY_INPUT_TOO_LARGE',
        `key file ${path} is ${size} bytes, over the ${MAX_KEY_INPUT_BYTES}-byte limit`,
        {
          hint: 'Check that the path points at a PEM key file and not at some other file.',
          data: { path, size },
        },
      );
    if (stats.size > MAX_KEY_INPUT_BYTES) throw tooLarge(stats.size);
    // One byte of slack detects a file that grew after fstat.
    const buffer = new Uint8Array(Math.min(stats.size, MAX_KEY_INPUT_BYTES) + 1);
    let length = 0;
    while (length < buffer.byteLength) {
      const { bytesRead } = await handle.read(buffer, length, buffer.byteLength - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_KEY_INPUT_BYTES) throw tooLarge(length);
    if (length === buffer.byteLength) {
      throw new KeyError('KEY_READ_FAILED', `key file ${path} changed while it was read`, {
        hint: 'Retry once nothing else is writing the file.',
        data: { path },
      });
    }
    return buffer.slice(0, length);
  } catch (error) {
    throw readError(error, path);
  } finally {
    await handle.close();
  }
}

/**
 * Read an RSA private key file (PKCS#1 or PKCS#8 PEM).
 *
 * @param path - the private key file, e.g. `melange.rsa`
 * @returns the key; its `source` is the path
 * @throws {KeyError} KEY_NOT_FOUND, KEY_READ_FAILED, and the errors of {@link parsePrivateKey}
 * @example
 * const key = await readPrivateKey('melange.rsa');
 */
export async function readPrivateKey(path: string): Promise<PrivateKey> {
  return parsePrivateKey(await readKeyFile(path), path);
}

/**
 * Read an RSA public key file (SPKI or PKCS#1 PEM).
 *
 * @param path - the public key file, e.g. `/etc/apk/keys/melange.rsa.pub`
 * @returns the key; its `source` is the path
 * @throws {KeyError} KEY_NOT_FOUND, KEY_READ_FAILED, and the errors of {@link parsePublicKey}
 * @example
 * const key = await readPublicKey('melange.rsa.pub');
 */
export async function readPublicKey(path: string): Promise<PublicKey> {
  return parsePublicKey(await readKeyFile(path), path);
}
