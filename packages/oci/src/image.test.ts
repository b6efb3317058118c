import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromUtf8, sha256Hex } from '@tk/core';
import { describe, expect, it } from 'vitest';
import {
  APKO_AUTHOR,
  assembleImage,
  assembleIndex,
  buildImageConfig,
  buildIndex,
  buildManifest,
  descriptorOf,
  formatCreated,
  imageEnvironment,
  MEDIA_TYPE_IMAGE_CONFIG,
  MEDIA_TYPE_IMAGE_MANIFEST,
  type ImageConfigOptions,
  type OciDescriptor,
} from './image.ts';
import type { LayerBlob } from './layer.ts';
import { OciError } from './errors.ts';
import { platformFromArch } from './platform.ts';

const GOLDEN = join(import.meta.dirname, '../../../test-fixtures/real/apko-testrepo/golden');
const blob = (hex: string): Uint8Array => new Uint8Array(readFileSync(join(GOLDEN, 'blobs/sha256', hex)));

/** apko's golden build: annotations title/vendor, SOURCE_DATE_EPOCH unset (epoch 0), entrypoint `/bin/sh -l`. */
const ANNOTATIONS = {
  'org.opencontainers.image.title': 'Title',
  'org.opencontainers.image.vendor': 'Vendor',
  'org.opencontainers.image.created': '1970-01-01T00:00:00Z',
};
const GOLDEN_ARCHS = {
  amd64: {
    config: '6c815259150f37d000417f9a93f41bddf74dff905c745986069d4b03e954ac1d',
    manifest: '69f0237c7f8cf0b8a329d1bf1d6870c870c4ec323e39d3a6da59596632d0f2f4',
    layer: 'c7557730da0e2d7fb242d8d1ac6dcf7e3a2439732aa5981270b4f3a02454b738',
    layerSize: 3072,
    diffId: 'sha256:20f698463c2755b6dc42b7d07e959ed7455a06e7367d507e829a315898f21a01',
  },
  arm64: {
    config: 'fbb854f9d5a601a36c4dc8cc82e5b21e91b11cdd4aab5035340e4f517c5a8eb1',
    manifest: '124c885f834cfaf1329987457a9651a68c4fb9733d4462ae6288b98011277858',
    layer: '7e0f9d62f6cab4785e18a55f17d03f20ffb776881f1f46258efd9458f7cdaf08',
    layerSize: 3079,
    diffId: 'sha256:ca5e16c7c944d764863cb1a4286e668e72d6d87ef9ddd82337b19d87715bae7e',
  },
} as const;
const GOLDEN_INDEX = 'b5f05e6fc882c97d61c1daee566954ae6fc09924f8e152293e2b97a06092069f';

function goldenConfigOptions(arch: 'amd64' | 'arm64'): ImageConfigOptions {
  return {
    platform: platformFromArch(arch),
    created: 0,
    env: imageEnvironment({}),
    entrypoint: ['/bin/sh', '-l'],
    labels: ANNOTATIONS,
    diffIds: [GOLDEN_ARCHS[arch].diffId],
    history: { author: 'apko', createdBy: 'apko', comment: 'Title by Vendor' },
    author: APKO_AUTHOR,
  };
}

describe('golden parity with apko', () => {
  it.each(['amd64', 'arm64'] as const)('reproduces the %s config blob byte for byte', (arch) => {
    const config = buildImageConfig(goldenConfigOptions(arch));
    expect(fromUtf8(config.bytes)).toBe(fromUtf8(blob(GOLDEN_ARCHS[arch].config)));
    expect(config.digest).toBe(`sha256:${GOLDEN_ARCHS[arch].config}`);
    expect(config.size).toBe(658);
    expect(config.mediaType).toBe(MEDIA_TYPE_IMAGE_CONFIG);
  });

  it.each(['amd64', 'arm64'] as const)('reproduces the %s manifest from the golden descriptors', (arch) => {
    const g = GOLDEN_ARCHS[arch];
    const manifest = buildManifest({
      config: { mediaType: MEDIA_TYPE_IMAGE_CONFIG, size: 658, digest: `sha256:${g.config}` },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          size: g.layerSize,
          digest: `sha256:${g.layer}`,
        },
      ],
      annotations: ANNOTATIONS,
    });
    expect(fromUtf8(manifest.bytes)).toBe(fromUtf8(blob(g.manifest)));
    expect(manifest.digest).toBe(`sha256:${g.manifest}`);
    expect(manifest.size).toBe(560);
  });

  it('reproduces the index (index.json) from the manifest descriptors, in any input order', () => {
    const entries = (['arm64', 'amd64'] as const).map((arch) => ({
      descriptor: {
        mediaType: MEDIA_TYPE_IMAGE_MANIFEST,
        size: 560,
        digest: `sha256:${GOLDEN_ARCHS[arch].manifest}`,
      },
      platform: platformFromArch(arch),
    }));
    const index = buildIndex({ manifests: entries, annotations: ANNOTATIONS });
    expect(fromUtf8(index.bytes)).toBe(readFileSync(join(GOLDEN, 'index.json'), 'utf8'));
    expect(index.digest).toBe(`sha256:${GOLDEN_INDEX}`);
    expect(index.size).toBe(765);
  });

  it('assembles the whole golden index from the golden layer blobs', () => {
    const images = (['arm64', 'amd64'] as const).map((arch) => {
      const g = GOLDEN_ARCHS[arch];
      const bytes = blob(g.layer);
      const layer: LayerBlob = {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: `sha256:${sha256Hex(bytes)}`,
        size: bytes.length,
        bytes,
        diffId: g.diffId,
        uncompressedSize: 0,
      };
      const { platform, diffIds, ...config } = goldenConfigOptions(arch);
      void diffIds;
      return assembleImage({ platform, layers: [layer], config, annotations: ANNOTATIONS });
    });
    const index = assembleIndex(images, ANNOTATIONS);
    expect(index.index.digest).toBe(`sha256:${GOLDEN_INDEX}`);
    expect(index.images.map((i) => i.platform.architecture)).toEqual(['amd64', 'arm64']);
    expect(index.images.map((i) => i.manifest.digest)).toEqual([
      `sha256:${GOLDEN_ARCHS.amd64.manifest}`,
      `sha256:${GOLDEN_ARCHS.arm64.manifest}`,
    ]);
  });
});

