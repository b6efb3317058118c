/**
 * A keyring: public keys by NAME, the way apk trusts keys.
 *
 * apk-tools opens `/etc/apk/keys/<keyname>` for a `.SIGN.<ALG>.<keyname>` entry, so a key's identity is
 * its file name. Lookups follow apko (`pkg/apk/apk/index.go`), which is apk-tools' rule plus one fallback:
 *
 * 1. the exact name (`melange.rsa.pub` finds `melange.rsa.pub`);
 * 2. if the name ends in `.rsa.pub`, the name without that suffix (`melange.rsa.pub` finds a key stored as
 *    `melange`). apko accepts this for keys downloaded from URLs without a file extension.
 *
 * Nothing else is tried: no `.pub` appended, no case folding. Appending `.pub` would let a signature naming
 * `melange.rsa` pick up `melange.rsa.pub`, which neither apk-tools nor apko does. `{ exact: true }` turns
 * the fallback off, giving apk-tools' behaviour.
 *
 * Names are unique. Adding a second key under a taken name is an error unless it is the same key (same
 * fingerprint), since which key wins would otherwise depend on load order.
 */
import { compareCodePoints } from '@tk/core';
import { KeyError } from './errors.ts';
import { parsePublicKey, type PublicKey } from './key.ts';
import { assertKeyName, isValidKeyName } from './names.ts';

/** The suffix apko trims when the exact name is not in the keyring. */
const RSA_PUB_SUFFIX = '.rsa.pub';

/** Options of keyring lookups. */
export interface KeyLookupOptions {
  /** Only the exact name (apk-tools); default false, which also tries the name without `.rsa.pub` (apko). */
  exact?: boolean;
}

/** A key and the name it is stored under. */
export interface KeyringEntry {
  readonly name: string;
  readonly key: PublicKey;
}

/** Public keys by name. Create one with {@link createKeyring} or {@link loadKeyring}. */
export interface Keyring {
  /** How many keys it holds. */
  readonly size: number;
  /**
   * Add a key under a name.
   *
   * @param name - the key name (a plain file name such as `melange.rsa.pub`)
   * @param key - the public key
   * @returns true if added; false if the same key was already there under that name
   * @throws {KeyError} KEY_BAD_NAME, KEY_DUPLICATE_NAME (a different key has that name), KEY_WRONG_KIND
   */
  add(name: string, key: PublicKey): boolean;
  /**
   * Parse a PEM public key (for example one fetched from a URL) and add it under a name.
   *
   * @param name - the key name
   * @param pem - PEM text or bytes
   * @param source - where the bytes came from, for messages (default: the name)
   * @returns the key now stored under the name
   * @throws {KeyError} KEY_BAD_NAME, KEY_DUPLICATE_NAME, and the errors of {@link parsePublicKey}
   */
  addKeyFromBytes(name: string, pem: string | Uint8Array, source?: string): PublicKey;
  /**
   * Find the key for a name (see the lookup rules of the module).
   *
   * @param name - typically the key name of a `.SIGN.` entry
   * @param options - `exact: true` for apk-tools' exact-name rule only
   * @returns the key, or undefined (also for names that are not valid key names)
   */
  get(name: string, options?: KeyLookupOptions): PublicKey | undefined;
  /**
   * Like {@link Keyring.get}, also telling which stored name matched.
   *
   * @param name - the name to look up
   * @param options - `exact: true` for apk-tools' exact-name rule only
   * @returns the stored name and key, or undefined
   */
  lookup(name: string, options?: KeyLookupOptions): KeyringEntry | undefined;
  /**
   * Whether {@link Keyring.get} would find a key.
   *
   * @param name - the name to look up
   * @param options - lookup options
   * @returns true when a key is found
   */
  has(name: string, options?: KeyLookupOptions): boolean;
  /** @returns the stored names, sorted by code point */
  names(): string[];
  /** @returns the stored names and keys, sorted by name */
  entries(): KeyringEntry[];
}

/**
 * Create an empty keyring.
 *
 * @returns a keyring to fill with `add` or `addKeyFromBytes`
 * @example
 * const keyring = createKeyring();
 * keyring.add('melange.rsa.pub', parsePublicKey(pem));
 * keyring.get('melange.rsa.pub'); // the key
 */
export function createKeyring(): Keyring {
  const keys = new Map<string, PublicKey>();

  const lookup = (name: string, options: KeyLookupOptions = {}): KeyringEntry | undefined => {
    if (!isValidKeyName(name)) return undefined;
    const exact = keys.get(name);
    if (exact !== undefined) return { name, key: exact };
    if (options.exact === true || !name.endsWith(RSA_PUB_SUFFIX)) return undefined;
    const trimmed = name.slice(0, -RSA_PUB_SUFFIX.length);
    const key = keys.get(trimmed);
    return key === undefined ? undefined : { name: trimmed, key };
  };

  const add = (name: string, key: PublicKey): boolean => {
    assertKeyName(name);
    if (typeof key !== 'object' || key === null || key.type !== 'public') {
      throw new KeyError(
        'KEY_WRONG_KIND',
        `keyring entry "${name}": only public keys can be added to a keyring`,
        {
          hint: 'Add the public half; derive it with publicKeyFromPrivate.',
          data: { name },
        },
      );
    }
    const existing = keys.get(name);
    if (existing === undefined) {
      keys.set(name, key);
      return true;
    }
    if (existing.fingerprint === key.fingerprint) return false;
    throw new KeyError(
      'KEY_DUPLICATE_NAME',
      `two different keys are named "${name}": ${existing.source} (sha256 ${existing.fingerprint.slice(0, 16)}…) and ${key.source} (sha256 ${key.fingerprint.slice(0, 16)}…)`,
      {
        hint: 'apk finds keys by file name only; remove one of them, or rename it and re-sign what it signed.',
        data: {
          name,
          sources: [existing.source, key.source],
          fingerprints: [existing.fingerprint, key.fingerprint],
        },
      },
    );
  };

  return {
    get size() {
      return keys.size;
    },
    add,
    addKeyFromBytes(name, pem, source = name) {
      assertKeyName(name);
      const key = parsePublicKey(pem, source);
      add(name, key);
      return keys.get(name) ?? key;
    },
    get: (name, options) => lookup(name, options)?.key,
    lookup,
    has: (name, options) => lookup(name, options) !== undefined,
    names: () => [...keys.keys()].sort(compareCodePoints),
    entries: () =>
      [...keys.entries()].sort(([a], [b]) => compareCodePoints(a, b)).map(([name, key]) => ({ name, key })),
  };
}
