/**
 * loadRepository and fetchPackage end to end: the real apko test repository (index signed with apko's test
 * key, melange-built packages) served over HTTP from 127.0.0.1 and read from a local folder; index trust;
 * package verification; the download cache (revalidation, tampering, offline mode).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bytesEqual, createRecordingLogger, type RecordingLogger } from '@tk/core';
import { createKeyring, generateKeyPair, type Keyring } from '@tk/keys';
import {
  createDiskCache,
  createFileFetcher,
  createHttpFetcher,
  fetchPackage,
  loadKeys,
  loadRepository,
  parseRepository,
  readIndexArchive,
  RepoError,
  type DiskCache,
  type Fetcher,
  type IndexEntry,
  type LoadedRepository,
  type RepositorySpec,
} from '@tk/repo';
import {
  buildPackage,
  cleanup,
  copyTestRepo,
  entryFor,
  MELANGE_PUB,
  recordingSleep,
  spliceData,
  tempDir,
  testKeyring,
  testSigner,
  withoutDatahash,
  writeIndex,
} from './support/fixtures.ts';
import { startRepoServer, type RepoServer } from './support/repo-server.ts';

const INDEX = '/x86_64/APKINDEX.tar.gz';
const CA1 = '/x86_64/custom-ca-certs-1-1.0.0-r0.apk';

async function failure(promise: Promise<unknown>): Promise<RepoError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RepoError) return error;
    throw error;
  }
  throw new Error('expected a RepoError');
}

/** A fetcher that fails the test if it is used (offline mode must not touch the network). */
const noNetwork: Fetcher = {
  fetch: async (url) => {
    throw new Error(`network used in offline mode: ${url.href}`);
  },
  fetchIfModified: async (url) => {
    throw new Error(`network used in offline mode: ${url.href}`);
  },
};

let root: string;
let cacheDir: string;
let server: RepoServer;
let logger: RecordingLogger;
let fetcher: Fetcher;
let keyring: Keyring;
let spec: RepositorySpec;

beforeEach(async () => {
  root = copyTestRepo(tempDir());
  cacheDir = tempDir('tk-cache-');
  server = await startRepoServer({ root });
  logger = createRecordingLogger();
  fetcher = createHttpFetcher({ logger, sleep: recordingSleep().sleep, retries: 2, bodyTimeoutMs: 1000 });
  keyring = testKeyring();
  spec = parseRepository(`${server.origin}/`, { baseDir: root });
});
afterEach(async () => {
  await fetcher.close?.();
  await server.close();
  cleanup(root, cacheDir);
});

const load = (options: Partial<Parameters<typeof loadRepository>[2]> = {}, arch = 'x86_64') =>
  loadRepository(spec, arch, { fetcher, keyring, logger, ...options });

