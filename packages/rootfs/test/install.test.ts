import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApk, emptyPkgInfo, readApk, type ApkInputFile } from '@tk/apk';
import { fromUtf8 } from '@tk/core';
import { readTar } from '@tk/tar';
import {
  applyAccounts,
  applyPaths,
  createBusyboxLinks,
  createInstallState,
  createSkeleton,
  FsTree,
  installPackage,
  serializeInstalledDb,
  treeEntries,
  writeApkDatabase,
  type InstallState,
} from '@tk/rootfs';

const ROOT = join(import.meta.dirname, '../../..');
const testrepo = (arch: string, name: string) =>
  readApk(
    new Uint8Array(
      readFileSync(join(ROOT, 'test-fixtures/real/apko-testrepo', arch, `${name}-1.0.0-r0.apk`)),
    ),
  );
const text = (tree: FsTree, path: string): string => {
  const node = tree.get(path, { follow: true });
  if (node?.kind !== 'file') throw new Error(`${path} is not a file`);
  return fromUtf8(node.data);
};

async function pkg(
  name: string,
  files: ApkInputFile[],
  extra: Partial<ReturnType<typeof emptyPkgInfo>> = {},
) {
  const { bytes } = await buildApk({
    pkginfo: { ...emptyPkgInfo(name, '1.0-r0'), arch: 'x86_64', ...extra },
    files,
    sourceDateEpoch: 100,
  });
  return readApk(bytes);
}
const file = (path: string, content: string, mode = 0o644): ApkInputFile => ({
  path,
  type: 'file',
  mode,
  data: new TextEncoder().encode(content),
});

function install(...packages: Awaited<ReturnType<typeof pkg>>[]): { tree: FsTree; state: InstallState } {
  const tree = new FsTree();
  createSkeleton(tree, { mtime: 0, devices: true });
  const state = createInstallState();
  for (const p of packages) installPackage(tree, state, { pkg: p, expectedChecksum: p.identity });
  return { tree, state };
}

