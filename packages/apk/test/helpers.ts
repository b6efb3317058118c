import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createKeyring, parsePrivateKey, parsePublicKey, type Keyring, type PrivateKey } from '@tk/keys';

export const FIXTURES = join(import.meta.dirname, '../../../test-fixtures/real');

export function fixture(path: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURES, path)));
}

/** A keyring holding the given fixture keys under their file names. */
export function keyringOf(...paths: string[]): Keyring {
  const keyring = createKeyring();
  for (const path of paths)
    keyring.add(path.split('/').pop()!, parsePublicKey(readFileSync(join(FIXTURES, path), 'utf8'), path));
  return keyring;
}

/** apko's public test signing key (committed in apko's repository on purpose). */
export function testPrivateKey(): PrivateKey {
  return parsePrivateKey(readFileSync(join(FIXTURES, 'apko-testrepo/melange.rsa'), 'utf8'));
}
