import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir, TESTREPO } from '../../test/fixtures.ts';
import { generateKeyPair } from '../generate.ts';
import { parsePrivateKey, publicKeyFromPrivate, type KeyPair } from '../key.ts';
import { readPrivateKey, readPublicKey } from './read.ts';
import { writeKeyPair } from './write.ts';

let pair: KeyPair;
let otherPair: KeyPair;
let temp: Awaited<ReturnType<typeof makeTempDir>>;

beforeAll(async () => {
  [pair, otherPair] = await Promise.all([generateKeyPair({ bits: 2048 }), generateKeyPair({ bits: 2048 })]);
});

beforeEach(async () => {
  temp = await makeTempDir();
});

afterEach(async () => {
  await temp.cleanup();
});

function mode(stats: { mode: number }): number {
  return stats.mode & 0o777;
}

describe('writeKeyPair', () => {
  it('writes <path> (0600, PKCS#1) and <path>.pub (0644, SPKI) that read back as the same keys', async () => {
    const path = join(temp.dir, 'melange.rsa');
    const written = await writeKeyPair(path, pair);
    expect(written).toEqual({ privateKeyPath: path, publicKeyPath: `${path}.pub` });
    expect(mode(await stat(path))).toBe(0o600);
    expect(mode(await stat(`${path}.pub`))).toBe(0o644);
    expect(await readFile(path, 'utf8')).toBe(pair.privateKey.pem);
    expect(await readFile(`${path}.pub`, 'utf8')).toBe(pair.publicKey.pem);
    expect((await readPrivateKey(path)).fingerprint).toBe(pair.publicKey.fingerprint);
    expect((await readPublicKey(`${path}.pub`)).fingerprint).toBe(pair.publicKey.fingerprint);
    // No temporary files are left behind.
    expect((await readdir(temp.dir)).sort()).toEqual(['melange.rsa', 'melange.rsa.pub']);
  });

  it("writes apko's test key back byte for byte", async () => {
    const privateKey = parsePrivateKey(await readFile(join(TESTREPO, 'melange.rsa')));
    const path = join(temp.dir, 'melange.rsa');
    await writeKeyPair(path, { privateKey, publicKey: publicKeyFromPrivate(privateKey) });
    expect(await readFile(path)).toEqual(await readFile(join(TESTREPO, 'melange.rsa')));
    expect(await readFile(`${path}.pub`)).toEqual(await readFile(join(TESTREPO, 'melange.rsa.pub')));
  });

  it.each([['the private key'], ['the public key']])(
    'refuses to replace %s without force (KEY_EXISTS)',
    async (which) => {
      const path = join(temp.dir, 'melange.rsa');
      const existing = which === 'the private key' ? path : `${path}.pub`;
      await writeFile(existing, 'precious\n');
      await expect(writeKeyPair(path, pair)).rejects.toMatchObject({
        code: 'KEY_EXISTS',
        data: { path: existing },
      });
      expect(await readFile(existing, 'utf8')).toBe('precious\n');
      expect(await readdir(temp.dir)).toEqual([existing === path ? 'melange.rsa' : 'melange.rsa.pub']);
    },
  );

  it('refuses to write through a dangling symlink without force', async () => {
    const path = join(temp.dir, 'melange.rsa');
    await symlink(join(temp.dir, 'elsewhere'), path);
    await expect(writeKeyPair(path, pair)).rejects.toMatchObject({ code: 'KEY_EXISTS' });
    expect((await readdir(temp.dir)).sort()).toEqual(['melange.rsa']);
  });

  it('replaces both files with force, resetting their modes', async () => {
    const path = join(temp.dir, 'melange.rsa');
    await writeKeyPair(path, pair);
    await writeKeyPair(path, otherPair, { force: true });
    expect(await readFile(path, 'utf8')).toBe(otherPair.privateKey.pem);
    expect(await readFile(`${path}.pub`, 'utf8')).toBe(otherPair.publicKey.pem);
    expect(mode(await stat(path))).toBe(0o600);
    expect(mode(await stat(`${path}.pub`))).toBe(0o644);
    expect((await readdir(temp.dir)).sort()).toEqual(['melange.rsa', 'melange.rsa.pub']);
  });

  it('refuses a pair whose halves do not match (KEY_PAIR_MISMATCH) and writes nothing', async () => {
    const path = join(temp.dir, 'melange.rsa');
    await expect(
      writeKeyPair(path, { privateKey: pair.privateKey, publicKey: otherPair.publicKey }),
    ).rejects.toMatchObject({
      code: 'KEY_PAIR_MISMATCH',
    });
    expect(await readdir(temp.dir)).toEqual([]);
  });

  it('refuses a pair with the halves swapped (KEY_WRONG_KIND)', async () => {
    const swapped = { privateKey: pair.publicKey, publicKey: pair.privateKey } as unknown as KeyPair;
    await expect(writeKeyPair(join(temp.dir, 'x.rsa'), swapped)).rejects.toMatchObject({
      code: 'KEY_WRONG_KIND',
    });
  });

  it('writes normalised text for a hand-assembled pair (PKCS#8 private key, PKCS#1 public key)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const pkcs1Public = publicKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    const handMade = {
      privateKey: { type: 'private', bits: 2048, pem: pkcs8, fingerprint: '', source: 'hand' },
      publicKey: { type: 'public', bits: 2048, pem: pkcs1Public, fingerprint: '', source: 'hand' },
    } as const;
    const path = join(temp.dir, 'hand.rsa');
    await writeKeyPair(path, handMade);
    expect(await readFile(path, 'utf8')).toBe(privateKey.export({ type: 'pkcs1', format: 'pem' }));
    expect(await readFile(`${path}.pub`, 'utf8')).toBe(publicKey.export({ type: 'spki', format: 'pem' }));
  });

  it('reports a missing directory as KEY_WRITE_FAILED', async () => {
    await expect(writeKeyPair(join(temp.dir, 'no', 'such', 'melange.rsa'), pair)).rejects.toMatchObject({
      code: 'KEY_WRITE_FAILED',
    });
  });

  it('reports a directory in the way of the public key as KEY_WRITE_FAILED with force, and keeps no half pair', async () => {
    const path = join(temp.dir, 'melange.rsa');
    await mkdir(`${path}.pub`);
    await expect(writeKeyPair(path, pair)).rejects.toMatchObject({ code: 'KEY_EXISTS' });
    await expect(writeKeyPair(path, pair, { force: true })).rejects.toMatchObject({
      code: 'KEY_WRITE_FAILED',
    });
    expect((await readdir(temp.dir)).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });

  it.each([[''], ['/']])('refuses the path %j with KEY_BAD_NAME', async (path) => {
    await expect(writeKeyPair(path, pair)).rejects.toMatchObject({ code: 'KEY_BAD_NAME' });
  });
});
