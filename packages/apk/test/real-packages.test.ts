import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readApk, readApkAsync, resignApk, verifyApk } from '@tk/apk';
import { fixture, keyringOf, testPrivateKey } from './helpers.ts';

const ALPINE_KEY = 'keys/alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub';
const WOLFI_KEY = 'keys/wolfi-signing.rsa.pub';
const MELANGE_KEY = 'apko-testrepo/melange.rsa.pub';
const TESTREPO = [
  'custom-ca-certs-1-1.0.0-r0',
  'custom-ca-certs-2-1.0.0-r0',
  'pretend-baselayout-1.0.0-r0',
  'replayout-1.0.0-r0',
];

// Verdicts from the fixtures' README (apk-tools 2.14.10 `apk verify` + openssl); the neon/hello-wolfi rows
// without a key were also run through a hand-built apk-tools 2.14.10 (`0 - UNTRUSTED`).
const cases: [file: string, key: string | undefined, status: string, name: string, version: string][] = [
  ...TESTREPO.flatMap((p): [string, string, string, string, string][] =>
    ['x86_64', 'aarch64'].map((arch) => [
      `apko-testrepo/${arch}/${p}.apk`,
      MELANGE_KEY,
      'OK',
      p.replace(/-1\.0\.0-r0$/, ''),
      '1.0.0-r0',
    ]),
  ),
  ['alpine/alpine-baselayout-3.2.0-r23.apk', ALPINE_KEY, 'OK', 'alpine-baselayout', '3.2.0-r23'],
  ['wolfi/libcap-2.69-r0.apk', WOLFI_KEY, 'OK', 'libcap', '2.69-r0'],
  ['wolfi/ruby3.2-base64-0.2.0-r2.apk', WOLFI_KEY, 'OK', 'ruby3.2-base64', '0.2.0-r2'],
  ['wolfi/kubeflow-pipelines-2.1.3-r7.apk', WOLFI_KEY, 'OK', 'kubeflow-pipelines', '2.1.3-r7'],
  ['unsigned/hello-0.1.0-r0.apk', MELANGE_KEY, 'UNTRUSTED', 'hello', '0.1.0-r0'],
  ['unsigned/perl-json-4.11-r0.apk', MELANGE_KEY, 'UNTRUSTED', 'perl-json', '4.11-r0'],
  ['unsigned/replaces-0.0.1-r0.apk', MELANGE_KEY, 'UNTRUSTED', 'replaces', '0.0.1-r0'],
  ['unsigned/xset-doc-1.2.5-r1.apk', MELANGE_KEY, 'UNTRUSTED', 'xset-doc', '1.2.5-r1'],
  ['negative/hello-wolfi-2.12.1-r0.apk', undefined, 'UNTRUSTED', 'hello-wolfi', '2.12.1-r0'],
  ['negative/hello-wolfi-2.12.1-r0.apk', MELANGE_KEY, 'BAD', 'hello-wolfi', '2.12.1-r0'],
  ['negative/neon-4604-r0.apk', WOLFI_KEY, 'BAD', 'neon', '4604-r0'],
  ['negative/neon-4604-r0.apk', undefined, 'UNTRUSTED', 'neon', '4604-r0'],
];

