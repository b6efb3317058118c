import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRecordingLogger } from '@tk/core';
import { writeTar } from '@tk/tar';
import { MelangeError } from '../errors.ts';
import type { CompiledStep } from '../recipe/types.ts';
import { prefetchSources, type PrefetchOptions } from './fetch.ts';

/** Bytes that do not compress (a fixed linear congruential sequence), so the tarball spans many chunks. */
function noise(length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = 12345;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
const TARBALL = gzipSync(
  writeTar([
    { name: 'hello-1.0/README', type: 'file', data: new TextEncoder().encode('hello\n') },
    { name: 'hello-1.0/src/hello.c', type: 'file', data: noise(300_000) },
  ]),
);
const HOSTILE = gzipSync(writeTar([{ name: '../evil', type: 'file', data: new Uint8Array(3) }]));
const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
const sha512 = (data: Uint8Array): string => createHash('sha512').update(data).digest('hex');
const HASH = sha256(TARBALL);
/** The checksum of a file no route serves: steps that must fail before any checksum is compared. */
const OTHER = sha256(new TextEncoder().encode('other'));

let server: Server;
let base: string;
const sockets = new Set<Socket>();
/** Requests per path. */
const hits = new Map<string, number>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    switch (path) {
      case '/hello-1.0.tar.gz':
      case '/other/hello-1.0.tar.gz':
        res.writeHead(200, { 'content-length': TARBALL.length }).end(TARBALL);
        return;
      case '/drop-once.tar.gz':
        if (n === 1) {
          // Announce the whole body, send half of it, then drop the connection.
          res.writeHead(200, { 'content-length': TARBALL.length });
          res.write(TARBALL.subarray(0, 1000), () => res.socket?.destroy());
          return;
        }
        res.end(TARBALL);
        return;
      case '/error-once.tar.gz':
        if (n === 1) res.writeHead(500).end('oops');
        else res.end(TARBALL);
        return;
      case '/redirect':
        res.writeHead(302, { location: '/other/hello-1.0.tar.gz' }).end();
        return;
      case '/loop':
        res.writeHead(302, { location: '/loop' }).end();
        return;
      case '/to-file':
        res.writeHead(302, { location: 'file:///etc/passwd' }).end();
        return;
      case '/stall.tar.gz':
        res.writeHead(200, { 'content-length': TARBALL.length });
        res.write(TARBALL.subarray(0, 100)); // and nothing more
        return;
      case '/big.tar.gz':
        res.writeHead(200, { 'content-length': 10_000_000 }).end();
        return;
      case '/big-chunked.tar.gz':
        res.writeHead(200);
        res.end(new Uint8Array(200_000));
        return;
      case '/evil.tar.gz':
        res.end(HOSTILE);
        return;
      default:
        res.writeHead(404).end('not found');
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

let cacheDir: string;
let root: string;

beforeEach(() => {
  hits.clear();
  root = mkdtempSync(join(tmpdir(), 'tk-fetch-'));
  cacheDir = join(root, 'cache');
  return () => rmSync(root, { recursive: true, force: true });
});

function fetchStep(
  uri: string,
  inputs: Record<string, string> = {},
  extra: Partial<CompiledStep> = {},
): CompiledStep {
  return {
    uses: 'fetch',
    with: { uri, 'expected-sha256': HASH, 'strip-components': '1', extract: 'true', ...inputs },
    workingDirectory: '/home/build',
    environment: {},
    enabled: true,
    pipeline: [
      {
        runs: '# the fetch script',
        with: {},
        workingDirectory: '/home/build',
        environment: {},
        enabled: true,
        pipeline: [],
      },
    ],
    ...extra,
  };
}

function options(extra: Partial<PrefetchOptions> = {}): PrefetchOptions & { sleeps: number[] } {
  const sleeps: number[] = [];
  return {
    cacheDir,
    retryDelayMs: 10,
    sleep: async (ms) => void sleeps.push(ms),
    sleeps,
    ...extra,
  };
}

async function failure(promise: Promise<unknown>, code: string): Promise<MelangeError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(MelangeError);
    expect((error as MelangeError).code).toBe(code);
    return error as MelangeError;
  }
  throw new Error(`expected ${code}`);
}

