/**
 * Reproducibility (same input, same bytes) and end-to-end parity with apko's golden OCI layout.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { concatBytes, sha256Hex } from '@tk/core';
import { gunzip } from '@tk/gzip';
import {
  APKO_AUTHOR,
  assembleImage,
  assembleIndex,
  buildLayer,
  imageEnvironment,
  MEDIA_TYPE_LAYER_GZIP,
  platformFromArch,
  writeDockerArchive,
  writeOciLayout,
  type LayerBlob,
  type LayerEntry,
} from '@tk/oci';
import { readTar } from '@tk/tar';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSampleIndex } from './support-image/sample-image.ts';

const GOLDEN = join(import.meta.dirname, '../../../test-fixtures/real/apko-testrepo/golden');
const ANNOTATIONS = {
  'org.opencontainers.image.title': 'Title',
  'org.opencontainers.image.vendor': 'Vendor',
  'org.opencontainers.image.created': '1970-01-01T00:00:00Z',
};
const GOLDEN_LAYERS = {
  amd64: {
    blob: 'c7557730da0e2d7fb242d8d1ac6dcf7e3a2439732aa5981270b4f3a02454b738',
    config: '6c815259150f37d000417f9a93f41bddf74dff905c745986069d4b03e954ac1d',
  },
  arm64: {
    blob: '7e0f9d62f6cab4785e18a55f17d03f20ffb776881f1f46258efd9458f7cdaf08',
    config: 'fbb854f9d5a601a36c4dc8cc82e5b21e91b11cdd4aab5035340e4f517c5a8eb1',
  },
} as const;

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tk-oci-repro-'));
  dirs.push(dir);
  return dir;
}

/** Every file under a directory, as relative path -> sha256. */
function tree(dir: string, skip: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(d, entry.name);
      if (skip.includes(relative(dir, path))) continue;
      if (entry.isDirectory()) walk(path);
      else out[relative(dir, path)] = sha256Hex(readFileSync(path));
    }
  };
  walk(dir);
  return out;
}

const apkoConfig = {
  created: 0,
  env: imageEnvironment({}),
  entrypoint: ['/bin/sh', '-l'],
  labels: ANNOTATIONS,
  history: { author: 'apko', createdBy: 'apko', comment: 'Title by Vendor' },
  author: APKO_AUTHOR,
};

describe('reproducibility', () => {
  it('builds the same tarball, index and layout twice', async () => {
    const one = await buildSampleIndex();
    const two = await buildSampleIndex();
    expect(two.index.digest).toBe(one.index.digest);
    expect(concatBytes(writeDockerArchive(two, { tags: ['hello:latest'] }))).toEqual(
      concatBytes(writeDockerArchive(one, { tags: ['hello:latest'] })),
    );
    const a = tempDir();
    const b = tempDir();
    await writeOciLayout(a, one, { tag: 'latest' });
    await writeOciLayout(b, two, { tag: 'latest' });
    expect(tree(b)).toEqual(tree(a));
  });
});

describe('parity with apko’s golden output', () => {
  it('turns the entries of apko’s layers into apko’s config blobs byte for byte', async () => {
    for (const arch of ['amd64', 'arm64'] as const) {
      const tar = gunzip(
        new Uint8Array(readFileSync(join(GOLDEN, 'blobs/sha256', GOLDEN_LAYERS[arch].blob))),
      );
      const entries: LayerEntry[] = readTar(tar).entries.map((e) => ({
        path: e.name,
        type: e.type,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        uname: e.uname,
        gname: e.gname,
        mtime: e.mtime,
        ...(e.linkname === '' ? {} : { linkname: e.linkname }),
        devmajor: e.devmajor,
        devminor: e.devminor,
        ...(e.type === 'file' ? { data: e.data } : {}),
      }));
      const layer = await buildLayer(entries.reverse());
      const image = assembleImage({
        platform: platformFromArch(arch),
        layers: [layer],
        config: apkoConfig,
        annotations: ANNOTATIONS,
      });
      expect(image.config.digest).toBe(`sha256:${GOLDEN_LAYERS[arch].config}`);
    }
  });

  it('writes apko’s golden OCI layout file for file from the golden layers', async () => {
    const images = (['arm64', 'amd64'] as const).map((arch) => {
      const bytes = new Uint8Array(readFileSync(join(GOLDEN, 'blobs/sha256', GOLDEN_LAYERS[arch].blob)));
      const layer: LayerBlob = {
        mediaType: MEDIA_TYPE_LAYER_GZIP,
        digest: `sha256:${sha256Hex(bytes)}`,
        size: bytes.length,
        bytes,
        diffId: `sha256:${sha256Hex(gunzip(bytes))}`,
        uncompressedSize: 0,
      };
      return assembleImage({
        platform: platformFromArch(arch),
        layers: [layer],
        config: apkoConfig,
        annotations: ANNOTATIONS,
      });
    });
    const index = assembleIndex(images, ANNOTATIONS);
    expect(index.index.digest).toBe(
      'sha256:b5f05e6fc882c97d61c1daee566954ae6fc09924f8e152293e2b97a06092069f',
    );
    const dir = tempDir();
    await writeOciLayout(dir, index);
    expect(tree(dir)).toEqual(tree(GOLDEN, ['sboms']));
  });
});
