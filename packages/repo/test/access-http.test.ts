/**
 * The HTTP fetcher against a real server on 127.0.0.1 that serves the real apko test repository and
 * misbehaves on demand: retries, backoff schedule, Retry-After, timeouts, size limits, redirects, auth.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bytesEqual, createRecordingLogger, type RecordingLogger } from '@tk/core';
import { createHttpFetcher, parseHttpAuth, RepoError, type Fetcher, type HttpFetcherOptions } from '@tk/repo';
import { cleanup, copyTestRepo, recordingSleep, tempDir, TESTREPO } from './support/fixtures.ts';
import { closedPort, startRepoServer, type RepoServer } from './support/repo-server.ts';

const INDEX = '/x86_64/APKINDEX.tar.gz';
const PKG = '/x86_64/custom-ca-certs-1-1.0.0-r0.apk';
const indexBytes = new Uint8Array(readFileSync(join(TESTREPO, 'x86_64/APKINDEX.tar.gz')));
const pkgBytes = new Uint8Array(readFileSync(join(TESTREPO, 'x86_64/custom-ca-certs-1-1.0.0-r0.apk')));

async function failure(promise: Promise<unknown>): Promise<RepoError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RepoError) return error;
    throw error;
  }
  throw new Error('expected a RepoError');
}

let root: string;
let server: RepoServer;
let logger: RecordingLogger;
let delays: number[];
let fetcher: Fetcher;
const opened: Fetcher[] = [];

function makeFetcher(options: HttpFetcherOptions = {}): Fetcher {
  const rec = recordingSleep();
  delays = rec.delays;
  const f = createHttpFetcher({
    logger,
    sleep: rec.sleep,
    retries: 3,
    retryBaseDelayMs: 100,
    retryMaxDelayMs: 1000,
    retryAfterMaxMs: 5000,
    connectTimeoutMs: 2000,
    headersTimeoutMs: 2000,
    bodyTimeoutMs: 300,
    ...options,
  });
  opened.push(f);
  return f;
}

const url = (path: string, origin = server.origin): URL => new URL(`${origin}${path}`);

beforeAll(async () => {
  root = copyTestRepo(tempDir(), ['x86_64']);
});
afterAll(() => cleanup(root));
beforeEach(async () => {
  server = await startRepoServer({ root });
  logger = createRecordingLogger();
  fetcher = makeFetcher();
});
afterEach(async () => {
  for (const f of opened.splice(0)) await f.close?.();
  await server.close();
});

describe('downloads', () => {
  it('serves the real index and package byte for byte, with progress events', async () => {
    expect(bytesEqual(await fetcher.fetch(url(INDEX), { maxBytes: 1 << 20 }), indexBytes)).toBe(true);
    expect(bytesEqual(await fetcher.fetch(url(PKG), { maxBytes: 1 << 20, label: 'ca1' }), pkgBytes)).toBe(
      true,
    );
    const events = logger.events.filter((e) => e.id === url(PKG).href);
    expect(events[0]).toMatchObject({ label: 'ca1', current: 0, total: pkgBytes.length, unit: 'bytes' });
    expect(events.at(-1)).toMatchObject({ current: pkgBytes.length, total: pkgBytes.length, done: true });
    expect(server.hits(PKG)[0]?.headers['accept-encoding']).toBe('identity');
    expect(server.hits(PKG)[0]?.headers['user-agent']).toBe('tk');
  });
});

describe('retries', () => {
  it('retries 500/503 with a fixed exponential schedule and then succeeds', async () => {
    server.fault(
      INDEX,
      { kind: 'status', status: 503 },
      { kind: 'status', status: 500 },
      { kind: 'status', status: 502 },
    );
    expect(bytesEqual(await fetcher.fetch(url(INDEX), { maxBytes: 1 << 20 }), indexBytes)).toBe(true);
    expect(delays).toEqual([100, 200, 400]);
    expect(server.hits(INDEX).map((r) => r.status)).toEqual([503, 500, 502, 200]);
    const retries = logger.messages.filter((m) => m.code === 'REPO_FETCH_RETRY');
    expect(retries).toHaveLength(3);
    expect(retries[0]!.message).toContain('HTTP 503');
    expect(retries[0]!.message).toContain('attempt 2 of 4');
  });

  it('caps the backoff at retryMaxDelayMs', async () => {
    const f = makeFetcher({ retries: 5, retryBaseDelayMs: 300, retryMaxDelayMs: 1000 });
    server.fault(INDEX, ...Array.from({ length: 5 }, () => ({ kind: 'status', status: 503 }) as const));
    await f.fetch(url(INDEX), { maxBytes: 1 << 20 });
    expect(delays).toEqual([300, 600, 1000, 1000, 1000]);
  });

  it('honours Retry-After on 429 (seconds, HTTP date against the Date header), capped', async () => {
    server.fault(
      INDEX,
      { kind: 'status', status: 429, retryAfter: '2' },
      { kind: 'status', status: 429, retryAfter: '3600' },
      {
        kind: 'status',
        status: 503,
        retryAfter: 'Wed, 21 Oct 2015 07:28:04 GMT',
        date: 'Wed, 21 Oct 2015 07:28:00 GMT',
      },
    );
    await fetcher.fetch(url(INDEX), { maxBytes: 1 << 20 });
    expect(delays).toEqual([2000, 5000, 4000]);
  });

  it('retries a connection dropped mid-body, a truncated chunked body, a reset and a stalled body', async () => {
    server.fault(PKG, { kind: 'drop-mid-body' }, { kind: 'truncate-chunked' }, { kind: 'reset' });
    expect(bytesEqual(await fetcher.fetch(url(PKG), { maxBytes: 1 << 20 }), pkgBytes)).toBe(true);
    expect(delays).toEqual([100, 200, 400]);
    server.fault(PKG, { kind: 'stall', ms: 2000 });
    expect(bytesEqual(await fetcher.fetch(url(PKG), { maxBytes: 1 << 20 }), pkgBytes)).toBe(true);
    expect(logger.messages.filter((m) => m.code === 'REPO_FETCH_RETRY').at(-1)?.message).toMatch(/stalled/);
  });

  it('gives up after the last attempt with the URL, status, attempt count and a hint', async () => {
    server.persistent(INDEX, { kind: 'status', status: 503 });
    const error = await failure(fetcher.fetch(url(INDEX), { maxBytes: 1 << 20 }));
    expect(error.code).toBe('REPO_FETCH_FAILED');
    expect(error.message).toContain(url(INDEX).href);
    expect(error.message).toContain('HTTP 503');
    expect(error.message).toContain('after 4 attempts');
    expect(error.data).toMatchObject({ status: 503, attempts: 4 });
    expect(error.hint).toBeTruthy();
    expect(server.hits(INDEX)).toHaveLength(4);
  });

  it('gives up on a body that is always cut short', async () => {
    server.persistent(PKG, { kind: 'drop-mid-body' });
    const error = await failure(fetcher.fetch(url(PKG), { maxBytes: 1 << 20 }));
    expect(error.code).toBe('REPO_FETCH_FAILED');
    expect(error.message).toMatch(/after \d+ of 6998 bytes|ended after/);
    expect(error.data?.attempts).toBe(4);
  });

  it('retries refused connections', async () => {
    const port = await closedPort();
    const error = await failure(fetcher.fetch(new URL(`http://127.0.0.1:${port}/x`), { maxBytes: 10 }));
    expect(error.code).toBe('REPO_FETCH_FAILED');
    expect(error.message).toContain('connection refused');
    expect(delays).toEqual([100, 200, 400]);
  });

  it.each([
    [404, 'REPO_NOT_FOUND'],
    [410, 'REPO_NOT_FOUND'],
    [401, 'REPO_UNAUTHORIZED'],
    [403, 'REPO_UNAUTHORIZED'],
    [400, 'REPO_FETCH_FAILED'],
    [418, 'REPO_FETCH_FAILED'],
  ])('does not retry HTTP %i (%s)', async (status, code) => {
    server.persistent(INDEX, { kind: 'status', status });
    const error = await failure(fetcher.fetch(url(INDEX), { maxBytes: 1 << 20 }));
    expect(error.code).toBe(code);
    expect(error.data).toMatchObject({ status, attempts: 1 });
    expect(server.hits(INDEX)).toHaveLength(1);
    expect(delays).toEqual([]);
  });
});

describe('size limits', () => {
  it('refuses an announced body over maxBytes at once, without retrying', async () => {
    server.persistent(INDEX, { kind: 'huge', bytes: 50 << 20, announce: true });
    const error = await failure(fetcher.fetch(url(INDEX), { maxBytes: 1 << 20 }));
    expect(error.code).toBe('REPO_TOO_LARGE');
    expect(error.message).toContain(String(50 << 20));
    expect(server.hits(INDEX)).toHaveLength(1);
  });

  it('cuts off an unannounced endless body at maxBytes', async () => {
    server.persistent(INDEX, { kind: 'huge', bytes: 1 << 30, announce: false });
    const error = await failure(fetcher.fetch(url(INDEX), { maxBytes: 1 << 20 }));
    expect(error.code).toBe('REPO_TOO_LARGE');
    expect(error.data?.maxBytes).toBe(1 << 20);
    expect(server.hits(INDEX)).toHaveLength(1);
  });

  it('accepts a body of exactly maxBytes', async () => {
    expect((await fetcher.fetch(url(PKG), { maxBytes: pkgBytes.length })).length).toBe(pkgBytes.length);
    expect((await failure(fetcher.fetch(url(PKG), { maxBytes: pkgBytes.length - 1 }))).code).toBe(
      'REPO_TOO_LARGE',
    );
  });
});

describe('redirects', () => {
  it('follows up to 5 redirects, relative and absolute', async () => {
    server.persistent('/r1', { kind: 'redirect', status: 301, location: '/r2' });
    server.persistent('/r2', { kind: 'redirect', status: 302, location: `${server.origin}/r3` });
    server.persistent('/r3', { kind: 'redirect', status: 307, location: 'r4' });
    server.persistent('/r4', { kind: 'redirect', status: 308, location: '/r5' });
    server.persistent('/r5', { kind: 'redirect', status: 303, location: PKG });
    expect(bytesEqual(await fetcher.fetch(url('/r1'), { maxBytes: 1 << 20 }), pkgBytes)).toBe(true);
  });

  it('refuses a sixth redirect, a loop and a redirect to another scheme', async () => {
    for (let i = 0; i < 6; i++)
      server.persistent(`/c${i}`, { kind: 'redirect', status: 302, location: `/c${i + 1}` });
    server.persistent('/c6', { kind: 'redirect', status: 302, location: PKG });
    expect((await failure(fetcher.fetch(url('/c0'), { maxBytes: 1 << 20 }))).code).toBe('REPO_BAD_REDIRECT');
    server.persistent('/loop', { kind: 'redirect', status: 302, location: '/loop' });
    const loop = await failure(fetcher.fetch(url('/loop'), { maxBytes: 1 << 20 }));
    expect(loop.code).toBe('REPO_BAD_REDIRECT');
    expect(loop.message).toContain('more than 5 redirects');
    server.persistent('/ftp', { kind: 'redirect', status: 302, location: 'ftp://127.0.0.1/x' });
    expect((await failure(fetcher.fetch(url('/ftp'), { maxBytes: 1 << 20 }))).code).toBe('REPO_BAD_REDIRECT');
    server.persistent('/file', { kind: 'redirect', status: 302, location: 'file:///etc/passwd' });
    expect((await failure(fetcher.fetch(url('/file'), { maxBytes: 1 << 20 }))).code).toBe(
      'REPO_BAD_REDIRECT',
    );
    expect(delays).toEqual([]);
  });

  describe('over https (certificate made with openssl)', () => {
    let dir: string;
    let tls: { key: string; cert: string };
    beforeAll(() => {
      dir = tempDir('tk-tls-');
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '2',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
      tls = {
        key: readFileSync(join(dir, 'key.pem'), 'utf8'),
        cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      };
    });
    afterAll(() => cleanup(dir));

    it('follows https → https, refuses an https → http downgrade, refuses an untrusted certificate', async () => {
      const secure = await startRepoServer({ root, tls });
      const agent = new Agent({ connect: { ca: tls.cert } });
      try {
        const f = makeFetcher({ dispatcher: agent });
        expect(bytesEqual(await f.fetch(url(PKG, secure.origin), { maxBytes: 1 << 20 }), pkgBytes)).toBe(
          true,
        );
        secure.persistent('/same', { kind: 'redirect', status: 302, location: `${secure.origin}${PKG}` });
        expect(bytesEqual(await f.fetch(url('/same', secure.origin), { maxBytes: 1 << 20 }), pkgBytes)).toBe(
          true,
        );
        secure.persistent('/down', { kind: 'redirect', status: 302, location: `${server.origin}${PKG}` });
        const down = await failure(f.fetch(url('/down', secure.origin), { maxBytes: 1 << 20 }));
        expect(down.code).toBe('REPO_BAD_REDIRECT');
        expect(down.message).toContain('downgrade');
        expect(server.hits(PKG)).toHaveLength(0);
        // Without the CA the certificate is not trusted: final, not retried.
        const untrusted = await failure(fetcher.fetch(url(PKG, secure.origin), { maxBytes: 1 << 20 }));
        expect(untrusted.code).toBe('REPO_FETCH_FAILED');
        expect(untrusted.hint).toMatch(/certificate/);
        expect(delays).toEqual([]);
      } finally {
        await agent.close();
        await secure.close();
      }
    });
  });
});

describe('basic auth', () => {
  const credentials = { user: 'ci', password: 'Hunter2x' };

  it('401 without credentials names HTTP_AUTH in the hint; OK with HTTP_AUTH credentials', async () => {
    server.requireAuth(credentials);
    const denied = await failure(fetcher.fetch(url(INDEX), { maxBytes: 1 << 20 }));
    expect(denied.code).toBe('REPO_UNAUTHORIZED');
    expect(denied.data).toMatchObject({ status: 401, attempts: 1 });
    expect(denied.hint).toContain('HTTP_AUTH=basic:127.0.0.1:');
    const f = makeFetcher({ auth: parseHttpAuth('basic:127.0.0.1:ci:Hunter2x') });
    expect(bytesEqual(await f.fetch(url(INDEX), { maxBytes: 1 << 20 }), indexBytes)).toBe(true);
    const wrong = makeFetcher({ auth: parseHttpAuth('basic:127.0.0.1:ci:nope') });
    const refused = await failure(wrong.fetch(url(INDEX), { maxBytes: 1 << 20 }));
    expect(refused.code).toBe('REPO_UNAUTHORIZED');
    expect(refused.hint).toContain('refused the credentials');
    // Credentials for another host are not sent.
    const other = makeFetcher({ auth: parseHttpAuth('basic:example.com:ci:Hunter2x') });
    expect((await failure(other.fetch(url(INDEX), { maxBytes: 1 << 20 }))).code).toBe('REPO_UNAUTHORIZED');
  });

  it('takes credentials from the URL, never shows them, and does not forward them to another host', async () => {
    server.requireAuth(credentials);
    const withCreds = new URL(url(INDEX));
    withCreds.username = 'ci';
    withCreds.password = 'Hunter2x';
    expect(bytesEqual(await fetcher.fetch(withCreds, { maxBytes: 1 << 20 }), indexBytes)).toBe(true);
    const other = await startRepoServer({ root });
    try {
      server.requireAuth(undefined);
      server.persistent('/away', { kind: 'redirect', status: 302, location: `${other.origin}${PKG}` });
      const away = new URL(url('/away'));
      away.username = 'ci';
      away.password = 'Hunter2x';
      expect(bytesEqual(await fetcher.fetch(away, { maxBytes: 1 << 20 }), pkgBytes)).toBe(true);
      expect(server.hits('/away')[0]?.headers.authorization).toBeDefined();
      expect(other.hits(PKG)[0]?.headers.authorization).toBeUndefined();
      other.persistent(PKG, { kind: 'status', status: 503 });
      const error = await failure(fetcher.fetch(away, { maxBytes: 1 << 20 }));
      expect(error.message).not.toContain('Hunter2x');
      expect(error.message).toContain('ci:***@');
    } finally {
      await other.close();
    }
    const everything = JSON.stringify([logger.messages, logger.events]);
    expect(everything).not.toContain('Hunter2x');
  });
});

describe('conditional requests', () => {
  it('sends If-None-Match / If-Modified-Since and reports 304 as not modified', async () => {
    const first = await fetcher.fetchIfModified!(url(INDEX), { maxBytes: 1 << 20 });
    expect(first.modified).toBe(true);
    if (!first.modified) return;
    expect(first.etag).toMatch(/^"/);
    expect(first.lastModified).toBe('Wed, 01 Jan 2025 00:00:00 GMT');
    const second = await fetcher.fetchIfModified!(url(INDEX), {
      maxBytes: 1 << 20,
      etag: first.etag!,
      lastModified: first.lastModified!,
    });
    expect(second).toEqual({ modified: false });
    const hits = server.hits(INDEX);
    expect(hits.map((h) => h.status)).toEqual([200, 304]);
    expect(hits[1]?.headers['if-none-match']).toBe(first.etag);
    expect(hits[1]?.headers['if-modified-since']).toBe(first.lastModified);
    const stale = await fetcher.fetchIfModified!(url(INDEX), { maxBytes: 1 << 20, etag: '"other"' });
    expect(stale.modified).toBe(true);
  });
});
