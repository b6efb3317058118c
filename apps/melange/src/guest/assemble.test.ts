import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImageConfig, prepareBuildFromConfig, resolveArchs, type ImageConfig } from '@tk/apko';
import { createRecordingLogger } from '@tk/core';
import { assembleGuest } from './assemble.ts';
import type { GuestOptions } from './types.ts';

const REPO = fileURLToPath(new URL('../../../../.cache/bootstrap/repo', import.meta.url));
const KEY = join(REPO, 'tk-bootstrap.rsa.pub');
const haveRepo =
  existsSync(join(REPO, 'x86_64', 'APKINDEX.tar.gz')) && existsSync(join(REPO, 'aarch64', 'APKINDEX.tar.gz'));
const why = haveRepo
  ? ''
  : ` (skipped: no bootstrap repository at ${REPO}; run node test-fixtures/bootstrap/build-repo.mjs)`;

function environment(packages: string[]): ImageConfig {
  return parseImageConfig(
    [
      'contents:',
      `  repositories: [${REPO}]`,
      `  keyring: [${KEY}]`,
      `  packages: [${packages.join(', ')}]`,
      'accounts:',
      '  users: [{ username: build, uid: 1000, gid: 1000, homedir: /home/build }]',
      '  groups: [{ groupname: build, gid: 1000, members: [build] }]',
      '  run-as: build',
      'environment:',
      '  HOME: /home/build',
    ].join('\n'),
  );
}

const BUILD_ENV = ['build-base', 'busybox', 'busybox-binsh', 'tk-baselayout'];

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tk-guest-test-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function options(over: Partial<GuestOptions> & { dir: string }): GuestOptions {
  return {
    environment: environment(BUILD_ENV),
    arch: 'x86_64',
    baseDir: scratch,
    sourceDateEpoch: 1700000000,
    env: {},
    isRoot: process.getuid?.() === 0,
    ...over,
  };
}

/** P:/V: pairs of an apk installed database, in file order. */
function installedPackages(db: string): { name: string; version: string }[] {
  const out: { name: string; version: string }[] = [];
  for (const record of db.split('\n\n')) {
    const name = /^P:(.*)$/m.exec(record)?.[1];
    const version = /^V:(.*)$/m.exec(record)?.[1];
    if (name !== undefined && version !== undefined) out.push({ name, version });
  }
  return out;
}

