/**
 * The Bearer token flow against a token service and an in-memory registry on 127.0.0.1: anonymous and
 * credentialed tokens, identity (refresh) tokens, `access_token` answers, scope caching, cross-repository
 * mount scopes, expired tokens, and registry error bodies.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  createRegistryClient,
  pushImageIndex,
  getManifest,
  login,
  staticKeychain,
  type RegistryError,
} from '../src/registry/index.ts';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestImage } from './support-registry/image.ts';
import {
  startFakeRegistry,
  startTokenServer,
  type FakeRegistryOptions,
  type RunningFakeRegistry,
  type RunningTokenServer,
  type TokenServerOptions,
} from './support-registry/fake-registry.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setup(
  tokenOptions: TokenServerOptions,
  registryOptions: Omit<FakeRegistryOptions, 'bearer'> = {},
): Promise<{ tokens: RunningTokenServer; registry: RunningFakeRegistry }> {
  const tokens = await startTokenServer(tokenOptions);
  cleanups.push(() => tokens.stop());
  const registry = await startFakeRegistry({
    ...registryOptions,
    bearer: { realm: tokens.url, service: 'fake-registry', grants: tokens.grants },
  });
  cleanups.push(() => registry.stop());
  return { tokens, registry };
}

describe('bearer token flow', () => {
  it('gets an anonymous token for repository:<repo>:pull,push and caches it per scope', async () => {
    const { tokens, registry } = await setup({ anonymous: true });
    const image = buildTestImage('bearer-anon');
    const client = createRegistryClient();
    try {
      const result = await client.pushImageIndex(`${registry.host}/team/app:1`, image);
      expect(result.digest).toBe(image.index.digest);
      expect(tokens.requests).toEqual([
        {
          method: 'GET',
          scopes: ['repository:team/app:pull,push'],
          service: 'fake-registry',
          user: undefined,
          grantType: undefined,
        },
      ]);
      // Every registry request after the ping carried the one token.
      const authed = registry.requests.slice(1);
      expect(new Set(authed.map((r) => r.authorization)).size).toBe(1);
      expect(authed[0]!.authorization).toMatch(/^Bearer [0-9a-f]+$/);

      // The pull,push token serves pulls of the same repository.
      expect((await client.getManifest(`${registry.host}/team/app:1`)).digest).toBe(image.index.digest);
      expect((await client.headManifest(`${registry.host}/team/app:1`))?.digest).toBe(image.index.digest);
      expect(tokens.requests).toHaveLength(1);
      // Another repository needs its own token, then cached.
      await client.pushImageIndex(`${registry.host}/team/other:1`, image);
      expect((await client.headManifest(`${registry.host}/team/other:1`))?.digest).toBe(image.index.digest);
      expect((await client.getManifest(`${registry.host}/team/other:1`)).digest).toBe(image.index.digest);
      expect(tokens.requests.map((r) => r.scopes)).toEqual([
        ['repository:team/app:pull,push'],
        ['repository:team/other:pull,push'],
      ]);
    } finally {
      await client.close();
    }
  });

  it('sends Basic credentials to the token service and pushes', async () => {
    const { tokens, registry } = await setup({ users: { alice: 's3cret:with:colons' } });
    const image = buildTestImage('bearer-cred');
    const keychain = staticKeychain({
      [registry.host]: { username: 'alice', password: 's3cret:with:colons' },
    });
    await pushImageIndex(`${registry.host}/alice/app:v1`, image, { keychain });
    expect(tokens.requests).toHaveLength(1);
    expect(tokens.requests[0]).toMatchObject({ user: 'alice', scopes: ['repository:alice/app:pull,push'] });
    expect(registry.manifests.get('alice/app')?.get('v1')?.bytes.equals(image.index.bytes)).toBe(true);
  });

  it('fails with REGISTRY_UNAUTHORIZED on refused credentials, and without any', async () => {
    const { registry } = await setup({ users: { alice: 'right' } });
    const image = buildTestImage('bearer-wrong');
    const keychain = staticKeychain({ [registry.host]: { username: 'alice', password: 'wrong' } });
    const error = (await pushImageIndex(`${registry.host}/alice/app:v1`, image, { keychain }).catch(
      (e: unknown) => e,
    )) as RegistryError;
    expect(error.code).toBe('REGISTRY_UNAUTHORIZED');
    expect(error.hint).toMatch(/tk apko login/);
    expect(error.data).toMatchObject({ status: 401, errors: [{ code: 'UNAUTHORIZED' }] });
    expect(registry.manifests.size).toBe(0);
    expect(registry.requests.filter((r) => r.method !== 'GET')).toEqual([]);

    const anon = (await pushImageIndex(`${registry.host}/alice/app:v1`, image).catch(
      (e: unknown) => e,
    )) as RegistryError;
    expect(anon.code).toBe('REGISTRY_UNAUTHORIZED');
    expect(anon.message).toMatch(/no credentials were found/);
  });

  it('exchanges an identity token with the OAuth2 refresh_token grant', async () => {
    const { tokens, registry } = await setup({ refreshTokens: { 'refresh-abc': 'bob' } });
    const keychain = staticKeychain({ [registry.host]: { identityToken: 'refresh-abc' } });
    await pushImageIndex(`${registry.host}/bob/app:1`, buildTestImage('bearer-oauth'), { keychain });
    expect(tokens.requests).toEqual([
      {
        method: 'POST',
        scopes: ['repository:bob/app:pull,push'],
        service: 'fake-registry',
        user: 'bob',
        grantType: 'refresh_token',
      },
    ]);
  });

  it('accepts access_token answers and rejects answers without a token', async () => {
    const ok = await setup({ anonymous: true, field: 'access_token' });
    await pushImageIndex(`${ok.registry.host}/x/y:1`, buildTestImage('bearer-access'));
    expect(ok.registry.manifests.get('x/y')?.has('1')).toBe(true);

    const none = await setup({ anonymous: true, field: 'none' });
    await expect(
      pushImageIndex(`${none.registry.host}/x/y:1`, buildTestImage('bearer-none')),
    ).rejects.toMatchObject({
      code: 'REGISTRY_TOKEN_ERROR',
    });
  });

  it('asks for pull on the source repository to mount blobs across repositories', async () => {
    const { tokens, registry } = await setup({ anonymous: true });
    const image = buildTestImage('bearer-mount');
    const result = await pushImageIndex([`${registry.host}/a/one:1`, `${registry.host}/a/two:1`], image);
    expect(result.stats).toMatchObject({ blobsUploaded: 4, blobsMounted: 4 });
    expect(tokens.requests.map((r) => r.scopes)).toEqual([
      ['repository:a/one:pull,push'],
      ['repository:a/two:pull,push', 'repository:a/one:pull'],
    ]);
    expect(registry.manifests.get('a/two')?.get('1')?.bytes.equals(image.index.bytes)).toBe(true);
  });

  it('fetches a new token once when the registry stops accepting the cached one', async () => {
    const { tokens, registry } = await setup({ anonymous: true });
    const client = createRegistryClient();
    try {
      const image = buildTestImage('bearer-expire');
      await client.pushImageIndex(`${registry.host}/e/app:1`, image);
      registry.revokeTokens();
      expect((await client.getManifest(`${registry.host}/e/app:1`)).digest).toBe(image.index.digest);
      registry.revokeTokens();
      await client.pushImageIndex(`${registry.host}/e/app:2`, image);
      // One new token after each revocation, shared by the concurrent requests that were refused.
      expect(tokens.requests.map((r) => r.scopes)).toEqual([
        ['repository:e/app:pull,push'],
        ['repository:e/app:pull'],
        ['repository:e/app:pull,push'],
      ]);
      expect(registry.manifests.get('e/app')?.has('2')).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('login checks credentials through the token flow', async () => {
    const { tokens, registry } = await setup({ users: { carol: 'pw' } });
    const dir = await mkdtemp(join(tmpdir(), 'tk-bearer-login-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const configPath = join(dir, 'config.json');
    await expect(login(registry.host, 'carol', 'nope', { configPath })).rejects.toMatchObject({
      code: 'REGISTRY_UNAUTHORIZED',
    });
    await login(registry.host, 'carol', 'pw', { configPath });
    expect(tokens.requests.at(-1)).toMatchObject({ user: 'carol', scopes: [] });
    expect(JSON.parse(await readFile(configPath, 'utf8'))).toEqual({
      auths: { [registry.host]: { auth: Buffer.from('carol:pw').toString('base64') } },
    });
  });
});

describe('registry answers', () => {
  it('reports the step, URL, status and the registry error body', async () => {
    const { registry } = await setup(
      { anonymous: true },
      {
        intercept: (req, res) => {
          if (req.method === 'PUT' && req.url?.includes('/manifests/sha256:') === true) {
            const body = JSON.stringify({
              errors: [
                { code: 'MANIFEST_BLOB_UNKNOWN', message: 'blob unknown to registry', detail: 'sha256:x' },
              ],
            });
            res.writeHead(400, {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
            });
            res.end(body);
            return true;
          }
          return false;
        },
      },
    );
    const image = buildTestImage('bearer-400');
    const error = (await pushImageIndex(`${registry.host}/r/app:1`, image).catch(
      (e: unknown) => e,
    )) as RegistryError;
    expect(error.code).toBe('REGISTRY_HTTP_ERROR');
    expect(error.message).toMatch(
      /push manifest sha256:[0-9a-f]{64} to 127\.0\.0\.1:\d+\/r\/app: PUT http:\/\/127\.0\.0\.1:\d+\/v2\/r\/app\/manifests\/sha256:[0-9a-f]{64} answered 400: MANIFEST_BLOB_UNKNOWN: blob unknown to registry/,
    );
    expect(error.data).toMatchObject({
      method: 'PUT',
      status: 400,
      errors: [{ code: 'MANIFEST_BLOB_UNKNOWN', detail: 'sha256:x' }],
    });
    // The index was never tagged.
    expect(registry.manifests.get('r/app')?.has('1') ?? false).toBe(false);
  });

  it('refuses a Docker-Content-Digest that differs from what was pushed', async () => {
    const { registry } = await setup(
      { anonymous: true },
      {
        intercept: (req, res) => {
          if (req.method === 'PUT' && req.url?.includes('/manifests/1') === true) {
            res.writeHead(201, { 'docker-content-digest': `sha256:${'0'.repeat(64)}`, 'content-length': 0 });
            res.end();
            return true;
          }
          return false;
        },
      },
    );
    await expect(
      pushImageIndex(`${registry.host}/r/app:1`, buildTestImage('bearer-digest')),
    ).rejects.toMatchObject({
      code: 'REGISTRY_DIGEST_MISMATCH',
    });
  });

  it('refuses a manifest whose bytes do not match the digest asked for', async () => {
    const image = buildTestImage('bearer-served');
    const { registry } = await setup(
      { anonymous: true },
      {
        intercept: (req, res) => {
          if (req.method === 'GET' && req.url?.includes('/manifests/') === true) {
            res.writeHead(200, {
              'content-type': 'application/vnd.oci.image.index.v1+json',
              'content-length': 2,
            });
            res.end('{}');
            return true;
          }
          return false;
        },
      },
    );
    await expect(getManifest(`${registry.host}/r/app@${image.index.digest}`)).rejects.toMatchObject({
      code: 'REGISTRY_DIGEST_MISMATCH',
    });
  });

  it('refuses oversized manifests', async () => {
    const { registry } = await setup(
      { anonymous: true },
      {
        intercept: (req, res) => {
          if (req.method === 'GET' && req.url?.includes('/manifests/') === true) {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(Buffer.alloc(5 * 1024 * 1024, 0x20));
            return true;
          }
          return false;
        },
      },
    );
    await expect(getManifest(`${registry.host}/r/app:1`)).rejects.toMatchObject({
      code: 'REGISTRY_BAD_RESPONSE',
    });
  });

  it('refuses an upload answer without a Location', async () => {
    const { registry } = await setup(
      { anonymous: true },
      {
        intercept: (req, res) => {
          if (req.method === 'POST') {
            res.writeHead(202, { 'content-length': 0 });
            res.end();
            return true;
          }
          return false;
        },
      },
    );
    await expect(
      pushImageIndex(`${registry.host}/r/app:1`, buildTestImage('bearer-noloc')),
    ).rejects.toMatchObject({
      code: 'REGISTRY_BAD_RESPONSE',
    });
  });
});
