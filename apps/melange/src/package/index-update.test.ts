import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApk, emptyPkgInfo } from '@tk/apk';
import { createRecordingLogger, utf8 } from '@tk/core';
import { generateKeyPair, loadKeyring, writeKeyPair, type Keyring } from '@tk/keys';
import { readIndexArchive, verifyIndexArchive } from '@tk/repo';
import { acquireIndexLock, INDEX_LOCK_NAME, type IndexLockOptions } from './index-lock.ts';
import { INDEX_FILE_NAME, updateIndex } from './index-update.ts';

let keys: string;
let keyPath: string;
let keyring: Keyring;
let dir: string;

beforeAll(async () => {
  keys = mkdtempSync(join(tmpdir(), 'tk-index-keys-'));
  keyPath = join(keys, 'idx.rsa');
  await writeKeyPair(keyPath, await generateKeyPair({ bits: 2048 }));
  keyring = await loadKeyring([`${keyPath}.pub`]);
});
afterAll(() => rmSync(keys, { recursive: true, force: true }));
beforeEach((ctx) => {
  dir = mkdtempSync(join(tmpdir(), 'tk-index-'));
  ctx.onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
});

/** Write a tiny package `<name>-<version>.apk` into the arch dir. */
async function makePackage(name: string, version: string, content = name, arch = 'x86_64'): Promise<string> {
  const { bytes } = await buildApk({
    pkginfo: { ...emptyPkgInfo(name, version), arch, origin: name },
    files: [{ path: `usr/share/${name}`, type: 'file', data: utf8(content) }],
    sourceDateEpoch: 0,
  });
  const path = join(dir, `${name}-${version}.apk`);
  writeFileSync(path, bytes);
  return path;
}

/** A process identity that is always alive: two of these act as two concurrent processes. */
const owner = (pid: number, extra: IndexLockOptions = {}): IndexLockOptions => ({
  pid,
  hostname: 'test-host',
  isAlive: () => true,
  clock: () => 0,
  monotonic: () => 0,
  ...extra,
});

function entries(): { name: string; version: string; checksum: string }[] {
  const bytes = new Uint8Array(readFileSync(join(dir, INDEX_FILE_NAME)));
  return readIndexArchive(bytes).entries.map((e) => ({
    name: e.name,
    version: e.version,
    checksum: e.checksum,
  }));
}