describe.skipIf(!haveRepo)(`assembleGuest on the bootstrap repository${why}`, () => {
  it('assembles the build-base environment for x86_64, caches it, and copies it from the cache the second time', async () => {
    const cacheDir = join(scratch, 'cache');
    const dir = join(scratch, 'x86_64', 'guest');
    const logger = createRecordingLogger();
    const guest = await assembleGuest(options({ dir, cacheDir, logger }));

    expect(guest.dir).toBe(dir);
    expect(guest.arch).toBe('x86_64');
    expect(guest.fromCache).toBe(false);
    expect(guest.key).toMatch(/^[0-9a-f]{64}$/);
    // The compiler is reachable under its usual names (build-base's links to gcc-12).
    expect((await lstat(join(dir, 'usr/bin/gcc'))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(dir, 'usr/bin/gcc'))).toBe('gcc-12');
    expect((await lstat(join(dir, 'usr/bin/x86_64-linux-gnu-gcc-12'))).isFile()).toBe(true);
    expect(await readlink(join(dir, 'bin/sh'))).toBe('busybox');
    // The build user and group.
    const passwd = await readFile(join(dir, 'etc/passwd'), 'utf8');
    expect(passwd).toMatch(/^build:x:1000:1000:[^:]*:\/home\/build:\/bin\/sh$/m);
    expect(guest.users.get(1000)).toBe('build');
    expect(guest.users.get(0)).toBe('root');
    expect(guest.groups.get(1000)).toBe('build');
    // No device nodes: the runner mounts /dev.
    expect(await readdir(join(dir, 'dev'))).toEqual([]);

    // The installed database lists exactly the resolved packages, in install order.
    const db = installedPackages(await readFile(join(dir, 'lib/apk/db/installed'), 'utf8'));
    expect(db).toEqual(guest.packages.map((p) => ({ name: p.name, version: p.version })));
    for (const name of BUILD_ENV) expect(db.map((p) => p.name)).toContain(name);
    expect(db.map((p) => p.name)).toEqual(
      expect.arrayContaining(['gcc-12', 'make', 'binutils', 'libc6-dev', 'tar']),
    );
    expect((await readFile(join(dir, 'etc/apk/world'), 'utf8')).trim().split('\n')).toEqual(
      [...BUILD_ENV].sort(),
    );
    expect(guest.world).toEqual([...BUILD_ENV].sort());
    expect(await readFile(join(dir, 'etc/apk/repositories'), 'utf8')).toBe(`${REPO}\n`);
    expect(await readdir(join(dir, 'etc/apk/keys'))).toEqual(['tk-bootstrap.rsa.pub']);

    // The resolver, called directly, gives the same list.
    const prepared = await prepareBuildFromConfig(
      { ...environment(BUILD_ENV), archs: ['amd64'] },
      { workdir: scratch, env: {} },
      { configDir: scratch },
    );
    const [resolved] = await resolveArchs(prepared);
    await prepared.fetcher.close?.();
    expect(guest.packages).toEqual(
      resolved!.packages.map((p) => ({ name: p.entry.name, version: p.entry.version, repository: REPO })),
    );

    // The pristine copy is in the cache; a second build copies it.
    expect(await readdir(join(cacheDir, 'guests'))).toEqual([guest.key]);
    const dir2 = join(scratch, 'x86_64', 'guest2');
    const again = await assembleGuest(options({ dir: dir2, cacheDir }));
    expect(again.fromCache).toBe(true);
    expect(again.key).toBe(guest.key);
    expect(again.packages).toEqual(guest.packages);
    expect(again.users).toEqual(guest.users);
    expect(again.groups).toEqual(guest.groups);
    expect(await readlink(join(dir2, 'usr/bin/gcc'))).toBe('gcc-12');
    expect(await readFile(join(dir2, 'lib/apk/db/installed'), 'utf8')).toBe(
      await readFile(join(dir, 'lib/apk/db/installed'), 'utf8'),
    );
    const st1 = await lstat(join(dir, 'usr/bin/x86_64-linux-gnu-gcc-12'));
    const st2 = await lstat(join(dir2, 'usr/bin/x86_64-linux-gnu-gcc-12'));
    expect([st2.mode, st2.uid, st2.gid, st2.size, st2.mtimeMs]).toEqual([
      st1.mode,
      st1.uid,
      st1.gid,
      st1.size,
      st1.mtimeMs,
    ]);
    // A copy, not the cached folder itself: writing into one guest leaves the cache alone.
    expect(st2.ino).not.toBe(st1.ino);
    await writeFile(join(dir2, 'etc/hosts'), 'changed\n');
    const cachedHosts = await readFile(join(cacheDir, 'guests', guest.key, 'root', 'etc/hosts'), 'utf8');
    expect(cachedHosts).not.toBe('changed\n');

    // Another package set is another key.
    const dir3 = join(scratch, 'x86_64', 'guest3');
    const small = await assembleGuest(
      options({
        dir: dir3,
        cacheDir,
        environment: environment(['busybox', 'busybox-binsh', 'tk-baselayout']),
      }),
    );
    expect(small.fromCache).toBe(false);
    expect(small.key).not.toBe(guest.key);
    expect((await readdir(join(cacheDir, 'guests'))).sort()).toEqual([guest.key, small.key].sort());
  });

  it('assembles aarch64 guests', async () => {
    const dir = join(scratch, 'aarch64', 'guest');
    const packages = ['busybox', 'busybox-binsh', 'make', 'tk-baselayout'];
    const guest = await assembleGuest(options({ dir, arch: 'aarch64', environment: environment(packages) }));
    expect(guest.arch).toBe('aarch64');
    expect(guest.fromCache).toBe(false);
    expect(guest.packages.map((p) => p.name)).toEqual(expect.arrayContaining([...packages, 'libc6']));
    expect(await readFile(join(dir, 'etc/apk/arch'), 'utf8')).toBe('aarch64\n');
    expect(existsSync(join(dir, 'lib/ld-linux-aarch64.so.1'))).toBe(true);
    // ELF e_machine 183 (EM_AARCH64) at byte 18.
    const elf = await readFile(join(dir, 'bin/busybox'));
    expect(elf.subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    expect(elf.readUInt16LE(18)).toBe(183);
  });

  it('fails with the resolver’s code and leaves no folder behind when a package cannot be resolved', async () => {
    const parent = join(scratch, 'unsat');
    const dir = join(parent, 'guest');
    const attempt = assembleGuest(
      options({ dir, environment: environment(['busybox', 'no-such-package-anywhere']) }),
    );
    await expect(attempt).rejects.toMatchObject({ code: expect.stringMatching(/^SOLVER_/) as unknown });
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(parent)).toBe(false);
  });

  it('leaves an empty target folder empty when it fails', async () => {
    const dir = join(scratch, 'empty-target');
    await mkdir(dir);
    await expect(
      assembleGuest(options({ dir, packageAppend: ['no-such-package-anywhere'] })),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^SOLVER_/) as unknown });
    expect(await readdir(dir)).toEqual([]);
    expect(await readdir(scratch)).not.toContainEqual(expect.stringMatching(/^\.empty-target-/));
  });

  it('appends repositories, keys and packages from the flags, and resolves relative paths against baseDir', async () => {
    const dir = join(scratch, 'append', 'guest');
    const env = parseImageConfig('contents:\n  packages: [tk-baselayout]\n');
    const guest = await assembleGuest(
      options({
        dir,
        environment: env,
        baseDir: join(REPO, '..'),
        repositoryAppend: ['./repo'],
        keyringAppend: ['./repo/tk-bootstrap.rsa.pub'],
        packageAppend: ['busybox-binsh'],
        cacheDir: join(scratch, 'append-cache'),
        noGuestCache: true,
      }),
    );
    expect(guest.fromCache).toBe(false);
    expect(existsSync(join(scratch, 'append-cache', 'guests'))).toBe(false);
    expect(guest.world).toEqual(['busybox-binsh', 'tk-baselayout']);
    expect(guest.packages.map((p) => p.name)).toEqual(
      expect.arrayContaining(['busybox', 'busybox-binsh', 'tk-baselayout']),
    );
    // --repository-append is a build repository: it resolves but is not written into the guest.
    expect(await readFile(join(dir, 'etc/apk/repositories'), 'utf8')).toBe('');
  });
});