describe('installing real packages', () => {
  it('writes the installed database exactly as apk-tools 2.14.10 does for the same packages', () => {
    const order = ['custom-ca-certs-1', 'custom-ca-certs-2', 'pretend-baselayout', 'replayout'];
    const { state } = install(...order.map((n) => testrepo('x86_64', n)));
    const oracle = readFileSync(
      join(ROOT, 'test-fixtures/oracle/apk-tools-2.14.10/apko-testrepo-x86_64.installed'),
      'utf8',
    );
    expect(serializeInstalledDb(state.installed)).toBe(oracle);
  });

  it("honours replaces: replayout's os-release wins and keeps the owner the package declares", () => {
    const { tree, state } = install(
      testrepo('aarch64', 'pretend-baselayout'),
      testrepo('aarch64', 'replayout'),
    );
    const node = tree.get('etc/os-release');
    expect(node?.kind).toBe('file');
    expect(node?.meta).toMatchObject({ uid: 501, gid: 20, mode: 0o644 });
    expect(state.owners.get('etc/os-release')).toBe(1);
    expect(state.installed[0]!.files.map((f) => f.path)).not.toContain('etc/os-release');
  });

  it('refuses a file conflict, naming both packages', async () => {
    const a = await pkg('a', [file('etc/motd', 'a')]);
    const b = await pkg('b', [file('etc/motd', 'b')]);
    expect(() => install(a, b)).toThrow(
      expect.objectContaining({
        code: 'ROOTFS_FILE_CONFLICT',
        message: expect.stringMatching(/b-1.0-r0 and a-1.0-r0 both install etc\/motd/),
      }),
    );
  });

  it('allows identical files, same-origin overwrites and replaces in either direction', async () => {
    const a = await pkg('a', [file('etc/x', 'same')]);
    const b = await pkg('b', [file('etc/x', 'same')]);
    expect(() => install(a, b)).not.toThrow();
    const c1 = await pkg('c1', [file('etc/y', '1')], { origin: 'c' });
    const c2 = await pkg('c2', [file('etc/y', '2')], { origin: 'c' });
    expect(text(install(c1, c2).tree, 'etc/y')).toBe('2');
    const old = await pkg('old', [file('etc/z', 'old')], { replaces: ['new'] });
    const nu = await pkg('new', [file('etc/z', 'new')]);
    expect(text(install(old, nu).tree, 'etc/z')).toBe('old');
  });

  it('installs through a usr-merge symlink and tracks ownership by canonical path', async () => {
    const base = await pkg('base', [
      { path: 'usr/bin', type: 'directory' },
      { path: 'bin', type: 'symlink', linkname: 'usr/bin' },
    ]);
    const one = await pkg('one', [file('bin/tool', 'x', 0o755)]);
    const two = await pkg('two', [file('usr/bin/tool', 'y', 0o755)]);
    const { tree } = install(base, one);
    expect(tree.get('usr/bin/tool')?.kind).toBe('file');
    expect(tree.get('bin')?.kind).toBe('symlink');
    expect(() => install(base, one, two)).toThrow(expect.objectContaining({ code: 'ROOTFS_FILE_CONFLICT' }));
  });

  it('keeps setuid bits, xattrs, devices, hard links and owners into the layer entries', async () => {
    const p = await pkg('p', [
      {
        path: 'usr/bin/ping',
        type: 'file',
        mode: 0o4755,
        data: new Uint8Array([1]),
        xattrs: { 'security.capability': Uint8Array.of(1, 2) },
      },
      { path: 'usr/bin/ping6', type: 'hardlink', linkname: 'usr/bin/ping' },
      { path: 'var/lib/p', type: 'directory', mode: 0o750, uid: 100, gid: 101 },
    ]);
    const { tree } = install(p);
    const entries = treeEntries(tree);
    expect(entries.find((e) => e.path === 'usr/bin/ping')).toMatchObject({
      type: 'file',
      mode: 0o4755,
      xattrs: { 'security.capability': Uint8Array.of(1, 2) },
    });
    expect(entries.find((e) => e.path === 'usr/bin/ping6')).toMatchObject({
      type: 'hardlink',
      linkname: 'usr/bin/ping',
    });
    expect(entries.find((e) => e.path === 'var/lib/p')).toMatchObject({ uid: 100, gid: 101, mode: 0o750 });
    expect(entries.find((e) => e.path === 'dev/null')).toMatchObject({
      type: 'char',
      devmajor: 1,
      devminor: 3,
    });
    expect(entries.find((e) => e.path === 'tmp')?.mode).toBe(0o1777);
    const paths = entries.map((e) => e.path);
    expect(paths.indexOf('usr')).toBeLessThan(paths.indexOf('usr/bin'));
  });

  it('refuses a package whose control checksum differs from the index', async () => {
    const p = await pkg('p', [file('a', 'x')]);
    const tree = new FsTree();
    expect(() =>
      installPackage(tree, createInstallState(), {
        pkg: p,
        expectedChecksum: 'Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=',
      }),
    ).toThrow(expect.objectContaining({ code: 'ROOTFS_PACKAGE_MISMATCH' }));
  });

  it('never escapes the root: absolute and climbing symlinks resolve inside it', async () => {
    const evil = await pkg('evil', [
      { path: 'etc', type: 'directory' },
      { path: 'etc/escape', type: 'symlink', linkname: '/' },
      { path: 'etc/up', type: 'symlink', linkname: '/../../../..' },
    ]);
    const writer = await pkg('writer', [file('etc/escape/owned', 'x'), file('etc/up/also', 'y')]);
    const { tree } = install(evil, writer);
    expect(text(tree, 'owned')).toBe('x');
    expect(text(tree, 'also')).toBe('y');
  });
});

