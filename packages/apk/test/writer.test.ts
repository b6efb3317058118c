import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApk, emptyPkgInfo, readApk, verifyApk, type ApkBuildInput } from '@tk/apk';
import { generateKeyPair } from '@tk/keys';
import { FIXTURES, keyringOf, testPrivateKey } from './helpers.ts';

const enc = new TextEncoder();

function input(overrides: Partial<ApkBuildInput> = {}): ApkBuildInput {
  return {
    pkginfo: {
      ...emptyPkgInfo('hello', '2.12-r0'),
      arch: 'x86_64',
      pkgdesc: 'hello world',
      license: 'GPL-3.0-or-later',
      origin: 'hello',
      depend: ['so:libc.so.6'],
      provides: ['cmd:hello=2.12-r0'],
    },
    files: [
      { path: 'usr/bin/hello', type: 'file', mode: 0o755, data: enc.encode('#!/bin/sh\necho hello\n') },
      { path: 'usr/share/doc/hello/README', type: 'file', data: enc.encode('docs\n') },
      { path: 'usr/bin/hi', type: 'symlink', linkname: 'hello' },
      { path: 'usr/bin/hello2', type: 'hardlink', linkname: 'usr/bin/hello' },
      { path: 'var/lib/hello', type: 'directory', mode: 0o750, uid: 100, gid: 101 },
      {
        path: 'usr/bin/ping',
        type: 'file',
        mode: 0o4755,
        data: enc.encode('x'),
        xattrs: { 'security.capability': Uint8Array.of(1, 0, 0, 2, 0, 0x20, 0, 0) },
      },
    ],
    scripts: { '.post-install': '#!/bin/sh\necho installed\n' },
    extraControl: [{ name: '.melange.yaml', data: 'package:\n  name: hello\n' }],
    sourceDateEpoch: 1700000000,
    signer: { key: testPrivateKey(), keyName: 'melange.rsa.pub' },
    ...overrides,
  };
}

