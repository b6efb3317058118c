import { generateKeyPairSync } from 'node:crypto';
import { copyFile, mkdir, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRecordingLogger } from '@tk/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KEYS_DIR, makeTempDir, MULTISIG_KEYS_DIR, TESTREPO } from '../../test/fixtures.ts';
import { createKeyring } from '../keyring.ts';
import { loadKeyring } from './load-keyring.ts';

let temp: Awaited<ReturnType<typeof makeTempDir>>;

beforeEach(async () => {
  temp = await makeTempDir();
});

afterEach(async () => {
  await temp.cleanup();
});

describe('loadKeyring with real keys', () => {
  it('loads all 19 keys of test-fixtures/real/keys: the 451-byte Alpine keys are 2048-bit, the 800-byte ones 4096-bit', async () => {
    const logger = createRecordingLogger();
    const keyring = await loadKeyring([KEYS_DIR], { logger });
    const files = (await readdir(KEYS_DIR)).sort();
    expect(keyring.size).toBe(19);
    expect(keyring.names()).toEqual(files);
    expect(logger.messages.filter((message) => message.level === 'warn')).toEqual([]);
    let small = 0;
    let large = 0;
    for (const { name, key } of keyring.entries()) {
      const { size } = await stat(join(KEYS_DIR, name));
      if (size === 451) {
        expect(key.bits, name).toBe(2048);
        small += 1;
      } else {
        expect(size, name).toBe(800);
        expect(key.bits, name).toBe(4096);
        large += 1;
      }
    }
    expect([small, large]).toEqual([9, 10]);
    // Distinct keys have distinct fingerprints.
    expect(new Set(keyring.entries().map(({ key }) => key.fingerprint)).size).toBe(19);
  });

  it('loads the three multisig keys, and apko’s test key by explicit file name', async () => {
    const keyring = await loadKeyring([MULTISIG_KEYS_DIR, join(TESTREPO, 'melange.rsa.pub')]);
    expect(keyring.size).toBe(4);
    expect(keyring.names().at(-1)).toBe('melange.rsa.pub');
    for (const { key } of keyring.entries()) expect(key.bits).toBe(4096);
    expect(
      keyring.get('chainguard-0106f58bac88057c2ff5c2829850df492717a876ed700443550353c7ab23f5a0.rsa.pub'),
    ).toBeDefined();
  });

  it('adds to a given keyring', async () => {
    const keyring = createKeyring();
    const returned = await loadKeyring([join(TESTREPO, 'melange.rsa.pub')], { keyring });
    expect(returned).toBe(keyring);
    expect(keyring.names()).toEqual(['melange.rsa.pub']);
  });
});