describe('buildImageConfig', () => {
  const base: ImageConfigOptions = {
    platform: platformFromArch('armv7'),
    created: 1700000000,
    diffIds: ['sha256:' + 'a'.repeat(64)],
  };

  it('writes only what is set, with rootfs and config always present', () => {
    const text = fromUtf8(buildImageConfig({ ...base, platform: platformFromArch('x86_64') }).bytes);
    expect(text).toBe(
      '{"architecture":"amd64","created":"2023-11-14T22:13:20Z","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:' +
        'a'.repeat(64) +
        '"]},"config":{}}',
    );
  });

  it('orders every field as go-containerregistry does, with variant and os.features last', () => {
    const text = fromUtf8(
      buildImageConfig({
        ...base,
        platform: { architecture: 'arm', os: 'linux', variant: 'v7', 'os.features': ['erofs'] },
        env: ['B=2', 'A=<1>&'],
        entrypoint: ['/bin/tini', '--'],
        cmd: ['serve'],
        user: '65532',
        workingDir: '/home/app',
        stopSignal: 'SIGTERM',
        volumes: ['/var/b', '/var/a'],
        labels: { z: '1', a: '2' },
        history: { author: 'apko', createdBy: 'apko' },
        author: 'me',
      }).bytes,
    );
    expect(text).toBe(
      '{"architecture":"arm","author":"me","created":"2023-11-14T22:13:20Z",' +
        '"history":[{"author":"apko","created":"2023-11-14T22:13:20Z","created_by":"apko"}],' +
        '"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:' +
        'a'.repeat(64) +
        '"]},"config":{"Cmd":["serve"],"Entrypoint":["/bin/tini","--"],"Env":["B=2","A=\\u003c1\\u003e\\u0026"],' +
        '"Labels":{"a":"2","z":"1"},"User":"65532","Volumes":{"/var/a":{},"/var/b":{}},"WorkingDir":"/home/app",' +
        '"StopSignal":"SIGTERM"},"variant":"v7","os.features":["erofs"]}',
    );
  });

  it('writes one history entry per layer', () => {
    const config = JSON.parse(
      fromUtf8(
        buildImageConfig({
          ...base,
          diffIds: ['sha256:' + 'a'.repeat(64), 'sha256:' + 'b'.repeat(64)],
          history: { author: 'apko', createdBy: 'apko', comment: '' },
        }).bytes,
      ),
    ) as { history: unknown[] };
    expect(config.history).toEqual([
      { author: 'apko', created: '2023-11-14T22:13:20Z', created_by: 'apko' },
      { author: 'apko', created: '2023-11-14T22:13:20Z', created_by: 'apko' },
    ]);
  });

  it.each([
    ['a negative time', { created: -1 }],
    ['a fractional time', { created: 1.5 }],
    ['a time after year 9999', { created: 253402300800 }],
    ['a malformed diff_id', { diffIds: ['sha256:abc'] }],
    ['an uppercase diff_id', { diffIds: ['sha256:' + 'A'.repeat(64)] }],
    ['a NUL in env', { env: ['A=\0'] }],
    ['a non-string label', { labels: { a: 1 as unknown as string } }],
  ])('refuses %s', (_what, change) => {
    expect(() => buildImageConfig({ ...base, ...change })).toThrow(
      expect.objectContaining({ code: 'OCI_BAD_CONFIG' }) as Error,
    );
  });

  it('refuses platforms other than linux ones', () => {
    expect(() =>
      buildImageConfig({ ...base, platform: { architecture: 'amd64', os: 'windows' as 'linux' } }),
    ).toThrow(expect.objectContaining({ code: 'OCI_BAD_PLATFORM' }) as Error);
  });
});

