import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { codeOf, TESTREPO } from '../test/fixtures.ts';
import { KeyError } from './errors.ts';
import {
  parsePrivateKey,
  parsePublicKey,
  publicKeyFromPrivate,
  type PrivateKey,
  type PublicKey,
} from './key.ts';

let melangePrivatePem: string;
let melangePublicPem: string;
let rsa: { privateKey: KeyObject; publicKey: KeyObject };

beforeAll(async () => {
  melangePrivatePem = await readFile(join(TESTREPO, 'melange.rsa'), 'utf8');
  melangePublicPem = await readFile(join(TESTREPO, 'melange.rsa.pub'), 'utf8');
  rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
});

describe('parsePrivateKey', () => {
  it("reads apko's test key (PKCS#1, as melange writes it) and keeps its text byte for byte", () => {
    const key = parsePrivateKey(melangePrivatePem, 'melange.rsa');
    expect(key.type).toBe('private');
    expect(key.bits).toBe(4096);
    expect(key.source).toBe('melange.rsa');
    expect(key.pem).toBe(melangePrivatePem);
  });

  it('reads PKCS#8 as OpenSSL 3 genrsa (abuild-keygen) writes it, and normalises to PKCS#1', () => {
    const pkcs8 = execFileSync('openssl', ['genrsa', '2048'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString();
    expect(pkcs8.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true);
    const key = parsePrivateKey(pkcs8);
    expect(key.bits).toBe(2048);
    expect(key.pem.startsWith('-----BEGIN RSA PRIVATE KEY-----\n')).toBe(true);
    expect(key.pem.endsWith('-----END RSA PRIVATE KEY-----\n')).toBe(true);
    // The same key either way.
    expect(parsePrivateKey(key.pem).fingerprint).toBe(key.fingerprint);
  });

  it('reads bytes as well as text', () => {
    expect(parsePrivateKey(new TextEncoder().encode(melangePrivatePem)).bits).toBe(4096);
  });

  it('does not show the private PEM when the key is logged or serialised', () => {
    const key = parsePrivateKey(melangePrivatePem, 'melange.rsa');
    expect(Object.keys(key)).not.toContain('pem');
    expect(JSON.stringify(key)).not.toContain('PRIVATE');
    expect(Object.isFrozen(key)).toBe(true);
  });

  it.each([
    [
      'EC (PKCS#8)',
      () =>
        generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
          type: 'pkcs8',
          format: 'pem',
        }),
    ],
    [
      'EC (SEC1)',
      () =>
        generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' }),
    ],
    ['Ed25519', () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' })],
    [
      'DSA',
      () =>
        generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 }).privateKey.export({
          type: 'pkcs8',
          format: 'pem',
        }),
    ],
    [
      'RSA-PSS',
      () =>
        generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey.export({
          type: 'pkcs8',
          format: 'pem',
        }),
    ],
    [
      'a DSA PRIVATE KEY label',
      () => '-----BEGIN DSA PRIVATE KEY-----\nMAMCAQE=\n-----END DSA PRIVATE KEY-----\n',
    ],
  ])('refuses %s with KEY_NOT_RSA', (_name, make) => {
    expect(codeOf(() => parsePrivateKey(make() as string))).toBe('KEY_NOT_RSA');
  });

  it('refuses a public key with KEY_WRONG_KIND', () => {
    expect(codeOf(() => parsePrivateKey(melangePublicPem))).toBe('KEY_WRONG_KIND');
    expect(
      codeOf(() => parsePrivateKey(rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }) as string)),
    ).toBe('KEY_WRONG_KIND');
  });

  it('refuses passphrase-protected keys with KEY_ENCRYPTED', () => {
    const pkcs8 = rsa.privateKey.export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'secret',
    });
    const pkcs1 = rsa.privateKey.export({
      type: 'pkcs1',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'secret',
    });
    expect(codeOf(() => parsePrivateKey(pkcs8 as string))).toBe('KEY_ENCRYPTED');
    expect(codeOf(() => parsePrivateKey(pkcs1 as string))).toBe('KEY_ENCRYPTED');
  });

  it('refuses OpenSSH keys and unknown labels with KEY_BAD_PEM and a hint', () => {
    const ssh = '-----BEGIN OPENSSH PRIVATE KEY-----\nMAMCAQE=\n-----END OPENSSH PRIVATE KEY-----\n';
    try {
      parsePrivateKey(ssh, 'id_rsa');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(KeyError);
      expect((error as KeyError).code).toBe('KEY_BAD_PEM');
      expect((error as KeyError).hint).toContain('ssh-keygen');
    }
  });

  it.each([
    ['empty input', () => ''],
    ['garbage', () => 'not a key at all'],
    ['DER', () => rsa.privateKey.export({ type: 'pkcs1', format: 'der' })],
    ['truncated PEM', () => melangePrivatePem.slice(0, 1000)],
    [
      'PEM with its body cut short',
      () =>
        melangePrivatePem
          .split('\n')
          .filter((_line, i) => i < 10 || i > 40)
          .join('\n'),
    ],
    [
      'PEM with a body that is a valid SEQUENCE but not a key',
      () => '-----BEGIN RSA PRIVATE KEY-----\nMAMCAQE=\n-----END RSA PRIVATE KEY-----\n',
    ],
    ['a mislabelled public key', () => melangePublicPem.replaceAll('PUBLIC KEY', 'RSA PRIVATE KEY')],
  ])('refuses %s with KEY_BAD_PEM', (_name, make) => {
    const input = make();
    expect(codeOf(() => parsePrivateKey(typeof input === 'string' ? input : new Uint8Array(input)))).toBe(
      'KEY_BAD_PEM',
    );
  });

  it('refuses input over 64 KiB with KEY_INPUT_TOO_LARGE', () => {
    expect(codeOf(() => parsePrivateKey(melangePrivatePem.repeat(25)))).toBe('KEY_INPUT_TOO_LARGE');
  });

  it('names the source in its messages', () => {
    try {
      parsePrivateKey('garbage', '/keys/broken.rsa');
      expect.unreachable();
    } catch (error) {
      expect((error as KeyError).message).toContain('/keys/broken.rsa');
      expect((error as KeyError).data).toMatchObject({ source: '/keys/broken.rsa' });
    }
  });
});