describe('prefetchSources', () => {
  it('downloads into <cacheDir>/sha256:<hex>, then uses the cache without a request', async () => {
    const logger = createRecordingLogger();
    const first = await prefetchSources([fetchStep(`${base}/hello-1.0.tar.gz`)], options({ logger }));
    const path = join(cacheDir, `sha256:${HASH}`);
    expect(first).toEqual([
      {
        uri: `${base}/hello-1.0.tar.gz`,
        algorithm: 'sha256',
        hash: HASH,
        path,
        size: TARBALL.length,
        fromCache: false,
        archive: {
          checked: true,
          format: 'tar+gzip',
          entries: 2,
          unpackedSize: expect.any(Number) as number,
        },
      },
    ]);
    expect(readFileSync(path)).toEqual(TARBALL);
    expect(readdirSync(cacheDir)).toEqual([`sha256:${HASH}`]);
    expect(logger.events.at(-1)).toMatchObject({
      done: true,
      current: TARBALL.length,
      unit: 'bytes',
      label: 'fetch hello-1.0.tar.gz',
    });

    const second = await prefetchSources([fetchStep(`${base}/hello-1.0.tar.gz`)], options());
    expect(second[0]).toMatchObject({ fromCache: true, size: TARBALL.length });
    expect(hits.get('/hello-1.0.tar.gz')).toBe(1);
  });

  it('supports sha512, and downloads a source named by two steps once', async () => {
    const h512 = sha512(TARBALL);
    const step = fetchStep(`${base}/hello-1.0.tar.gz`, { 'expected-sha256': '', 'expected-sha512': h512 });
    const result = await prefetchSources([step, step], options());
    expect(result.map((r) => [r.algorithm, r.fromCache])).toEqual([
      ['sha512', false],
      ['sha512', true],
    ]);
    expect(existsSync(join(cacheDir, `sha512:${h512}`))).toBe(true);
    expect(hits.get('/hello-1.0.tar.gz')).toBe(1);
  });

  it('refuses a checksum mismatch with both hashes and the URI, and leaves nothing in the cache', async () => {
    const wrong = sha256(new TextEncoder().encode('not the tarball'));
    const e = await failure(
      prefetchSources([fetchStep(`${base}/hello-1.0.tar.gz`, { 'expected-sha256': wrong })], options()),
      'MELANGE_SOURCE_CHECKSUM',
    );
    expect(e.data).toMatchObject({ uri: `${base}/hello-1.0.tar.gz`, expected: wrong, actual: HASH });
    expect(e.message).toContain(wrong);
    expect(e.message).toContain(HASH);
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('retries a connection dropped mid-body, then succeeds', async () => {
    const logger = createRecordingLogger();
    const opts = options({ logger });
    const [result] = await prefetchSources([fetchStep(`${base}/drop-once.tar.gz`)], opts);
    expect(result).toMatchObject({ fromCache: false, size: TARBALL.length });
    expect(hits.get('/drop-once.tar.gz')).toBe(2);
    expect(opts.sleeps).toEqual([10]);
    expect(logger.messages.filter((m) => m.code === 'MELANGE_SOURCE_RETRY')).toHaveLength(1);
    expect(readFileSync(result!.path)).toEqual(TARBALL);
  });

  it('retries a 500, then succeeds; backs off exponentially; gives up after the retries', async () => {
    const opts = options();
    await prefetchSources([fetchStep(`${base}/error-once.tar.gz`)], opts);
    expect(hits.get('/error-once.tar.gz')).toBe(2);

    const stalled = options({ timeoutMs: 100, retries: 2 });
    const e = await failure(
      prefetchSources([fetchStep(`${base}/stall.tar.gz`, { 'expected-sha256': OTHER })], stalled),
      'MELANGE_SOURCE_DOWNLOAD',
    );
    expect(e.message).toContain('stalled');
    expect(hits.get('/stall.tar.gz')).toBe(3);
    expect(stalled.sleeps).toEqual([10, 20]);
    expect(readdirSync(cacheDir)).toEqual([`sha256:${HASH}`]);
  });

  it('does not retry a 404', async () => {
    const e = await failure(
      prefetchSources([fetchStep(`${base}/missing.tar.gz`)], options()),
      'MELANGE_SOURCE_DOWNLOAD',
    );
    expect(e.data).toMatchObject({ status: 404 });
    expect(hits.get('/missing.tar.gz')).toBe(1);
  });

  it('follows redirects, at most 10, and only to http(s)', async () => {
    const [result] = await prefetchSources([fetchStep(`${base}/redirect`)], options());
    expect(result?.fromCache).toBe(false);
    expect(hits.get('/other/hello-1.0.tar.gz')).toBe(1);
    const e = await failure(
      prefetchSources([fetchStep(`${base}/loop`, { 'expected-sha256': OTHER })], options()),
      'MELANGE_SOURCE_DOWNLOAD',
    );
    expect(e.message).toContain('redirects');
    expect(hits.get('/loop')).toBe(11);
    await failure(
      prefetchSources([fetchStep(`${base}/to-file`, { 'expected-sha256': OTHER })], options()),
      'MELANGE_SOURCE_BAD_INPUT',
    );
  });

  it('refuses a body over the size limit, announced or counted', async () => {
    await failure(
      prefetchSources([fetchStep(`${base}/big.tar.gz`)], options({ maxBytes: 100_000 })),
      'MELANGE_SOURCE_TOO_LARGE',
    );
    await failure(
      prefetchSources([fetchStep(`${base}/big-chunked.tar.gz`)], options({ maxBytes: 100_000 })),
      'MELANGE_SOURCE_TOO_LARGE',
    );
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('offline: uses the cache, and names the file to seed when it is missing', async () => {
    const e = await failure(
      prefetchSources([fetchStep(`${base}/hello-1.0.tar.gz`)], options({ offline: true })),
      'MELANGE_SOURCE_OFFLINE',
    );
    expect(e.hint).toContain(`sha256:${HASH}`);
    expect(hits.size).toBe(0);
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(join(cacheDir, `sha256:${HASH}`), TARBALL);
    const [result] = await prefetchSources(
      [fetchStep(`${base}/hello-1.0.tar.gz`)],
      options({ offline: true }),
    );
    expect(result).toMatchObject({ fromCache: true });
    expect(hits.size).toBe(0);
  });

  it('replaces a corrupted cache entry, with a warning', async () => {
    mkdirSync(cacheDir, { recursive: true });
    const path = join(cacheDir, `sha256:${HASH}`);
    writeFileSync(path, 'truncated');
    const logger = createRecordingLogger();
    const [result] = await prefetchSources([fetchStep(`${base}/hello-1.0.tar.gz`)], options({ logger }));
    expect(result).toMatchObject({ fromCache: false });
    expect(readFileSync(path)).toEqual(TARBALL);
    expect(logger.messages.filter((m) => m.code === 'MELANGE_SOURCE_CACHE_CORRUPT')).toHaveLength(1);

    writeFileSync(path, 'bad again');
    await failure(
      prefetchSources([fetchStep(`${base}/hello-1.0.tar.gz`)], options({ offline: true })),
      'MELANGE_SOURCE_OFFLINE',
    );
    expect(existsSync(path)).toBe(false);
  });

  it('refuses a hostile archive even when its checksum matches', async () => {
    const e = await failure(
      prefetchSources([fetchStep(`${base}/evil.tar.gz`, { 'expected-sha256': sha256(HOSTILE) })], options()),
      'MELANGE_SOURCE_UNSAFE',
    );
    expect(e.data?.entry).toBe('../evil');
    // Not judged when the step does not extract.
    const [kept] = await prefetchSources(
      [fetchStep(`${base}/evil.tar.gz`, { 'expected-sha256': sha256(HOSTILE), extract: 'false' })],
      options(),
    );
    expect(kept?.archive).toBeUndefined();
  });

  it('reads file: URIs, offline too', async () => {
    const local = join(root, 'hello-1.0.tar.gz');
    writeFileSync(local, TARBALL);
    const [result] = await prefetchSources(
      [fetchStep(pathToFileURL(local).href)],
      options({ offline: true }),
    );
    expect(result).toMatchObject({ fromCache: false, size: TARBALL.length });
    expect(readFileSync(join(cacheDir, `sha256:${HASH}`))).toEqual(TARBALL);
    await failure(
      prefetchSources(
        [
          fetchStep(pathToFileURL(join(root, 'nope.tar.gz')).href, {
            'expected-sha256': sha256(new Uint8Array(1)),
          }),
        ],
        options(),
      ),
      'MELANGE_SOURCE_DOWNLOAD',
    );
  });

  it('walks nested steps, skips disabled ones and leaves expected-none to the sandbox', async () => {
    const logger = createRecordingLogger();
    const wrapper: CompiledStep = {
      with: {},
      workingDirectory: '/home/build',
      environment: {},
      enabled: true,
      pipeline: [fetchStep(`${base}/hello-1.0.tar.gz`)],
    };
    const result = await prefetchSources(
      [
        fetchStep(`${base}/missing.tar.gz`, {}, { enabled: false }),
        fetchStep(`${base}/none.tar.gz`, { 'expected-sha256': '', 'expected-none': 'true' }),
        wrapper,
      ],
      options({ logger }),
    );
    expect(result.map((r) => r.uri)).toEqual([`${base}/hello-1.0.tar.gz`]);
    expect(hits.has('/missing.tar.gz')).toBe(false);
    expect(hits.has('/none.tar.gz')).toBe(false);
    expect(logger.messages.some((m) => m.message.includes('expected-none'))).toBe(true);
  });

  it('refuses malformed checksums (they name a cache file) and unsupported schemes', async () => {
    const e = await failure(
      prefetchSources([fetchStep(`${base}/x`, { 'expected-sha256': '../../../etc/passwd' })], options()),
      'MELANGE_SOURCE_BAD_INPUT',
    );
    expect(e.message).toContain('64 lowercase hex digits');
    await failure(
      prefetchSources([fetchStep(`${base}/x`, { 'expected-sha256': HASH.toUpperCase() })], options()),
      'MELANGE_SOURCE_BAD_INPUT',
    );
    await failure(
      prefetchSources([fetchStep('ftp://example.invalid/x.tar.gz')], options()),
      'MELANGE_SOURCE_BAD_INPUT',
    );
    await failure(prefetchSources([fetchStep('not a uri')], options()), 'MELANGE_SOURCE_BAD_INPUT');
    const e2 = await failure(
      prefetchSources([fetchStep(`${base}/x`, { 'expected-sha256': '' })], options()),
      'MELANGE_SOURCE_BAD_INPUT',
    );
    expect(e2.message).toContain('expected-none is required');
    expect(hits.size).toBe(0);
  });

  it('never shows credentials from the URI', async () => {
    const uri = `${base.replace('http://', 'http://user:s3cret@')}/missing.tar.gz`;
    const e = await failure(prefetchSources([fetchStep(uri)], options()), 'MELANGE_SOURCE_DOWNLOAD');
    expect(e.message).not.toContain('s3cret');
    expect(JSON.stringify(e.data)).not.toContain('s3cret');
  });
});
