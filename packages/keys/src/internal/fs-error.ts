/** Turn node:fs errors about key files into {@link KeyError}s with a code, the path and a next step. */
import { KeyError } from '../errors.ts';

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ELOOP: 'too many levels of symbolic links (a symlink loop?)',
  EISDIR: 'it is a directory',
  ENAMETOOLONG: 'the path is too long',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EMFILE: 'too many open files',
};

/**
 * The errno code of a node:fs error.
 *
 * @param error - anything thrown
 * @returns the code, such as `ENOENT`, or undefined
 */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}

/**
 * Wrap an error from reading a key file or keys directory.
 *
 * @param error - what node:fs threw
 * @param path - the path being read
 * @param what - what the path should be, for the message
 * @returns a KEY_NOT_FOUND or KEY_READ_FAILED error
 */
export function readError(error: unknown, path: string, what = 'key file'): KeyError {
  if (error instanceof KeyError) return error;
  const code = errnoCode(error);
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new KeyError('KEY_NOT_FOUND', `${what} ${path} does not exist`, {
      hint: 'Check the path; key files are usually named like "melange.rsa" and "melange.rsa.pub".',
      cause: error,
      data: { path, errno: code },
    });
  }
  const why = (code === undefined ? undefined : ERRNO_TEXT[code]) ?? code ?? String(error);
  return new KeyError('KEY_READ_FAILED', `cannot read ${what} ${path}: ${why}`, {
    hint: 'Check that the path is a readable key file.',
    cause: error,
    data: { path, errno: code },
  });
}

/**
 * Wrap an error from writing a key file.
 *
 * @param error - what node:fs threw
 * @param path - the path being written
 * @returns a KEY_WRITE_FAILED error
 */
export function writeError(error: unknown, path: string): KeyError {
  if (error instanceof KeyError) return error;
  const code = errnoCode(error);
  const why =
    code === 'ENOENT' || code === 'ENOTDIR'
      ? 'its directory does not exist'
      : ((code === undefined ? undefined : ERRNO_TEXT[code]) ?? code ?? String(error));
  return new KeyError('KEY_WRITE_FAILED', `cannot write key file ${path}: ${why}`, {
    hint: 'Check that the directory exists and is writable.',
    cause: error,
    data: { path, errno: code },
  });
}