describe('index trust', () => {
  it('accepts the real apko-testrepo indexes with melange.rsa.pub and verifies every package', async () => {
    const keys = await loadKeys([MELANGE_PUB], { fetcher, baseDir: root, logger });
    for (const arch of ['x86_64', 'aarch64']) {
      const repo = await loadRepository(spec, arch, { fetcher, keyring: keys, logger });
      expect(repo.verification).toMatchObject({ status: 'OK', verifiedBy: ['melange.rsa.pub'] });
      expect(repo.entries.map((e) => e.name)).toEqual([
        'custom-ca-certs-1',
        'custom-ca-certs-2',
        'pretend-baselayout',
        'replayout',
      ]);
      expect(repo.indexUrl.href).toBe(`${server.origin}/${arch}/APKINDEX.tar.gz`);
      for (const entry of repo.entries) {
        const { bytes, pkg, fromCache } = await fetchPackage(repo, entry, { fetcher, logger });
        expect(fromCache).toBe(false);
        expect(pkg.identity).toBe(entry.checksum);
        expect(bytes.length).toBe(entry.size);
        expect(pkg.pkginfo.arch).toBe(arch);
      }
    }
  });

  it('refuses an unsigned index unless untrusted input is allowed (then warns)', async () => {
    const entries = readIndexArchive(readFileSync(join(root, 'x86_64/APKINDEX.tar.gz'))).entries;
    await writeIndex(root, 'x86_64', entries);
    const error = await failure(load());
    expect(error.code).toBe('REPO_UNTRUSTED_INDEX');
    expect(error.message).toContain(`${server.origin}${INDEX}`);
    expect(error.message).toContain('not signed');
    expect(error.hint).toContain('--keyring-append');
    expect(error.hint).toContain('--allow-untrusted');
    const repo = await load({ allowUntrusted: true });
    expect(repo.verification.status).toBe('UNTRUSTED');
    expect(repo.entries).toHaveLength(4);
    expect(logger.messages.some((m) => m.level === 'warn' && m.code === 'REPO_UNTRUSTED_INDEX')).toBe(true);
  });

  it('refuses an index signed by a different key under the trusted name (REPO_BAD_SIGNATURE)', async () => {
    const impostor = await generateKeyPair({ bits: 2048 });
    const entries = readIndexArchive(readFileSync(join(root, 'x86_64/APKINDEX.tar.gz'))).entries;
    await writeIndex(root, 'x86_64', entries, { key: impostor.privateKey, keyName: 'melange.rsa.pub' });
    const error = await failure(load());
    expect(error.code).toBe('REPO_BAD_SIGNATURE');
    expect(error.data).toMatchObject({ status: 'BAD', signatures: ['melange.rsa.pub'] });
    const allowed = await load({ allowUntrusted: true });
    expect(allowed.verification.status).toBe('BAD');
    expect(logger.messages.some((m) => m.code === 'REPO_BAD_SIGNATURE')).toBe(true);
  });

  it('refuses an index whose only key is unknown, and says when the keyring is empty', async () => {
    const error = await failure(load({ keyring: createKeyring() }));
    expect(error.code).toBe('REPO_UNTRUSTED_INDEX');
    expect(error.message).toContain('keyring is empty');
  });
});

describe('missing indexes', () => {
  it('a 404 is REPO_INDEX_NOT_FOUND naming the URL and the arch', async () => {
    const error = await failure(load({}, 'riscv64'));
    expect(error.code).toBe('REPO_INDEX_NOT_FOUND');
    expect(error.message).toContain(`${server.origin}/riscv64/APKINDEX.tar.gz`);
    expect(error.message).toContain('riscv64');
    expect(error.message).toContain('HTTP 404');
    expect(error.hint).toContain('riscv64/');
    expect(error.data).toMatchObject({ arch: 'riscv64' });
  });

  it('a local repository without the folder, or without the arch, says which', async () => {
    const missing = parseRepository('./nowhere', { baseDir: root });
    const none = await failure(loadRepository(missing, 'x86_64', { fetcher: createFileFetcher(), keyring }));
    expect(none.code).toBe('REPO_INDEX_NOT_FOUND');
    expect(none.message).toContain(`there is no folder ${join(root, 'nowhere')}`);
    const local = parseRepository('@local .', { baseDir: root });
    const noArch = await failure(loadRepository(local, 'riscv64', { fetcher: createFileFetcher(), keyring }));
    expect(noArch.code).toBe('REPO_INDEX_NOT_FOUND');
    expect(noArch.message).toContain(`${root} has no riscv64/APKINDEX.tar.gz`);
  });

  it('refuses an index over maxIndexBytes, and a truncated index file served whole', async () => {
    const big = await failure(load({ maxIndexBytes: 512 }));
    expect(big.code).toBe('REPO_TOO_LARGE');
    expect(server.hits(INDEX)).toHaveLength(1);
    const whole = new Uint8Array(readFileSync(join(root, 'x86_64/APKINDEX.tar.gz')));
    server.fault(INDEX, { kind: 'body', bytes: whole.subarray(0, 700) });
    const cache = createDiskCache(cacheDir);
    const cut = await failure(load({ cache }));
    expect(cut.code).toBe('REPO_BAD_INDEX_ARCHIVE');
    expect(cut.message).toContain(`${server.origin}${INDEX}`);
    expect(await cache.get(new URL(`${server.origin}${INDEX}`))).toBeUndefined();
  });

  it('survives a flaky server while loading the index', async () => {
    server.fault(INDEX, { kind: 'status', status: 503 }, { kind: 'drop-mid-body' });
    const repo = await load();
    expect(repo.entries).toHaveLength(4);
    expect(server.hits(INDEX).map((h) => h.status)).toEqual([503, 200, 200]);
  });
});

