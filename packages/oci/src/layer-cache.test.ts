import { mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRecordingLogger, utf8 } from '@tk/core';
import type * as TkGzip from '@tk/gzip';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildLayer, type LayerEntry } from './layer.ts';
import { createDiskLayerCache, layerCacheKey, layerCacheKeyText, type LayerCache } from './layer-cache.ts';

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
    expect(layerCacheKeyText(diffId, 1024)).toMatch(/gzip_writer_version \d+\ngzip_level 6\n/);
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
