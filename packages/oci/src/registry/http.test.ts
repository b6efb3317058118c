import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backoffDelay,
  checkUrlAllowed,
  redactUrl,
  retrying,
  sendChecked,
  sendOnce,
  TransientFailure,
  type HttpSettings,
} from './http.ts';
import { exhaustedError, parseRegistryErrors, responseError } from './session.ts';

function settings(overrides: Partial<HttpSettings> = {}): HttpSettings & { delays: number[] } {
  const delays: number[] = [];
  return {
    dispatcher: undefined,
    insecure: false,
    timeoutMs: 2000,
    retries: 3,
    sleep: async (ms) => void delays.push(ms),
    backoffMs: 100,
    userAgent: 'tk-test',
    ...overrides,
    delays,
  };
}

describe('checkUrlAllowed', () => {
  it.each([
    ['https://ghcr.io/v2/', false],
    ['https://10.0.0.1/v2/', false],
    ['http://127.0.0.1:5000/v2/', false],
    ['http://127.9.9.9/v2/', false],
    ['http://localhost:5000/v2/', false],
    ['http://[::1]:5000/v2/', false],
    ['http://ghcr.io/v2/', true],
  ])('allows %s (insecure %s)', (url, insecure) => {
    expect(() => checkUrlAllowed(new URL(url), insecure)).not.toThrow();
  });

  it.each([
    ['http://ghcr.io/v2/', false],
    ['http://10.0.0.1:5000/v2/', false],
    ['http://localhost.example.com/v2/', false],
    ['http://[::2]/v2/', false],
    ['ftp://127.0.0.1/x', false],
    ['file:///etc/passwd', true],
    ['data:text/plain,x', true],
  ])('refuses %s (insecure %s)', (url, insecure) => {
    expect(() => checkUrlAllowed(new URL(url), insecure)).toThrow(
      expect.objectContaining({ code: 'REGISTRY_PLAIN_HTTP_REFUSED' }),
    );
  });

  it('redacts credentials and query strings from URLs in messages', () => {
    expect(redactUrl(new URL('https://u:p@h.example/v2/x/blobs/uploads/1?_state=secret'))).toBe(
      'https://h.example/v2/x/blobs/uploads/1',
    );
  });
});

describe('retrying', () => {
  it('retries transient failures with doubling backoff, then reports the attempts', async () => {
    const s = settings();
    let calls = 0;
    const error = await retrying(
      s,
      'do a thing',
      async () => {
        calls++;
        throw new TransientFailure('boom', {});
      },
      (info) => new Error(`${info.step} ${info.attempts}`),
    ).catch((e: unknown) => e);
    expect((error as Error).message).toBe('do a thing 4');
    expect(calls).toBe(4);
    expect(s.delays).toEqual([100, 200, 400]);
  });

  it('returns as soon as an attempt succeeds, and never retries other errors', async () => {
    const s = settings();
    let calls = 0;
    expect(
      await retrying(
        s,
        'x',
        async (attempt) => {
          calls++;
          if (attempt < 3) throw new TransientFailure('again', {});
          return 'done';
        },
        () => new Error('exhausted'),
      ),
    ).toBe('done');
    expect(calls).toBe(3);
    await expect(
      retrying(
        s,
        'x',
        async () => Promise.reject(new RangeError('fatal')),
        () => new Error('exhausted'),
      ),
    ).rejects.toBeInstanceOf(RangeError);
  });

  it('honours Retry-After (capped) and caps the backoff', () => {
    const s = settings({ backoffMs: 1000 });
    expect(backoffDelay(s, 1, new TransientFailure('x', { retryAfterMs: 3000 }))).toBe(3000);
    expect(backoffDelay(s, 6, new TransientFailure('x', {}))).toBe(10_000);
  });
});

