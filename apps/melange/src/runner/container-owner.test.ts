import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, link, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lendFolder, returnFolder } from './container-owner.ts';

const isRoot = process.getuid?.() === 0;
const HOST = { uid: 0, gid: 0 };
const BUILD = { uid: 1000, gid: 1000 };

async function owner(path: string): Promise<string> {
  const st = await lstat(path);
  return `${st.uid}:${st.gid}`;
}

async function mode(path: string): Promise<number> {
  return (await lstat(path)).mode & 0o7777;
}

describe.skipIf(!isRoot)(
  `lending a folder to the build user${isRoot ? '' : ' (skipped: needs root to chown)'}`,
  () => {
    let dir: string;
    let ws: string;

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tk-owner-'));
      ws = join(dir, 'ws');
      await mkdir(join(ws, 'sub'), { recursive: true });
      await writeFile(join(ws, 'suid'), '#!/bin/sh\n');
      await chmod(join(ws, 'suid'), 0o6755);
      await mkdir(join(ws, 'setgid-dir'));
      await chmod(join(ws, 'setgid-dir'), 0o2775);
      await writeFile(join(ws, 'sub', 'plain'), 'x');
      await symlink('/etc/passwd', join(ws, 'link-out'));
      await writeFile(join(ws, 'theirs'), 'already the build user');
      await chown(join(ws, 'theirs'), 1000, 1000);
      await writeFile(join(ws, 'other'), 'someone else');
      await chown(join(ws, 'other'), 4242, 4242);
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('lends the invoking user entries, keeps modes (setuid too), never follows symlinks, and takes them back', async () => {
      const etc = await lstat('/etc/passwd');
      expect(await lendFolder(ws, HOST, BUILD)).toBe(6); // ws, sub, suid, setgid-dir, sub/plain, link-out
      for (const p of ['', 'sub', 'suid', 'setgid-dir', 'sub/plain', 'link-out'])
        expect(await owner(join(ws, p))).toBe('1000:1000');
      expect(await mode(join(ws, 'suid'))).toBe(0o6755);
      expect(await mode(join(ws, 'setgid-dir'))).toBe(0o2775);
      expect((await lstat('/etc/passwd')).uid).toBe(etc.uid);
      expect(await owner(join(ws, 'other'))).toBe('4242:4242');

      // What the build does meanwhile: a new setuid file, a hard link, a file it gives away.
      await writeFile(join(ws, 'new'), 'built');
      await chown(join(ws, 'new'), 1000, 1000);
      await chmod(join(ws, 'new'), 0o4711);
      await link(join(ws, 'new'), join(ws, 'sub', 'new-link'));
      await writeFile(join(ws, 'given'), 'x');
      await chown(join(ws, 'given'), 1000, 77);

      await returnFolder(ws, HOST, BUILD);
      for (const p of ['', 'sub', 'suid', 'setgid-dir', 'sub/plain', 'link-out', 'new', 'sub/new-link'])
        expect(await owner(join(ws, p))).toBe('0:0');
      expect(await mode(join(ws, 'suid'))).toBe(0o6755);
      expect(await mode(join(ws, 'new'))).toBe(0o4711);
      expect(await mode(join(ws, 'setgid-dir'))).toBe(0o2775);
      // uid and gid map separately; what was the build user's before the lending stays so.
      expect(await owner(join(ws, 'given'))).toBe('0:77');
      expect(await owner(join(ws, 'theirs'))).toBe('1000:1000');
      expect(await owner(join(ws, 'other'))).toBe('4242:4242');
    });

    it('shares one lending between pods of a process: the last one to return takes it back', async () => {
      await lendFolder(ws, HOST, BUILD);
      expect(await lendFolder(ws, HOST, BUILD)).toBe(0);
      expect(await returnFolder(ws, HOST, BUILD)).toBe(0);
      expect(await owner(ws)).toBe('1000:1000');
      expect(await returnFolder(ws, HOST, BUILD)).toBeGreaterThan(0);
      expect(await owner(ws)).toBe('0:0');
      // Returning more often than lending is harmless.
      expect(await returnFolder(ws, HOST, BUILD)).toBe(0);
      expect(await returnFolder(join(dir, 'never-lent'), HOST, BUILD)).toBe(0);
    });

    it('runs concurrent lends and returns of one folder one after the other', async () => {
      await Promise.all([lendFolder(ws, HOST, BUILD), lendFolder(ws, HOST, BUILD)]);
      expect(await owner(join(ws, 'sub', 'plain'))).toBe('1000:1000');
      await Promise.all([returnFolder(ws, HOST, BUILD), returnFolder(ws, HOST, BUILD)]);
      expect(await owner(join(ws, 'sub', 'plain'))).toBe('0:0');
    });
  },
);

describe('lending without the right to chown', () => {
  it.skipIf(isRoot)('fails with a coded error naming the entry', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tk-owner-'));
    try {
      await expect(lendFolder(dir, { uid: process.getuid?.() ?? 1, gid: 0 }, BUILD)).rejects.toMatchObject({
        code: 'MELANGE_RUNNER_FAILED',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  const chattr = ['/usr/bin/chattr', '/bin/chattr'].find((p) => existsSync(p));
  it.skipIf(!isRoot || chattr === undefined)(
    'fails with a coded error naming an entry whose owner cannot change (an immutable file)',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tk-owner-'));
      const file = join(dir, 'immutable');
      await writeFile(file, 'x');
      execFileSync(chattr!, ['+i', file]);
      try {
        await expect(lendFolder(dir, HOST, BUILD)).rejects.toMatchObject({
          code: 'MELANGE_RUNNER_FAILED',
          data: { path: file },
        });
        // What was lent before the failure is the invoking user's again.
        expect(await owner(dir)).toBe('0:0');
      } finally {
        execFileSync(chattr!, ['-i', file]);
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  it('fails with a coded error for a folder that does not exist', async () => {
    await expect(lendFolder(join(tmpdir(), 'tk-owner-no-such-folder'), HOST, BUILD)).rejects.toMatchObject({
      code: 'MELANGE_RUNNER_FAILED',
    });
  });
});
