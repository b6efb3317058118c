import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { checkEntryPath, linkStaysInside } from './path.ts';
import { readTar } from './reader.ts';
import type { TarEntry, TarWriteEntry } from './types.ts';
import { BLOCK_SIZE, encodeHeader, formatPaxRecord, writeTar } from './writer.ts';

const fixtures = join(import.meta.dirname, '../../../test-fixtures/real');

/** A real melange-built package decompressed as one multistream: signature + control + data tar. */
function apkTarStream(path: string): Uint8Array {
  return new Uint8Array(gunzipSync(readFileSync(path)));
}

function rewrite(entries: TarEntry[], endOfArchive: boolean): Uint8Array {
  return writeTar(
    entries.map((e): TarWriteEntry => ({ ...e, data: e.type === 'file' ? e.data : undefined })),
    { endOfArchive },
  );
}

describe('tar writer matches Go archive/tar byte for byte', () => {
  it('re-writes the whole tar stream of a real melange package identically', () => {
    // Decompressed as one multistream, an apk is one tar: signature + control (no end marker) + data.
    const all = apkTarStream(join(fixtures, 'apko-testrepo/x86_64/replayout-1.0.0-r0.apk'));
    const { entries, endOfArchive } = readTar(all);
    expect(endOfArchive).toBe(true);
    expect(entries.map((e) => e.name)).toEqual([
      '.SIGN.RSA256.melange.rsa.pub',
      '.PKGINFO',
      '.melange.yaml',
      'etc',
      'etc/os-release',
      'var',
      'var/lib',
      'var/lib/db',
      'var/lib/db/sbom',
      'var/lib/db/sbom/replayout-1.0.0-r0.spdx.json',
    ]);
    const osRelease = entries[4]!;
    expect(osRelease).toMatchObject({ uid: 501, gid: 20, uname: '', gname: 'dialout', mode: 0o644 });
    expect(osRelease.pax).toEqual({ 'APK-TOOLS.checksum.SHA1': 'ca5e527bbb8a5cc9c4c2d2b4e29618d8ca3be5f8' });
    expect(Buffer.from(rewrite(entries, true)).equals(Buffer.from(all))).toBe(true);
  });

  it('formats PAX records with their own length', () => {
    expect(formatPaxRecord('APK-TOOLS.checksum.SHA1', 'ca5e527bbb8a5cc9c4c2d2b4e29618d8ca3be5f8')).toBe(
      '68 APK-TOOLS.checksum.SHA1=ca5e527bbb8a5cc9c4c2d2b4e29618d8ca3be5f8\n',
    );
    expect(formatPaxRecord('a', 'bcd')).toBe('8 a=bcd\n');
    // 9 bytes + a 1-digit length would be 10, which needs 2 digits: the length grows to 11.
    expect(formatPaxRecord('a', 'bcdef')).toBe('11 a=bcdef\n');
  });
});

