import { describe, expect, it } from 'vitest';
import { concatBytes } from '@tk/core';
import { gzipSync } from '@tk/gzip';
import { apkToolsVerdict, readApk, verifyApk, serializePkgInfo, emptyPkgInfo, buildApk } from '@tk/apk';
import { createKeyring } from '@tk/keys';
import { writeTar, type TarWriteEntry } from '@tk/tar';
import { keyringOf, testPrivateKey } from './helpers.ts';

const enc = new TextEncoder();
const pkginfo = (extra = ''): TarWriteEntry => ({
  name: '.PKGINFO',
  type: 'file',
  data: enc.encode(serializePkgInfo(emptyPkgInfo('evil', '1.0-r0')) + extra),
});

/** An unsigned package from raw tar entries, so tests can build what no honest writer would. */
function rawApk(
  control: TarWriteEntry[],
  data: TarWriteEntry[],
  options: { controlEnd?: boolean } = {},
): Uint8Array {
  return concatBytes([
    gzipSync(writeTar(control, { endOfArchive: options.controlEnd ?? false })),
    gzipSync(writeTar(data)),
  ]);
}

const file = (name: string, extra: Partial<TarWriteEntry> = {}): TarWriteEntry => ({
  name,
  type: 'file',
  data: enc.encode('x'),
  ...extra,
});
const apkFile = (path: string) => ({ path, type: 'file' as const, data: enc.encode('x') });

describe('hostile packages get coded errors, never a crash', () => {
  const cases: [string, () => Uint8Array, string][] = [
    ['a data entry named ../x', () => rawApk([pkginfo()], [file('../x')]), 'APK_BAD_ENTRY'],
    ['a data entry named /etc/x', () => rawApk([pkginfo()], [file('/etc/x')]), 'APK_BAD_ENTRY'],
    [
      'a symlink climbing out of the root',
      () => rawApk([pkginfo()], [{ name: 'a', type: 'symlink', linkname: '../../../../etc/shadow' }]),
      'APK_BAD_ENTRY',
    ],
    [
      'a hard link to a path outside',
      () => rawApk([pkginfo()], [{ name: 'a', type: 'hardlink', linkname: '../etc/shadow' }]),
      'APK_BAD_ENTRY',
    ],
    [
      'a hard link to a file of another package',
      () => rawApk([pkginfo()], [{ name: 'a', type: 'hardlink', linkname: 'etc/shadow' }]),
      'APK_BAD_ENTRY',
    ],
    [
      'a file whose content does not match its SHA-1',
      () => rawApk([pkginfo()], [file('a', { pax: { 'APK-TOOLS.checksum.SHA1': '0'.repeat(40) } })]),
      'APK_FILE_CHECKSUM_MISMATCH',
    ],
    [
      'a malformed SHA-1 record',
      () => rawApk([pkginfo()], [file('a', { pax: { 'APK-TOOLS.checksum.SHA1': 'zz' } })]),
      'APK_BAD_ENTRY',
    ],
    ['a duplicate path', () => rawApk([pkginfo()], [file('a'), file('a')]), 'APK_BAD_ENTRY'],
    ['a file under a file', () => rawApk([pkginfo()], [file('a'), file('a/b')]), 'APK_BAD_ENTRY'],
    [
      'an oversized PAX header',
      () => rawApk([pkginfo()], [file('a', { pax: { junk: 'x'.repeat(300_000) } })]),
      'APK_BAD_ENTRY',
    ],
    ['no .PKGINFO', () => rawApk([file('.melange.yaml')], [file('a')]), 'APK_BAD_PKGINFO'],
    [
      'a .PKGINFO without pkgver',
      () => rawApk([{ name: '.PKGINFO', type: 'file', data: enc.encode('pkgname = x\n') }], [file('a')]),
      'APK_BAD_PKGINFO',
    ],
    ['a non-numeric size', () => rawApk([pkginfo('size = lots\n')], [file('a')]), 'APK_BAD_PKGINFO'],
    [
      'a data entry in the control member (boundary in the wrong place)',
      () => rawApk([pkginfo(), file('usr/bin/x')], [file('a')]),
      'APK_BAD_FORMAT',
    ],
    [
      'a control member with an end-of-archive marker',
      () => rawApk([pkginfo()], [file('a')], { controlEnd: true }),
      'APK_BAD_FORMAT',
    ],
    ['a single gzip member', () => gzipSync(writeTar([pkginfo(), file('a')])), 'APK_BAD_FORMAT'],
    [
      'a signature entry in the control member',
      () => rawApk([file('.SIGN.RSA.x.rsa.pub'), pkginfo()], [file('a')]).subarray(0),
      'APK_BAD_FORMAT',
    ],
    ['not gzip at all', () => enc.encode('hello, this is not an apk'), 'APK_BAD_FORMAT'],
  ];

  it.each(cases)('%s', (_name, make, code) => {
    expect(() => readApk(make())).toThrow(expect.objectContaining({ code }));
    const verdict = verifyApk(make(), createKeyring());
    expect(verdict).toMatchObject({ status: 'BAD', code });
    expect(apkToolsVerdict(verdict).result).toBeLessThan(0);
  });

  it('refuses truncated packages at every cut point', async () => {
    const { bytes } = await buildApk({
      pkginfo: emptyPkgInfo('t', '1-r0'),
      files: [apkFile('a')],
      sourceDateEpoch: 0,
      signer: { key: testPrivateKey(), keyName: 'melange.rsa.pub' },
    });
    for (let cut = 0; cut < bytes.length; cut += 7) {
      expect(() => readApk(bytes.subarray(0, cut)), `cut at ${cut}`).toThrow(
        expect.objectContaining({ code: expect.stringMatching(/^APK_BAD_FORMAT$/) }),
      );
    }
  });

  it('detects a wrong datahash (BAD when signed by a trusted key, UNTRUSTED otherwise, as apk-tools says)', async () => {
    const signer = { key: testPrivateKey(), keyName: 'melange.rsa.pub' };
    const base = { pkginfo: emptyPkgInfo('t', '1-r0'), sourceDateEpoch: 0, signer };
    const good = await buildApk({ ...base, files: [apkFile('a')] });
    const other = await buildApk({ ...base, files: [apkFile('b')] });
    const spliced = concatBytes([
      good.bytes.subarray(0, good.sections.data.start),
      other.bytes.subarray(other.sections.data.start),
    ]);
    expect(verifyApk(spliced, keyringOf('apko-testrepo/melange.rsa.pub'))).toMatchObject({
      status: 'BAD',
      code: 'APK_DATAHASH_MISMATCH',
    });
    expect(verifyApk(spliced, createKeyring())).toMatchObject({ status: 'UNTRUSTED' });
  });

  it('stops a decompression bomb at the size limit', () => {
    const bomb = rawApk([pkginfo()], [file('big', { data: new Uint8Array(50 << 20) })]);
    expect(bomb.length).toBeLessThan(200_000);
    expect(() => readApk(bomb, { maxDataBytes: 1 << 20 })).toThrow(
      expect.objectContaining({ code: 'APK_TOO_LARGE' }),
    );
  });
});
