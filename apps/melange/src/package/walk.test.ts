import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApkInputFile } from '@tk/apk';
import { MelangeError } from '../errors.ts';
import { CAPABILITY_XATTR } from './capability.ts';
import { walkPackageDir } from './walk.ts';

const isRoot = process.getuid?.() === 0;
let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'tk-walk-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function tree(): string {
  const pkg = join(root, 'pkg');
  mkdirSync(join(pkg, 'usr/bin'), { recursive: true });
  mkdirSync(join(pkg, 'usr/lib/b'), { recursive: true });
  mkdirSync(join(pkg, 'usr/lib-a'), { recursive: true });
  writeFileSync(join(pkg, 'usr/bin/tool'), '#!/bin/sh\necho tool\n');
  chmodSync(join(pkg, 'usr/bin/tool'), 0o755);
  writeFileSync(join(pkg, 'usr/bin/su'), 'setuid');
  chmodSync(join(pkg, 'usr/bin/su'), 0o4755);
  chmodSync(join(pkg, 'usr/lib-a'), 0o1777);
  linkSync(join(pkg, 'usr/bin/tool'), join(pkg, 'usr/bin/a-tool')); // sorts before tool: it is the first name
  symlinkSync('tool', join(pkg, 'usr/bin/t'));
  symlinkSync('/usr/bin/tool', join(pkg, 'usr/bin/abs'));
  symlinkSync('lib/b', join(pkg, 'usr/dirlink'));
  writeFileSync(join(pkg, 'usr/lib/b/data'), 'x'.repeat(1000));
  return pkg;
}

const byPath = (files: readonly ApkInputFile[]): Map<string, ApkInputFile> =>
  new Map(files.map((f) => [f.path, f]));

