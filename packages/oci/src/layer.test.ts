import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { concatBytes, sha256Hex, utf8 } from '@tk/core';
import { gunzip } from '@tk/gzip';
import { readTar, type TarEntry } from '@tk/tar';
import { describe, expect, it } from 'vitest';
import {
  buildLayer,
  orderLayerEntries,
  writeLayerTar,
  MEDIA_TYPE_LAYER_GZIP,
  type LayerEntry,
} from './layer.ts';

const GOLDEN = join(import.meta.dirname, '../../../test-fixtures/real/apko-testrepo/golden/blobs/sha256');

function entriesOf(tarEntries: readonly TarEntry[]): LayerEntry[] {
  return tarEntries.map((e) => ({
    path: e.name,
    type: e.type,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    uname: e.uname,
    gname: e.gname,
    mtime: e.mtime,
    ...(e.linkname === '' ? {} : { linkname: e.linkname }),
    devmajor: e.devmajor,
    devminor: e.devminor,
    xattrs: e.xattrs,
    ...(e.type === 'file' ? { data: e.data } : {}),
  }));
}

/** A deterministic shuffle, so the test shows order comes from the layer writer, not from the input. */
function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  let seed = 12345;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const dir = (path: string, extra: Partial<LayerEntry> = {}): LayerEntry => ({
  path,
  type: 'directory',
  mode: 0o755,
  uid: 0,
  gid: 0,
  mtime: 0,
  ...extra,
});
const file = (path: string, text = '', extra: Partial<LayerEntry> = {}): LayerEntry => ({
  path,
  type: 'file',
  mode: 0o644,
  uid: 0,
  gid: 0,
  mtime: 0,
  data: utf8(text),
  ...extra,
});

describe('golden parity with apko (diff_id)', () => {
  it.each([
    [
      'amd64',
      'c7557730da0e2d7fb242d8d1ac6dcf7e3a2439732aa5981270b4f3a02454b738',
      '20f698463c2755b6dc42b7d07e959ed7455a06e7367d507e829a315898f21a01',
    ],
    [
      'arm64',
      '7e0f9d62f6cab4785e18a55f17d03f20ffb776881f1f46258efd9458f7cdaf08',
      'ca5e16c7c944d764863cb1a4286e668e72d6d87ef9ddd82337b19d87715bae7e',
    ],
  ])('re-emits the entries of apko’s %s layer into the same tar', async (_arch, blob, diffId) => {
    const tar = gunzip(new Uint8Array(readFileSync(join(GOLDEN, blob))));
    expect(sha256Hex(tar)).toBe(diffId);
    const { entries } = readTar(tar);
    const layer = await buildLayer(shuffled(entriesOf(entries)), { parents: 'error' });
    expect(layer.diffId).toBe(`sha256:${diffId}`);
    expect(layer.uncompressedSize).toBe(tar.length);
    expect(gunzip(layer.bytes)).toEqual(tar);
    expect(layer.digest).toBe(`sha256:${sha256Hex(layer.bytes)}`);
    expect(layer.size).toBe(layer.bytes.length);
    expect(layer.mediaType).toBe(MEDIA_TYPE_LAYER_GZIP);
  });
});

