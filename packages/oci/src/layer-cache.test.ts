import { execFileSync } from 'node:child_process';
import {
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRecordingLogger, utf8 } from '@tk/core';
import type * as TkGzip from '@tk/gzip';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildLayer, type LayerEntry } from './layer.ts';
import { sha256Digest } from './digest.ts';
import {
  createDiskLayerCache,
  DEFAULT_LAYER_CACHE_MAX_BYTES,
  layerCacheKey,
  layerCacheKeyText,
  STALE_TEMP_MS,
  type CachedLayerBlob,
  type LayerCache,
} from './layer-cache.ts';

// Count calls of the compressor while keeping its real output.
const gzipCalls = vi.hoisted(() => ({ count: 0 }));
vi.mock('@tk/gzip', async (importOriginal) => {
  const real = await importOriginal<typeof TkGzip>();
  return {
    ...real,
    gzip: (...args: Parameters<typeof real.gzip>) => {
      gzipCalls.count++;
      return real.gzip(...args);
    },
  };
});

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tk-layer-cache-'));
  dirs.push(dir);
  return dir;
}

/** A small synthetic root, with one file spanning two 64 KiB gzip blocks. */
function entries(extra = ''): LayerEntry[] {
  const big = utf8(Array.from({ length: 12000 }, (_, i) => `line ${i} ${(i * 7919) % 1000}\n`).join(''));
  return [
    { path: 'etc', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: 0 },
    { path: 'etc/motd', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: utf8(`hi${extra}\n`) },
    { path: 'usr/share/big.txt', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: big },
    { path: 'bin/sh', type: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime: 0, linkname: '/bin/busybox' },
  ];
}
const GZIP = { blockSize: 64 * 1024 };

beforeEach(() => {
  gzipCalls.count = 0;
});

/** The only entry file of a cache. */
function entryFile(cacheDir: string): string {
  const dir = join(cacheDir, 'layers', 'sha256');
  const names = readdirSync(dir).sort();
  expect(names).toHaveLength(1);
  return join(dir, names[0]!);
}

describe('layerCacheKey', () => {
  it('covers the diff_id, the size and every gzip setting that changes the bytes, but not threads', () => {
    const diffId = `sha256:${'a'.repeat(64)}`;
    const base = layerCacheKey(diffId, 1024);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(layerCacheKey(diffId, 1024, { level: 6, blockSize: 1 << 20, threads: 3 })).toBe(base);
    expect(layerCacheKey(`sha256:${'b'.repeat(64)}`, 1024)).not.toBe(base);
    expect(layerCacheKey(diffId, 1025)).not.toBe(base);
    expect(layerCacheKey(diffId, 1024, { level: 9 })).not.toBe(base);
    expect(layerCacheKey(diffId, 1024, { blockSize: 1 << 16 })).not.toBe(base);
    expect(layerCacheKey(diffId, 1024, { engine: 'libdeflate' })).toBe(base);
    expect(layerCacheKey(diffId, 1024, { engine: 'zlib' })).not.toBe(base);
    expect(layerCacheKeyText(diffId, 1024)).toMatch(
      /gzip_writer_version 2\ngzip_engine libdeflate\ngzip_level 6\n/,
    );
  });
});

