import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRecordingLogger, sha256Hex } from '@tk/core';
import { createDiskCache, defaultCacheDir, verifyPackageBytes } from './cache.ts';
import { RepoError } from './errors.ts';

const TESTREPO = join(import.meta.dirname, '../../../test-fixtures/real/apko-testrepo');
const pkgBytes = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(join(TESTREPO, 'x86_64', `${name}-1.0.0-r0.apk`)));
// Identities from the real index (test-fixtures/real/apko-testrepo/x86_64/APKINDEX.tar.gz).
const CA1 = { identity: 'Q1L7EnY9Q9b23ejRHAmb0g09QaLEo=', size: 6998, label: 'custom-ca-certs-1-1.0.0-r0' };
const CA2 = { identity: 'Q1yXDHMYWZPTTipwenGmJ4rs1ZoQk=', size: 4548, label: 'custom-ca-certs-2-1.0.0-r0' };

describe('defaultCacheDir', () => {
  it.each([
    [{ XDG_CACHE_HOME: '/var/cache' }, '/root', '/var/cache/tk'],
    [{ XDG_CACHE_HOME: '/var/cache/' }, '/root', '/var/cache/tk'],
    [{}, '/home/u', '/home/u/.cache/tk'],
    [{ XDG_CACHE_HOME: '' }, '/home/u', '/home/u/.cache/tk'],
    [{ XDG_CACHE_HOME: 'relative/dir' }, '/home/u', '/home/u/.cache/tk'],
  ])('%j, %s → %s', (env, home, expected) => {
    expect(defaultCacheDir(env, home)).toBe(expected);
  });
});

describe('createDiskCache', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tk-cache-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('stores by sha256(URL) under a per-host folder, with metadata, never storing credentials', async () => {
    const cache = createDiskCache(dir);
    const url = new URL('https://ci:s3cret@Example.com:8443/os/x86_64/APKINDEX.tar.gz');
    const meta = await cache.put(url, new Uint8Array([1, 2, 3]), { etag: '"abc"', lastModified: 'x' });
    const plain = 'https://example.com:8443/os/x86_64/APKINDEX.tar.gz';
    expect(meta).toEqual({
      url: plain,
      sha256: sha256Hex(new Uint8Array([1, 2, 3])),
      size: 3,
      etag: '"abc"',
      lastModified: 'x',
    });
    const name = sha256Hex(new TextEncoder().encode(plain));
    expect(readdirSync(join(dir, 'example.com_8443')).sort()).toEqual([name, `${name}.json`]);
    const stored = readFileSync(join(dir, 'example.com_8443', `${name}.json`), 'utf8');
    expect(stored).not.toContain('s3cret');
    expect(stored).not.toContain('ci');
    // Same entry with or without credentials.
    const hit = await cache.get(new URL(plain));
    expect(hit?.bytes).toEqual(new Uint8Array([1, 2, 3]));
    expect(hit?.metadata.etag).toBe('"abc"');
    await cache.remove(url);
    expect(await cache.get(url)).toBeUndefined();
  });

  it('drops entries whose bytes or metadata are corrupt, with a warning', async () => {
    const logger = createRecordingLogger();
    const cache = createDiskCache(dir, { logger });
    const url = new URL('https://example.com/os/x86_64/APKINDEX.tar.gz');
    const paths = cache.pathsFor(url);
    const cases: [string, () => void][] = [
      ['flipped byte', () => writeFileSync(paths.data, new Uint8Array([1, 2, 4]))],
      ['shorter', () => writeFileSync(paths.data, new Uint8Array([1, 2]))],
      ['missing data', () => rmSync(paths.data)],
      ['bad JSON', () => writeFileSync(paths.metadata, '{')],
      ['wrong shape', () => writeFileSync(paths.metadata, '{"url":1}')],
      [
        'other URL',
        () => writeFileSync(paths.metadata, readFileSync(paths.metadata, 'utf8').replace('/os/', '/xx/')),
      ],
      ['oversized metadata', () => writeFileSync(paths.metadata, ' '.repeat(70 * 1024))],
      ['not UTF-8', () => writeFileSync(paths.metadata, new Uint8Array([0xff, 0xfe]))],
    ];
    for (const [why, corrupt] of cases) {
      await cache.put(url, new Uint8Array([1, 2, 3]));
      corrupt();
      expect(await cache.get(url), why).toBeUndefined();
      expect(existsSync(paths.metadata), why).toBe(false);
      expect(existsSync(paths.data), why).toBe(false);
    }
    expect(logger.messages.filter((m) => m.code === 'REPO_CACHE_CORRUPT')).toHaveLength(cases.length);
  });

  it('getPackage re-verifies identity: a consistent rewrite with another package is caught and dropped', async () => {
    const logger = createRecordingLogger();
    const cache = createDiskCache(dir, { logger });
    const url = new URL('https://example.com/os/x86_64/custom-ca-certs-1-1.0.0-r0.apk');
    await cache.put(url, pkgBytes('custom-ca-certs-1'));
    const hit = await cache.getPackage(url, CA1);
    expect(hit?.pkg.pkginfo.pkgname).toBe('custom-ca-certs-1');
    // Rewrite bytes AND metadata consistently (as an attacker with write access to the cache would).
    await cache.put(url, pkgBytes('custom-ca-certs-2'));
    expect(await cache.getPackage(url, { identity: CA1.identity, label: CA1.label })).toBeUndefined();
    expect(
      logger.messages.some((m) => m.code === 'REPO_CACHE_TAMPERED' && m.message.includes(CA1.label)),
    ).toBe(true);
    expect(existsSync(cache.pathsFor(url).data)).toBe(false);
  });
});

describe('verifyPackageBytes', () => {
  function mismatch(fn: () => unknown): RepoError {
    try {
      fn();
    } catch (error) {
      if (error instanceof RepoError) return error;
      throw error;
    }
    throw new Error('no error');
  }

  it('accepts the real package with its index identity and size', () => {
    const pkg = verifyPackageBytes(pkgBytes('custom-ca-certs-2'), CA2, 'x');
    expect(pkg.identity).toBe(CA2.identity);
  });

  it('names the package, the source, expected and actual values', () => {
    const wrongSize = mismatch(() =>
      verifyPackageBytes(pkgBytes('custom-ca-certs-2'), { ...CA2, size: 1 }, 'SRC'),
    );
    expect(wrongSize.code).toBe('REPO_PACKAGE_MISMATCH');
    expect(wrongSize.message).toContain(CA2.label);
    expect(wrongSize.message).toContain('SRC');
    expect(wrongSize.data).toMatchObject({ what: 'the file size', actual: '4548 bytes' });
    const wrongIdentity = mismatch(() =>
      verifyPackageBytes(pkgBytes('custom-ca-certs-2'), { identity: CA1.identity }, 'SRC'),
    );
    expect(wrongIdentity.code).toBe('REPO_PACKAGE_MISMATCH');
    expect(wrongIdentity.message).toContain(CA1.identity);
    expect(wrongIdentity.message).toContain(CA2.identity);
    const wrongDatahash = mismatch(() =>
      verifyPackageBytes(pkgBytes('custom-ca-certs-2'), { ...CA2, datahash: '0'.repeat(64) }, 'SRC'),
    );
    expect(wrongDatahash.data?.what).toBe('the data section SHA-256');
    const garbage = mismatch(() =>
      verifyPackageBytes(new Uint8Array(100), { identity: CA1.identity }, 'SRC'),
    );
    expect(garbage.code).toBe('REPO_PACKAGE_MISMATCH');
    expect(garbage.data?.apkCode).toBe('APK_BAD_FORMAT');
  });
});