describe('helpers', () => {
  it('formats times as RFC 3339 in UTC', () => {
    expect(formatCreated(0)).toBe('1970-01-01T00:00:00Z');
    expect(formatCreated(1700000000)).toBe('2023-11-14T22:13:20Z');
    expect(formatCreated(253402300799)).toBe('9999-12-31T23:59:59Z');
  });

  it('adds apko environment defaults only when unset, sorted', () => {
    expect(imageEnvironment({ PATH: '/bin', ZED: 'z', A: 'a' })).toEqual([
      'A=a',
      'PATH=/bin',
      'SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt',
      'ZED=z',
    ]);
  });
});

describe('buildManifest and buildIndex', () => {
  const desc = (c: string, size = 1): OciDescriptor => ({
    mediaType: MEDIA_TYPE_IMAGE_MANIFEST,
    size,
    digest: `sha256:${c.repeat(64)}`,
  });

  it('writes layer annotations and urls in descriptor order, and leaves out empty annotations', () => {
    const text = fromUtf8(
      buildManifest({
        config: { ...desc('c'), mediaType: MEDIA_TYPE_IMAGE_CONFIG },
        layers: [
          {
            ...desc('d'),
            mediaType: 'application/vnd.erofs',
            urls: ['https://x'],
            annotations: { b: '1', a: '2' },
          },
        ],
        annotations: {},
      }).bytes,
    );
    expect(text).toBe(
      `{"schemaVersion":2,"mediaType":"${MEDIA_TYPE_IMAGE_MANIFEST}","config":{"mediaType":"${MEDIA_TYPE_IMAGE_CONFIG}",` +
        `"size":1,"digest":"sha256:${'c'.repeat(64)}"},"layers":[{"mediaType":"application/vnd.erofs","size":1,` +
        `"digest":"sha256:${'d'.repeat(64)}","urls":["https://x"],"annotations":{"a":"2","b":"1"}}]}`,
    );
  });

  it('sorts index entries by OCI arch string and writes variants after os', () => {
    const archs = ['s390x', 'arm64', 'armv7', 'x86', 'armhf', 'x86_64', 'riscv64', 'ppc64le', 'loongarch64'];
    const index = JSON.parse(
      fromUtf8(
        buildIndex({
          manifests: archs.map((arch, i) => ({
            descriptor: desc(String(i)),
            platform: platformFromArch(arch),
          })),
        }).bytes,
      ),
    ) as { manifests: { platform: Record<string, string> }[] };
    expect(index.manifests.map((m) => Object.values(m.platform).join('|'))).toEqual([
      '386|linux',
      'amd64|linux',
      'arm|linux|v6',
      'arm|linux|v7',
      'arm64|linux',
      'loong64|linux',
      'ppc64le|linux',
      'riscv64|linux',
      's390x|linux',
    ]);
  });

  it('refuses two images for one platform', () => {
    expect(() =>
      buildIndex({
        manifests: [
          { descriptor: desc('1'), platform: platformFromArch('amd64') },
          { descriptor: desc('2'), platform: platformFromArch('x86_64') },
        ],
      }),
    ).toThrow(expect.objectContaining({ code: 'OCI_DUPLICATE_PLATFORM' }) as Error);
  });

  it.each([
    ['a malformed digest', { digest: 'sha256:zz' }, 'OCI_BAD_DIGEST'],
    ['a negative size', { size: -1 }, 'OCI_BAD_DESCRIPTOR'],
    ['a malformed media type', { mediaType: 'nonsense' }, 'OCI_BAD_DESCRIPTOR'],
  ])('refuses descriptors with %s', (_what, change, code) => {
    expect(() => buildManifest({ config: { ...desc('c'), ...change }, layers: [] })).toThrow(
      expect.objectContaining({ code }) as Error,
    );
  });

  it('refuses an empty index and foreign manifest types', () => {
    expect(() => assembleIndex([])).toThrow(OciError);
    const config = buildImageConfig({ platform: platformFromArch('amd64'), created: 0, diffIds: [] });
    const manifest = buildManifest({ config: descriptorOf(config), layers: [] });
    expect(() =>
      assembleIndex([
        {
          platform: platformFromArch('amd64'),
          config,
          manifest: { ...manifest, mediaType: 'application/x' },
          layers: [],
        },
      ]),
    ).toThrow(expect.objectContaining({ code: 'OCI_BAD_DESCRIPTOR' }) as Error);
  });
});