describe('buildApk', () => {
  it('writes a package that reads back with everything it was given and verifies', async () => {
    const { bytes, pkginfo, identity } = await buildApk(input());
    const pkg = readApk(bytes, { strict: true });
    expect(pkg.identity).toBe(identity);
    expect(pkg.pkginfo).toEqual(pkginfo);
    expect(pkg.pkginfo.datahash).toBe(pkg.dataHash);
    expect(pkg.pkginfo.size).toBe(21 + 5 + 1 + 'hello'.length);
    expect(pkg.files.map((f) => f.path)).toEqual([
      'usr',
      'usr/bin',
      'usr/bin/hello',
      'usr/bin/hello2',
      'usr/bin/hi',
      'usr/bin/ping',
      'usr/share',
      'usr/share/doc',
      'usr/share/doc/hello',
      'usr/share/doc/hello/README',
      'var',
      'var/lib',
      'var/lib/hello',
    ]);
    expect(pkg.files.find((f) => f.path === 'var/lib/hello')).toMatchObject({
      uid: 100,
      gid: 101,
      mode: 0o750,
      uname: '',
      mtime: 1700000000,
    });
    expect(pkg.files.find((f) => f.path === 'usr/bin/ping')).toMatchObject({
      mode: 0o4755,
      xattrs: { 'security.capability': Uint8Array.of(1, 0, 0, 2, 0, 0x20, 0, 0) },
    });
    expect(pkg.files.find((f) => f.path === 'usr/bin')).toMatchObject({
      uname: 'root',
      gname: 'root',
      mode: 0o755,
    });
    expect(new TextDecoder().decode(pkg.scripts['.post-install'])).toContain('installed');
    expect(pkg.control.map((e) => e.name)).toEqual(['.PKGINFO', '.post-install', '.melange.yaml']);
    expect(verifyApk(bytes, keyringOf('apko-testrepo/melange.rsa.pub')).status).toBe('OK');
  });

  it('gives identical bytes for identical input, and different bytes for another epoch', async () => {
    const a = await buildApk(input());
    const b = await buildApk(input());
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
    const c = await buildApk(input({ sourceDateEpoch: 1 }));
    expect(Buffer.from(a.bytes).equals(Buffer.from(c.bytes))).toBe(false);
  });

  it('is verified by openssl independently of tk (RSA-SHA256 and RSA-SHA1)', async () => {
    for (const algorithm of ['sha256', 'sha1'] as const) {
      const { bytes, sections } = await buildApk(
        input({ signer: { key: testPrivateKey(), keyName: 'melange.rsa.pub', algorithm } }),
      );
      const pkg = readApk(bytes);
      expect(pkg.signatures[0]!.entryName).toBe(
        algorithm === 'sha256' ? '.SIGN.RSA256.melange.rsa.pub' : '.SIGN.RSA.melange.rsa.pub',
      );
      const dir = mkdtempSync(join(tmpdir(), 'tk-apk-'));
      writeFileSync(join(dir, 'control.gz'), bytes.subarray(sections.control.start, sections.control.end));
      writeFileSync(join(dir, 'sig'), pkg.signatures[0]!.signature);
      const out = execFileSync(
        'openssl',
        [
          'dgst',
          `-${algorithm}`,
          '-verify',
          join(FIXTURES, 'apko-testrepo/melange.rsa.pub'),
          '-signature',
          join(dir, 'sig'),
          join(dir, 'control.gz'),
        ],
        { encoding: 'utf8' },
      );
      expect(out.trim()).toBe('Verified OK');
      // datahash, computed independently: sha256 of everything after the control member.
      const sha = execFileSync('sha256sum', { input: bytes.subarray(sections.data.start) })
        .toString()
        .split(' ')[0];
      expect(pkg.pkginfo.datahash).toBe(sha);
    }
  });

  it('GNU tar lists the data of an unsigned package as one stream', async () => {
    const { bytes } = await buildApk(input({ signer: undefined }));
    const dir = mkdtempSync(join(tmpdir(), 'tk-apk-'));
    writeFileSync(join(dir, 'p.apk'), bytes);
    const listing = execFileSync('tar', ['-tzf', join(dir, 'p.apk')], { encoding: 'utf8' });
    expect(listing.split('\n').slice(0, 4)).toEqual(['.PKGINFO', '.post-install', '.melange.yaml', 'usr']);
  });

  it('is UNTRUSTED for a keyring without the key, BAD for a same-named different key', async () => {
    const { bytes } = await buildApk(input());
    expect(verifyApk(bytes, keyringOf('keys/wolfi-signing.rsa.pub')).status).toBe('UNTRUSTED');
    const other = await generateKeyPair({ bits: 2048 });
    const { createKeyring } = await import('@tk/keys');
    const impostor = createKeyring();
    impostor.add('melange.rsa.pub', other.publicKey);
    expect(verifyApk(bytes, impostor)).toMatchObject({ status: 'BAD', code: 'APK_BAD_SIGNATURE' });
  });

  it.each([
    ['an unsafe path', { files: [{ path: '../etc/passwd', type: 'file' as const }] }],
    ['an absolute path', { files: [{ path: '/etc/passwd', type: 'file' as const }] }],
    [
      'a duplicate path',
      {
        files: [
          { path: 'a', type: 'file' as const },
          { path: './a', type: 'file' as const },
        ],
      },
    ],
    [
      'a file inside a file',
      {
        files: [
          { path: 'a', type: 'file' as const },
          { path: 'a/b', type: 'file' as const },
        ],
      },
    ],
    [
      'a hard link to a later file',
      {
        files: [
          { path: 'a', type: 'hardlink' as const, linkname: 'b' },
          { path: 'b', type: 'file' as const },
        ],
      },
    ],
    ['a symlink without a target', { files: [{ path: 'a', type: 'symlink' as const }] }],
    [
      'a directory with content',
      { files: [{ path: 'a', type: 'directory' as const, data: new Uint8Array(1) }] },
    ],
    ['a bad control name', { extraControl: [{ name: '.SIGN.RSA.x', data: '' }] }],
    ['a negative epoch', { sourceDateEpoch: -1 }],
  ])('refuses %s', async (_name, overrides) => {
    await expect(buildApk(input(overrides as Partial<ApkBuildInput>))).rejects.toMatchObject({
      code: 'APK_BAD_INPUT',
    });
  });
});
