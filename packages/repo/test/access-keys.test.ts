/**
 * loadKeys: keys from local files and folders (relative to a base folder) and from http URLs served by a
 * test server on 127.0.0.1, then used to verify the real apko test repository's index.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRecordingLogger, isTkError, type RecordingLogger } from '@tk/core';
import { createKeyring, generateKeyPair } from '@tk/keys';
import {
  createDiskCache,
  createHttpFetcher,
  loadKeys,
  loadRepository,
  parseRepository,
  type Fetcher,
} from '@tk/repo';
import { cleanup, copyTestRepo, FIXTURES, MELANGE_PUB, recordingSleep, tempDir } from './support/fixtures.ts';
import { startRepoServer, type RepoServer } from './support/repo-server.ts';

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isTkError(error)) return error.code;
    throw error;
  }
  throw new Error('expected an error');
}

let root: string;
let server: RepoServer;
let fetcher: Fetcher;
let logger: RecordingLogger;

beforeEach(async () => {
  root = copyTestRepo(tempDir(), ['x86_64']);
  mkdirSync(join(root, 'keys'));
  copyFileSync(MELANGE_PUB, join(root, 'keys', 'melange.rsa.pub'));
  server = await startRepoServer({ root });
  logger = createRecordingLogger();
  fetcher = createHttpFetcher({ logger, sleep: recordingSleep().sleep, retries: 1 });
});
afterEach(async () => {
  await fetcher.close?.();
  await server.close();
  cleanup(root);
});

describe('loadKeys', () => {
  it('fetches a key from a URL, names it by the last path segment, and it verifies the real index', async () => {
    const keyring = await loadKeys([`${server.origin}/keys/melange.rsa.pub`], {
      fetcher,
      baseDir: root,
      logger,
    });
    expect(keyring.names()).toEqual(['melange.rsa.pub']);
    const repo = await loadRepository(parseRepository(server.origin, { baseDir: root }), 'x86_64', {
      fetcher,
      keyring,
    });
    expect(repo.verification.status).toBe('OK');
    expect(server.hits('/keys/melange.rsa.pub')[0]?.headers.accept).toContain('application/x-pem-file');
  });

  it('mixes files, folders (relative to baseDir), file: URLs and http URLs into one keyring', async () => {
    const other = await generateKeyPair({ bits: 2048 });
    writeFileSync(join(root, 'keys', 'other.rsa.pub'), other.publicKey.pem);
    writeFileSync(join(root, 'served.rsa.pub'), other.publicKey.pem);
    const alpine = 'alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub';
    const keyring = await loadKeys(
      ['keys', pathToFileURL(join(FIXTURES, 'keys', alpine)).href, `${server.origin}/served.rsa.pub`],
      { fetcher, baseDir: root, logger, keyring: createKeyring() },
    );
    expect(keyring.names()).toEqual([alpine, 'melange.rsa.pub', 'other.rsa.pub', 'served.rsa.pub']);
    expect(keyring.get('served.rsa.pub')?.fingerprint).toBe(other.publicKey.fingerprint);
  });

  it('refuses a URL key that is missing, too large, not a key, or has no usable name', async () => {
    expect(await codeOf(loadKeys([`${server.origin}/keys/nope.rsa.pub`], { fetcher, baseDir: root }))).toBe(
      'REPO_NOT_FOUND',
    );
    server.persistent('/big.rsa.pub', { kind: 'huge', bytes: 1 << 20, announce: false });
    expect(await codeOf(loadKeys([`${server.origin}/big.rsa.pub`], { fetcher, baseDir: root }))).toBe(
      'REPO_TOO_LARGE',
    );
    writeFileSync(join(root, 'junk.rsa.pub'), 'not a key');
    expect(await codeOf(loadKeys([`${server.origin}/junk.rsa.pub`], { fetcher, baseDir: root }))).toBe(
      'KEY_BAD_PEM',
    );
    server.persistent('/', { kind: 'body', bytes: readFileSync(MELANGE_PUB) });
    expect(await codeOf(loadKeys([`${server.origin}/`], { fetcher, baseDir: root }))).toBe('KEY_BAD_NAME');
    expect(await codeOf(loadKeys(['ftp://example.com/k.rsa.pub'], { fetcher, baseDir: root }))).toBe(
      'REPO_FETCH_FAILED',
    );
  });

  it('refuses a URL key that has the name of a different trusted key', async () => {
    const other = await generateKeyPair({ bits: 2048 });
    server.persistent('/x/melange.rsa.pub', {
      kind: 'body',
      bytes: new TextEncoder().encode(other.publicKey.pem),
    });
    expect(
      await codeOf(loadKeys([MELANGE_PUB, `${server.origin}/x/melange.rsa.pub`], { fetcher, baseDir: root })),
    ).toBe('KEY_DUPLICATE_NAME');
  });

  it('caches key URLs for offline use', async () => {
    const cache = createDiskCache(join(root, 'cache'));
    const url = `${server.origin}/keys/melange.rsa.pub`;
    await loadKeys([url], { fetcher, baseDir: root, cache });
    const offline = await loadKeys([url], { fetcher, baseDir: root, cache, offline: true });
    expect(offline.names()).toEqual(['melange.rsa.pub']);
    expect(server.hits('/keys/melange.rsa.pub')).toHaveLength(1);
    expect(
      await codeOf(
        loadKeys([`${server.origin}/keys/other.rsa.pub`], { fetcher, baseDir: root, cache, offline: true }),
      ),
    ).toBe('REPO_OFFLINE_MISS');
  });

  it('a missing local key file is KEY_NOT_FOUND', async () => {
    expect(await codeOf(loadKeys(['./nope.rsa.pub'], { fetcher, baseDir: root }))).toBe('KEY_NOT_FOUND');
    expect(readFileSync(join(root, 'keys', 'melange.rsa.pub')).length).toBe(800);
  });
});
