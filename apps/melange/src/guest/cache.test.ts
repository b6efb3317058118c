import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRecordingLogger } from '@tk/core';
import {
  guestKey,
  readCachedGuest,
  stableJson,
  storeGuest,
  type GuestKeyInput,
  type GuestRecord,
} from './cache.ts';

const INPUT: GuestKeyInput = {
  arch: 'x86_64',
  owners: true,
  packages: [
    { name: 'busybox', version: '1.36.1-r0', checksum: 'Q1aaaa=' },
    { name: 'hello', version: '2.10-r0', checksum: 'Q1bbbb=', pin: 'local' },
  ],
  world: ['busybox', 'hello@local'],
  config: { accounts: { users: [{ username: 'build', uid: 1000 }], groups: [] }, paths: [] },
};

function record(key: string): GuestRecord {
  return {
    format: 1,
    key,
    arch: 'x86_64',
    packages: [{ name: 'busybox', version: '1.36.1-r0', repository: '/repo' }],
    world: ['busybox'],
    users: [
      [0, 'root'],
      [1000, 'build'],
    ],
    groups: [[0, 'root']],
    sourceDateEpoch: 1700000000,
  };
}

describe('guestKey', () => {
  it('is stable against key order and changes with every input that shapes the tree', () => {
    const key = guestKey(INPUT);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(
      guestKey({
        world: INPUT.world,
        packages: INPUT.packages,
        config: INPUT.config,
        owners: true,
        arch: 'x86_64',
      }),
    ).toBe(key);
    expect(guestKey({ ...INPUT, arch: 'aarch64' })).not.toBe(key);
    expect(guestKey({ ...INPUT, owners: false })).not.toBe(key);
    expect(guestKey({ ...INPUT, world: ['busybox'] })).not.toBe(key);
    expect(
      guestKey({ ...INPUT, packages: [{ ...INPUT.packages[0]!, checksum: 'Q1cccc=' }, INPUT.packages[1]!] }),
    ).not.toBe(key);
    expect(
      guestKey({ ...INPUT, packages: [INPUT.packages[0]!, { ...INPUT.packages[1]!, pin: undefined }] }),
    ).not.toBe(key);
    expect(
      guestKey({
        ...INPUT,
        config: { accounts: { users: [{ username: 'build', uid: 1001 }], groups: [] }, paths: [] },
      }),
    ).not.toBe(key);
  });

  it('stableJson sorts keys at every level and drops undefined members', () => {
    expect(stableJson({ b: 1, a: { d: [{ z: 1, y: undefined, x: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[{"x":2,"z":1}]},"b":1}',
    );
  });
});

describe('the guest cache folder', () => {
  let cacheDir: string;
  beforeEach(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'tk-guest-cache-'));
  });
  afterEach(async () => {
    await rm(cacheDir, { recursive: true, force: true });
  });

  const writeRoot = (text: string) => async (root: string) => {
    await mkdir(join(root, 'etc'), { recursive: true });
    await writeFile(join(root, 'etc', 'marker'), text);
  };

  it('stores a guest and finds it again', async () => {
    const key = guestKey(INPUT);
    expect(await readCachedGuest(cacheDir, key, createRecordingLogger())).toBeUndefined();
    const root = await storeGuest(cacheDir, record(key), writeRoot('one'));
    expect(root).toBe(join(cacheDir, 'guests', key, 'root'));
    const hit = await readCachedGuest(cacheDir, key, createRecordingLogger());
    expect(hit?.root).toBe(root);
    expect(hit?.record).toEqual(record(key));
    expect(await readdir(join(cacheDir, 'guests'))).toEqual([key]);
  });

  it('keeps the first entry when two builds store the same guest', async () => {
    const key = guestKey(INPUT);
    await Promise.all([
      storeGuest(cacheDir, record(key), writeRoot('one')),
      storeGuest(cacheDir, record(key), writeRoot('two')),
    ]);
    expect(await readdir(join(cacheDir, 'guests'))).toEqual([key]);
    expect(['one', 'two']).toContain(
      await readFile(join(cacheDir, 'guests', key, 'root', 'etc', 'marker'), 'utf8'),
    );
  });

  it('leaves no staging folder behind when writing the root fails', async () => {
    const key = guestKey(INPUT);
    await expect(
      storeGuest(cacheDir, record(key), async () => {
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect(await readdir(join(cacheDir, 'guests'))).toEqual([]);
  });

  it.each([
    ['not JSON', '{"format":1,'],
    ['another key', JSON.stringify(record('0'.repeat(64)))],
    ['another format', JSON.stringify({ ...record('KEY'), format: 99 })],
    ['a bad user table', JSON.stringify({ ...record('KEY'), users: [[-1, 'root']] })],
    [
      'a package without a version',
      JSON.stringify({ ...record('KEY'), packages: [{ name: 'x', repository: '/r' }] }),
    ],
    ['a JSON array', '[]'],
    ['JSON null', 'null'],
  ])('drops an entry whose guest.json is %s, with a warning', async (_what, text) => {
    const key = guestKey(INPUT);
    await storeGuest(cacheDir, record(key), writeRoot('one'));
    await writeFile(join(cacheDir, 'guests', key, 'guest.json'), text.replace('KEY', key));
    const logger = createRecordingLogger();
    expect(await readCachedGuest(cacheDir, key, logger)).toBeUndefined();
    expect(logger.messages.map((m) => m.code)).toEqual(['MELANGE_GUEST_CACHE_DAMAGED']);
    expect(await readdir(join(cacheDir, 'guests'))).toEqual([]);
  });

  it('drops an entry without its root folder', async () => {
    const key = guestKey(INPUT);
    await storeGuest(cacheDir, record(key), writeRoot('one'));
    await rm(join(cacheDir, 'guests', key, 'root'), { recursive: true });
    expect(await readCachedGuest(cacheDir, key, createRecordingLogger())).toBeUndefined();
    expect(await readdir(join(cacheDir, 'guests'))).toEqual([]);
  });

  it('never looks up a key that is not 64 hex digits (no path tricks)', async () => {
    await mkdir(join(cacheDir, 'guests', 'x', 'root'), { recursive: true });
    expect(await readCachedGuest(cacheDir, '../guests/x', createRecordingLogger())).toBeUndefined();
    await expect(storeGuest(cacheDir, record('../evil'), writeRoot('one'))).rejects.toThrow(/bad guest key/);
  });
});
