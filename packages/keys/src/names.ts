/**
 * Key names and apk signature entry names.
 *
 * apk finds the key for a signature by NAME: the entry `.SIGN.<ALG>.<keyname>` in the first gzip member
 * names the file `/etc/apk/keys/<keyname>` (apk-tools 2.14 `src/package.c`). melange names the entry after
 * the private key file: `.SIGN.RSA256.<basename(private key)>.pub` (`pkg/sign/apk.go`), so `melange.rsa`
 * signs as `melange.rsa.pub`.
 *
 * A key name becomes a file name in a keys directory and part of a tar entry name, so it must be one plain
 * path component: not empty, not `.` or `..`, no `/`, no NUL or other control characters, and at most
 * 255 bytes (`NAME_MAX`).
 */
import { basename } from 'node:path';
import { KeyError } from './errors.ts';
import type { SignatureAlgorithm } from './sign.ts';

/** The longest file name on Linux file systems, in bytes. */
const NAME_MAX = 255;
/** The prefix of every apk signature entry. */
const SIGNATURE_PREFIX = '.SIGN.';
// C0 controls and DEL. A key name ends up in tar headers and log lines, where these only cause harm.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/;

/** Why a key name is refused, or undefined when it is a valid name. */
function keyNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name === '.' || name === '..') return 'is a directory reference, not a file name';
  if (name.includes('/')) return 'contains "/"; a key name is a plain file name';
  if (CONTROL_CHARACTER.test(name)) return 'contains a NUL or control character';
  if (Buffer.byteLength(name, 'utf8') > NAME_MAX) return `is longer than ${NAME_MAX} bytes`;
  return undefined;
}

/**
 * True when `name` can be a key name (a plain file name, see the module comment).
 *
 * @param name - a candidate key name
 * @returns whether {@link assertKeyName} would accept it
 */
export function isValidKeyName(name: string): boolean {
  return typeof name === 'string' && keyNameProblem(name) === undefined;
}

/**
 * Refuse a key name that is not a plain file name.
 *
 * @param name - a candidate key name
 * @throws {KeyError} KEY_BAD_NAME
 */
export function assertKeyName(name: string): void {
  const problem = typeof name === 'string' ? keyNameProblem(name) : 'is not a string';
  if (problem === undefined) return;
  throw new KeyError('KEY_BAD_NAME', `key name ${JSON.stringify(name)} ${problem}`, {
    hint: 'Name keys by their file name, e.g. "melange.rsa.pub".',
    data: { name },
  });
}

/**
 * The key name melange puts in a signature made with a private key file: its basename plus `.pub`.
 *
 * @param privateKeyPath - path of the private key file, e.g. `/keys/melange.rsa`
 * @returns the key name, e.g. `melange.rsa.pub`
 * @throws {KeyError} KEY_BAD_NAME when the path has no usable basename
 * @example
 * signatureKeyName('./local-melange.rsa'); // 'local-melange.rsa.pub'
 */
export function signatureKeyName(privateKeyPath: string): string {
  const base = basename(privateKeyPath);
  if (base === '' || base === '.' || base === '..') {
    throw new KeyError(
      'KEY_BAD_NAME',
      `private key path ${JSON.stringify(privateKeyPath)} has no file name`,
      {
        hint: 'Give the path of the private key file, e.g. "melange.rsa".',
        data: { path: privateKeyPath },
      },
    );
  }
  const name = `${base}.pub`;
  assertKeyName(name);
  return name;
}

/** The `<ALG>` part of a `.SIGN.<ALG>.<keyname>` entry. */
export type SignatureScheme = 'RSA' | 'RSA256' | 'RSA512' | 'DSA';

/** A parsed `.SIGN.<ALG>.<keyname>` entry name. */
export interface SignatureEntryName {
  /** The `<ALG>` as written. */
  readonly scheme: SignatureScheme;
  /** The digest to verify with, or `'unsupported'` for DSA (apk-tools and apko skip DSA signatures). */
  readonly algorithm: SignatureAlgorithm | 'unsupported';
  /** The key name: the file name of the public key in the keys directory. */
  readonly keyName: string;
}

const SCHEME_ALGORITHM: Readonly<Record<SignatureScheme, SignatureAlgorithm | 'unsupported'>> = {
  RSA: 'sha1',
  RSA256: 'sha256',
  RSA512: 'sha512',
  DSA: 'unsupported',
};

const ALGORITHM_SCHEME: Readonly<Record<SignatureAlgorithm, SignatureScheme>> = {
  sha1: 'RSA',
  sha256: 'RSA256',
  sha512: 'RSA512',
};

/**
 * Parse a signature entry name.
 *
 * The key name is returned whatever its suffix: apk-tools accepts any file name, while apko's index
 * verifier also requires it to end in `.rsa.pub` (callers that mimic apko check that themselves).
 *
 * @param entryName - a tar entry name, e.g. `.SIGN.RSA256.melange.rsa.pub`
 * @returns scheme, algorithm and key name; or null when it is not a signature entry with a valid key name
 * @example
 * parseSignatureEntryName('.SIGN.RSA256.melange.rsa.pub'); // { scheme: 'RSA256', algorithm: 'sha256', keyName: 'melange.rsa.pub' }
 * parseSignatureEntryName('.PKGINFO'); // null
 */
export function parseSignatureEntryName(entryName: string): SignatureEntryName | null {
  if (!entryName.startsWith(SIGNATURE_PREFIX)) return null;
  const rest = entryName.slice(SIGNATURE_PREFIX.length);
  const dot = rest.indexOf('.');
  if (dot < 0) return null;
  const scheme = rest.slice(0, dot);
  const keyName = rest.slice(dot + 1);
  if (!Object.hasOwn(SCHEME_ALGORITHM, scheme) || !isValidKeyName(keyName)) return null;
  const known = scheme as SignatureScheme;
  return { scheme: known, algorithm: SCHEME_ALGORITHM[known], keyName };
}

/**
 * The signature entry name for a key name and digest, as melange and abuild write it.
 *
 * @param algorithm - the digest: sha256 gives `.SIGN.RSA256.`, sha1 `.SIGN.RSA.`, sha512 `.SIGN.RSA512.`
 * @param keyName - the public key's file name, e.g. `melange.rsa.pub`
 * @returns e.g. `.SIGN.RSA256.melange.rsa.pub`
 * @throws {KeyError} KEY_BAD_NAME, KEY_BAD_ALGORITHM
 */
export function signatureEntryName(algorithm: SignatureAlgorithm, keyName: string): string {
  if (!Object.hasOwn(ALGORITHM_SCHEME, algorithm)) {
    throw new KeyError(
      'KEY_BAD_ALGORITHM',
      `signature digest "${String(algorithm)}" is not sha1, sha256 or sha512`,
      {
        hint: 'melange signs with sha256.',
        data: { algorithm },
      },
    );
  }
  assertKeyName(keyName);
  return `${SIGNATURE_PREFIX}${ALGORITHM_SCHEME[algorithm]}.${keyName}`;
}
