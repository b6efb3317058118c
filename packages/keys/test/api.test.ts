// The public surface, imported by package name: guards the explicit export list of src/index.ts.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TkError } from '@tk/core';
import * as keys from '@tk/keys';
import { describe, expect, it } from 'vitest';
import { TESTREPO } from './fixtures.ts';

describe('@tk/keys', () => {
  it('exports exactly the documented values', () => {
    expect(Object.keys(keys).sort()).toEqual([
      'DEFAULT_KEY_BITS',
      'KeyError',
      'MAX_KEY_BITS',
      'MAX_KEY_INPUT_BYTES',
      'MIN_KEY_BITS',
      'SIGNATURE_ALGORITHMS',
      'assertKeyName',
      'createKeyring',
      'generateKeyPair',
      'isValidKeyName',
      'loadKeyring',
      'parsePrivateKey',
      'parsePublicKey',
      'parseSignatureEntryName',
      'publicKeyFromPrivate',
      'readPrivateKey',
      'readPublicKey',
      'signBytes',
      'signDigest',
      'signatureEntryName',
      'signatureKeyName',
      'verifyBytes',
      'verifyDigest',
      'writeKeyPair',
    ]);
  });

  it('signs and verifies a package control member end to end, as melange and apk do', async () => {
    const privateKeyPath = join(TESTREPO, 'melange.rsa');
    const privateKey = await keys.readPrivateKey(privateKeyPath);
    const keyName = keys.signatureKeyName(privateKeyPath);
    const entryName = keys.signatureEntryName('sha256', keyName);
    expect(entryName).toBe('.SIGN.RSA256.melange.rsa.pub');

    const control = (await readFile(join(TESTREPO, 'x86_64', 'replayout-1.0.0-r0.apk'))).subarray(647, 1661);
    const signature = keys.signBytes(privateKey, control, 'sha256');

    const keyring = await keys.loadKeyring([join(TESTREPO, 'melange.rsa.pub')]);
    const parsed = keys.parseSignatureEntryName(entryName);
    if (parsed === null || parsed.algorithm === 'unsupported') throw new Error('unexpected');
    const publicKey = keyring.get(parsed.keyName);
    expect(publicKey?.fingerprint).toBe(privateKey.fingerprint);
    expect(keys.verifyBytes(publicKey!, control, signature, parsed.algorithm)).toBe(true);
  });

  it('throws KeyError instances that are TkErrors', () => {
    try {
      keys.parsePublicKey('nope');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(keys.KeyError);
      expect(error).toBeInstanceOf(TkError);
      expect((error as keys.KeyError).code).toBe('KEY_BAD_PEM');
      expect((error as keys.KeyError).hint).toBeTruthy();
    }
  });
});