describe('database and image steps', () => {
  it('writes scripts.tar, triggers, world, repositories, keys and arch', async () => {
    const { bytes } = await buildApk({
      pkginfo: { ...emptyPkgInfo('s', '2-r0'), triggers: ['/usr/share/fonts/* /usr/lib/x'] },
      files: [file('a', 'x')],
      scripts: { '.post-install': '#!/bin/sh\n' },
      sourceDateEpoch: 0,
    });
    const p = readApk(bytes);
    const { tree, state } = install(p);
    writeApkDatabase(
      tree,
      state.installed,
      {
        arch: 'x86_64',
        world: ['s', 'busybox'],
        repositories: ['./b', '@local ./a'],
        keys: [{ name: 'k.rsa.pub', pem: 'PEM' }],
      },
      5,
    );
    const scripts = tree.get('lib/apk/db/scripts.tar');
    expect(scripts?.kind === 'file' && readTar(scripts.data).entries.map((e) => e.name)).toEqual([
      `s-2-r0.${p.identity}.post-install`,
    ]);
    expect(text(tree, 'lib/apk/db/triggers')).toBe(`${p.identity} /usr/share/fonts/* /usr/lib/x\n`);
    expect(text(tree, 'etc/apk/world')).toBe('busybox\ns\n');
    expect(text(tree, 'etc/apk/repositories')).toBe(
      './b\n@local ./a\n'.split('\n').filter(Boolean).sort().join('\n') + '\n',
    );
    expect(text(tree, 'etc/apk/arch')).toBe('x86_64\n');
    expect(text(tree, 'etc/apk/keys/k.rsa.pub')).toBe('PEM');
  });

  it('applies accounts: passwd/group/shadow, home directories, numeric run-as', async () => {
    const base = await pkg('base', [
      file('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n'),
      file('etc/group', 'root:x:0:\n'),
    ]);
    const { tree } = install(base);
    const user = applyAccounts(tree, {
      users: [{ username: 'nonroot', uid: 65532 }],
      groups: [{ groupname: 'nonroot', gid: 65532, members: ['nonroot'] }],
      runAs: 'nonroot',
      mtime: 0,
    });
    expect(user).toBe('65532');
    expect(text(tree, 'etc/passwd')).toBe(
      'root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:Account created by tk:/home/nonroot:/bin/sh\n',
    );
    expect(text(tree, 'etc/group')).toBe('root:x:0:\nnonroot:x:65532:nonroot\n');
    expect(text(tree, 'etc/shadow')).toBe('nonroot:!:::::::\n');
    expect(tree.get('home/nonroot')?.meta).toMatchObject({ uid: 65532, gid: 65532, mode: 0o700 });
    const names = treeEntries(tree).find((e) => e.path === 'home/nonroot');
    expect(names).toMatchObject({ uname: 'nonroot', gname: 'nonroot' });
  });

  it("applies paths mutations without apko's mode-0 and follow-symlink surprises", async () => {
    const { tree } = install(await pkg('base', [file('etc/motd', 'hi')]));
    applyPaths(
      tree,
      [
        { path: '/var/app', type: 'directory', uid: 1000, gid: 1000, permissions: 0o750 },
        { path: '/var/app/log', type: 'empty-file' },
        { path: '/etc/link', type: 'symlink', source: '/etc/motd' },
        { path: '/etc/hard', type: 'hardlink', source: '/etc/motd' },
        { path: '/etc/motd', type: 'permissions', permissions: 0o600 },
      ],
      0,
    );
    expect(tree.get('var/app')?.meta).toMatchObject({ uid: 1000, gid: 1000, mode: 0o750 });
    expect(tree.get('var/app/log')?.meta.mode).toBe(0o644);
    expect(tree.get('etc/link')).toMatchObject({ kind: 'symlink', target: '/etc/motd' });
    expect(tree.get('etc/hard')).toBe(tree.get('etc/motd'));
    expect(tree.get('etc/motd')?.meta.mode).toBe(0o600);
    expect(() => applyPaths(tree, [{ path: '/nope', type: 'permissions', permissions: 0o600 }], 0)).toThrow(
      expect.objectContaining({ code: 'ROOTFS_BAD_STEP' }),
    );
  });

  it('creates relative busybox applet links from busybox-paths.d', async () => {
    const bb = await pkg('busybox', [
      file('bin/busybox', 'ELF', 0o755),
      file('etc/busybox-paths.d/busybox', '/bin/sh\n/usr/bin/wget\n/sbin/init\n/bin/busybox\n/../etc/x\n'),
    ]);
    const { tree } = install(bb);
    expect(createBusyboxLinks(tree, 0)).toBe(3);
    expect(tree.get('bin/sh')).toMatchObject({ kind: 'symlink', target: 'busybox' });
    expect(tree.get('usr/bin/wget')).toMatchObject({ kind: 'symlink', target: '../../bin/busybox' });
    expect(tree.get('sbin/init')).toMatchObject({ kind: 'symlink', target: '../bin/busybox' });
    expect(tree.get('usr/bin/wget', { follow: true })).toBe(tree.get('bin/busybox'));
  });
});