describe('local repositories', () => {
  it('reads a tagged local folder and verifies its packages; a tampered local package is refused', async () => {
    const local = parseRepository('@local ./', { baseDir: root });
    expect(local.tag).toBe('local');
    const fileFetcher = createFileFetcher();
    const repo = await loadRepository(local, 'x86_64', { fetcher: fileFetcher, keyring, logger });
    const entry = repo.entries.find((e) => e.name === 'custom-ca-certs-1')!;
    expect((await fetchPackage(repo, entry, { fetcher: fileFetcher })).pkg.pkginfo.pkgname).toBe(
      'custom-ca-certs-1',
    );
    const path = join(root, 'x86_64/custom-ca-certs-1-1.0.0-r0.apk');
    const bytes = new Uint8Array(readFileSync(path));
    bytes[100] = bytes[100]! ^ 0xff;
    writeFileSync(path, bytes);
    expect((await failure(fetchPackage(repo, entry, { fetcher: fileFetcher }))).code).toBe(
      'REPO_PACKAGE_MISMATCH',
    );
  });
});

describe('package verification', () => {
  async function signedRepo(entries: IndexEntry[]): Promise<LoadedRepository> {
    await writeIndex(root, 'x86_64', entries, testSigner());
    return load();
  }
  const realEntries = (): IndexEntry[] =>
    readIndexArchive(readFileSync(join(root, 'x86_64/APKINDEX.tar.gz'))).entries;

  it('refuses a package whose bytes differ from the index C:', async () => {
    const entries = realEntries();
    const ca2 = entries.find((e) => e.name === 'custom-ca-certs-2')!;
    const forged = entries.map((e) =>
      e.name === 'custom-ca-certs-1' ? { ...e, checksum: ca2.checksum } : e,
    );
    const repo = await signedRepo(forged);
    const entry = repo.entries.find((e) => e.name === 'custom-ca-certs-1')!;
    const error = await failure(fetchPackage(repo, entry, { fetcher, logger }));
    expect(error.code).toBe('REPO_PACKAGE_MISMATCH');
    expect(error.message).toContain('custom-ca-certs-1-1.0.0-r0');
    expect(error.message).toContain(`${server.origin}${CA1}`);
    expect(error.message).toContain(ca2.checksum);
    expect(error.data).toMatchObject({
      package: 'custom-ca-certs-1-1.0.0-r0',
      url: `${server.origin}${CA1}`,
    });
  });

  it('refuses other bytes served under the right name (size check, then identity)', async () => {
    const repo = await load();
    const entry = repo.entries.find((e) => e.name === 'custom-ca-certs-1')!;
    const other = new Uint8Array(readFileSync(join(root, 'x86_64/custom-ca-certs-2-1.0.0-r0.apk')));
    server.fault(CA1, { kind: 'body', bytes: other });
    const smaller = await failure(fetchPackage(repo, entry, { fetcher }));
    expect(smaller.code).toBe('REPO_PACKAGE_MISMATCH');
    expect(smaller.data?.what).toBe('the file size');
    const bigger = new Uint8Array(entry.size! + 500);
    server.fault(CA1, { kind: 'body', bytes: bigger });
    const cut = await failure(fetchPackage(repo, entry, { fetcher }));
    expect(cut.code).toBe('REPO_PACKAGE_MISMATCH');
    expect(cut.message).toContain('larger than the 6998 bytes');
  });

  it('refuses a package whose data does not match its datahash', async () => {
    const a = await buildPackage('spliced', '1.0-r0', 'the real data');
    const b = await buildPackage('spliced', '1.0-r0', 'other data!!!');
    const spliced = spliceData(a, b);
    writeFileSync(join(root, 'x86_64/spliced-1.0-r0.apk'), spliced);
    const entry = entryFor(spliced);
    expect(entry.size).toBe(spliced.length);
    const repo = await signedRepo([...realEntries(), entry]);
    const error = await failure(fetchPackage(repo, repo.entries.at(-1)!, { fetcher }));
    expect(error.code).toBe('REPO_PACKAGE_MISMATCH');
    expect(error.data?.what).toBe('the data section SHA-256');
    expect(error.message).toContain('spliced-1.0-r0');
  });

  it('refuses a package without a datahash unless untrusted input is allowed', async () => {
    const old = await withoutDatahash(await buildPackage('legacy', '1.0-r0', 'old style'));
    writeFileSync(join(root, 'x86_64/legacy-1.0-r0.apk'), old);
    const repo = await signedRepo([...realEntries(), entryFor(old)]);
    const entry = repo.entries.at(-1)!;
    const error = await failure(fetchPackage(repo, entry, { fetcher }));
    expect(error.code).toBe('REPO_PACKAGE_MISMATCH');
    expect(error.message).toContain('no datahash');
    const ok = await fetchPackage(repo, entry, { fetcher, logger, allowUntrusted: true });
    expect(ok.pkg.pkginfo.datahash).toBeUndefined();
    expect(logger.messages.some((m) => m.code === 'REPO_NO_DATAHASH')).toBe(true);
  });

  it('refuses index names that would escape the repository', async () => {
    const entries = realEntries();
    const hostile = { ...entries[0]!, name: '../../../etc/passwd' };
    const repo = await signedRepo([...entries, hostile]);
    expect((await failure(fetchPackage(repo, repo.entries.at(-1)!, { fetcher }))).code).toBe(
      'REPO_BAD_PACKAGE_NAME',
    );
  });
});

