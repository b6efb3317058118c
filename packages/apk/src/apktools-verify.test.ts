/**
 * apkToolsVerify on hand-made cases. Every expected line below was printed by apk-tools 2.14.10
 * (tag v2.14.10, built from source outside the repository) for the same bytes; the damaged real files
 * are covered by the parity tables read in apps/apk-cli/src/commands/verify-parity.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { concatBytes, sha256Hex } from '@tk/core';
import {
  createKeyring,
  parsePrivateKey,
  parsePublicKey,
  signBytes,
  type Keyring,
  type SignatureAlgorithm,
} from '@tk/keys';
import { writeTar } from '@tk/tar';
import { apkToolsErrorText, apkToolsVerify } from './apktools-verify.ts';

const FIXTURES = join(import.meta.dirname, '../../../test-fixtures/real');
const fixture = (path: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, path)));
const enc = new TextEncoder();

function keyringOf(...paths: string[]): Keyring {
  const keyring = createKeyring();
  for (const path of paths)
    keyring.add(path.split('/').pop()!, parsePublicKey(readFileSync(join(FIXTURES, path), 'utf8'), path));
  return keyring;
}
const MELANGE = keyringOf('apko-testrepo/melange.rsa.pub');
const WOLFI = keyringOf('keys/wolfi-signing.rsa.pub');
const privateKey = parsePrivateKey(readFileSync(join(FIXTURES, 'apko-testrepo/melange.rsa'), 'utf8'));

/** `result - text`, as apk-tools prints it after the file name. */
function line(bytes: Uint8Array, keyring: Keyring): string {
  const v = apkToolsVerify(bytes, keyring);
  const port = apkToolsVerify(bytes, keyring, { zlibPortOnly: true });
  expect(`${port.result} - ${port.text}`, 'the zlib port agrees with Node’s zlib').toBe(
    `${v.result} - ${v.text}`,
  );
  return `${v.result} - ${v.text}`;
}

/** A gzip member with an FEXTRA field of `extra` bytes (to move the following members' offsets). */
function withExtraField(member: Uint8Array, extra: number): Uint8Array {
  const header = new Uint8Array(12 + extra);
  header.set(member.subarray(0, 10));
  header[3] = header[3]! | 0x04;
  header[10] = extra & 0xff;
  header[11] = extra >>> 8;
  return concatBytes([header, member.subarray(10)]);
}

/** A package signed with apko's test key: signature entry name, digest and control padding are chosen. */
function signedPackage(options: {
  entry: string;
  algorithm: SignatureAlgorithm;
  controlPadding?: Uint8Array;
  extraField?: number;
  data?: Uint8Array;
}): { bytes: Uint8Array; controlEnd: number } {
  const data = new Uint8Array(
    gzipSync(writeTar([{ name: 'usr/x', type: 'file', data: options.data ?? enc.encode('x') }])),
  );
  const control = [
    {
      name: '.PKGINFO',
      type: 'file' as const,
      data: enc.encode(`pkgname = t\npkgver = 1-r0\ndatahash = ${sha256Hex(data)}\n`),
    },
    ...(options.controlPadding === undefined
      ? []
      : [{ name: '.pad', type: 'file' as const, data: options.controlPadding }]),
  ];
  let controlMember: Uint8Array = new Uint8Array(
    gzipSync(writeTar(control, { endOfArchive: false }), { level: 0 }),
  );
  if (options.extraField !== undefined) controlMember = withExtraField(controlMember, options.extraField);
  const signature = signBytes(privateKey, controlMember, options.algorithm);
  const signatureMember = new Uint8Array(
    gzipSync(writeTar([{ name: options.entry, type: 'file', data: signature }], { endOfArchive: false }), {
      level: 0,
    }),
  );
  return {
    bytes: concatBytes([signatureMember, controlMember, data]),
    controlEnd: signatureMember.length + controlMember.length,
  };
}

