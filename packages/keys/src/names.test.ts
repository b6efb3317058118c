import { describe, expect, it } from 'vitest';
import { codeOf } from '../test/fixtures.ts';
import {
  assertKeyName,
  isValidKeyName,
  parseSignatureEntryName,
  signatureEntryName,
  signatureKeyName,
} from './names.ts';
import type { SignatureAlgorithm } from './sign.ts';

describe('signatureKeyName', () => {
  it.each([
    ['melange.rsa', 'melange.rsa.pub'],
    ['/home/me/keys/local-melange.rsa', 'local-melange.rsa.pub'],
    ['./wolfi-signing.rsa', 'wolfi-signing.rsa.pub'],
    [
      'keys/alpine-devel@lists.alpinelinux.org-616ae350.rsa',
      'alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub',
    ],
    ['key-without-extension', 'key-without-extension.pub'],
  ])('%s signs as %s', (path, name) => {
    expect(signatureKeyName(path)).toBe(name);
  });

  it.each([[''], ['/'], ['.'], ['..'], ['keys/..']])('refuses %j with KEY_BAD_NAME', (path) => {
    expect(codeOf(() => signatureKeyName(path))).toBe('KEY_BAD_NAME');
  });
});

describe('parseSignatureEntryName', () => {
  it.each([
    ['.SIGN.RSA256.melange.rsa.pub', { scheme: 'RSA256', algorithm: 'sha256', keyName: 'melange.rsa.pub' }],
    [
      '.SIGN.RSA.alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub',
      { scheme: 'RSA', algorithm: 'sha1', keyName: 'alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub' },
    ],
    ['.SIGN.RSA512.x.rsa.pub', { scheme: 'RSA512', algorithm: 'sha512', keyName: 'x.rsa.pub' }],
    ['.SIGN.DSA.old.pub', { scheme: 'DSA', algorithm: 'unsupported', keyName: 'old.pub' }],
    // apk-tools accepts any key file name; apko's extra ".rsa.pub" rule is left to callers.
    ['.SIGN.RSA256.key', { scheme: 'RSA256', algorithm: 'sha256', keyName: 'key' }],
  ])('%s', (entry, expected) => {
    expect(parseSignatureEntryName(entry)).toEqual(expected);
  });

  it.each([
    ['.PKGINFO'],
    ['APKINDEX'],
    ['.SIGN.'],
    ['.SIGN.RSA256'],
    ['.SIGN.RSA256.'],
    ['.SIGN.ECDSA.key.pub'],
    ['.SIGN.rsa256.key.pub'],
    ['.SIGN.RSA256.../etc/passwd'],
    ['.SIGN.RSA256.a/b.pub'],
    ['.SIGN.RSA256..'],
    ['.SIGN.RSA256.bad\nname'],
    ['.SIGN.toString.x'],
    ['.SIGN.__proto__.x'],
    ['SIGN.RSA256.melange.rsa.pub'],
  ])('%j is not a signature entry', (entry) => {
    expect(parseSignatureEntryName(entry)).toBeNull();
  });
});

describe('signatureEntryName', () => {
  it.each([
    ['sha256', '.SIGN.RSA256.melange.rsa.pub'],
    ['sha1', '.SIGN.RSA.melange.rsa.pub'],
    ['sha512', '.SIGN.RSA512.melange.rsa.pub'],
  ] as const)('%s gives %s, and parses back', (algorithm, entry) => {
    expect(signatureEntryName(algorithm, 'melange.rsa.pub')).toBe(entry);
    expect(parseSignatureEntryName(entry)?.algorithm).toBe(algorithm);
  });

  it('refuses bad names and algorithms', () => {
    expect(codeOf(() => signatureEntryName('sha256', '../x'))).toBe('KEY_BAD_NAME');
    expect(codeOf(() => signatureEntryName('md5' as SignatureAlgorithm, 'x.pub'))).toBe('KEY_BAD_ALGORITHM');
    expect(codeOf(() => signatureEntryName('toString' as SignatureAlgorithm, 'x.pub'))).toBe(
      'KEY_BAD_ALGORITHM',
    );
  });
});

describe('key names', () => {
  it.each([
    ['melange.rsa.pub'],
    ['alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub'],
    ['chainguard-0106f58bac88057c2ff5c2829850df492717a876ed700443550353c7ab23f5a0.rsa.pub'],
    ['...'],
    ['.hidden.pub'],
    ['ключ.pub'],
    ['a'.repeat(255)],
  ])('%j is valid', (name) => {
    expect(isValidKeyName(name)).toBe(true);
    expect(codeOf(() => assertKeyName(name))).toBeUndefined();
  });

  it.each([
    [''],
    ['.'],
    ['..'],
    ['a/b'],
    ['/abs'],
    ['nul\0byte'],
    ['new\nline'],
    ['del\x7f'],
    ['a'.repeat(256)],
    ['é'.repeat(128)],
  ])('%j is refused with KEY_BAD_NAME', (name) => {
    expect(isValidKeyName(name)).toBe(false);
    expect(codeOf(() => assertKeyName(name))).toBe('KEY_BAD_NAME');
  });

  it('refuses non-strings at runtime', () => {
    expect(isValidKeyName(42 as unknown as string)).toBe(false);
    expect(codeOf(() => assertKeyName(undefined as unknown as string))).toBe('KEY_BAD_NAME');
  });
});