describe('buildLayer with a disk layer cache', () => {
  it('a warm build does not compress and gives the same bytes and digests as a cold one', async () => {
    const uncached = await buildLayer(entries(), { gzip: GZIP });
    const dir = tempDir();
    const cache = createDiskLayerCache(dir);
    gzipCalls.count = 0;
    const cold = await buildLayer(entries(), { gzip: GZIP, layerCache: cache });
    expect(gzipCalls.count).toBe(1);
    const warm = await buildLayer(entries(), { gzip: GZIP, layerCache: createDiskLayerCache(dir) });
    expect(gzipCalls.count).toBe(1);
    expect(Buffer.from(warm.bytes).equals(Buffer.from(uncached.bytes))).toBe(true);
    expect(Buffer.from(cold.bytes).equals(Buffer.from(uncached.bytes))).toBe(true);
    expect(warm).toMatchObject({
      digest: uncached.digest,
      size: uncached.size,
      diffId: uncached.diffId,
      uncompressedSize: uncached.uncompressedSize,
      mediaType: uncached.mediaType,
    });
    expect(entryFile(dir)).toBe(cache.pathFor(layerCacheKey(cold.diffId, cold.uncompressedSize, GZIP)));
  });

  it('a different tar or different gzip settings miss', async () => {
    const dir = tempDir();
    await buildLayer(entries(), { gzip: GZIP, layerCache: createDiskLayerCache(dir) });
    gzipCalls.count = 0;
    const other = await buildLayer(entries('!'), { gzip: GZIP, layerCache: createDiskLayerCache(dir) });
    const level9 = await buildLayer(entries(), {
      gzip: { ...GZIP, level: 9 },
      layerCache: createDiskLayerCache(dir),
    });
    expect(gzipCalls.count).toBe(2);
    expect(other.digest).toBe((await buildLayer(entries('!'), { gzip: GZIP })).digest);
    expect(level9.digest).toBe((await buildLayer(entries(), { gzip: { ...GZIP, level: 9 } })).digest);
  });

  const damages: [string, (file: string) => void][] = [
    [
      'a flipped byte in the blob',
      (file) => {
        const bytes = readFileSync(file);
        bytes[bytes.length - 100]! ^= 0xff;
        writeFileSync(file, bytes);
      },
    ],
    ['a truncated blob', (file) => truncateSync(file, readFileSync(file).length - 10)],
    ['a file cut inside its header', (file) => truncateSync(file, 40)],
    ['an empty file', (file) => writeFileSync(file, '')],
    [
      'a garbled record (digest)',
      (file) => {
        const bytes = readFileSync(file);
        bytes[50]! ^= 0x01;
        writeFileSync(file, bytes);
      },
    ],
    [
      'a garbled record (size)',
      (file) => {
        const bytes = readFileSync(file);
        bytes[83]! ^= 0x04;
        writeFileSync(file, bytes);
      },
    ],
    [
      'a bad magic',
      (file) => {
        const bytes = readFileSync(file);
        bytes[0] = 0x58;
        writeFileSync(file, bytes);
      },
    ],
    [
      'an entry whose record is self-consistent but whose blob is another layer',
      (file) => {
        // What a bug or a deliberate write could leave: a valid entry for the wrong tar.
        const bytes = readFileSync(file);
        const header = bytes.subarray(0, 84);
        const other = readFileSync(`${file}.other`);
        writeFileSync(
          file,
          Buffer.concat([header.subarray(0, 44), other.subarray(44, 84), other.subarray(84)]),
        );
      },
    ],
  ];

  it.each(damages)('%s is detected, dropped with a warning, not served, and rewritten', async (_, damage) => {
    const expected = await buildLayer(entries(), { gzip: GZIP });
    const dir = tempDir();
    await buildLayer(entries(), { gzip: GZIP, layerCache: createDiskLayerCache(dir) });
    const file = entryFile(dir);
    const good = readFileSync(file);
    // For the "another layer" case: an intact entry of a different tar, under this file's name.
    const otherDir = tempDir();
    await buildLayer(entries('other'), { gzip: GZIP, layerCache: createDiskLayerCache(otherDir) });
    writeFileSync(`${file}.other`, readFileSync(entryFile(otherDir)));
    damage(file);
    rmSync(`${file}.other`);

    const logger = createRecordingLogger();
    gzipCalls.count = 0;
    const rebuilt = await buildLayer(entries(), {
      gzip: GZIP,
      layerCache: createDiskLayerCache(dir, { logger }),
      logger,
    });
    expect(gzipCalls.count).toBe(1);
    expect(Buffer.from(rebuilt.bytes).equals(Buffer.from(expected.bytes))).toBe(true);
    expect(rebuilt.digest).toBe(expected.digest);
    expect(logger.messages.filter((m) => m.level === 'warn').map((m) => m.code)).toEqual([
      'OCI_LAYER_CACHE_CORRUPT',
    ]);
    // The entry was rewritten whole, and the next build is a clean hit.
    expect(readFileSync(file).equals(good)).toBe(true);
    gzipCalls.count = 0;
    const warm = await buildLayer(entries(), { gzip: GZIP, layerCache: createDiskLayerCache(dir) });
    expect(gzipCalls.count).toBe(0);
    expect(warm.digest).toBe(expected.digest);
  });

  it('a cache removed between builds gives the same bytes', async () => {
    const dir = tempDir();
    const first = await buildLayer(entries(), { gzip: GZIP, layerCache: createDiskLayerCache(dir) });
    rmSync(dir, { recursive: true, force: true });
    gzipCalls.count = 0;
    const second = await buildLayer(entries(), { gzip: GZIP, layerCache: createDiskLayerCache(dir) });
    expect(gzipCalls.count).toBe(1);
    expect(Buffer.from(second.bytes).equals(Buffer.from(first.bytes))).toBe(true);
  });

  it('a cache that fails to read or write only costs a compression', async () => {
    const failing: LayerCache = {
      get: () => Promise.reject(new Error('EIO')),
      put: () => Promise.reject(new Error('ENOSPC')),
      delete: () => Promise.resolve(),
    };
    const logger = createRecordingLogger();
    const layer = await buildLayer(entries(), { gzip: GZIP, layerCache: failing, logger });
    expect(layer.digest).toBe((await buildLayer(entries(), { gzip: GZIP })).digest);
    expect(logger.messages.filter((m) => m.level === 'warn').map((m) => m.code)).toEqual([
      'OCI_LAYER_CACHE_UNREADABLE',
      'OCI_LAYER_CACHE_WRITE_FAILED',
    ]);
  });

  it('checks hits from any LayerCache implementation, not only the disk one', async () => {
    const expected = await buildLayer(entries(), { gzip: GZIP });
    const remove = vi.fn(() => Promise.resolve());
    const lying: LayerCache = {
      get: () =>
        Promise.resolve({ bytes: expected.bytes.subarray(0, 20), digest: expected.digest, size: 20 }),
      put: () => Promise.resolve(),
      delete: remove,
    };
    const layer = await buildLayer(entries(), { gzip: GZIP, layerCache: lying });
    expect(layer.digest).toBe(expected.digest);
    expect(remove).toHaveBeenCalledTimes(1);
  });
});