describe('real packages verify as apk-tools says', () => {
  it.each(cases)('%s with %s is %s', (file, key, status, name, version) => {
    const bytes = fixture(file);
    const result = verifyApk(bytes, key === undefined ? keyringOf() : keyringOf(key));
    expect(result.status, result.reason).toBe(status);
    expect(result.pkg?.pkginfo).toMatchObject({ pkgname: name, pkgver: version });
  });

  it('explains each verdict', () => {
    expect(verifyApk(fixture('negative/neon-4604-r0.apk'), keyringOf(WOLFI_KEY))).toMatchObject({
      code: 'APK_BAD_SIGNATURE',
    });
    expect(verifyApk(fixture('negative/hello-wolfi-2.12.1-r0.apk'), keyringOf(MELANGE_KEY))).toMatchObject({
      code: 'APK_BAD_SIGNATURE',
      keyName: 'melange.rsa.pub',
    });
    expect(verifyApk(fixture('unsigned/hello-0.1.0-r0.apk'), keyringOf()).reason).toMatch(/not signed/);
    expect(verifyApk(fixture('negative/neon-4604-r0.apk'), keyringOf()).reason).toMatch(
      /no trusted key.*also, its data section does not match its datahash/,
    );
    expect(verifyApk(fixture('wolfi/libcap-2.69-r0.apk'), keyringOf(MELANGE_KEY)).reason).toMatch(
      /no trusted key for "wolfi-signing.rsa.pub"/,
    );
  });
});

describe('reading real packages', () => {
  it('reads every .PKGINFO key, scripts and file metadata of an Alpine package', () => {
    const pkg = readApk(fixture('alpine/alpine-baselayout-3.2.0-r23.apk'));
    expect(pkg.pkginfo).toMatchObject({
      pkgname: 'alpine-baselayout',
      builddate: 1662926906,
      packager: 'Buildozer <alpine-devel@lists.alpinelinux.org>',
      size: 339968,
      arch: 'aarch64',
      depend: ['alpine-baselayout-data=3.2.0-r23', '/bin/sh', 'so:libc.musl-aarch64.so.1'],
      provides: ['cmd:mkmntdirs=3.2.0-r23'],
    });
    expect(Object.keys(pkg.scripts).sort()).toEqual([
      '.post-install',
      '.post-upgrade',
      '.pre-install',
      '.pre-upgrade',
    ]);
    expect(pkg.signatures).toHaveLength(1);
    expect(pkg.signatures[0]).toMatchObject({
      scheme: 'RSA',
      algorithm: 'sha1',
      keyName: 'alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub',
    });
    const tmp = pkg.files.find((f) => f.path === 'tmp');
    expect(tmp).toMatchObject({ type: 'directory', mode: 0o1777 });
    expect(pkg.files.find((f) => f.path === 'etc/crontabs/root')?.mode).toBe(0o600);
    expect(pkg.files.every((f) => f.type !== 'file' || f.sha1 !== undefined)).toBe(true);
  });

  it('computes the identity checksum the index records', () => {
    // apko's lock file records C: for replayout x86_64 as Q11/HhSewwwOXgl0r0ffb0O0BRtYc=.
    expect(readApk(fixture('apko-testrepo/x86_64/replayout-1.0.0-r0.apk')).identity).toBe(
      'Q11/HhSewwwOXgl0r0ffb0O0BRtYc=',
    );
  });

  it('reads the file owners and modes the packages declare', () => {
    const pkg = readApk(fixture('apko-testrepo/x86_64/replayout-1.0.0-r0.apk'));
    expect(pkg.files.map((f) => [f.path, f.type, f.uid, f.gid, f.mode.toString(8)])).toEqual([
      ['etc', 'directory', 0, 0, '755'],
      ['etc/os-release', 'file', 501, 20, '644'],
      ['var', 'directory', 0, 0, '755'],
      ['var/lib', 'directory', 0, 0, '755'],
      ['var/lib/db', 'directory', 0, 0, '755'],
      ['var/lib/db/sbom', 'directory', 0, 0, '755'],
      ['var/lib/db/sbom/replayout-1.0.0-r0.spdx.json', 'file', 0, 0, '644'],
    ]);
    expect(pkg.sections).toMatchObject({
      signature: { start: 0, end: 647 },
      control: { start: 647, end: 1661 },
      data: { start: 1661, end: 2961 },
      dataMembers: 1,
    });
  });
});

