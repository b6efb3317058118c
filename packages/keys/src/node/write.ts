/**
 * Writing a key pair the way `melange keygen` lays it out: `<path>` holds the PKCS#1 private key (mode
 * 0600) and `<path>.pub` the SPKI public key (mode 0644).
 *
 * Each file is written to a temporary name in the same directory (created exclusively, with the final mode
 * set explicitly so the umask cannot widen or narrow it), flushed, and then moved into place. Without
 * `force` the move is a hard link, which fails if the target appeared in the meantime, so an existing key is
 * never replaced, not even by a race; on file systems without hard links it falls back to a checked rename.
 */
import { link, lstat, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { KeyError } from '../errors.ts';
import { errnoCode, writeError } from '../internal/fs-error.ts';
import { parsePrivateKey, parsePublicKey, publicKeyFromPrivate, type KeyPair } from '../key.ts';

/** File mode of the private key. */
const PRIVATE_KEY_MODE = 0o600;
/** File mode of the public key. */
const PUBLIC_KEY_MODE = 0o644;
/** Suffix of the public key file. */
const PUBLIC_KEY_SUFFIX = '.pub';

/** Options of {@link writeKeyPair}. */
export interface WriteKeyPairOptions {
  /** Replace existing files; default false, which refuses with KEY_EXISTS. */
  force?: boolean;
}

/** The files {@link writeKeyPair} wrote. */
export interface WrittenKeyPair {
  /** `<path>`, mode 0600. */
  readonly privateKeyPath: string;
  /** `<path>.pub`, mode 0644. */
  readonly publicKeyPath: string;
}

let temporaryCounter = 0;

function existsError(path: string): KeyError {
  return new KeyError('KEY_EXISTS', `key file ${path} already exists`, {
    hint: 'Choose another name, or pass force to replace it (anything signed with the old key must then be re-signed).',
    data: { path },
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    throw writeError(error, path);
  }
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch {
    // Already gone, or never created: nothing to clean up.
  }
}

async function writeFileAtomically(path: string, text: string, mode: number, force: boolean): Promise<void> {
  temporaryCounter += 1;
  const temporary = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${temporaryCounter}`);
  try {
    const handle = await open(temporary, 'wx', mode);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (force) {
      await rename(temporary, path);
      return;
    }
    try {
      await link(temporary, path);
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'EEXIST') throw existsError(path);
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw error;
      // No hard links here (some FUSE and network file systems): check, then rename.
      if (await exists(path)) throw existsError(path);
      await rename(temporary, path);
    }
  } catch (error) {
    throw writeError(error, path);
  } finally {
    await removeQuietly(temporary);
  }
}

/**
 * Write a key pair as `<path>` (private, PKCS#1 PEM, mode 0600) and `<path>.pub` (public, SPKI PEM,
 * mode 0644).
 *
 * @param path - the private key file, e.g. `melange.rsa`
 * @param pair - the keys, e.g. from {@link generateKeyPair}
 * @param options - `force: true` replaces existing files
 * @returns the two paths written
 * @throws {KeyError} KEY_EXISTS (either file exists, without force), KEY_PAIR_MISMATCH (the halves do not
 *   belong together), KEY_BAD_NAME (empty path), KEY_WRITE_FAILED, KEY_WRONG_KIND / KEY_BAD_PEM (a pair
 *   that was not made by this package and does not hold valid keys)
 * @example
 * await writeKeyPair('melange.rsa', await generateKeyPair());
 */
export async function writeKeyPair(
  path: string,
  pair: KeyPair,
  options: WriteKeyPairOptions = {},
): Promise<WrittenKeyPair> {
  if (typeof path !== 'string' || path === '' || basename(path) === '') {
    throw new KeyError('KEY_BAD_NAME', `key path ${JSON.stringify(path)} does not name a file`, {
      hint: 'Give a file path such as "melange.rsa".',
      data: { path },
    });
  }
  if (pair.privateKey.type !== 'private' || pair.publicKey.type !== 'public') {
    throw new KeyError('KEY_WRONG_KIND', `key pair for ${path} does not hold a private and a public key`, {
      hint: 'Pass the result of generateKeyPair, or { privateKey, publicKey: publicKeyFromPrivate(privateKey) }.',
      data: { path },
    });
  }
  // Re-derive both texts from the private key, so that what is written is normalised and belongs together
  // even when the pair was assembled by hand.
  const privateKey = parsePrivateKey(pair.privateKey.pem, pair.privateKey.source);
  const publicKey = publicKeyFromPrivate(privateKey);
  if (parsePublicKey(pair.publicKey.pem, pair.publicKey.source).fingerprint !== publicKey.fingerprint) {
    throw new KeyError(
      'KEY_PAIR_MISMATCH',
      `the public key (${pair.publicKey.source}) is not the public half of the private key (${pair.privateKey.source})`,
      { hint: 'Derive the public key with publicKeyFromPrivate.', data: { path } },
    );
  }
  const force = options.force === true;
  const publicKeyPath = `${path}${PUBLIC_KEY_SUFFIX}`;
  if (!force) {
    for (const target of [path, publicKeyPath]) if (await exists(target)) throw existsError(target);
  }
  await writeFileAtomically(path, privateKey.pem, PRIVATE_KEY_MODE, force);
  try {
    await writeFileAtomically(publicKeyPath, publicKey.pem, PUBLIC_KEY_MODE, force);
  } catch (error) {
    // Do not leave a private key behind without its public half, unless it replaced an older one.
    if (!force) await removeQuietly(path);
    throw error;
  }
  return { privateKeyPath: path, publicKeyPath };
}
