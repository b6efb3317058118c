import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { codeOf, KEYS_DIR, TESTREPO } from '../test/fixtures.ts';
import { KeyError } from './errors.ts';
import { generateKeyPair } from './generate.ts';
import { parsePublicKey, type PrivateKey, type PublicKey } from './key.ts';
import { createKeyring } from './keyring.ts';

let melangePem: string;
let melange: PublicKey;
let other: PublicKey;
let otherPrivate: PrivateKey;

beforeAll(async () => {
  melangePem = await readFile(join(TESTREPO, 'melange.rsa.pub'), 'utf8');
  melange = parsePublicKey(melangePem, 'apko-testrepo/melange.rsa.pub');
  other = parsePublicKey(
    await readFile(join(KEYS_DIR, 'wolfi-signing.rsa.pub')),
    'keys/wolfi-signing.rsa.pub',
  );
  otherPrivate = (await generateKeyPair({ bits: 2048 })).privateKey;
});

describe('createKeyring', () => {
  it('starts empty', () => {
    const keyring = createKeyring();
    expect(keyring.size).toBe(0);
    expect(keyring.names()).toEqual([]);
    expect(keyring.entries()).toEqual([]);
    expect(keyring.get('melange.rsa.pub')).toBeUndefined();
  });

  it('stores keys by name, lists names sorted by code point, and counts them', () => {
    const keyring = createKeyring();
    expect(keyring.add('wolfi-signing.rsa.pub', other)).toBe(true);
    expect(keyring.add('melange.rsa.pub', melange)).toBe(true);
    expect(keyring.add('Zeta.rsa.pub', melange)).toBe(true);
    expect(keyring.size).toBe(3);
    expect(keyring.names()).toEqual(['Zeta.rsa.pub', 'melange.rsa.pub', 'wolfi-signing.rsa.pub']);
    expect(keyring.entries().map((entry) => entry.name)).toEqual(keyring.names());
    expect(keyring.get('melange.rsa.pub')).toBe(melange);
    expect(keyring.has('wolfi-signing.rsa.pub')).toBe(true);
  });

  it('finds a key by exact name, or (apko) by the name without .rsa.pub, and nothing else', () => {
    const keyring = createKeyring();
    keyring.add('melange', melange); // e.g. fetched from a URL without an extension
    keyring.add('wolfi-signing.rsa.pub', other);
    expect(keyring.get('melange.rsa.pub')).toBe(melange);
    expect(keyring.lookup('melange.rsa.pub')).toEqual({ name: 'melange', key: melange });
    expect(keyring.get('melange')).toBe(melange);
    // apk-tools' rule: exact names only.
    expect(keyring.get('melange.rsa.pub', { exact: true })).toBeUndefined();
    expect(keyring.has('melange.rsa.pub', { exact: true })).toBe(false);
    // No other variants: no ".pub" appended, no other suffix trimmed, no case folding.
    expect(keyring.get('wolfi-signing.rsa')).toBeUndefined();
    expect(keyring.get('wolfi-signing')).toBeUndefined();
    expect(keyring.get('melange.pub')).toBeUndefined();
    expect(keyring.get('MELANGE.rsa.pub')).toBeUndefined();
    expect(keyring.get('.rsa.pub')).toBeUndefined();
  });

  it('prefers the exact name over the trimmed one', () => {
    const keyring = createKeyring();
    keyring.add('melange', other);
    keyring.add('melange.rsa.pub', melange);
    expect(keyring.lookup('melange.rsa.pub')).toEqual({ name: 'melange.rsa.pub', key: melange });
  });

  it('answers undefined for names that are not key names, without throwing', () => {
    const keyring = createKeyring();
    keyring.add('melange.rsa.pub', melange);
    for (const name of ['', '.', '..', '../melange.rsa.pub', 'a/melange.rsa.pub', 'melange.rsa.pub\0']) {
      expect(keyring.get(name)).toBeUndefined();
    }
  });

  it('accepts the same key twice under one name, and refuses a different key (KEY_DUPLICATE_NAME)', () => {
    const keyring = createKeyring();
    keyring.add('melange.rsa.pub', melange);
    expect(keyring.add('melange.rsa.pub', parsePublicKey(melangePem, 'elsewhere/melange.rsa.pub'))).toBe(
      false,
    );
    expect(keyring.get('melange.rsa.pub')).toBe(melange);
    try {
      keyring.add('melange.rsa.pub', other);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(KeyError);
      const keyError = error as KeyError;
      expect(keyError.code).toBe('KEY_DUPLICATE_NAME');
      expect(keyError.message).toContain('apko-testrepo/melange.rsa.pub');
      expect(keyError.message).toContain('keys/wolfi-signing.rsa.pub');
      expect(keyError.data).toMatchObject({ fingerprints: [melange.fingerprint, other.fingerprint] });
    }
    expect(keyring.get('melange.rsa.pub')).toBe(melange);
    expect(keyring.size).toBe(1);
  });

  it.each([[''], ['.'], ['..'], ['dir/key.pub'], ['nul\0.pub']])(
    'refuses the name %j with KEY_BAD_NAME',
    (name) => {
      expect(codeOf(() => createKeyring().add(name, melange))).toBe('KEY_BAD_NAME');
    },
  );

  it('refuses a private key (KEY_WRONG_KIND)', () => {
    expect(codeOf(() => createKeyring().add('x.rsa.pub', otherPrivate as unknown as PublicKey))).toBe(
      'KEY_WRONG_KIND',
    );
  });
});

describe('addKeyFromBytes', () => {
  it('parses and adds a fetched key, naming the source', () => {
    const keyring = createKeyring();
    const key = keyring.addKeyFromBytes(
      'melange.rsa.pub',
      new TextEncoder().encode(melangePem),
      'https://example.test/melange.rsa.pub',
    );
    expect(key.source).toBe('https://example.test/melange.rsa.pub');
    expect(key.fingerprint).toBe(melange.fingerprint);
    expect(keyring.get('melange.rsa.pub')).toBe(key);
    // Identical content again: returns the stored key.
    expect(keyring.addKeyFromBytes('melange.rsa.pub', melangePem)).toBe(key);
  });

  it('refuses bad names before parsing, bad PEM, private keys, and different content under a taken name', () => {
    const keyring = createKeyring();
    keyring.add('melange.rsa.pub', melange);
    expect(codeOf(() => keyring.addKeyFromBytes('../x', 'garbage'))).toBe('KEY_BAD_NAME');
    expect(codeOf(() => keyring.addKeyFromBytes('x.rsa.pub', '<html>404</html>'))).toBe('KEY_BAD_PEM');
    expect(codeOf(() => keyring.addKeyFromBytes('x.rsa.pub', otherPrivate.pem))).toBe('KEY_WRONG_KIND');
    expect(codeOf(() => keyring.addKeyFromBytes('melange.rsa.pub', other.pem))).toBe('KEY_DUPLICATE_NAME');
    expect(keyring.names()).toEqual(['melange.rsa.pub']);
  });
});