describe('signatures are reproducible', () => {
  it.each(TESTREPO.flatMap((p) => ['x86_64', 'aarch64'].map((arch) => `apko-testrepo/${arch}/${p}.apk`)))(
    're-signing %s with the public test key reproduces its signature bytes',
    async (file) => {
      const bytes = fixture(file);
      const pkg = readApk(bytes);
      const resigned = await resignApk(bytes, pkg, { key: testPrivateKey(), keyName: 'melange.rsa.pub' });
      const again = readApk(resigned);
      expect(
        Buffer.from(again.signatures[0]!.signature).equals(Buffer.from(pkg.signatures[0]!.signature)),
      ).toBe(true);
      expect(again.signatures[0]!.entryName).toBe('.SIGN.RSA256.melange.rsa.pub');
      // The signature tar itself is byte-identical too (only the gzip framing differs from Go's deflate).
      const ours = gunzipSync(resigned.subarray(0, again.sections.control.start));
      const theirs = gunzipSync(bytes.subarray(0, pkg.sections.control.start));
      expect(Buffer.from(ours).equals(theirs)).toBe(true);
      expect(resigned.subarray(again.sections.control.start)).toEqual(
        bytes.subarray(pkg.sections.control.start),
      );
    },
  );

  it('openssl verifies the signature tk computes over a real control member', () => {
    const bytes = fixture('apko-testrepo/x86_64/replayout-1.0.0-r0.apk');
    const pkg = readApk(bytes);
    const dir = mkdtempSync(join(tmpdir(), 'tk-apk-'));
    writeFileSync(
      join(dir, 'control.gz'),
      bytes.subarray(pkg.sections.control.start, pkg.sections.control.end),
    );
    writeFileSync(join(dir, 'sig'), pkg.signatures[0]!.signature);
    const out = execFileSync(
      'openssl',
      [
        'dgst',
        '-sha256',
        '-verify',
        join(import.meta.dirname, '../../../test-fixtures/real/apko-testrepo/melange.rsa.pub'),
        '-signature',
        join(dir, 'sig'),
        join(dir, 'control.gz'),
      ],
      { encoding: 'utf8' },
    );
    expect(out.trim()).toBe('Verified OK');
  });
});

describe('.PKGINFO quirks of real packages', () => {
  it('joins repeated license lines (Wolfi ruby3.2-base64)', () => {
    expect(readApk(fixture('wolfi/ruby3.2-base64-0.2.0-r2.apk')).pkginfo.license).toBe(
      'Ruby AND BSD-2-Clause',
    );
  });
});

describe('readApkAsync', () => {
  /** A package's parse as comparable text, or the error's code and message. */
  const outcome = (pkg: () => ReturnType<typeof readApk>): string => {
    try {
      const p = pkg();
      return JSON.stringify([p.identity, p.dataHash, p.pkginfo, p.files.length, p.signatures.length]);
    } catch (error) {
      return `${(error as { code?: string }).code}: ${(error as Error).message}`;
    }
  };
  it('reads every real package, and cut or flipped copies of them, exactly as readApk does', async () => {
    let failures = 0;
    for (const [file] of cases) {
      const bytes = fixture(file);
      const variants: [string, Uint8Array][] = [[file, bytes]];
      for (const at of [10, 600, Math.floor(bytes.length / 2), bytes.length - 3]) {
        variants.push([`${file} cut at ${at}`, bytes.subarray(0, at)]);
        const flipped = new Uint8Array(bytes);
        flipped[at]! ^= 0x40;
        variants.push([`${file} flipped at ${at}`, flipped]);
      }
      for (const [name, data] of variants) {
        const expected = outcome(() => readApk(data, { source: name }));
        if (!expected.startsWith('[')) failures += 1;
        let actual: string;
        try {
          const p = await readApkAsync(data, { source: name });
          actual = outcome(() => p);
        } catch (error) {
          actual = `${(error as { code?: string }).code}: ${(error as Error).message}`;
        }
        expect(actual, name).toBe(expected);
      }
    }
    expect(failures).toBeGreaterThan(cases.length * 4);
  });
});
