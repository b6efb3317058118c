/**
 * Pushing to a real CNCF distribution registry (docker-registry 2.8) without authentication, checked
 * with skopeo.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { bytesEqual, createRecordingLogger, sha256Hex } from '@tk/core';
import {
  getManifest,
  headManifest,
  pushImageIndex,
  createRegistryClient,
  RegistryError,
} from '../src/registry/index.ts';
import type { IndexArtifact } from '../src/image.ts';
import type { PushImageIndex } from '../src/registry/index.ts';
import { buildTestImage, OCI_INDEX } from './support-registry/image.ts';
import { startProxy, type RunningProxy } from './support-registry/proxy.ts';
import { startRegistry, type RunningRegistry } from './support-registry/registry-server.ts';

const run = promisify(execFile);

async function skopeoInspect(args: string[]): Promise<string> {
  const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', ...args], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

it('accepts the image model of @tk/oci as it is', () => {
  expectTypeOf<IndexArtifact>().toExtend<PushImageIndex>();
});

describe('push to docker-registry (no auth)', () => {
  let registry: RunningRegistry;
  let proxy: RunningProxy;

  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startProxy({ host: '127.0.0.1', port: registry.port });
  });
  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  it('pushes a two-arch index that skopeo reads back byte for byte', async () => {
    const image = buildTestImage('push-a', 200_000);
    const logger = createRecordingLogger();
    const result = await pushImageIndex(`${registry.host}/tk/hello:v1`, image, { logger });
    expect(result.digest).toBe(image.index.digest);
    expect(result.refs).toEqual([`${registry.host}/tk/hello@${image.index.digest}`]);
    expect(result.tags).toEqual([`${registry.host}/tk/hello:v1`]);
    expect(result.manifests).toEqual(
      image.images.map((img) => `${registry.host}/tk/hello@${img.manifest.digest}`),
    );
    expect(result.stats).toEqual({
      blobsUploaded: 4,
      blobsSkipped: 0,
      blobsMounted: 0,
      bytesUploaded: image.images.reduce((n, img) => n + img.config.size + img.layers[0]!.size, 0),
    });

    const raw = await skopeoInspect(['--raw', `docker://${registry.host}/tk/hello:v1`]);
    expect(raw).toBe(Buffer.from(image.index.bytes).toString('utf8'));
    expect(`sha256:${sha256Hex(Buffer.from(raw, 'utf8'))}`).toBe(image.index.digest);
    for (const img of image.images) {
      const info = JSON.parse(
        await skopeoInspect([
          '--override-os',
          'linux',
          '--override-arch',
          img.arch,
          `docker://${registry.host}/tk/hello:v1`,
        ]),
      ) as { Digest: string; Architecture: string; Layers: string[] };
      // skopeo 1.9 reports the digest the tag points at (the index) and the chosen image's contents.
      expect(info.Digest).toBe(image.index.digest);
      expect(info.Architecture).toBe(img.arch);
      expect(info.Layers).toEqual([img.layers[0]!.digest]);
      const manifest = await skopeoInspect([
        '--raw',
        `docker://${registry.host}/tk/hello@${img.manifest.digest}`,
      ]);
      expect(manifest).toBe(Buffer.from(img.manifest.bytes).toString('utf8'));
    }

    // Progress reached the total, in bytes, and finished.
    const last = logger.events.at(-1)!;
    expect(last).toMatchObject({ unit: 'bytes', done: true, current: last.total });
    expect(logger.events.some((e) => e.current > 0 && e.current < (e.total ?? 0))).toBe(true);
  });

  it('skips blobs the registry has (HEAD 200) and pushes to several tags', async () => {
    const image = buildTestImage('push-b');
    const target = `${proxy.host}/tk/again`;
    await pushImageIndex(`${target}:first`, image);
    const before = proxy.log.length;
    const second = await pushImageIndex([`${target}:v2`, `${target}:latest`], image);
    const requests = proxy.log.slice(before);
    const headBlobs = requests.filter((r) => r.method === 'HEAD' && r.path.includes('/blobs/'));
    expect(headBlobs).toHaveLength(4);
    expect(headBlobs.every((r) => r.status === 200)).toBe(true);
    expect(requests.filter((r) => r.method === 'POST' || r.method === 'PATCH')).toHaveLength(0);
    expect(second.stats).toMatchObject({ blobsUploaded: 0, blobsSkipped: 4 });
    expect(second.tags).toEqual([`${target}:v2`, `${target}:latest`]);
    const tagPuts = requests.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/'));
    expect(tagPuts.map((r) => r.path.split('/').at(-1)).sort()).toEqual(
      [...image.images.map((i) => i.manifest.digest), 'latest', 'v2'].sort(),
    );
    for (const tag of ['first', 'v2', 'latest']) {
      const got = await getManifest(`${registry.host}/tk/again:${tag}`);
      expect(got.digest).toBe(image.index.digest);
      expect(got.mediaType).toBe(OCI_INDEX);
      expect(bytesEqual(got.bytes, image.index.bytes)).toBe(true);
    }
  });

  it('mounts blobs across repositories of one registry', async () => {
    const image = buildTestImage('push-c');
    const before = proxy.log.length;
    const result = await pushImageIndex([`${proxy.host}/tk/one:1`, `${proxy.host}/tk/two:1`], image);
    expect(result.refs).toEqual([
      `${proxy.host}/tk/one@${image.index.digest}`,
      `${proxy.host}/tk/two@${image.index.digest}`,
    ]);
    expect(result.stats).toMatchObject({ blobsUploaded: 4, blobsMounted: 4 });
    const mounts = proxy.log.slice(before).filter((r) => r.method === 'POST' && r.url.includes('mount='));
    expect(mounts).toHaveLength(4);
    expect(mounts.every((r) => r.status === 201)).toBe(true);
    const two = JSON.parse(
      await skopeoInspect([
        '--override-os',
        'linux',
        '--override-arch',
        'arm64',
        `docker://${registry.host}/tk/two:1`,
      ]),
    ) as {
      Layers: string[];
    };
    expect(two.Layers).toEqual([image.images[1]!.layers[0]!.digest]);
  });

  it('reads manifests back with headManifest and getManifest', async () => {
    const image = buildTestImage('push-d');
    await pushImageIndex(`${registry.host}/tk/read:1`, image);
    const head = await headManifest(`${registry.host}/tk/read:1`);
    expect(head).toEqual({ digest: image.index.digest, mediaType: OCI_INDEX, size: image.index.size });
    const arm = image.images[1]!.manifest;
    const byDigest = await getManifest(`${registry.host}/tk/read@${arm.digest}`);
    expect(bytesEqual(byDigest.bytes, arm.bytes)).toBe(true);
    expect(await headManifest(`${registry.host}/tk/read:missing`)).toBeUndefined();
    await expect(getManifest(`${registry.host}/tk/read:missing`)).rejects.toMatchObject({
      code: 'REGISTRY_NOT_FOUND',
    });
    await expect(getManifest(`${registry.host}/tk/nothing-here:1`)).rejects.toBeInstanceOf(RegistryError);
  });

  it('pushes by digest reference and refuses a digest that is not the index', async () => {
    const image = buildTestImage('push-e');
    const result = await pushImageIndex(`${registry.host}/tk/bydigest@${image.index.digest}`, image);
    expect(result.tags).toEqual([]);
    expect((await getManifest(`${registry.host}/tk/bydigest@${image.index.digest}`)).digest).toBe(
      image.index.digest,
    );
    const other = buildTestImage('push-e-other');
    await expect(
      pushImageIndex(`${registry.host}/tk/bydigest@${other.index.digest}`, image),
    ).rejects.toMatchObject({
      code: 'REGISTRY_DIGEST_MISMATCH',
    });
  });

  it('refuses an image whose blobs do not match their digests, before sending anything', async () => {
    const image = buildTestImage('push-f');
    const before = proxy.log.length;
    const layer = image.images[0]!.layers[0]!;
    const tampered = {
      ...image,
      images: [
        { ...image.images[0]!, layers: [{ ...layer, bytes: layer.bytes.slice(1), size: layer.size - 1 }] },
      ],
    };
    await expect(pushImageIndex(`${proxy.host}/tk/bad:1`, tampered)).rejects.toMatchObject({
      code: 'REGISTRY_INVALID_IMAGE',
    });
    const wrongSize = { ...image, index: { ...image.index, size: image.index.size + 1 } };
    await expect(pushImageIndex(`${proxy.host}/tk/bad:1`, wrongSize)).rejects.toMatchObject({
      code: 'REGISTRY_INVALID_IMAGE',
    });
    expect(proxy.log.length).toBe(before);
  });

  it('keeps one session across operations with createRegistryClient', async () => {
    const image = buildTestImage('push-g');
    const client = createRegistryClient({ concurrency: 2 });
    try {
      const before = proxy.log.length;
      await client.pushImageIndex(`${proxy.host}/tk/client:1`, image);
      expect((await client.headManifest(`${proxy.host}/tk/client:1`))?.digest).toBe(image.index.digest);
      // One ping for the whole client.
      expect(proxy.log.slice(before).filter((r) => r.path === '/v2/')).toHaveLength(1);
    } finally {
      await client.close();
    }
  });
});

describe('push to docker-registry with relative Location URLs', () => {
  let registry: RunningRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ relativeUrls: true });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('follows relative upload locations with query strings', async () => {
    const image = buildTestImage('relative', 50_000);
    const result = await pushImageIndex(`${registry.host}/tk/rel:1`, image);
    expect(result.stats.blobsUploaded).toBe(4);
    const raw = await skopeoInspect(['--raw', `docker://${registry.host}/tk/rel:1`]);
    expect(`sha256:${sha256Hex(Buffer.from(raw, 'utf8'))}`).toBe(image.index.digest);
  });
});