describe('assembleGuest, before any resolving', () => {
  it('refuses a target folder that is not empty', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tk-guest-full-'));
    try {
      await writeFile(join(dir, 'keep-me'), 'x');
      await expect(
        assembleGuest({
          environment: parseImageConfig('contents:\n  packages: [busybox]\n'),
          arch: 'x86_64',
          baseDir: dir,
          dir,
          sourceDateEpoch: 0,
          env: {},
          isRoot: false,
        }),
      ).rejects.toMatchObject({ code: 'MELANGE_GUEST_DIR_NOT_EMPTY' });
      expect(await readdir(dir)).toEqual(['keep-me']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown arch', async () => {
    const dir = join(tmpdir(), `tk-guest-arch-${process.pid}`);
    await expect(
      assembleGuest({
        environment: parseImageConfig('contents:\n  packages: [busybox]\n'),
        arch: 'pdp11',
        baseDir: tmpdir(),
        dir,
        sourceDateEpoch: 0,
        env: {},
        isRoot: false,
      }),
    ).rejects.toMatchObject({ code: 'MELANGE_UNKNOWN_ARCH' });
    expect(existsSync(dir)).toBe(false);
  });

  it('reports a bad appended package with the configuration error code', async () => {
    const dir = join(tmpdir(), `tk-guest-bad-${process.pid}`);
    await expect(
      assembleGuest({
        environment: parseImageConfig('contents:\n  packages: [busybox]\n'),
        arch: 'x86_64',
        baseDir: tmpdir(),
        dir,
        sourceDateEpoch: 0,
        env: {},
        isRoot: false,
        packageAppend: ['busybox>=not a version'],
      }),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    expect(existsSync(dir)).toBe(false);
  });
});