describe('walkPackageDir', () => {
  it('walks in lexical component order, root left out', async () => {
    const files = await walkPackageDir(tree());
    expect(files.map((f) => f.path)).toEqual([
      'usr',
      'usr/bin',
      'usr/bin/a-tool',
      'usr/bin/abs',
      'usr/bin/su',
      'usr/bin/t',
      'usr/bin/tool',
      'usr/dirlink',
      'usr/lib',
      'usr/lib/b',
      'usr/lib/b/data',
      'usr/lib-a',
    ]);
  });

  it('keeps modes, symlinks as written, and hard links to the first name', async () => {
    const files = byPath(await walkPackageDir(tree()));
    expect(files.get('usr/bin/su')).toMatchObject({ type: 'file', mode: 0o4755 });
    expect(files.get('usr/lib-a')).toMatchObject({ type: 'directory', mode: 0o1777 });
    expect(files.get('usr/bin/a-tool')).toMatchObject({ type: 'file', mode: 0o755 });
    expect(new TextDecoder().decode(files.get('usr/bin/a-tool')!.data)).toBe('#!/bin/sh\necho tool\n');
    expect(files.get('usr/bin/tool')).toMatchObject({ type: 'hardlink', linkname: 'usr/bin/a-tool' });
    expect(files.get('usr/bin/tool')!.data).toBeUndefined();
    expect(files.get('usr/bin/t')).toMatchObject({ type: 'symlink', linkname: 'tool' });
    expect(files.get('usr/bin/abs')).toMatchObject({ type: 'symlink', linkname: '/usr/bin/tool' });
    // A symlink to a directory is a symlink; its target's contents are not walked twice.
    expect(files.get('usr/dirlink')).toMatchObject({ type: 'symlink', linkname: 'lib/b' });
    expect([...files.keys()].some((p) => p.startsWith('usr/dirlink/'))).toBe(false);
  });

  it('maps owners and names them from the guest accounts', async () => {
    const pkg = tree();
    const uid = process.getuid?.() ?? 0;
    const files = byPath(
      await walkPackageDir(pkg, {
        mapOwner: (u, g) => ({ uid: u === uid ? 0 : u, gid: g === uid ? 0 : g }),
        users: new Map([[0, 'root']]),
        groups: { 0: 'root' },
      }),
    );
    for (const f of files.values()) expect(f).toMatchObject({ uid: 0, gid: 0, uname: 'root', gname: 'root' });
  });

  it.skipIf(!isRoot)('keeps other owners, with names from the maps (needs root to chown)', async () => {
    const pkg = tree();
    chownSync(join(pkg, 'usr/bin/su'), 1000, 1000);
    chownSync(join(pkg, 'usr/lib/b/data'), 42, 43);
    const files = byPath(
      await walkPackageDir(pkg, {
        mapOwner: (u, g) => ({ uid: u === 1000 ? 0 : u, gid: g === 1000 ? 0 : g }),
        users: new Map([[42, 'nobody42']]),
        groups: new Map([[43, 'grp43']]),
      }),
    );
    expect(files.get('usr/bin/su')).toMatchObject({ uid: 0, gid: 0, uname: 'root', gname: 'root' });
    expect(files.get('usr/lib/b/data')).toMatchObject({
      uid: 42,
      gid: 43,
      uname: 'nobody42',
      gname: 'grp43',
    });
  });

  it('puts setcap capabilities on the named file', async () => {
    const files = byPath(
      await walkPackageDir(tree(), {
        setcap: [{ path: '/usr/bin/su', add: { cap_net_bind_service: '+ep' }, reason: 'r' }],
      }),
    );
    expect(files.get('usr/bin/su')!.xattrs?.[CAPABILITY_XATTR]?.length).toBe(24);
  });

  it('a setcap path that does not exist is a coded error', async () => {
    await expect(
      walkPackageDir(tree(), {
        setcap: [{ path: '/usr/bin/none', add: { cap_net_raw: '+ep' }, reason: 'r' }],
      }),
    ).rejects.toMatchObject({ code: 'MELANGE_SETCAP_INVALID' });
  });

  it('a missing folder is an empty package; a file is not a folder', async () => {
    expect(await walkPackageDir(join(root, 'none'))).toEqual([]);
    writeFileSync(join(root, 'file'), '');
    await expect(walkPackageDir(join(root, 'file'))).rejects.toMatchObject({
      code: 'MELANGE_PACKAGE_READ_FAILED',
    });
  });

  it('refuses FIFOs', async () => {
    const pkg = tree();
    execFileSync('mkfifo', [join(pkg, 'usr/fifo')]);
    await expect(walkPackageDir(pkg, { packageName: 'p' })).rejects.toMatchObject({
      code: 'MELANGE_PACKAGE_UNSUPPORTED_FILE',
    });
  });

  it('refuses sockets', async () => {
    const pkg = tree();
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(join(pkg, 'usr/sock'), resolve));
    try {
      await expect(walkPackageDir(pkg)).rejects.toBeInstanceOf(MelangeError);
      await expect(walkPackageDir(pkg)).rejects.toMatchObject({ code: 'MELANGE_PACKAGE_UNSUPPORTED_FILE' });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it.skipIf(!isRoot)('keeps character devices with their numbers (needs root to mknod)', async (ctx) => {
    const pkg = tree();
    try {
      execFileSync('mknod', [join(pkg, 'usr/null'), 'c', '1', '3'], { stdio: 'ignore' });
    } catch {
      ctx.skip(); // no CAP_MKNOD in this container
    }
    const files = byPath(await walkPackageDir(pkg));
    expect(files.get('usr/null')).toMatchObject({ type: 'char', devmajor: 1, devminor: 3 });
  });

  it('refuses names with a newline and names that are not UTF-8 (hostile names)', async () => {
    const pkg = tree();
    writeFileSync(join(pkg, 'usr/evil\nname'), '');
    await expect(walkPackageDir(pkg)).rejects.toMatchObject({ code: 'MELANGE_PACKAGE_BAD_NAME' });
    rmSync(join(pkg, 'usr/evil\nname'));
    writeFileSync(Buffer.concat([Buffer.from(`${pkg}/usr/`), Buffer.from([0x66, 0xff, 0x6f])]), '');
    await expect(walkPackageDir(pkg)).rejects.toMatchObject({ code: 'MELANGE_PACKAGE_BAD_NAME' });
  });

  it('refuses a symlink whose target has a control character', async () => {
    const pkg = tree();
    symlinkSync('a\tb', join(pkg, 'usr/tab'));
    await expect(walkPackageDir(pkg)).rejects.toMatchObject({ code: 'MELANGE_PACKAGE_BAD_NAME' });
  });
});
