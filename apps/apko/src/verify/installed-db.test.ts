import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createSkeleton,
  FsTree,
  installPackage,
  createInstallState,
  meta,
  serializeInstalledDb,
} from '@tk/rootfs';
import { emptyPkgInfo, type ApkPackage } from '@tk/apk';
import { VerifyError } from './errors.ts';
import { parseDbChecksum, parseInstalledDb } from './installed-db.ts';

const q1 = (text: string): string => `Q1${createHash('sha1').update(text).digest('base64')}`;
const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex');

describe('parseInstalledDb', () => {
  it('reads packages, directories with M:, files with a: and Z:', () => {
    const db = parseInstalledDb(
      [
        'C:Q1abc=',
        'P:hello',
        'V:2.10-r0',
        'A:x86_64',
        'T:greets',
        'F:usr',
        'F:usr/bin',
        'M:0:0:750',
        'R:hello',
        'a:0:0:4755',
        `Z:${q1('hello binary')}`,
        'R:link',
        `Z:${q1('hello')}`,
        '',
        'P:base',
        'V:1-r0',
        'F:',
        'R:rootfile',
        'F:home/build',
        'M:1000:1000:755:Q1xattrsum=',
        '',
      ].join('\n'),
    );
    expect(db.issues).toEqual([]);
    expect(db.packages).toHaveLength(2);
    const [hello, base] = db.packages;
    expect(hello).toMatchObject({
      name: 'hello',
      version: '2.10-r0',
      arch: 'x86_64',
      identity: 'Q1abc=',
      line: 1,
    });
    expect(hello!.directories).toEqual([
      { path: 'usr', uid: 0, gid: 0, mode: 0o755, explicit: false, line: 6 },
      { path: 'usr/bin', uid: 0, gid: 0, mode: 0o750, explicit: true, line: 7 },
    ]);
    expect(hello!.files).toEqual([
      {
        path: 'usr/bin/hello',
        acl: { uid: 0, gid: 0, mode: 0o4755 },
        checksum: { algorithm: 'sha1', hex: sha1('hello binary') },
        line: 9,
      },
      { path: 'usr/bin/link', checksum: { algorithm: 'sha1', hex: sha1('hello') }, line: 12 },
    ]);
    expect(base!.files.map((f) => f.path)).toEqual(['rootfile']);
    expect(base!.directories[1]).toMatchObject({
      path: 'home/build',
      uid: 1000,
      gid: 1000,
      mode: 0o755,
      explicit: true,
    });
  });

  it('reads what @tk/rootfs writes, package for package', () => {
    const data = new TextEncoder().encode('#!/bin/sh\necho hi\n');
    const pkg: ApkPackage = {
      pkginfo: { ...emptyPkgInfo('hi', '1.0-r0'), arch: 'x86_64' },
      identity: 'Q1identity=',
      fileSize: 100,
      dataHash: 'x',
      files: [
        {
          path: 'usr',
          type: 'directory',
          mode: 0o755,
          uid: 0,
          gid: 0,
          mtime: 0,
          linkname: '',
          devmajor: 0,
          devminor: 0,
          xattrs: {},
          data: new Uint8Array(0),
        },
        {
          path: 'usr/bin',
          type: 'directory',
          mode: 0o755,
          uid: 0,
          gid: 0,
          mtime: 0,
          linkname: '',
          devmajor: 0,
          devminor: 0,
          xattrs: {},
          data: new Uint8Array(0),
        },
        {
          path: 'usr/bin/hi',
          type: 'file',
          mode: 0o755,
          uid: 0,
          gid: 0,
          mtime: 0,
          linkname: '',
          devmajor: 0,
          devminor: 0,
          xattrs: {},
          sha1: createHash('sha1').update(data).digest('hex'),
          data,
        },
        {
          path: 'usr/bin/hey',
          type: 'symlink',
          mode: 0o777,
          uid: 0,
          gid: 0,
          mtime: 0,
          linkname: 'hi',
          devmajor: 0,
          devminor: 0,
          xattrs: {},
          sha1: sha1('hi'),
          data: new Uint8Array(0),
        },
      ],
      scripts: {},
      sections: { control: { start: 0, end: 0 }, data: { start: 0, end: 0 } },
    } as unknown as ApkPackage;
    const tree = new FsTree(meta(0o755));
    createSkeleton(tree, { mtime: 0, devices: false });
    const state = createInstallState();
    installPackage(tree, state, { pkg });
    const db = parseInstalledDb(serializeInstalledDb(state.installed));
    expect(db.issues).toEqual([]);
    expect(db.packages[0]).toMatchObject({ name: 'hi', version: '1.0-r0', identity: 'Q1identity=' });
    expect(db.packages[0]!.files).toEqual([
      {
        path: 'usr/bin/hi',
        acl: { uid: 0, gid: 0, mode: 0o755 },
        checksum: { algorithm: 'sha1', hex: sha1('#!/bin/sh\necho hi\n') },
        line: expect.any(Number) as number,
      },
      {
        path: 'usr/bin/hey',
        checksum: { algorithm: 'sha1', hex: sha1('hi') },
        line: expect.any(Number) as number,
      },
    ]);
  });

  it('accepts Q2 (SHA-256), hex checksums and CRLF line ends', () => {
    const sum = createHash('sha256').update('x').digest();
    const db = parseInstalledDb(
      `P:a\r\nV:1\r\nF:etc\r\nR:x\r\nZ:Q2${sum.toString('base64')}\r\nR:y\r\nZ:${sha1('y').toUpperCase()}\r\n`,
    );
    expect(db.issues).toEqual([]);
    expect(db.packages[0]!.files.map((f) => f.checksum)).toEqual([
      { algorithm: 'sha256', hex: sum.toString('hex') },
      { algorithm: 'sha1', hex: sha1('y') },
    ]);
  });

  describe('hostile input', () => {
    const issuesOf = (text: string): string[] =>
      parseInstalledDb(text).issues.map((i) => `${i.line}: ${i.message}`);

    it('refuses paths that leave the root or are not plain names', () => {
      expect(
        issuesOf(
          'P:a\nV:1\nF:../etc\nR:passwd\nF:/etc\nF:usr//bin\nF:usr/./bin\nF:etc\nR:../shadow\nR:a/b\nR:\nR:x\0y\n',
        ),
      ).toEqual([
        '3: directory "../etc" has a ".." component',
        '4: file "passwd" comes before any directory (F:) line',
        '5: directory "/etc" is absolute',
        '6: directory "usr//bin" has an empty component',
        '7: directory "usr/./bin" has a "." component',
        '9: file name "../shadow" contains "/"',
        '10: file name "a/b" contains "/"',
        '11: file name "" is empty',
        '12: file name "x\\u0000y" contains a NUL byte',
      ]);
      expect(parseInstalledDb('P:a\nV:1\nF:../etc\nR:passwd\n').packages[0]!.files).toEqual([]);
    });

    it('refuses malformed checksums, modes and ids', () => {
      expect(
        issuesOf(
          [
            'P:a',
            'V:1',
            'F:etc',
            'M:0:0:999',
            'R:x',
            'Z:Q1short=',
            'Z:Q3AAAAAAAAAAAAAAAAAAAAAAAAAAA=',
            'a:0:0',
            'a:99999999999:0:644',
            'a:0:0:17777',
            `Z:${q1('x')}`,
            `Z:${q1('x')}`,
            '',
          ].join('\n'),
        ),
      ).toEqual([
        '4: M: value "0:0:999" is not uid:gid:octal-mode',
        '6: Z: value "Q1short=" is not a Q1/Q2 or hex checksum',
        '7: Z: value "Q3AAAAAAAAAAAAAAAAAAAAAAAAAAA=" is not a Q1/Q2 or hex checksum',
        '8: a: value "0:0" is not uid:gid:octal-mode',
        '9: a: value "99999999999:0:644" is not uid:gid:octal-mode',
        '10: a: value "0:0:17777" is not uid:gid:octal-mode',
        '12: second Z: line for etc/x',
      ]);
    });

    it('reports lines out of place, garbage, and blocks without a name or version', () => {
      expect(
        issuesOf('M:0:0:755\nP:a\nV:1\nP:b\na:0:0:644\nZ:Q1x\n\nhello world\n\nV:2\nF:etc\nR:orphan\n'),
      ).toEqual([
        '1: M: line without a directory (F:) before it',
        '4: second P: line in one package block',
        '5: a: line without a file (R:) before it',
        '6: Z: line without a file (R:) before it',
        '8: not a "<letter>:<value>" line: "hello world"',
        '10: the package block starting here has no P: line; its 1 files are not counted as owned',
      ]);
    });

    it('bounds long lines and the number of issues', () => {
      const long = parseInstalledDb(`P:a\nV:1\nT:${'x'.repeat(100_000)}\n`);
      expect(long.issues).toEqual([{ line: 3, message: 'line is 100002 characters long (limit 65536)' }]);
      const many = parseInstalledDb('junk\n'.repeat(5000), { maxIssues: 10 });
      expect(many.issues).toHaveLength(11);
      expect(many.issues[10]!.message).toBe('4990 more issues not listed');
    });

    it('throws the first issue in strict mode', () => {
      expect(() => parseInstalledDb('P:a\nV:1\nF:/abs\n', { strict: true })).toThrow(VerifyError);
      try {
        parseInstalledDb('P:a\nV:1\nF:/abs\n', { strict: true });
      } catch (error) {
        expect((error as VerifyError).code).toBe('VERIFY_BAD_IMAGE');
      }
    });

    it('reads an empty file as no packages', () => {
      expect(parseInstalledDb('')).toEqual({ packages: [], issues: [] });
      expect(parseInstalledDb('\n\n\n')).toEqual({ packages: [], issues: [] });
    });
  });
});

describe('parseDbChecksum', () => {
  it.each([
    ['Q1', undefined],
    ['Q1!!!!!!!!!!!!!!!!!!!!!!!!!!!=', undefined],
    ['Q1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', undefined],
    ['0123', undefined],
    ['Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=', { algorithm: 'sha1', hex: '0'.repeat(40) }],
  ])('%s', (value, expected) => {
    expect(parseDbChecksum(value)).toEqual(expected);
  });
});
