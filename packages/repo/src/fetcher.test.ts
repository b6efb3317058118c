import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { RepoError } from './errors.ts';
import { createFileFetcher, createHttpFetcher, parseHttpAuth } from './fetcher.ts';

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RepoError) return error.code;
    throw error;
  }
  return undefined;
}

describe('parseHttpAuth', () => {
  it.each([
    [undefined, []],
    ['', []],
    ['  ', []],
    ['basic:apk.example.com:ci:s3cret', [{ host: 'apk.example.com', user: 'ci', password: 's3cret' }]],
    ['BASIC:Apk.Example.com:ci:s3cret', [{ host: 'apk.example.com', user: 'ci', password: 's3cret' }]],
    ['basic:h:user:pa:ss:word', [{ host: 'h', user: 'user', password: 'pa:ss:word' }]],
    ['basic:h:user:', [{ host: 'h', user: 'user', password: '' }]],
  ])('%j → %j', (value, expected) => {
    expect(parseHttpAuth(value)).toEqual(expected);
  });

  it.each([
    'basic',
    'basic:host',
    'basic:host:user',
    'bearer:host:user:Hunter2x',
    'basic::user:Hunter2x',
    'basic:host::Hunter2x',
    'basic:ho st:user:Hunter2x',
    'basic:host/path:user:Hunter2x',
    'basic:user@host:user:Hunter2x',
    'basic:host:us\u0000er:Hunter2x',
    'basic:host:user:Hunter2x\n',
  ])('refuses %j without echoing the password', (value) => {
    let error: unknown;
    try {
      parseHttpAuth(value);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RepoError);
    expect((error as RepoError).code).toBe('REPO_BAD_HTTP_AUTH');
    expect((error as RepoError).message).not.toContain('Hunter2x');
  });
});

describe('file: URLs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tk-fetch-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'ten'), '0123456789');
  mkdirSync(join(dir, 'sub'));
  const fetchers = [
    ['createFileFetcher', createFileFetcher()],
    ['createHttpFetcher', createHttpFetcher()],
  ] as const;

  it.each(fetchers)('%s reads a file', async (_name, fetcher) => {
    const bytes = await fetcher.fetch(pathToFileURL(join(dir, 'ten')), { maxBytes: 10 });
    expect(new TextDecoder().decode(bytes)).toBe('0123456789');
  });

  it.each(fetchers)('%s: a missing file is REPO_NOT_FOUND', async (_name, fetcher) => {
    expect(await codeOf(fetcher.fetch(pathToFileURL(join(dir, 'nope')), { maxBytes: 10 }))).toBe(
      'REPO_NOT_FOUND',
    );
    expect(await codeOf(fetcher.fetch(pathToFileURL(join(dir, 'ten', 'x')), { maxBytes: 10 }))).toBe(
      'REPO_NOT_FOUND',
    );
  });

  it.each(fetchers)('%s: a file over maxBytes is REPO_TOO_LARGE', async (_name, fetcher) => {
    expect(await codeOf(fetcher.fetch(pathToFileURL(join(dir, 'ten')), { maxBytes: 9 }))).toBe(
      'REPO_TOO_LARGE',
    );
  });

  it.each(fetchers)('%s: a directory is REPO_FETCH_FAILED', async (_name, fetcher) => {
    expect(await codeOf(fetcher.fetch(pathToFileURL(join(dir, 'sub')), { maxBytes: 10 }))).toBe(
      'REPO_FETCH_FAILED',
    );
  });

  it('the file fetcher refuses http(s), the http fetcher refuses other schemes', async () => {
    expect(
      await codeOf(createFileFetcher().fetch(new URL('https://u:pw@example.com/x'), { maxBytes: 1 })),
    ).toBe('REPO_FETCH_FAILED');
    const http = createHttpFetcher();
    expect(await codeOf(http.fetch(new URL('ftp://example.com/x'), { maxBytes: 1 }))).toBe(
      'REPO_FETCH_FAILED',
    );
    await http.close?.();
  });

  it('refuses a nonsensical maxBytes as a bug', async () => {
    await expect(
      createFileFetcher().fetch(pathToFileURL(join(dir, 'ten')), { maxBytes: -1 }),
    ).rejects.toThrow(/maxBytes/);
  });
});
