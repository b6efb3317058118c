/**
 * Plain HTTP only to loopback registries (or with `insecure`), refused before connecting, including for
 * URLs a registry hands out (Location headers, redirects, token realms). No test here touches a network
 * beyond 127.0.0.1: non-loopback requests are diverted to a closed local port or answered by MockAgent.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, MockAgent, type Dispatcher } from 'undici';
import {
  getManifest,
  isLoopback,
  pushImageIndex,
  staticKeychain,
  type RegistryError,
} from '../src/registry/index.ts';
import { buildTestImage } from './support-registry/image.ts';
import { startFakeRegistry, type FakeRegistryOptions } from './support-registry/fake-registry.ts';
import { freePort } from './support-registry/registry-server.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A dispatcher that records every request's origin and diverts non-loopback ones to a closed local port. */
async function recordingDispatcher(): Promise<{ dispatcher: Dispatcher; seen: string[] }> {
  const closed = await freePort();
  const agent = new Agent();
  cleanups.push(() => agent.close());
  const seen: string[] = [];
  const dispatcher = agent.compose((dispatch) => (opts, handler): boolean => {
    const origin = String(opts.origin);
    seen.push(`${opts.method} ${origin}${opts.path}`);
    if (!isLoopback(new URL(origin).host))
      return dispatch({ ...opts, origin: `http://127.0.0.1:${closed}` }, handler);
    return dispatch(opts, handler);
  });
  return { dispatcher, seen };
}

const fastSleep = { sleep: async () => {}, retries: 1 };

async function fakeRegistry(options: FakeRegistryOptions): Promise<string> {
  const registry = await startFakeRegistry(options);
  cleanups.push(() => registry.stop());
  return registry.host;
}

describe('scheme choice', () => {
  it.each([
    ['registry.example.invalid/app:1', false, 'https://registry.example.invalid'],
    ['registry.example.invalid:5000/app:1', false, 'https://registry.example.invalid:5000'],
    ['10.1.2.3:5000/app:1', false, 'https://10.1.2.3:5000'],
    ['registry.example.invalid/app:1', true, 'http://registry.example.invalid'],
  ])('%s (insecure %s) is contacted at %s, and nothing else', async (ref, insecure, origin) => {
    const { dispatcher, seen } = await recordingDispatcher();
    const error = (await pushImageIndex(ref, buildTestImage('scheme'), {
      dispatcher,
      insecure,
      ...fastSleep,
    }).catch((e: unknown) => e)) as RegistryError;
    expect(error.code).toBe('REGISTRY_UNAVAILABLE');
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((s) => s === `GET ${origin}/v2/`)).toBe(true);
  });

  it.each([
    ['127.0.0.1', 'http://127.0.0.1'],
    ['localhost', 'http://localhost'],
    ['[::1]', 'http://[::1]'],
  ])('loopback %s is spoken to over plain HTTP', async (host, origin) => {
    const { dispatcher, seen } = await recordingDispatcher();
    const port = await freePort();
    await pushImageIndex(`${host}:${port}/app:1`, buildTestImage('loop'), { dispatcher, ...fastSleep }).catch(
      () => undefined,
    );
    expect(seen[0]).toBe(`GET ${origin}:${port}/v2/`);
  });
});