describe('tar writer formats', () => {
  const long = `${'d'.repeat(120)}/${'f'.repeat(90)}`;
  const veryLong = `${'x/'.repeat(150)}file`;
  const entries: TarWriteEntry[] = [
    { name: 'dir', type: 'directory', mtime: 1700000000 },
    {
      name: 'dir/file',
      type: 'file',
      data: new TextEncoder().encode('hello\n'),
      uid: 1000,
      gid: 1000,
      uname: 'build',
      gname: 'build',
    },
    { name: long, type: 'file', data: new Uint8Array(700) },
    { name: veryLong, type: 'file', data: new Uint8Array(3) },
    { name: 'dir/ünïcode', type: 'file', data: new Uint8Array(1) },
    { name: 'dir/link', type: 'symlink', linkname: '../dir/file' },
    { name: 'dir/hard', type: 'hardlink', linkname: 'dir/file' },
    { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'bigid', type: 'file', uid: 3_000_000, data: new Uint8Array(0) },
    {
      name: 'xattr',
      type: 'file',
      xattrs: { 'security.capability': Uint8Array.of(1, 0, 0, 2, 0x20, 0, 0, 0, 0xff, 0) },
      data: new Uint8Array(0),
    },
    { name: 'tmp', type: 'directory', mode: 0o1777 },
  ];
  const archive = writeTar(entries);

  it('round-trips every field through the reader', () => {
    const back = readTar(archive).entries;
    expect(back.map((e) => e.name)).toEqual(entries.map((e) => e.name));
    expect(back[1]).toMatchObject({ uid: 1000, uname: 'build', mode: 0o644 });
    expect(back[5]).toMatchObject({ type: 'symlink', linkname: '../dir/file', mode: 0o777 });
    expect(back[7]).toMatchObject({ devmajor: 1, devminor: 3, mode: 0o666 });
    expect(back[8]!.uid).toBe(3_000_000);
    expect(back[9]!.xattrs).toEqual({
      'security.capability': Uint8Array.of(1, 0, 0, 2, 0x20, 0, 0, 0, 0xff, 0),
    });
    expect(back[9]!.pax).toEqual({});
    expect(back[10]!.mode).toBe(0o1777);
    expect(archive.length % BLOCK_SIZE).toBe(0);
  });

  it('splits names that fit ustar prefix/name and uses PAX otherwise', () => {
    expect(encodeHeader({ name: long, type: 'file' }).length).toBe(BLOCK_SIZE);
    expect(encodeHeader({ name: veryLong, type: 'file' }).length).toBeGreaterThan(BLOCK_SIZE);
    expect(encodeHeader({ name: 'dir/ünïcode', type: 'file' }).length).toBeGreaterThan(BLOCK_SIZE);
  });

  it('is read identically by GNU tar and Python tarfile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tk-tar-'));
    const file = join(dir, 'a.tar');
    writeFileSync(file, archive);
    const gnu = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n');
    expect(gnu).toEqual(entries.map((e) => e.name));
    const py = execFileSync(
      'python3',
      [
        '-c',
        'import sys,tarfile;t=tarfile.open(sys.argv[1]);print("\\n".join(f"{m.name} {m.uid} {m.mode:o} {m.linkname}" for m in t))',
        file,
      ],
      { encoding: 'utf8' },
    );
    expect(py).toContain(`${veryLong} 0 644`);
    expect(py).toContain('bigid 3000000 644');
    expect(py).toContain('dir/link 0 777 ../dir/file');
  });

  it('refuses entries tar cannot carry', () => {
    expect(() => encodeHeader({ name: '', type: 'file' })).toThrow(
      expect.objectContaining({ code: 'TAR_BAD_INPUT' }),
    );
    expect(() => encodeHeader({ name: 'a\0b', type: 'file' })).toThrow(
      expect.objectContaining({ code: 'TAR_BAD_INPUT' }),
    );
    expect(() => encodeHeader({ name: 'a', type: 'directory', data: new Uint8Array(1) })).toThrow(
      expect.objectContaining({ code: 'TAR_BAD_INPUT' }),
    );
    expect(() => encodeHeader({ name: 'a', type: 'file', pax: { 'k=v': 'x' } })).toThrow(
      expect.objectContaining({ code: 'TAR_BAD_INPUT' }),
    );
    expect(() => encodeHeader({ name: 'a', type: 'file', mode: 1e10 })).toThrow(
      expect.objectContaining({ code: 'TAR_BAD_INPUT' }),
    );
  });
});