describe('updateIndex', () => {
  it('creates a signed index, merges new packages, replaces the same name and version', async () => {
    const a = await makePackage('aaa', '1.0-r0');
    const path = await updateIndex({ archDir: dir, packages: [a], arch: 'x86_64', signingKey: keyPath });
    expect(path).toBe(join(dir, INDEX_FILE_NAME));
    const bytes = new Uint8Array(readFileSync(path));
    expect(verifyIndexArchive(bytes, readIndexArchive(bytes), keyring)).toMatchObject({
      status: 'OK',
      verifiedBy: ['idx.rsa.pub'],
    });
    expect(entries().map((e) => e.name)).toEqual(['aaa']);

    const b = await makePackage('bbb', '2.0-r1');
    await updateIndex({ archDir: dir, packages: [b], arch: 'x86_64', signingKey: keyPath });
    expect(entries().map((e) => `${e.name}-${e.version}`)).toEqual(['aaa-1.0-r0', 'bbb-2.0-r1']);
    const before = entries()[0]!.checksum;

    // Rebuilt aaa 1.0-r0 with other content: replaced, not duplicated.
    const a2 = await makePackage('aaa', '1.0-r0', 'rebuilt');
    await updateIndex({
      archDir: dir,
      packages: [a2],
      arch: 'x86_64',
      signingKey: keyPath,
      signatureAlgorithm: 'sha1',
    });
    const after = entries();
    expect(after.map((e) => `${e.name}-${e.version}`)).toEqual(['aaa-1.0-r0', 'bbb-2.0-r1']);
    expect(after[0]!.checksum).not.toBe(before);
    const signed = new Uint8Array(readFileSync(path));
    const archive = readIndexArchive(signed);
    expect(archive.signatures[0]!.entryName).toBe('.SIGN.RSA.idx.rsa.pub');
    expect(verifyIndexArchive(signed, archive, keyring).status).toBe('OK');
    expect(existsSync(join(dir, INDEX_LOCK_NAME))).toBe(false);
  });

  it('skips packages of another arch with a warning', async () => {
    const logger = createRecordingLogger();
    const x = await makePackage('x', '1-r0', 'x', 'aarch64');
    const n = await makePackage('n', '1-r0', 'n', 'noarch');
    await updateIndex({ archDir: dir, packages: [x, n], arch: 'x86_64', logger });
    expect(entries().map((e) => e.name)).toEqual(['n']);
    expect(logger.messages.find((m) => m.level === 'warn')?.code).toBe('MELANGE_INDEX_ARCH_MISMATCH');
  });

  it('two concurrent updates by different processes both land', async () => {
    const pkgs = await Promise.all(['p1', 'p2', 'p3', 'p4'].map((n) => makePackage(n, '1-r0')));
    const waited: string[] = [];
    await Promise.all(
      pkgs.map((p, i) =>
        updateIndex({
          archDir: dir,
          packages: [p],
          arch: 'x86_64',
          signingKey: keyPath,
          lock: owner(1000 + i, {
            onWait: (holder) => waited.push(holder),
            sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
          }),
        }),
      ),
    );
    expect(entries().map((e) => e.name)).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(waited.length).toBeGreaterThan(0); // the lock really serialised them
    expect(existsSync(join(dir, INDEX_LOCK_NAME))).toBe(false);
  });

  it('refuses to rewrite an index that does not parse, and leaves it as it was', async () => {
    writeFileSync(join(dir, INDEX_FILE_NAME), 'this is not a gzip file');
    const a = await makePackage('aaa', '1.0-r0');
    await expect(updateIndex({ archDir: dir, packages: [a], arch: 'x86_64' })).rejects.toMatchObject({
      code: 'MELANGE_INDEX_CORRUPT',
    });
    expect(readFileSync(join(dir, INDEX_FILE_NAME), 'utf8')).toBe('this is not a gzip file');
    expect(existsSync(join(dir, INDEX_LOCK_NAME))).toBe(false);
  });

  it('a writer that dies before the rename leaves the old index intact and releases the lock', async () => {
    const a = await makePackage('aaa', '1.0-r0');
    await updateIndex({ archDir: dir, packages: [a], arch: 'x86_64', signingKey: keyPath });
    const old = readFileSync(join(dir, INDEX_FILE_NAME));
    const b = await makePackage('bbb', '1.0-r0');
    await expect(
      updateIndex({
        archDir: dir,
        packages: [b],
        arch: 'x86_64',
        signingKey: keyPath,
        writeIndex: async (path, bytes) => {
          // Half of the new index reaches a temporary file, then the process "dies".
          writeFileSync(`${path}.partial.tmp`, bytes.subarray(0, bytes.length >> 1));
          throw new Error('ENOSPC: no space left on device');
        },
      }),
    ).rejects.toMatchObject({ code: 'MELANGE_INDEX_WRITE_FAILED' });
    expect(readFileSync(join(dir, INDEX_FILE_NAME)).equals(old)).toBe(true);
    expect(entries().map((e) => e.name)).toEqual(['aaa']);
    expect(existsSync(join(dir, INDEX_LOCK_NAME))).toBe(false);
  });
});