describe('the disk layer cache size bound', () => {
  const HEADER = 84;
  /** Key number i: 64 hex digits. */
  const key = (i: number): string => i.toString(16).padStart(64, '0');
  /** A blob of `size` bytes, different for each i (the disk cache stores, buildLayer verifies). */
  const blob = (i: number, size = 1000): CachedLayerBlob => {
    const bytes = new Uint8Array(size).fill(i & 0xff);
    return { bytes, digest: sha256Digest(bytes), size };
  };
  /** Entries of a cache folder: key numbers, sorted. */
  const stored = (dir: string): number[] =>
    readdirSync(dir)
      .filter((name) => /^[0-9a-f]{64}$/.test(name))
      .map((name) => parseInt(name, 16))
      .sort((a, b) => a - b);
  /** Set an entry's last use to `seconds` after the epoch (well in the past). */
  const lastUsed = (path: string, seconds: number): void => utimesSync(path, seconds, seconds);
  /** A cache with entries 1..n, used in that order, a day apart, long ago. */
  async function seeded(n: number, maxBytes = Infinity, size = 1000) {
    const cache = createDiskLayerCache(tempDir(), { maxBytes });
    for (let i = 1; i <= n; i++) {
      await cache.put(key(i), blob(i, size));
      lastUsed(cache.pathFor(key(i)), 1_000_000 + i * 86_400);
    }
    return cache;
  }

  it('defaults to 1 GiB, accepts Infinity and 0, and rejects other bounds', () => {
    const dir = tempDir();
    expect(createDiskLayerCache(dir).maxBytes).toBe(DEFAULT_LAYER_CACHE_MAX_BYTES);
    expect(DEFAULT_LAYER_CACHE_MAX_BYTES).toBe(2 ** 30);
    expect(createDiskLayerCache(dir, { maxBytes: Infinity }).maxBytes).toBe(Infinity);
    expect(createDiskLayerCache(dir, { maxBytes: 0 }).maxBytes).toBe(0);
    for (const bad of [-1, 1.5, NaN, -Infinity])
      expect(() => createDiskLayerCache(dir, { maxBytes: bad })).toThrow(TypeError);
  });

  it('evicts least recently used entries first, until the total is at most the bound', async () => {
    const cache = await seeded(4);
    // Used order, oldest first: 3, 1, 4, 2.
    lastUsed(cache.pathFor(key(3)), 1_000);
    lastUsed(cache.pathFor(key(2)), 9_000_000);
    const bounded = createDiskLayerCache(join(cache.dir, '../..'), { maxBytes: 3 * (HEADER + 1000) });
    await bounded.put(key(5), blob(5));
    expect(stored(cache.dir)).toEqual([2, 4, 5]);
    await bounded.put(key(6), blob(6));
    expect(stored(cache.dir)).toEqual([2, 5, 6]);
    // A bound between sizes: keep only as much as fits, never more. (Entries stored within one tick of the
    // file system's clock are equally recent, and a store keeps those: age 5 and 6 explicitly.)
    lastUsed(cache.pathFor(key(5)), 9_100_000);
    lastUsed(cache.pathFor(key(6)), 9_200_000);
    const small = createDiskLayerCache(join(cache.dir, '../..'), { maxBytes: 2 * (HEADER + 1000) - 1 });
    await small.put(key(7), blob(7));
    expect(stored(cache.dir)).toEqual([7]);
  });

  it('keeps the total under the bound over many stores of different sizes', async () => {
    const maxBytes = 20_000;
    const cache = createDiskLayerCache(tempDir(), { maxBytes });
    const total = (): number =>
      readdirSync(cache.dir).reduce((sum, name) => sum + statSync(join(cache.dir, name)).size, 0);
    for (let i = 1; i <= 40; i++) {
      await cache.put(key(i), blob(i, 500 + ((i * 7919) % 5000)));
      expect(total()).toBeLessThanOrEqual(maxBytes);
      expect(stored(cache.dir)).toContain(i);
      // Make the order of use strict, whatever the file system's time resolution.
      lastUsed(cache.pathFor(key(i)), 1_000_000 + i);
    }
    expect(stored(cache.dir).length).toBeGreaterThan(3);
  });

  it('never evicts the entry just stored, even when alone it exceeds the bound; Infinity never evicts', async () => {
    const zero = await seeded(3, 0);
    await zero.put(key(4), blob(4, 5000));
    expect(stored(zero.dir)).toEqual([4]);
    lastUsed(zero.pathFor(key(4)), 1_000);
    await zero.put(key(5), blob(5));
    expect(stored(zero.dir)).toEqual([5]);

    const unbounded = await seeded(10, Infinity);
    await unbounded.put(key(11), blob(11));
    expect(stored(unbounded.dir)).toHaveLength(11);
  });

  it('a hit marks the entry used, so it outlives entries used before it', async () => {
    const cache = await seeded(3, 3 * (HEADER + 1000));
    const before = statSync(cache.pathFor(key(1))).mtimeMs;
    const hit = await cache.get(key(1));
    expect(hit && Buffer.from(hit.bytes).equals(Buffer.from(blob(1).bytes))).toBe(true);
    expect(statSync(cache.pathFor(key(1))).mtimeMs).toBeGreaterThan(before);
    await cache.put(key(4), blob(4));
    expect(stored(cache.dir)).toEqual([1, 3, 4]);
  });

  it('keeps entries another process stored or used after the one just stored', async () => {
    const cache = await seeded(2, 0);
    // Entry 2 was used after our store (by another build); entry 1 before it.
    const later = Date.now() / 1000 + 3600;
    lastUsed(cache.pathFor(key(2)), later);
    await cache.put(key(3), blob(3));
    expect(stored(cache.dir)).toEqual([2, 3]);
  });

  it("leaves a writer's temporary files alone, uncounted, and deletes them only when stale", async () => {
    const cache = await seeded(2, 3 * (HEADER + 1000));
    const live = join(cache.dir, `.${key(9)}.0123456789ab.tmp`);
    const stale = join(cache.dir, `.${key(8)}.ba9876543210.tmp`);
    writeFileSync(live, new Uint8Array(50_000));
    writeFileSync(stale, new Uint8Array(50_000));
    await cache.put(key(3), blob(3));
    const now = statSync(cache.pathFor(key(3))).mtimeMs / 1000;
    utimesSync(stale, now - STALE_TEMP_MS / 1000 - 60, now - STALE_TEMP_MS / 1000 - 60);
    utimesSync(live, now - 60, now - 60);
    // The live file's 50 KB do not count: nothing is evicted for it.
    lastUsed(cache.pathFor(key(3)), now);
    await cache.put(key(4), blob(4));
    expect(stored(cache.dir)).toEqual([2, 3, 4]);
    expect(readdirSync(cache.dir)).toContain(`.${key(9)}.0123456789ab.tmp`);
    expect(readdirSync(cache.dir)).not.toContain(`.${key(8)}.ba9876543210.tmp`);
  });

  it('never deletes, follows or touches anything but its own regular files (hostile folder contents)', async () => {
    const cache = await seeded(2, 0);
    const outside = tempDir();
    const victim = join(outside, 'victim');
    writeFileSync(victim, 'precious\n');
    utimesSync(victim, 1_000, 1_000);
    const victimDir = join(outside, 'dir');
    mkdirSync(victimDir);
    writeFileSync(join(victimDir, 'inner'), 'precious too\n');
    const at = (name: string): string => join(cache.dir, name);
    // Symbolic links under a key's name and a temporary file's name, to a file and to a folder.
    symlinkSync(victim, at(key(100)));
    symlinkSync(victimDir, at(key(101)));
    symlinkSync(victim, at(`.${key(102)}.000000000000.tmp`));
    // A hard link to an outside file, under a key's name.
    linkSync(victim, at(key(103)));
    // Names that are almost keys, a folder under a key's name, a FIFO under a key's name.
    for (const name of [
      key(0xface).toUpperCase(),
      `${key(105)}\n`,
      `${key(106)}.old`,
      'README',
      `.${key(107)}.tmp`,
    ])
      writeFileSync(at(name), 'not an entry');
    mkdirSync(at(key(108)));
    writeFileSync(join(at(key(108)), 'inner'), 'keep');
    execFileSync('mkfifo', [at(key(109))]);
    const stale = 1_000;
    for (const name of readdirSync(cache.dir)) {
      const path = at(name);
      if (lstatSync(path).isSymbolicLink()) execFileSync('touch', ['-h', '-d', '@1000', path]);
      else utimesSync(path, stale, stale);
    }

    const logger = createRecordingLogger();
    const hostile = createDiskLayerCache(join(cache.dir, '../..'), { maxBytes: 0, logger });
    await hostile.put(key(1000), blob(1000));
    const left = readdirSync(cache.dir).sort();
    // Entries 1 and 2 and the hard link (a regular file named like a key, older) are evicted; the
    // outside file lost only a name. Everything else stays.
    expect(left).toEqual(
      [
        key(100),
        key(101),
        `.${key(102)}.000000000000.tmp`,
        key(0xface).toUpperCase(),
        `${key(105)}\n`,
        `${key(106)}.old`,
        'README',
        `.${key(107)}.tmp`,
        key(108),
        key(109),
        key(1000),
      ].sort(),
    );
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(readFileSync(join(victimDir, 'inner'), 'utf8')).toBe('precious too\n');
    expect(readFileSync(join(at(key(108)), 'inner'), 'utf8')).toBe('keep');
    expect(logger.messages.filter((m) => m.level === 'warn')).toEqual([]);

    // Reads: a symbolic link is dropped (the link, not its target) and never followed or touched; a
    // folder or a FIFO is unreadable, a miss, and does not block.
    expect(await hostile.get(key(100))).toBeUndefined();
    expect(await hostile.get(key(101))).toBeUndefined();
    expect(await hostile.get(key(108))).toBeUndefined();
    expect(await hostile.get(key(109))).toBeUndefined();
    expect(readdirSync(cache.dir)).not.toContain(key(100));
    expect(readdirSync(cache.dir)).not.toContain(key(101));
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(statSync(victim).mtimeMs).toBe(1_000_000);
    expect(readFileSync(join(victimDir, 'inner'), 'utf8')).toBe('precious too\n');
    expect(logger.messages.filter((m) => m.level === 'warn').map((m) => m.code)).toEqual([
      'OCI_LAYER_CACHE_CORRUPT',
      'OCI_LAYER_CACHE_CORRUPT',
      'OCI_LAYER_CACHE_UNREADABLE',
      'OCI_LAYER_CACHE_UNREADABLE',
    ]);
  });

  it('an entry evicted under a reader is read whole or missed, never served half', async () => {
    const cache = createDiskLayerCache(tempDir(), { maxBytes: Infinity });
    const expected = blob(7, 300_000);
    for (let round = 0; round < 30; round++) {
      await cache.put(key(7), expected);
      const [hit] = await Promise.all([cache.get(key(7)), cache.delete(key(7))]);
      if (hit !== undefined) expect(Buffer.from(hit.bytes).equals(Buffer.from(expected.bytes))).toBe(true);
    }
  });

  it('builds sharing one small cache concurrently all get the bytes of an uncached build', async () => {
    const roots = Array.from({ length: 6 }, (_, i) => entries(`#${i}`));
    const expected = await Promise.all(roots.map((root) => buildLayer(root, { gzip: GZIP })));
    const dir = tempDir();
    // Room for about two layers: every store evicts, and readers race the evictions of other "processes".
    const maxBytes = 2 * (expected[0]!.size + HEADER) + 100;
    const logger = createRecordingLogger();
    gzipCalls.count = 0;
    for (let round = 0; round < 4; round++) {
      const built = await Promise.all(
        [...roots, ...roots].map((root) =>
          buildLayer(root, {
            gzip: GZIP,
            layerCache: createDiskLayerCache(dir, { maxBytes, logger }),
            logger,
          }),
        ),
      );
      built.forEach((layer, i) => {
        const want = expected[i % roots.length]!;
        expect(layer.digest).toBe(want.digest);
        expect(Buffer.from(layer.bytes).equals(Buffer.from(want.bytes))).toBe(true);
      });
    }
    // Misses (concurrent, or of evicted entries) were compressed again; no reader saw a bad entry.
    expect(gzipCalls.count).toBeGreaterThan(roots.length);
    expect(logger.messages.filter((m) => m.level === 'warn')).toEqual([]);
    expect(readdirSync(dir + '/layers/sha256').filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});