describe('tar reader refuses hostile input', () => {
  const good = writeTar([{ name: 'a', type: 'file', data: new Uint8Array(600) }]);
  const withPax = writeTar([{ name: 'a', type: 'file', pax: { k: 'v' }, data: new Uint8Array(1) }]);
  const mutate = (bytes: Uint8Array, f: (b: Uint8Array) => void): Uint8Array => {
    const copy = new Uint8Array(bytes);
    f(copy);
    return copy;
  };
  const reChecksum = (b: Uint8Array, at = 0): void => {
    b.fill(0x20, at + 148, at + 156);
    let sum = 0;
    for (let i = at; i < at + 512; i++) sum += b[i]!;
    b.set(new TextEncoder().encode(sum.toString(8).padStart(6, '0') + '\0 '), at + 148);
  };
  const paxArchive = (records: string): Uint8Array => {
    const body = new TextEncoder().encode(records);
    const header = encodeHeader({ name: 'PaxHeaders.0/a', type: 'file', data: body });
    const h = new Uint8Array(header);
    h[156] = 'x'.charCodeAt(0);
    reChecksum(h);
    const padded = new Uint8Array(Math.ceil(body.length / 512) * 512);
    padded.set(body);
    return new Uint8Array([
      ...h,
      ...padded,
      ...encodeHeader({ name: 'a', type: 'file' }),
      ...new Uint8Array(1024),
    ]);
  };
  const cases: [string, Uint8Array, string][] = [
    ['a truncated header', good.subarray(0, 300), 'TAR_TRUNCATED'],
    ['truncated data', good.subarray(0, 1024), 'TAR_TRUNCATED'],
    ['a bad checksum', mutate(good, (b) => (b[0] = 0x62)), 'TAR_BAD_HEADER'],
    [
      'a missing ustar magic',
      mutate(good, (b) => {
        b[257] = 0x78;
        reChecksum(b);
      }),
      'TAR_BAD_HEADER',
    ],
    [
      'a non-octal size',
      mutate(good, (b) => {
        b[124] = 0x39;
        reChecksum(b);
      }),
      'TAR_BAD_HEADER',
    ],
    [
      'a negative base-256 size',
      mutate(good, (b) => {
        b[124] = 0xff;
        reChecksum(b);
      }),
      'TAR_BAD_HEADER',
    ],
    [
      'an unsupported type (sparse)',
      mutate(good, (b) => {
        b[156] = 'S'.charCodeAt(0);
        reChecksum(b);
      }),
      'TAR_UNSUPPORTED',
    ],
    [
      'a header after a single zero block',
      new Uint8Array([...new Uint8Array(512), ...good]),
      'TAR_BAD_HEADER',
    ],
    ['a PAX header with no entry after it', withPax.subarray(0, 1024), 'TAR_TRUNCATED'],
    [
      'a PAX header followed by the end marker',
      new Uint8Array([...withPax.subarray(0, 1024), ...new Uint8Array(1024)]),
      'TAR_BAD_HEADER',
    ],
    ['a PAX record longer than its header', paxArchive('99 path=x\n'), 'TAR_BAD_EXTENSION'],
    ['a PAX record with a bad length', paxArchive('x path=a\n'), 'TAR_BAD_EXTENSION'],
    ['a PAX record without "="', paxArchive('9 pathxx\n'), 'TAR_BAD_EXTENSION'],
    ['a non-numeric PAX size', paxArchive('12 size=abc\n'), 'TAR_BAD_EXTENSION'],
  ];
  it.each(cases)('refuses %s', (_name, input, code) => {
    expect(() => readTar(input)).toThrow(expect.objectContaining({ code }));
  });

  it('refuses an oversized PAX header before reading it', () => {
    const huge = writeTar([{ name: 'a', type: 'file', pax: { big: 'x'.repeat(70_000) } }]);
    expect(() => readTar(huge, { maxExtensionSize: 65536 })).toThrow(
      expect.objectContaining({ code: 'TAR_BAD_EXTENSION' }),
    );
    expect(readTar(huge).entries[0]!.pax['big']!.length).toBe(70_000);
  });

  it('reads an archive without an end-of-archive marker (apk control sections)', () => {
    const noEnd = writeTar([{ name: '.PKGINFO', type: 'file', data: new Uint8Array(5) }], {
      endOfArchive: false,
    });
    expect(readTar(noEnd)).toMatchObject({ endOfArchive: false, entries: [{ name: '.PKGINFO' }] });
  });
});

describe('entry path safety', () => {
  it.each([
    ['usr/bin/sh', 'usr/bin/sh'],
    ['./usr/bin/', 'usr/bin'],
    ['etc', 'etc'],
  ])('accepts %s as %s', (input, output) => {
    expect(checkEntryPath(input)).toBe(output);
  });
  it.each(['../x', '/etc/x', 'a/../../x', 'a/./b', '', '.', 'a//b', 'a\nb', 'a\\..\\b', 'a\0b'])(
    'refuses %j',
    (input) => {
      expect(() => checkEntryPath(input)).toThrow(expect.objectContaining({ code: 'TAR_UNSAFE_PATH' }));
    },
  );
  it('keeps link targets inside the root', () => {
    expect(linkStaysInside('usr/bin/sh', 'busybox')).toBe(true);
    expect(linkStaysInside('usr/bin/sh', '../../bin/busybox')).toBe(true);
    expect(linkStaysInside('usr/bin/sh', '/bin/busybox')).toBe(true);
    expect(linkStaysInside('usr/bin/sh', '../../../etc/passwd')).toBe(false);
    expect(linkStaysInside('a', '..')).toBe(false);
  });
});
