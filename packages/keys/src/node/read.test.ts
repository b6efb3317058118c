import { execFileSync } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, TESTREPO } from '../../test/fixtures.ts';
import { readKeyFile, readPrivateKey, readPublicKey } from './read.ts';

let temp: Awaited<ReturnType<typeof makeTempDir>>;

beforeAll(async () => {
  temp = await makeTempDir();
});

afterAll(async () => {
  await temp.cleanup();
});

describe('readPrivateKey / readPublicKey', () => {
  it("read apko's test key pair, with the path as source", async () => {
    const privateKey = await readPrivateKey(join(TESTREPO, 'melange.rsa'));
    const publicKey = await readPublicKey(join(TESTREPO, 'melange.rsa.pub'));
    expect(privateKey.source).toBe(join(TESTREPO, 'melange.rsa'));
    expect(privateKey.bits).toBe(4096);
    expect(publicKey.pem).toBe(await readFile(join(TESTREPO, 'melange.rsa.pub'), 'utf8'));
    expect(privateKey.fingerprint).toBe(publicKey.fingerprint);
  });

  it('follow symlinks', async () => {
    const link = join(temp.dir, 'linked.rsa.pub');
    await symlink(join(TESTREPO, 'melange.rsa.pub'), link);
    expect((await readPublicKey(link)).bits).toBe(4096);
  });

  it('report a missing file as KEY_NOT_FOUND, with the path', async () => {
    const path = join(temp.dir, 'missing.rsa.pub');
    await expect(readPublicKey(path)).rejects.toMatchObject({ code: 'KEY_NOT_FOUND', data: { path } });
    await expect(readPrivateKey(join(temp.dir, 'no-dir', 'x.rsa'))).rejects.toMatchObject({
      code: 'KEY_NOT_FOUND',
    });
    // A path through a file, not a directory.
    await expect(readPrivateKey(join(TESTREPO, 'melange.rsa', 'x'))).rejects.toMatchObject({
      code: 'KEY_NOT_FOUND',
    });
  });

  it('refuse a directory with KEY_READ_FAILED', async () => {
    const dir = join(temp.dir, 'a-directory.rsa.pub');
    await mkdir(dir);
    await expect(readPublicKey(dir)).rejects.toMatchObject({ code: 'KEY_READ_FAILED' });
    await expect(readPrivateKey(dir)).rejects.toMatchObject({ code: 'KEY_READ_FAILED' });
  });

  it('refuse a FIFO without blocking on it', async () => {
    const fifo = join(temp.dir, 'fifo.rsa.pub');
    execFileSync('mkfifo', [fifo]);
    await expect(readPublicKey(fifo)).rejects.toMatchObject({ code: 'KEY_READ_FAILED' });
  });

  it('refuse a symlink loop with KEY_READ_FAILED', async () => {
    const loop = join(temp.dir, 'loop.rsa.pub');
    await symlink(loop, loop);
    await expect(readPublicKey(loop)).rejects.toMatchObject({
      code: 'KEY_READ_FAILED',
      data: { errno: 'ELOOP' },
    });
  });

  it('refuse a file over 64 KiB without parsing it', async () => {
    const big = join(temp.dir, 'big.rsa.pub');
    await writeFile(big, new Uint8Array(1024 * 1024).fill(0x41));
    await expect(readPublicKey(big)).rejects.toMatchObject({ code: 'KEY_INPUT_TOO_LARGE' });
  });

  it('refuse garbage, empty files and the wrong kind of key', async () => {
    const garbage = join(temp.dir, 'garbage.rsa.pub');
    const empty = join(temp.dir, 'empty.rsa.pub');
    await writeFile(garbage, 'not a key\n');
    await writeFile(empty, '');
    await expect(readPublicKey(garbage)).rejects.toMatchObject({ code: 'KEY_BAD_PEM' });
    await expect(readPublicKey(empty)).rejects.toMatchObject({ code: 'KEY_BAD_PEM' });
    await expect(readPublicKey(join(TESTREPO, 'melange.rsa'))).rejects.toMatchObject({
      code: 'KEY_WRONG_KIND',
    });
    await expect(readPrivateKey(join(TESTREPO, 'melange.rsa.pub'))).rejects.toMatchObject({
      code: 'KEY_WRONG_KIND',
    });
  });

  it('report an unreadable path as KEY_READ_FAILED (a directory: unreadable even for root)', async () => {
    await expect(readPrivateKey(temp.dir)).rejects.toMatchObject({ code: 'KEY_READ_FAILED' });
  });
});

describe('readKeyFile', () => {
  it('returns the exact bytes as a Uint8Array', async () => {
    const bytes = await readKeyFile(join(TESTREPO, 'melange.rsa.pub'));
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(bytes).equals(await readFile(join(TESTREPO, 'melange.rsa.pub')))).toBe(true);
  });

  it('reads a file of exactly 64 KiB', async () => {
    const path = join(temp.dir, 'limit');
    await writeFile(path, new Uint8Array(64 * 1024));
    expect((await readKeyFile(path)).byteLength).toBe(64 * 1024);
  });
});
