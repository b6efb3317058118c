import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { appendedCertificates, countPemCertificates, skeletonDirectories } from './generated.ts';

const CERT = '-----BEGIN CERTIFICATE-----\nQUJDRA==\n-----END CERTIFICATE-----\n';
const sha1 = (text: string): { algorithm: 'sha1'; hex: string } => ({
  algorithm: 'sha1',
  hex: createHash('sha1').update(text).digest('hex'),
});
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('countPemCertificates', () => {
  it.each([
    [CERT, 1],
    [`${CERT}\n${CERT}`, 2],
    ['', 0],
    [CERT.trimEnd(), 0],
    [`${CERT}#!/bin/sh\n`, 0],
    ['-----BEGIN CERTIFICATE-----\nQUJD\n', 0],
    ['-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n', 0],
    ['-----BEGIN PRIVATE KEY-----\nQUJD\n-----END PRIVATE KEY-----\n', 0],
  ])('%j → %i', (text, count) => {
    expect(countPemCertificates(text)).toBe(count);
  });

  it('stays linear on long hostile input', () => {
    const hostile = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(100)}\n`.repeat(20_000);
    expect(countPemCertificates(hostile)).toBe(0);
  });
});

describe('appendedCertificates', () => {
  const original = `${CERT}${CERT}`;

  it('finds the package bundle as a prefix and counts what was appended', () => {
    expect(appendedCertificates(bytes(`${original}${CERT}`), sha1(original))).toBe(1);
    expect(appendedCertificates(bytes(`${original}${CERT}${CERT}`), sha1(original))).toBe(2);
  });

  it('accepts certificates appended to an empty package file', () => {
    expect(appendedCertificates(bytes(CERT), sha1(''))).toBe(1);
  });

  it('refuses a bundle whose prefix is not the package file, or with other text appended', () => {
    expect(appendedCertificates(bytes(`${CERT}${CERT}`), sha1('other'))).toBe(0);
    expect(appendedCertificates(bytes(`${original}echo pwned\n`), sha1(original))).toBe(0);
    expect(appendedCertificates(bytes(original), sha1(original))).toBe(0);
  });
});

describe('skeletonDirectories', () => {
  it("comes from @tk/rootfs's own skeleton", () => {
    const dirs = skeletonDirectories();
    expect(dirs.get('tmp')).toEqual({ uid: 0, gid: 0, mode: 0o1777 });
    expect(dirs.get('proc')).toEqual({ uid: 0, gid: 0, mode: 0o555 });
    expect(dirs.has('var/cache/apk')).toBe(true);
  });
});