describe('orderLayerEntries', () => {
  it('walks directories before children, siblings in byte order, component by component', () => {
    const paths = orderLayerEntries(
      shuffled([
        dir('a'),
        dir('a/b'),
        file('a/b/c'),
        file('a-b'),
        file('a.b'),
        dir('B'),
        file('a/b-c'),
        file('é'),
        file('z'),
      ]),
    ).map((e) => e.path);
    expect(paths).toEqual(['B', 'a', 'a/b', 'a/b/c', 'a/b-c', 'a-b', 'a.b', 'z', 'é']);
  });

  it('writes a hard link right after its target when its name sorts first', () => {
    const paths = orderLayerEntries([
      dir('bin'),
      dir('usr'),
      dir('usr/bin'),
      file('usr/bin/tool', 'x'),
      { ...file('bin/tool'), type: 'hardlink', linkname: 'usr/bin/tool', data: undefined },
      { ...file('bin/tool2'), type: 'hardlink', linkname: 'usr/bin/tool', data: undefined },
      { ...file('usr/bin/zlink'), type: 'hardlink', linkname: 'usr/bin/tool', data: undefined },
    ]).map((e) => e.path);
    expect(paths).toEqual([
      'bin',
      'usr',
      'usr/bin',
      'usr/bin/tool',
      'bin/tool',
      'bin/tool2',
      'usr/bin/zlink',
    ]);
  });

  it('synthesises missing parents as 0755 root directories with mtime 0, or from a template', () => {
    const ordered = orderLayerEntries([file('x/y/z', 'data', { mtime: 99 })]);
    expect(ordered.map((e) => [e.path, e.type, e.mode, e.uid, e.mtime])).toEqual([
      ['x', 'directory', 0o755, 0, 0],
      ['x/y', 'directory', 0o755, 0, 0],
      ['x/y/z', 'file', 0o644, 0, 99],
    ]);
    const custom = orderLayerEntries([file('x/z')], {
      parentTemplate: { mtime: 5, uname: 'root', gname: 'root' },
    });
    expect(custom[0]).toMatchObject({ path: 'x', mtime: 5, uname: 'root', gname: 'root', mode: 0o755 });
  });

  it('normalises harmless path forms', () => {
    expect(orderLayerEntries([dir('./etc/'), file('etc/x')]).map((e) => e.path)).toEqual(['etc', 'etc/x']);
  });

  it.each([
    ['an absolute path', [file('/etc/passwd')], 'OCI_LAYER_UNSAFE_PATH'],
    ['a .. component', [dir('a'), file('a/../../x')], 'OCI_LAYER_UNSAFE_PATH'],
    ['the root itself', [dir('.')], 'OCI_LAYER_UNSAFE_PATH'],
    ['a control character', [file('a\nb')], 'OCI_LAYER_UNSAFE_PATH'],
    ['an empty component', [dir('etc'), file('etc//x')], 'OCI_LAYER_UNSAFE_PATH'],
    ['a non-string path', [file(42 as unknown as string)], 'OCI_LAYER_UNSAFE_PATH'],
    ['a duplicate after normalisation', [file('a'), file('./a')], 'OCI_LAYER_DUPLICATE_PATH'],
    ['a file as a parent', [file('a'), file('a/b')], 'OCI_LAYER_PARENT_NOT_DIRECTORY'],
    [
      'a dangling hard link',
      [{ ...file('l'), type: 'hardlink', linkname: 'missing', data: undefined }],
      'OCI_LAYER_BAD_HARDLINK',
    ],
    [
      'a hard link to a directory',
      [dir('d'), { ...file('l'), type: 'hardlink', linkname: 'd', data: undefined }],
      'OCI_LAYER_BAD_HARDLINK',
    ],
    [
      'a hard link escaping the root',
      [{ ...file('l'), type: 'hardlink', linkname: '../etc/shadow', data: undefined }],
      'OCI_LAYER_UNSAFE_PATH',
    ],
    ['a symlink without target', [{ ...file('l'), type: 'symlink', data: undefined }], 'OCI_LAYER_BAD_ENTRY'],
    ['a file with a link target', [file('f', '', { linkname: 'x' })], 'OCI_LAYER_BAD_ENTRY'],
    ['data on a directory', [dir('d', { data: utf8('x') })], 'OCI_LAYER_BAD_ENTRY'],
    ['a mode with type bits', [file('f', '', { mode: 0o100644 })], 'OCI_LAYER_BAD_ENTRY'],
    ['a negative uid', [file('f', '', { uid: -1 })], 'OCI_LAYER_BAD_ENTRY'],
    ['a fractional mtime', [file('f', '', { mtime: 1.5 })], 'OCI_LAYER_BAD_ENTRY'],
    ['an unknown type', [file('f', '', { type: 'socket' as 'file' })], 'OCI_LAYER_BAD_ENTRY'],
    ['device numbers on a file', [file('f', '', { devmajor: 1 })], 'OCI_LAYER_BAD_ENTRY'],
    [
      'xattrs on a symlink',
      [{ ...file('l'), type: 'symlink', linkname: 'x', data: undefined, xattrs: { 'user.a': utf8('1') } }],
      'OCI_LAYER_BAD_ENTRY',
    ],
    ['an xattr name with =', [file('f', '', { xattrs: { 'user.a=b': utf8('1') } })], 'OCI_LAYER_BAD_ENTRY'],
    [
      'a NUL in a symlink target',
      [{ ...file('l'), type: 'symlink', linkname: 'a\0b', data: undefined }],
      'OCI_LAYER_BAD_ENTRY',
    ],
  ] as const)('refuses %s', (_what, entries, code) => {
    expect(() => orderLayerEntries(entries as readonly LayerEntry[])).toThrow(
      expect.objectContaining({ code }) as Error,
    );
  });

  it('refuses missing parents when asked to', () => {
    expect(() => orderLayerEntries([file('a/b')], { parents: 'error' })).toThrow(
      expect.objectContaining({ code: 'OCI_LAYER_MISSING_PARENT' }) as Error,
    );
  });
});

