/**
 * Reading blobs back (`getBlob`): from the in-memory registry, checked against the digest and the size
 * asked for, including a registry that serves other bytes or too many bytes, and a redirect to storage.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bytesEqual, sha256Hex } from '@tk/core';
import { createRegistryClient, getBlob, pushImageIndex, RegistryError } from '../src/registry/index.ts';
import { startFakeRegistry, type RunningFakeRegistry } from './support-registry/fake-registry.ts';
import { buildTestImage } from './support-registry/image.ts';

const fast = { retries: 0, sleep: async () => undefined };

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RegistryError) return error.code;
    throw error;
  }
  return 'no error';
}

describe('getBlob', () => {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
  });

  async function registryWith(
    intercept?: Parameters<typeof startFakeRegistry>[0] extends infer O
      ? O extends { intercept?: infer I }
        ? I
        : never
      : never,
  ): Promise<{ registry: RunningFakeRegistry; image: ReturnType<typeof buildTestImage> }> {
    const registry = await startFakeRegistry(intercept === undefined ? {} : { intercept });
    stops.push(() => registry.stop());
    const image = buildTestImage('blob', 1000);
    await pushImageIndex(`${registry.host}/tk/blob:v1`, image, fast);
    return { registry, image };
  }

  it('returns the layer and config bytes that were pushed', async () => {
    const { registry, image } = await registryWith();
    const first = image.images[0]!;
    const layer = await getBlob(`${registry.host}/tk/blob:v1`, first.layers[0]!.digest, {
      ...fast,
      size: first.layers[0]!.size,
    });
    expect(bytesEqual(layer, first.layers[0]!.bytes)).toBe(true);
    const client = createRegistryClient(fast);
    try {
      const config = await client.getBlob(`${registry.host}/tk/blob`, first.config.digest);
      expect(bytesEqual(config, first.config.bytes)).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('reports a blob the registry does not have as REGISTRY_NOT_FOUND', async () => {
    const { registry } = await registryWith();
    const missing = `sha256:${sha256Hex(new Uint8Array([1, 2, 3]))}`;
    expect(await codeOf(getBlob(`${registry.host}/tk/blob`, missing, fast))).toBe('REGISTRY_NOT_FOUND');
  });

  it('refuses other bytes than the digest names (hostile registry)', async () => {
    let tamper = false;
    const { registry, image } = await registryWith((req, res) => {
      if (!tamper || req.method !== 'GET' || !/\/blobs\/sha256:/.test(req.url ?? '')) return false;
      const body = Buffer.from('not the layer');
      res.writeHead(200, { 'content-length': body.byteLength });
      res.end(body);
      return true;
    });
    tamper = true;
    const layer = image.images[0]!.layers[0]!;
    expect(await codeOf(getBlob(`${registry.host}/tk/blob`, layer.digest, fast))).toBe(
      'REGISTRY_DIGEST_MISMATCH',
    );
  });

  it('stops reading a body longer than the descriptor says', async () => {
    let tamper = false;
    const { registry, image } = await registryWith((req, res) => {
      if (!tamper || req.method !== 'GET' || !/\/blobs\/sha256:/.test(req.url ?? '')) return false;
      const body = Buffer.alloc(64 * 1024, 1);
      res.writeHead(200, { 'content-length': body.byteLength });
      res.end(body);
      return true;
    });
    tamper = true;
    const config = image.images[0]!.config;
    expect(
      await codeOf(getBlob(`${registry.host}/tk/blob`, config.digest, { ...fast, size: config.size })),
    ).toBe('REGISTRY_BAD_RESPONSE');
  });

  it('follows a redirect to blob storage', async () => {
    const seen: (string | undefined)[] = [];
    let payload = Buffer.alloc(0);
    const storage: Server = createServer((req, res) => {
      seen.push(req.url);
      res.writeHead(200, { 'content-length': payload.byteLength });
      res.end(payload);
    });
    await new Promise<void>((resolve) => storage.listen(0, '127.0.0.1', resolve));
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          storage.closeAllConnections();
          storage.close(() => resolve());
        }),
    );
    const port = (storage.address() as AddressInfo).port;
    let redirect = false;
    const { registry, image } = await registryWith((req, res) => {
      if (!redirect || req.method !== 'GET' || !/\/blobs\/sha256:/.test(req.url ?? '')) return false;
      res.writeHead(307, { location: `http://127.0.0.1:${port}/storage/blob`, 'content-length': 0 });
      res.end();
      return true;
    });
    redirect = true;
    const layer = image.images[1]!.layers[0]!;
    payload = Buffer.from(layer.bytes);
    const bytes = await getBlob(`${registry.host}/tk/blob`, layer.digest, fast);
    expect(bytesEqual(bytes, layer.bytes)).toBe(true);
    expect(seen).toEqual(['/storage/blob']);
  });

  it('rejects a malformed digest before sending anything', async () => {
    const { registry } = await registryWith();
    const before = registry.requests.length;
    expect(await codeOf(getBlob(`${registry.host}/tk/blob`, 'sha256:../../etc', fast))).toBe(
      'REGISTRY_BAD_REFERENCE',
    );
    expect(registry.requests.length).toBe(before);
  });
});