describe('the index lock', () => {
  it('takes over a stale lock left by a dead process', async () => {
    // A real process that has exited: its pid is free (ESRCH).
    const child = spawn(process.execPath, ['-e', '0']);
    const pid = child.pid!;
    await new Promise((resolve) => child.on('exit', resolve));
    writeFileSync(join(dir, INDEX_LOCK_NAME), `${pid} ${hostname()} 1\n`);
    const a = await makePackage('aaa', '1.0-r0');
    await updateIndex({ archDir: dir, packages: [a], arch: 'x86_64' });
    expect(entries().map((e) => e.name)).toEqual(['aaa']);
    expect(existsSync(join(dir, INDEX_LOCK_NAME))).toBe(false);
  });

  it('waits for a live holder and proceeds once it is gone', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)']);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    writeFileSync(join(dir, INDEX_LOCK_NAME), `${child.pid!} ${hostname()} 1\n`);
    const a = await makePackage('aaa', '1.0-r0');
    let waiting!: () => void;
    const announced = new Promise<void>((resolve) => (waiting = resolve));
    const update = updateIndex({
      archDir: dir,
      packages: [a],
      arch: 'x86_64',
      lock: { onWait: () => waiting() },
    });
    await announced;
    expect(existsSync(join(dir, INDEX_FILE_NAME))).toBe(false); // still waiting: nothing written
    child.kill('SIGKILL');
    await exited;
    await update;
    expect(entries().map((e) => e.name)).toEqual(['aaa']);
  });

  it('gives up after the time limit with a coded error, leaving the holder its lock', async () => {
    let now = 0;
    const clock: IndexLockOptions = {
      monotonic: () => now,
      sleep: async (ms) => void (now += ms),
      timeoutMs: 5_000,
    };
    const held = await acquireIndexLock(dir, owner(1));
    await expect(acquireIndexLock(dir, owner(2, clock))).rejects.toMatchObject({
      code: 'MELANGE_INDEX_LOCK_TIMEOUT',
    });
    // A holder on another host cannot be checked: it is waited for too, even when "dead" here.
    await held.release();
    writeFileSync(join(dir, INDEX_LOCK_NAME), '999999 other-host 1\n');
    now = 0;
    await expect(acquireIndexLock(dir, owner(2, { ...clock, isAlive: () => false }))).rejects.toMatchObject({
      code: 'MELANGE_INDEX_LOCK_TIMEOUT',
    });
    expect(readFileSync(join(dir, INDEX_LOCK_NAME), 'utf8')).toBe('999999 other-host 1\n');
  });

  it('two waiters that find the same stale lock never hold the lock at once', async () => {
    writeFileSync(join(dir, INDEX_LOCK_NAME), '424242 test-host 1\n');
    const dead = (pid: number): boolean => pid === 424242;
    let inside = 0;
    let maxInside = 0;
    const run = async (pid: number): Promise<void> => {
      const lock = await acquireIndexLock(
        dir,
        owner(pid, { isAlive: (p) => !dead(p), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) }),
      );
      inside++;
      maxInside = Math.max(maxInside, inside);
      await new Promise((r) => setTimeout(r, 5));
      inside--;
      await lock.release();
    };
    await Promise.all([run(1), run(2), run(3)]);
    expect(maxInside).toBe(1);
    expect(existsSync(join(dir, INDEX_LOCK_NAME))).toBe(false);
  });

  it('release only removes its own lock', async () => {
    const lock = await acquireIndexLock(dir, owner(7));
    writeFileSync(join(dir, INDEX_LOCK_NAME), '8 test-host 0\n'); // someone broke in
    await lock.release();
    expect(readFileSync(join(dir, INDEX_LOCK_NAME), 'utf8')).toBe('8 test-host 0\n');
  });

  it('an unreadable lock file is treated as held (hostile content)', async () => {
    let now = 0;
    writeFileSync(join(dir, INDEX_LOCK_NAME), '\u0000garbage');
    await expect(
      acquireIndexLock(
        dir,
        owner(2, {
          isAlive: () => false,
          monotonic: () => now,
          sleep: async (ms) => void (now += ms),
          timeoutMs: 1000,
        }),
      ),
    ).rejects.toMatchObject({ code: 'MELANGE_INDEX_LOCK_TIMEOUT' });
  });
});