describe('refusing plain HTTP to non-loopback hosts before connecting', () => {
  it('refuses an http token realm on another host', async () => {
    const host = await fakeRegistry({
      intercept: (req, res) => {
        res.writeHead(401, {
          'www-authenticate': 'Bearer realm="http://token.example.invalid/token",service="s"',
          'content-length': 0,
        });
        res.end();
        return true;
      },
    });
    const { dispatcher, seen } = await recordingDispatcher();
    const error = (await pushImageIndex(`${host}/app:1`, buildTestImage('realm'), { dispatcher }).catch(
      (e: unknown) => e,
    )) as RegistryError;
    expect(error.code).toBe('REGISTRY_PLAIN_HTTP_REFUSED');
    expect(error.message).toMatch(/token\.example\.invalid/);
    expect(seen.some((s) => s.includes('example.invalid'))).toBe(false);
  });

  it('refuses an http upload Location on another host', async () => {
    const host = await fakeRegistry({
      intercept: (req, res) => {
        if (req.method !== 'POST') return false;
        res.writeHead(202, {
          location: 'http://203.0.113.7:5000/v2/app/blobs/uploads/x?s=1',
          'content-length': 0,
        });
        res.end();
        return true;
      },
    });
    const { dispatcher, seen } = await recordingDispatcher();
    await expect(
      pushImageIndex(`${host}/app:1`, buildTestImage('location'), { dispatcher }),
    ).rejects.toMatchObject({
      code: 'REGISTRY_PLAIN_HTTP_REFUSED',
    });
    expect(seen.some((s) => s.includes('203.0.113.7'))).toBe(false);
  });

  it('refuses a Location with another scheme', async () => {
    const host = await fakeRegistry({
      intercept: (req, res) => {
        if (req.method !== 'POST') return false;
        res.writeHead(202, { location: 'file:///etc/passwd', 'content-length': 0 });
        res.end();
        return true;
      },
    });
    await expect(pushImageIndex(`${host}/app:1`, buildTestImage('file'))).rejects.toMatchObject({
      code: 'REGISTRY_PLAIN_HTTP_REFUSED',
    });
  });

  it('refuses a redirect to plain HTTP on another host when reading a manifest', async () => {
    const host = await fakeRegistry({
      intercept: (req, res) => {
        if (!req.url!.includes('/manifests/')) return false;
        res.writeHead(307, { location: 'http://198.51.100.1/manifest', 'content-length': 0 });
        res.end();
        return true;
      },
    });
    const { dispatcher, seen } = await recordingDispatcher();
    await expect(getManifest(`${host}/app:1`, { dispatcher })).rejects.toMatchObject({
      code: 'REGISTRY_PLAIN_HTTP_REFUSED',
    });
    expect(seen.some((s) => s.includes('198.51.100.1'))).toBe(false);
  });

  it('follows a redirect to another loopback origin without sending credentials there', async () => {
    const target = await fakeRegistry({});
    const image = buildTestImage('redirect');
    await pushImageIndex(`${target}/app:1`, image);
    const seenAuth: (string | undefined)[] = [];
    const front = await fakeRegistry({
      intercept: (req, res) => {
        seenAuth.push(req.headers.authorization);
        if (req.url === '/v2/') {
          res.writeHead(401, { 'www-authenticate': 'Basic realm="r"', 'content-length': 0 });
          res.end();
          return true;
        }
        res.writeHead(307, { location: `http://${target}${req.url}`, 'content-length': 0 });
        res.end();
        return true;
      },
    });
    const { dispatcher, seen } = await recordingDispatcher();
    const got = await getManifest(`${front}/app:1`, {
      dispatcher,
      keychain: staticKeychain({ [front]: { username: 'u', password: 'p' } }),
    });
    expect(got.digest).toBe(image.index.digest);
    expect(seenAuth.at(-1)).toMatch(/^Basic /);
    expect(seen.at(-1)).toBe(`GET http://${target}/v2/app/manifests/1`);
  });
});

describe('token realms of remote registries', () => {
  function mockRegistry(realm: string): MockAgent {
    const mock = new MockAgent();
    mock.disableNetConnect();
    cleanups.push(() => mock.close());
    mock
      .get('https://registry.example.invalid')
      .intercept({ path: '/v2/', method: 'GET' })
      .reply(401, '', { headers: { 'www-authenticate': `Bearer realm="${realm}",service="svc"` } })
      .persist();
    return mock;
  }

  it.each([
    ['https://169.254.169.254/latest/meta-data', 'REGISTRY_BAD_RESPONSE'],
    ['https://10.0.0.8/token', 'REGISTRY_BAD_RESPONSE'],
    ['https://[::1]:8443/token', 'REGISTRY_BAD_RESPONSE'],
    ['http://auth.example.invalid/token', 'REGISTRY_PLAIN_HTTP_REFUSED'],
  ])('refuses realm %s', async (realm, code) => {
    const mock = mockRegistry(realm);
    await expect(
      getManifest('registry.example.invalid/app:1', { dispatcher: mock, ...fastSleep }),
    ).rejects.toMatchObject({ code });
  });

  it('uses an https realm on a public host', async () => {
    const mock = mockRegistry('https://auth.example.invalid/token');
    mock
      .get('https://auth.example.invalid')
      .intercept({ path: (p) => p.startsWith('/token?'), method: 'GET' })
      .reply(200, { token: 'tok123' });
    const body = '{"schemaVersion":2}';
    mock
      .get('https://registry.example.invalid')
      .intercept({ path: '/v2/app/manifests/1', method: 'GET', headers: { authorization: 'Bearer tok123' } })
      .reply(200, body, { headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' } });
    const got = await getManifest('registry.example.invalid/app:1', { dispatcher: mock, ...fastSleep });
    expect(Buffer.from(got.bytes).toString()).toBe(body);
  });
});

describe('TLS', () => {
  it('verifies certificates: a self-signed registry fails with a TLS hint', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tk-tls-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=127.0.0.1',
        '-days',
        '1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    let hits = 0;
    const server = createHttpsServer(
      { key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) },
      (_req, res) => {
        hits++;
        res.writeHead(200);
        res.end('{}');
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as AddressInfo).port;
    // Send https://tls.example.invalid to the local TLS server.
    const agent = new Agent();
    cleanups.push(() => agent.close());
    const dispatcher = agent.compose(
      (dispatch) =>
        (opts, handler): boolean =>
          dispatch({ ...opts, origin: `https://127.0.0.1:${port}` }, handler),
    );
    const error = (await getManifest('tls.example.invalid/app:1', { dispatcher, ...fastSleep }).catch(
      (e: unknown) => e,
    )) as RegistryError;
    expect(error.code).toBe('REGISTRY_UNAVAILABLE');
    expect(error.hint).toMatch(/NODE_EXTRA_CA_CERTS/);
    expect(hits).toBe(0);
  });
});
