import { existsSync } from 'node:fs';
import {
  chmod,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyTreeNode, copyTreeWithCp, defaultCopyTree } from './copy.ts';

const isRoot = process.getuid?.() === 0;
const cp = ['/usr/bin/cp', '/bin/cp'].find((p) => existsSync(p));

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'tk-guest-copy-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A small root with the kinds of entries a guest has. */
async function makeRoot(root: string): Promise<void> {
  await mkdir(join(root, 'usr/bin'), { recursive: true });
  await mkdir(join(root, 'etc'));
  await mkdir(join(root, 'tmp'));
  await writeFile(join(root, 'usr/bin/tool'), 'binary');
  await chmod(join(root, 'usr/bin/tool'), 0o4755);
  await writeFile(join(root, 'etc/shadow'), 'secret');
  await chmod(join(root, 'etc/shadow'), 0o640);
  await link(join(root, 'usr/bin/tool'), join(root, 'usr/bin/tool-alias'));
  await symlink('tool', join(root, 'usr/bin/relative'));
  await symlink('/etc/shadow', join(root, 'usr/bin/absolute'));
  await symlink('/nowhere/at/all', join(root, 'usr/bin/dangling'));
  await chmod(join(root, 'tmp'), 0o1777);
  if (isRoot) {
    await lchown(join(root, 'etc/shadow'), 0, 42);
    await lchown(join(root, 'usr/bin/absolute'), 7, 8);
  }
  await utimes(join(root, 'etc/shadow'), 1000, 1000);
  await lutimes(join(root, 'usr/bin/relative'), 2000, 2000);
  await utimes(join(root, 'usr/bin'), 3000, 3000);
  await utimes(join(root, 'etc'), 4000, 4000);
}

async function expectSameTree(a: string, b: string): Promise<void> {
  for (const path of [
    'usr',
    'usr/bin',
    'etc',
    'tmp',
    'usr/bin/tool',
    'usr/bin/tool-alias',
    'etc/shadow',
    'usr/bin/relative',
    'usr/bin/absolute',
    'usr/bin/dangling',
  ]) {
    const x = await lstat(join(a, path));
    const y = await lstat(join(b, path));
    expect({
      path,
      mode: y.mode,
      uid: y.uid,
      gid: y.gid,
      mtime: Math.trunc(y.mtimeMs),
      size: y.size,
    }).toEqual({
      path,
      mode: x.mode,
      uid: x.uid,
      gid: x.gid,
      mtime: Math.trunc(x.mtimeMs),
      size: x.size,
    });
  }
  expect(await readFile(join(b, 'usr/bin/tool'), 'utf8')).toBe('binary');
  expect(await readlink(join(b, 'usr/bin/absolute'))).toBe('/etc/shadow');
  expect(await readlink(join(b, 'usr/bin/dangling'))).toBe('/nowhere/at/all');
  // Hard links stay hard links (within the copy), and the copy shares no inode with the source.
  const tool = await lstat(join(b, 'usr/bin/tool'));
  expect((await lstat(join(b, 'usr/bin/tool-alias'))).ino).toBe(tool.ino);
  expect(tool.nlink).toBe(2);
  expect(tool.ino).not.toBe((await lstat(join(a, 'usr/bin/tool'))).ino);
}

describe('copying a guest tree', () => {
  it('copies modes, owners, times, symlinks (unfollowed) and hard links with the Node copy', async () => {
    await makeRoot(join(work, 'src'));
    await copyTreeNode(join(work, 'src'), join(work, 'dst'), { owners: isRoot });
    await expectSameTree(join(work, 'src'), join(work, 'dst'));
  });

  it.skipIf(cp === undefined)('copies the same way with cp -a', async () => {
    await makeRoot(join(work, 'src'));
    await copyTreeWithCp(cp!, join(work, 'src'), join(work, 'dst'));
    await expectSameTree(join(work, 'src'), join(work, 'dst'));
  });

  it('the default copy works and refuses to copy onto an existing folder', async () => {
    await makeRoot(join(work, 'src'));
    const copy = defaultCopyTree({ owners: isRoot });
    await copy(join(work, 'src'), join(work, 'dst'));
    await expectSameTree(join(work, 'src'), join(work, 'dst'));
    await expect(copyTreeNode(join(work, 'src'), join(work, 'dst'), { owners: false })).rejects.toMatchObject(
      { code: 'EEXIST' },
    );
  });

  it.skipIf(cp === undefined)('reports a failing cp with its message', async () => {
    await expect(copyTreeWithCp(cp!, join(work, 'missing'), join(work, 'dst'))).rejects.toThrow(
      /exited with 1/,
    );
  });
});