describe('cache', () => {
  let cache: DiskCache;
  beforeEach(() => {
    cache = createDiskCache(cacheDir, { logger });
  });

  it('revalidates the index (304) and serves packages from the cache on the second load', async () => {
    const first = await load({ cache });
    const entry = first.entries.find((e) => e.name === 'custom-ca-certs-1')!;
    const downloaded = await fetchPackage(first, entry, { fetcher, cache, logger });
    expect(downloaded.fromCache).toBe(false);
    const second = await load({ cache });
    expect(second.entries).toEqual(first.entries);
    expect(server.hits(INDEX).map((h) => h.status)).toEqual([200, 304]);
    expect(server.hits(INDEX)[1]?.headers['if-none-match']).toBeDefined();
    const cached = await fetchPackage(second, entry, { fetcher, cache, logger });
    expect(cached.fromCache).toBe(true);
    expect(bytesEqual(cached.bytes, downloaded.bytes)).toBe(true);
    expect(server.hits(CA1)).toHaveLength(1);
  });

  it('detects a flipped byte in a cached package, warns, and downloads it again', async () => {
    const repo = await load({ cache });
    const entry = repo.entries.find((e) => e.name === 'custom-ca-certs-1')!;
    await fetchPackage(repo, entry, { fetcher, cache, logger });
    const { data } = cache.pathsFor(new URL(`${server.origin}${CA1}`));
    const bytes = new Uint8Array(readFileSync(data));
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0x01;
    writeFileSync(data, bytes);
    const again = await fetchPackage(repo, entry, { fetcher, cache, logger });
    expect(again.fromCache).toBe(false);
    expect(again.pkg.identity).toBe(entry.checksum);
    expect(server.hits(CA1)).toHaveLength(2);
    const warning = logger.messages.find((m) => m.code === 'REPO_CACHE_CORRUPT');
    expect(warning?.message).toContain(`${server.origin}${CA1}`);
    // The fresh copy replaced the bad one.
    expect((await fetchPackage(repo, entry, { fetcher, cache })).fromCache).toBe(true);
  });

  it('detects a cached package replaced consistently (bytes and metadata) by another one', async () => {
    const repo = await load({ cache });
    const entry = repo.entries.find((e) => e.name === 'custom-ca-certs-1')!;
    await fetchPackage(repo, entry, { fetcher, cache, logger });
    await cache.put(
      new URL(`${server.origin}${CA1}`),
      new Uint8Array(readFileSync(join(root, 'x86_64/custom-ca-certs-2-1.0.0-r0.apk'))),
    );
    const again = await fetchPackage(repo, entry, { fetcher, cache, logger });
    expect(again.fromCache).toBe(false);
    expect(again.pkg.pkginfo.pkgname).toBe('custom-ca-certs-1');
    expect(logger.messages.some((m) => m.code === 'REPO_CACHE_TAMPERED')).toBe(true);
  });

  it('works offline from a warm cache without touching the network', async () => {
    const warm = await load({ cache });
    for (const entry of warm.entries) await fetchPackage(warm, entry, { fetcher, cache });
    await server.close();
    const repo = await loadRepository(spec, 'x86_64', {
      fetcher: noNetwork,
      cache,
      offline: true,
      keyring,
      logger,
    });
    expect(repo.verification.status).toBe('OK');
    for (const entry of repo.entries) {
      const result = await fetchPackage(repo, entry, { fetcher: noNetwork, cache, offline: true });
      expect(result.fromCache).toBe(true);
    }
    server = await startRepoServer({ root });
  });

  it('fails clearly offline from a cold cache', async () => {
    const error = await failure(
      loadRepository(spec, 'x86_64', { fetcher: noNetwork, cache, offline: true, keyring }),
    );
    expect(error.code).toBe('REPO_OFFLINE_MISS');
    expect(error.message).toContain(`${server.origin}${INDEX}`);
    expect(error.hint).toContain('--offline');
    const noCache = await failure(
      loadRepository(spec, 'x86_64', { fetcher: noNetwork, offline: true, keyring }),
    );
    expect(noCache.code).toBe('REPO_OFFLINE_MISS');
    const repo = await load({ cache });
    const entry = repo.entries[0]!;
    const pkgMiss = await failure(fetchPackage(repo, entry, { fetcher: noNetwork, cache, offline: true }));
    expect(pkgMiss.code).toBe('REPO_OFFLINE_MISS');
    expect(pkgMiss.message).toContain(`${entry.name}-${entry.version}`);
  });

  it('does not keep a refused index, and drops a cached one that is no longer trusted', async () => {
    const entries = readIndexArchive(readFileSync(join(root, 'x86_64/APKINDEX.tar.gz'))).entries;
    const url = new URL(`${server.origin}${INDEX}`);
    await load({ cache });
    expect(await cache.get(url)).toBeDefined();
    const offline = await failure(
      loadRepository(spec, 'x86_64', { fetcher: noNetwork, cache, offline: true, keyring: createKeyring() }),
    );
    expect(offline.code).toBe('REPO_UNTRUSTED_INDEX');
    expect(await cache.get(url)).toBeUndefined();
    await writeIndex(root, 'x86_64', entries);
    expect((await failure(load({ cache }))).code).toBe('REPO_UNTRUSTED_INDEX');
    expect(await cache.get(url)).toBeUndefined();
  });
});

describe('credentials', () => {
  it('loads an authenticated repository and never logs the password', async () => {
    server.requireAuth({ user: 'ci', password: 'Hunter2x' });
    const denied = await failure(load());
    expect(denied.code).toBe('REPO_UNAUTHORIZED');
    const authed = parseRepository(`http://ci:Hunter2x@127.0.0.1:${server.port}`, { baseDir: root });
    const repo = await loadRepository(authed, 'x86_64', { fetcher, keyring, logger });
    await fetchPackage(repo, repo.entries[0]!, { fetcher, logger });
    server.persistent(CA1, { kind: 'status', status: 500 });
    const error = await failure(fetchPackage(repo, repo.entries[0]!, { fetcher, logger }));
    expect(error.message).not.toContain('Hunter2x');
    expect(JSON.stringify(error.data)).not.toContain('Hunter2x');
    expect(JSON.stringify([logger.messages, logger.events])).not.toContain('Hunter2x');
  });
});