describe('apkToolsVerify prints what apk verify prints', () => {
  it('on intact real packages and indexes', () => {
    expect(line(fixture('apko-testrepo/x86_64/replayout-1.0.0-r0.apk'), MELANGE)).toBe('0 - OK');
    expect(line(fixture('apko-testrepo/x86_64/APKINDEX.tar.gz'), MELANGE)).toBe('0 - OK');
    expect(line(fixture('wolfi/libcap-2.69-r0.apk'), WOLFI)).toBe('0 - OK');
    expect(line(fixture('wolfi/libcap-2.69-r0.apk'), MELANGE)).toBe('0 - UNTRUSTED');
    expect(line(fixture('unsigned/hello-0.1.0-r0.apk'), MELANGE)).toBe('0 - UNTRUSTED');
    expect(line(fixture('negative/neon-4604-r0.apk'), WOLFI)).toBe('-129 - BAD signature');
    expect(line(fixture('negative/hello-wolfi-2.12.1-r0.apk'), MELANGE)).toBe('-129 - BAD signature');
  });

  it('on files that are empty, not gzip, or cut short', () => {
    expect(line(new Uint8Array(0), MELANGE)).toBe('0 - UNTRUSTED');
    expect(line(enc.encode('not an apk\n'), MELANGE)).toBe('-5 - IO ERROR');
    const replayout = fixture('apko-testrepo/x86_64/replayout-1.0.0-r0.apk');
    // Cut before the signature was checked, at a 512-byte tar record: UNTRUSTED; inside a record: BAD archive.
    for (const cut of [100, 300, 500, 700])
      expect(line(replayout.subarray(0, cut), MELANGE), `cut ${cut}`).toBe('0 - UNTRUSTED');
    for (const cut of [900, 1000])
      expect(line(replayout.subarray(0, cut), MELANGE), `cut ${cut}`).toBe('-74 - BAD archive');
  });

  it('on signature types: RSA512 verifies, DSA is skipped, a digest other than the name says is BAD', () => {
    expect(
      line(signedPackage({ entry: '.SIGN.RSA512.melange.rsa.pub', algorithm: 'sha512' }).bytes, MELANGE),
    ).toBe('0 - OK');
    const dsa = signedPackage({ entry: '.SIGN.DSA.melange.rsa.pub', algorithm: 'sha1' }).bytes;
    expect(line(dsa, MELANGE)).toBe('0 - UNTRUSTED');
    expect(apkToolsVerify(dsa, MELANGE).reason).toMatch(/no trusted key .*"melange.rsa.pub"/);
    const wrongDigest = signedPackage({ entry: '.SIGN.RSA.melange.rsa.pub', algorithm: 'sha256' }).bytes;
    expect(line(wrongDigest, MELANGE)).toBe('-129 - BAD signature');
    expect(apkToolsVerify(wrongDigest, MELANGE)).toMatchObject({
      code: 'APK_BAD_SIGNATURE',
      keyName: 'melange.rsa.pub',
      reason: expect.stringMatching(/the RSA signature by "melange.rsa.pub" does not verify/) as unknown,
    });
  });

  it("reproduces apk-tools 2.14.10's misread of a member that ends exactly at a 128 KiB read", () => {
    // A valid package whose control member ends at byte 131072: apk-tools refills its read buffer before
    // hashing the member's last bytes and reports a bad signature; one byte either way, it is OK.
    const padding = new Uint8Array(127_500).map((_, i) => (i * 2654435761) >>> 24);
    const ends = new Map<number, Uint8Array>();
    for (const target of [131071, 131072, 131073]) {
      let extra = 300;
      for (let i = 0; i < 8 && !ends.has(target); i++) {
        const { bytes, controlEnd } = signedPackage({
          entry: '.SIGN.RSA256.melange.rsa.pub',
          algorithm: 'sha256',
          controlPadding: padding,
          extraField: extra,
          data: padding.subarray(0, 70_000),
        });
        if (controlEnd === target) ends.set(target, bytes);
        extra += target - controlEnd;
      }
    }
    expect([...ends.keys()].sort()).toEqual([131071, 131072, 131073]);
    expect(line(ends.get(131071)!, MELANGE)).toBe('0 - OK');
    expect(line(ends.get(131073)!, MELANGE)).toBe('0 - OK');
    expect(line(ends.get(131072)!, MELANGE)).toBe('-129 - BAD signature');
    expect(apkToolsVerify(ends.get(131072)!, MELANGE).reason).toMatch(/ends exactly at byte 131072/);
  });
});

describe('apkToolsErrorText', () => {
  it("gives apk-tools' texts, then glibc's", () => {
    expect(apkToolsErrorText(-5)).toBe('IO ERROR');
    expect(apkToolsErrorText(-74)).toBe('BAD archive');
    expect(apkToolsErrorText(-129)).toBe('BAD signature');
    expect(apkToolsErrorText(-1026)).toBe('package file format error');
    expect(apkToolsErrorText(-42)).toBe('archive does not contain expected data');
    expect(apkToolsErrorText(-2)).toBe('No such file or directory');
    expect(apkToolsErrorText(-21)).toBe('Is a directory');
    expect(apkToolsErrorText(-36)).toBe('File name too long');
    expect(apkToolsErrorText(-9999)).toBe('Unknown error 9999');
  });
});