describe('writeLayerTar', () => {
  it('writes Go headers: no trailing slash, devices, setuid, symlinks, xattrs as PAX', () => {
    const tar = writeLayerTar([
      dir('tmp', { mode: 0o1777 }),
      dir('dev'),
      { path: 'dev/null', type: 'char', mode: 0o666, uid: 0, gid: 0, mtime: 0, devmajor: 1, devminor: 3 },
      file('bin/su', 'su', { mode: 0o4755, uname: 'root', gname: 'root' }),
      { path: 'bin/sh', type: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime: 0, linkname: '/bin/busybox' },
      file('bin/ping', 'p', { xattrs: { 'security.capability': Uint8Array.of(1, 0, 0, 2, 0x20, 0, 0, 0) } }),
      file('home/user/.profile', '', { uid: 1000, gid: 1000, mtime: 1700000000 }),
    ]);
    const bytes = concatBytes(tar.chunks);
    expect(bytes.length).toBe(tar.size);
    expect(tar.diffId).toBe(`sha256:${sha256Hex(bytes)}`);
    const { entries, endOfArchive } = readTar(bytes);
    expect(endOfArchive).toBe(true);
    expect(entries.map((e) => [e.name, e.type, e.mode.toString(8)])).toEqual([
      ['bin', 'directory', '755'],
      ['bin/ping', 'file', '644'],
      ['bin/sh', 'symlink', '777'],
      ['bin/su', 'file', '4755'],
      ['dev', 'directory', '755'],
      ['dev/null', 'char', '666'],
      ['home', 'directory', '755'],
      ['home/user', 'directory', '755'],
      ['home/user/.profile', 'file', '644'],
      ['tmp', 'directory', '1777'],
    ]);
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(byName.get('dev/null')).toMatchObject({ devmajor: 1, devminor: 3 });
    expect(byName.get('bin/sh')?.linkname).toBe('/bin/busybox');
    expect(byName.get('bin/su')).toMatchObject({ uname: 'root', gname: 'root' });
    expect(byName.get('bin/ping')?.xattrs['security.capability']).toEqual(
      Uint8Array.of(1, 0, 0, 2, 0x20, 0, 0, 0),
    );
    expect(byName.get('home/user/.profile')).toMatchObject({ uid: 1000, gid: 1000, mtime: 1700000000 });
    // Go writes directories without a trailing slash and ustar magic.
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('bin\0');
    expect(new TextDecoder().decode(bytes.subarray(257, 265))).toBe('ustar\x0000');
  });

  it('is deterministic and independent of input order', async () => {
    const entries = [dir('a'), file('a/x', 'x'.repeat(3000)), file('b', 'y'), dir('c')];
    const one = await buildLayer(entries);
    const two = await buildLayer(shuffled(entries));
    expect(two.bytes).toEqual(one.bytes);
    expect(two.diffId).toBe(one.diffId);
  });

  it('writes an empty layer as two zero blocks', () => {
    const tar = writeLayerTar([]);
    expect(tar.size).toBe(1024);
    expect(tar.diffId).toBe('sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef');
  });

  it('spans several gzip blocks for large content, with the same result for any thread count', async () => {
    const big = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
    const entries = [file('big', '', { data: big })];
    const one = await buildLayer(entries, { gzip: { threads: 1 } });
    const two = await buildLayer(entries, { gzip: { threads: 2 } });
    expect(two.digest).toBe(one.digest);
    expect(gunzip(one.bytes, { maxOutputBytes: 8 * 1024 * 1024 }).length).toBe(one.uncompressedSize);
  });
});
