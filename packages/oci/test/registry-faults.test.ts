/**
 * Retries: a fault-injecting proxy in front of a real docker-registry answers 500 or drops connections on
 * a deterministic pattern; the push must still succeed with the same digest as a direct push. A proxy
 * that always fails must make the push fail after the retry budget, quickly (sleep injected).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesEqual } from '@tk/core';
import { getManifest, pushImageIndex, type RegistryError } from '../src/registry/index.ts';
import { buildTestImage } from './support-registry/image.ts';
import { startProxy, type Fault, type ProxyRequest } from './support-registry/proxy.ts';
import { startRegistry, type RunningRegistry } from './support-registry/registry-server.ts';

/** Sleeps recorded, not waited. */
function fakeSleep(): { sleep: (ms: number) => Promise<void>; delays: number[] } {
  const delays: number[] = [];
  return { delays, sleep: async (ms) => void delays.push(ms) };
}

/** Upload session ids and state tokens vary; the key of a request is its method and stable path. */
function stableKey(req: ProxyRequest): string {
  const path = req.path.replace(/\/blobs\/uploads\/[^/]+$/, '/blobs/uploads/*');
  const digest = /[?&]digest=([^&]+)/.exec(req.url)?.[1] ?? '';
  return `${req.method} ${path} ${digest} ${req.bodyLength}`;
}

describe('push through a faulty proxy', () => {
  let registry: RunningRegistry;

  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('survives every 3rd request answering 500 and every 5th connection dropped (sequential)', async () => {
    const image = buildTestImage('faults-seq', 100_000);
    const direct = await pushImageIndex(`${registry.host}/tk/direct:1`, image);
    const proxy = await startProxy(
      { host: '127.0.0.1', port: registry.port },
      ({ n }): Fault => (n % 5 === 0 ? 'drop' : n % 3 === 0 ? 'error500' : 'pass'),
    );
    try {
      const { sleep, delays } = fakeSleep();
      const result = await pushImageIndex(`${proxy.host}/tk/faulty:1`, image, { sleep, concurrency: 1 });
      expect(result.digest).toBe(direct.digest);
      expect(result.stats.blobsUploaded).toBe(4);
      const faults = proxy.log.filter((r) => r.fault !== 'pass');
      expect(faults.filter((r) => r.fault === 'error500').length).toBeGreaterThan(3);
      expect(faults.filter((r) => r.fault === 'drop').length).toBeGreaterThan(2);
      // A PATCH was hit, so an upload was restarted from POST.
      expect(faults.some((r) => r.method === 'PATCH')).toBe(true);
      expect(delays.length).toBe(faults.length);
      const stored = await getManifest(`${registry.host}/tk/faulty:1`);
      expect(bytesEqual(stored.bytes, image.index.bytes)).toBe(true);
    } finally {
      await proxy.stop();
    }
  });

  it('survives a first failure of every distinct request, concurrently, including lost commit answers', async () => {
    const image = buildTestImage('faults-conc', 300_000);
    const direct = await pushImageIndex(`${registry.host}/tk/direct2:1`, image);
    const seen = new Set<string>();
    const proxy = await startProxy({ host: '127.0.0.1', port: registry.port }, (req): Fault => {
      const key = stableKey(req);
      if (seen.has(key)) return 'pass';
      seen.add(key);
      // Commits are forwarded and then their answer is lost; the rest alternate 500 / dropped connection.
      if (req.method === 'PUT' && req.path.includes('/blobs/uploads/')) return 'drop-after-forward';
      return createHash('sha256').update(key).digest()[0]! % 2 === 0 ? 'error500' : 'drop';
    });
    try {
      const { sleep } = fakeSleep();
      const result = await pushImageIndex(
        [`${proxy.host}/tk/faulty2:1`, `${proxy.host}/tk/faulty2:2`],
        image,
        {
          sleep,
          concurrency: 4,
        },
      );
      expect(result.digest).toBe(direct.digest);
      // Each lost commit was retried, found the session gone, and confirmed the blob with HEAD.
      const lost = proxy.log.filter((r) => r.fault === 'drop-after-forward');
      expect(lost).toHaveLength(4);
      for (const commit of lost) {
        const digest = /[?&]digest=([^&]+)/.exec(commit.url)![1]!;
        const later = proxy.log.filter(
          (r) => r.n > commit.n && r.url.includes(decodeURIComponent(digest).slice(7)),
        );
        expect(later.find((r) => r.method === 'PUT')?.status).toBe(404);
        expect(later.find((r) => r.method === 'HEAD' && r.status === 200)).toBeDefined();
      }
      expect(proxy.log.some((r) => r.fault === 'error500')).toBe(true);
      expect(proxy.log.some((r) => r.fault === 'drop')).toBe(true);
      for (const tag of ['1', '2']) {
        expect((await getManifest(`${registry.host}/tk/faulty2:${tag}`)).digest).toBe(direct.digest);
      }
      for (const img of image.images) {
        const got = await getManifest(`${registry.host}/tk/faulty2@${img.manifest.digest}`);
        expect(bytesEqual(got.bytes, img.manifest.bytes)).toBe(true);
      }
    } finally {
      await proxy.stop();
    }
  });

  it('gives up after the retry budget when every request answers 500', async () => {
    const proxy = await startProxy({ host: '127.0.0.1', port: registry.port }, () => 'error500');
    try {
      const { sleep, delays } = fakeSleep();
      const started = performance.now();
      const error = (await pushImageIndex(`${proxy.host}/tk/down:1`, buildTestImage('faults-down'), {
        sleep,
        retries: 3,
        backoffMs: 100,
      }).catch((e: unknown) => e)) as RegistryError;
      expect(error).toMatchObject({ code: 'REGISTRY_UNAVAILABLE' });
      expect(error.data).toMatchObject({ attempts: 4, status: 500 });
      expect(error.data?.errors).toEqual([
        { code: 'UNKNOWN', message: expect.stringMatching(/injected fault/) as unknown },
      ]);
      expect(error.message).toMatch(/after 4 attempts/);
      expect(delays).toEqual([100, 200, 400]);
      expect(proxy.log).toHaveLength(4);
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      await proxy.stop();
    }
  });

  it('gives up after the retry budget when every blob upload loses its connection', async () => {
    const proxy = await startProxy({ host: '127.0.0.1', port: registry.port }, (req) =>
      req.method === 'PATCH' ? 'drop' : 'pass',
    );
    try {
      const { sleep } = fakeSleep();
      const error = (await pushImageIndex(`${proxy.host}/tk/patchless:1`, buildTestImage('faults-patch'), {
        sleep,
        retries: 2,
        concurrency: 1,
      }).catch((e: unknown) => e)) as RegistryError;
      expect(error).toMatchObject({ code: 'REGISTRY_UNAVAILABLE', data: { attempts: 3 } });
      expect(error.message).toMatch(/upload sha256:/);
      // Each attempt restarted from POST; no manifest was pushed.
      expect(proxy.log.filter((r) => r.method === 'PATCH')).toHaveLength(3);
      expect(proxy.log.filter((r) => r.method === 'POST')).toHaveLength(3);
      expect(proxy.log.some((r) => r.path.includes('/manifests/'))).toBe(false);
    } finally {
      await proxy.stop();
    }
  });
});