describe('sendOnce and sendChecked', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/big') {
        res.writeHead(200);
        res.end(Buffer.alloc(10_000));
      } else if (req.url === '/busy') {
        res.writeHead(503, { 'retry-after': '2' });
        res.end('{"errors":[{"code":"UNAVAILABLE","message":"busy"}]}');
      } else if (req.url === '/drop') {
        req.socket.destroy();
      } else if (req.url === '/hang') {
        // never answers
      } else {
        res.writeHead(200, { 'x-ua': req.headers['user-agent'] ?? '' });
        res.end('ok');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('reads bodies and sends the user agent', async () => {
    const res = await sendOnce(settings(), { method: 'GET', url: new URL(`${base}/`), maxBodyBytes: 100 });
    expect(res.status).toBe(200);
    expect(Buffer.from(res.body).toString()).toBe('ok');
    expect(res.headers['x-ua']).toBe('tk-test');
  });

  it('cuts off bodies over the limit', async () => {
    await expect(
      sendOnce(settings(), { method: 'GET', url: new URL(`${base}/big`), maxBodyBytes: 1000 }),
    ).rejects.toMatchObject({
      code: 'REGISTRY_BAD_RESPONSE',
    });
  });

  it('turns 503 into a transient failure with Retry-After', async () => {
    const error = await sendChecked(settings(), {
      method: 'GET',
      url: new URL(`${base}/busy`),
      maxBodyBytes: 1000,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientFailure);
    expect(error).toMatchObject({ status: 503, retryAfterMs: 2000 });
  });

  it('turns dropped connections and timeouts into transient failures', async () => {
    await expect(
      sendOnce(settings(), { method: 'GET', url: new URL(`${base}/drop`), maxBodyBytes: 10 }),
    ).rejects.toBeInstanceOf(TransientFailure);
    await expect(
      sendOnce(settings({ timeoutMs: 200 }), {
        method: 'GET',
        url: new URL(`${base}/hang`),
        maxBodyBytes: 10,
      }),
    ).rejects.toBeInstanceOf(TransientFailure);
  });
});

describe('registry error bodies', () => {
  it('parses the distribution errors array', () => {
    const body = Buffer.from(
      JSON.stringify({
        errors: [
          { code: 'BLOB_UNKNOWN', message: 'blob unknown to registry', detail: { digest: 'sha256:x' } },
          'junk',
        ],
      }),
    );
    expect(parseRegistryErrors(body)).toEqual([
      { code: 'BLOB_UNKNOWN', message: 'blob unknown to registry', detail: { digest: 'sha256:x' } },
    ]);
  });

  it('quotes other bodies, without control characters, shortened', () => {
    expect(parseRegistryErrors(Buffer.from('<html>\n\x1b[31mBad Gateway</html>'))).toEqual([
      { code: 'UNKNOWN', message: '<html> [31mBad Gateway</html>' },
    ]);
    expect(parseRegistryErrors(Buffer.alloc(0))).toEqual([]);
    expect(parseRegistryErrors(Buffer.from('x'.repeat(100_000)))[0]!.message.length).toBeLessThan(400);
  });

  it.each([
    [401, 'REGISTRY_UNAUTHORIZED', /tk apko login 127\.0\.0\.1:5000/],
    [403, 'REGISTRY_DENIED', /permission/],
    [404, 'REGISTRY_NOT_FOUND', /repository name/],
    [400, 'REGISTRY_HTTP_ERROR', /refused/],
  ])('maps status %i to %s with a hint', (status, code, hint) => {
    const error = responseError(
      'push manifest',
      'PUT',
      {
        status,
        headers: {},
        body: Buffer.from('{"errors":[{"code":"DENIED","message":"nope"}]}'),
        url: new URL('http://127.0.0.1:5000/v2/a/manifests/t?x=1'),
      },
      '127.0.0.1:5000',
    );
    expect(error.code).toBe(code);
    expect(error.hint).toMatch(hint);
    expect(error.message).toBe(
      `push manifest: PUT http://127.0.0.1:5000/v2/a/manifests/t answered ${status}: DENIED: nope`,
    );
    expect(error.data).toMatchObject({ step: 'push manifest', status, errors: [{ code: 'DENIED' }] });
  });

  it('reports exhausted retries with the attempt count and last answer', () => {
    const last = new TransientFailure('x', {
      status: 502,
      response: { status: 502, headers: {}, body: new Uint8Array(), url: new URL('https://r.example/v2/') },
    });
    const error = exhaustedError({ step: 'contact registry r.example', attempts: 5, last }, 'GET');
    expect(error.code).toBe('REGISTRY_UNAVAILABLE');
    expect(error.message).toBe(
      'contact registry r.example: failed after 5 attempts; last: GET https://r.example/v2/ answered 502',
    );
    expect(error.data).toMatchObject({ attempts: 5, status: 502 });
  });
});