describe('loadKeyring with hostile directories', () => {
  it('skips what is not a key with a warning, ignores non-.pub names, and loads the rest in name order', async () => {
    const dir = join(temp.dir, 'keys');
    await mkdir(dir);
    await copyFile(join(TESTREPO, 'melange.rsa.pub'), join(dir, 'melange.rsa.pub'));
    await copyFile(join(KEYS_DIR, 'wolfi-signing.rsa.pub'), join(dir, 'b-wolfi.rsa.pub'));
    await writeFile(join(dir, 'README.md'), '# keys\n');
    await writeFile(join(dir, 'notes.txt'), 'hello\n');
    await copyFile(join(TESTREPO, 'melange.rsa.pub'), join(dir, '.hidden.rsa.pub'));
    await writeFile(join(dir, 'garbage.rsa.pub'), 'garbage\n');
    await writeFile(join(dir, 'empty.rsa.pub'), '');
    await copyFile(join(TESTREPO, 'melange.rsa'), join(dir, 'private.rsa.pub'));
    await writeFile(
      join(dir, 'ec.rsa.pub'),
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }),
    );
    await mkdir(join(dir, 'subdir.pub'));
    await symlink(join(dir, 'loop.rsa.pub'), join(dir, 'loop.rsa.pub'));
    await symlink(join(dir, 'nowhere'), join(dir, 'dangling.rsa.pub'));
    await symlink(join(dir, 'melange.rsa.pub'), join(dir, 'alias.rsa.pub'));

    const logger = createRecordingLogger();
    const keyring = await loadKeyring([dir], { logger });
    expect(keyring.names()).toEqual(['alias.rsa.pub', 'b-wolfi.rsa.pub', 'melange.rsa.pub']);
    const warnings = logger.messages.filter((message) => message.level === 'warn');
    expect(warnings.map((warning) => [warning.message.split(':')[0], warning.code])).toEqual([
      [`skipping ${join(dir, 'dangling.rsa.pub')}`, 'KEY_NOT_FOUND'],
      [`skipping ${join(dir, 'ec.rsa.pub')}`, 'KEY_NOT_RSA'],
      [`skipping ${join(dir, 'empty.rsa.pub')}`, 'KEY_BAD_PEM'],
      [`skipping ${join(dir, 'garbage.rsa.pub')}`, 'KEY_BAD_PEM'],
      [`skipping ${join(dir, 'loop.rsa.pub')}`, 'KEY_READ_FAILED'],
      [`skipping ${join(dir, 'private.rsa.pub')}`, 'KEY_WRONG_KIND'],
      [`skipping ${join(dir, 'subdir.pub')}`, 'KEY_READ_FAILED'],
    ]);
    const debug = logger.messages
      .filter((message) => message.level === 'debug')
      .map((message) => message.message);
    expect(debug).toContain(`ignoring ${join(dir, 'README.md')}: not a *.pub file`);
    expect(debug).toContain(`ignoring ${join(dir, '.hidden.rsa.pub')}: not a *.pub file`);
  });

  it('loads an empty directory as an empty keyring', async () => {
    expect((await loadKeyring([temp.dir])).size).toBe(0);
  });

  it('refuses an explicitly named file that is not a key', async () => {
    const garbage = join(temp.dir, 'garbage.rsa.pub');
    await writeFile(garbage, 'garbage\n');
    await expect(loadKeyring([garbage])).rejects.toMatchObject({ code: 'KEY_BAD_PEM' });
    await expect(loadKeyring([join(TESTREPO, 'melange.rsa')])).rejects.toMatchObject({
      code: 'KEY_WRONG_KIND',
    });
  });

  it('refuses a missing path and a symlink loop given explicitly', async () => {
    await expect(loadKeyring([join(temp.dir, 'missing.rsa.pub')])).rejects.toMatchObject({
      code: 'KEY_NOT_FOUND',
    });
    const loop = join(temp.dir, 'loop.rsa.pub');
    await symlink(loop, loop);
    await expect(loadKeyring([loop])).rejects.toMatchObject({ code: 'KEY_READ_FAILED' });
  });

  it('refuses two different keys with one name (KEY_DUPLICATE_NAME), but not the same key twice', async () => {
    const a = join(temp.dir, 'a');
    const b = join(temp.dir, 'b');
    const c = join(temp.dir, 'c');
    await Promise.all([mkdir(a), mkdir(b), mkdir(c)]);
    await copyFile(join(TESTREPO, 'melange.rsa.pub'), join(a, 'melange.rsa.pub'));
    await copyFile(join(TESTREPO, 'melange.rsa.pub'), join(b, 'melange.rsa.pub'));
    await copyFile(join(KEYS_DIR, 'wolfi-signing.rsa.pub'), join(c, 'melange.rsa.pub'));
    expect((await loadKeyring([a, b, join(TESTREPO, 'melange.rsa.pub')])).size).toBe(1);
    await expect(loadKeyring([a, c])).rejects.toMatchObject({ code: 'KEY_DUPLICATE_NAME' });
    await expect(loadKeyring([join(c, 'melange.rsa.pub'), a])).rejects.toMatchObject({
      code: 'KEY_DUPLICATE_NAME',
    });
  });
});