describe('parsePublicKey', () => {
  it("reads apko's test public key (SPKI) and keeps its text byte for byte", () => {
    const key = parsePublicKey(melangePublicPem, 'melange.rsa.pub');
    expect(key).toMatchObject({
      type: 'public',
      bits: 4096,
      source: 'melange.rsa.pub',
      pem: melangePublicPem,
    });
    expect(key.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('computes the fingerprint as the hex SHA-256 of the DER SPKI (as openssl does)', () => {
    const der = execFileSync('openssl', [
      'pkey',
      '-pubin',
      '-in',
      join(TESTREPO, 'melange.rsa.pub'),
      '-outform',
      'DER',
    ]);
    const expected = execFileSync('openssl', ['dgst', '-sha256', '-r'], { input: der })
      .toString()
      .split(' ')[0];
    expect(parsePublicKey(melangePublicPem).fingerprint).toBe(expected);
  });

  it('reads PKCS#1 RSA PUBLIC KEY and normalises it to SPKI', () => {
    const pkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    expect(pkcs1.startsWith('-----BEGIN RSA PUBLIC KEY-----')).toBe(true);
    const key = parsePublicKey(pkcs1);
    expect(key.pem).toBe(rsa.publicKey.export({ type: 'spki', format: 'pem' }));
    expect(key.bits).toBe(2048);
  });

  it('refuses private keys with KEY_WRONG_KIND', () => {
    expect(codeOf(() => parsePublicKey(melangePrivatePem))).toBe('KEY_WRONG_KIND');
    expect(
      codeOf(() => parsePublicKey(rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)),
    ).toBe('KEY_WRONG_KIND');
  });

  it.each([
    ['EC', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey],
    ['Ed25519', () => generateKeyPairSync('ed25519').publicKey],
    ['DSA', () => generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 }).publicKey],
    ['RSA-PSS', () => generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey],
  ])('refuses %s with KEY_NOT_RSA', (_name, make) => {
    expect(codeOf(() => parsePublicKey(make().export({ type: 'spki', format: 'pem' }) as string))).toBe(
      'KEY_NOT_RSA',
    );
  });

  it.each([
    ['empty input', ''],
    ['garbage', '\u0001\u0002 definitely not PEM'],
    ['truncated PEM', () => melangePublicPem.slice(0, 400)],
    ['a damaged body', () => melangePublicPem.replace('MIICIjAN', 'MIICIjAM')],
    ['a certificate', '-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n'],
    ['DER bytes', () => rsa.publicKey.export({ type: 'spki', format: 'der' })],
  ])('refuses %s with KEY_BAD_PEM', (_name, input) => {
    const value = typeof input === 'function' ? input() : input;
    expect(codeOf(() => parsePublicKey(typeof value === 'string' ? value : new Uint8Array(value)))).toBe(
      'KEY_BAD_PEM',
    );
  });

  it('refuses huge input with KEY_INPUT_TOO_LARGE', () => {
    expect(codeOf(() => parsePublicKey(new Uint8Array(1024 * 1024).fill(0x41)))).toBe('KEY_INPUT_TOO_LARGE');
  });
});

describe('publicKeyFromPrivate', () => {
  it("derives apko's test public key from its private key", () => {
    const privateKey = parsePrivateKey(melangePrivatePem, 'melange.rsa');
    const publicKey = publicKeyFromPrivate(privateKey);
    expect(publicKey.pem).toBe(melangePublicPem);
    expect(publicKey.fingerprint).toBe(privateKey.fingerprint);
    expect(publicKey.bits).toBe(4096);
  });

  it('works on a hand-made copy of a key (re-parsing its PEM)', () => {
    const parsed = parsePrivateKey(melangePrivatePem);
    const copy: PrivateKey = {
      type: 'private',
      bits: parsed.bits,
      pem: parsed.pem,
      fingerprint: parsed.fingerprint,
      source: 'copy',
    };
    expect(publicKeyFromPrivate(copy).pem).toBe(melangePublicPem);
  });

  it('refuses a public key with KEY_WRONG_KIND', () => {
    const publicKey: PublicKey = parsePublicKey(melangePublicPem);
    expect(codeOf(() => publicKeyFromPrivate(publicKey as unknown as PrivateKey))).toBe('KEY_WRONG_KIND');
  });
});
