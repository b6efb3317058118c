/**
 * Loading a keyring from files and directories, as `/etc/apk/keys` and apko's `contents.keyring` are used.
 *
 * - A path that is a file is a key whose name is the file's basename. It must be a valid public key: a
 *   named file that is not a key is an error, because the user asked for it.
 * - A path that is a directory contributes every `*.pub` entry, in code-point order of the names. Entries
 *   that are not valid keys (bad PEM, private keys, subdirectories, dangling links, symlink loops) are
 *   skipped with a warning carrying the error's code; other names (README, `.tmp` files, dotfiles) are
 *   skipped with a debug message. A keys directory is often shared, and one stray file should not stop a
 *   build, but it should be visible.
 * - Two different keys under one name are an error (KEY_DUPLICATE_NAME) wherever they come from.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { compareCodePoints, silentLogger, type Logger } from '@tk/core';
import { KeyError } from '../errors.ts';
import { readError } from '../internal/fs-error.ts';
import { createKeyring, type Keyring } from '../keyring.ts';
import { assertKeyName, isValidKeyName } from '../names.ts';
import { readPublicKey } from './read.ts';

/** File name suffix of the keys read from a directory. */
const KEY_FILE_SUFFIX = '.pub';

/** Options of {@link loadKeyring}. */
export interface LoadKeyringOptions {
  /** Where skipped entries are reported; default silent. */
  logger?: Logger;
  /** Add to this keyring instead of a new one. */
  keyring?: Keyring;
}

async function loadDirectory(directory: string, keyring: Keyring, logger: Logger): Promise<void> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    throw readError(error, directory, 'keys directory');
  }
  for (const name of names.sort(compareCodePoints)) {
    const path = join(directory, name);
    if (name.startsWith('.') || !name.endsWith(KEY_FILE_SUFFIX)) {
      logger.debug(`ignoring ${path}: not a *${KEY_FILE_SUFFIX} file`);
      continue;
    }
    if (!isValidKeyName(name)) {
      logger.warn(`skipping ${path}: its name is not a valid key name`, 'KEY_BAD_NAME');
      continue;
    }
    let key;
    try {
      key = await readPublicKey(path);
    } catch (error) {
      if (!(error instanceof KeyError)) throw error;
      logger.warn(`skipping ${path}: ${error.message}`, error.code);
      continue;
    }
    if (keyring.add(name, key))
      logger.debug(`trusting ${name} (${key.bits}-bit RSA, sha256 ${key.fingerprint}) from ${path}`);
  }
}

/**
 * Load public keys from key files and keys directories into a keyring.
 *
 * @param paths - key files (named by their basename) and directories (every `*.pub` file in them)
 * @param options - `logger` for skipped directory entries; `keyring` to add to an existing keyring
 * @returns the keyring
 * @throws {KeyError} KEY_NOT_FOUND, KEY_READ_FAILED (a path cannot be read), KEY_DUPLICATE_NAME, and for an
 *   explicitly named file any error of {@link readPublicKey}
 * @example
 * const keyring = await loadKeyring(['/etc/apk/keys', './melange.rsa.pub'], { logger });
 * keyring.get('melange.rsa.pub');
 */
export async function loadKeyring(
  paths: readonly string[],
  options: LoadKeyringOptions = {},
): Promise<Keyring> {
  const keyring = options.keyring ?? createKeyring();
  const logger = options.logger ?? silentLogger;
  for (const path of paths) {
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(path)).isDirectory();
    } catch (error) {
      throw readError(error, path, 'key file or directory');
    }
    if (isDirectory) {
      await loadDirectory(path, keyring, logger);
      continue;
    }
    const name = basename(path);
    assertKeyName(name);
    const key = await readPublicKey(path);
    if (keyring.add(name, key))
      logger.debug(`trusting ${name} (${key.bits}-bit RSA, sha256 ${key.fingerprint}) from ${path}`);
  }
  return keyring;
}
