import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { concatBytes, fromUtf8, utf8 } from '@tk/core';
import { readTar } from '@tk/tar';
import { afterAll, describe, expect, it } from 'vitest';
import { assembleImage, assembleIndex, type ImageArtifact, type IndexArtifact } from './image.ts';
import { buildLayer, type LayerBlob } from './layer.ts';
import { platformFromArch } from './platform.ts';
import {
  archiveRepoTags,
  normalizeTagReference,
  parseImageReference,
  platformTags,
  writeDockerArchive,
  writeDockerArchiveFile,
} from './tarball.ts';

async function layerWith(text: string): Promise<LayerBlob> {
  return buildLayer([{ path: 'f', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: utf8(text) }]);
}

function imageFor(arch: string, layers: LayerBlob[]): ImageArtifact {
  return assembleImage({ platform: platformFromArch(arch), layers, config: { created: 0 } });
}

describe('parseImageReference', () => {
  it.each([
    ['hello', { repository: 'hello', name: 'hello' }],
    ['hello:1.0', { repository: 'hello', name: 'hello', tag: '1.0' }],
    ['org/app:v_1-x.y', { repository: 'org/app', name: 'org/app', tag: 'v_1-x.y' }],
    ['localhost/app', { registry: 'localhost', repository: 'app', name: 'localhost/app' }],
    [
      'localhost:5000/a/b:c',
      { registry: 'localhost:5000', repository: 'a/b', name: 'localhost:5000/a/b', tag: 'c' },
    ],
    ['127.0.0.1:5000/app', { registry: '127.0.0.1:5000', repository: 'app' }],
    ['[::1]:5000/app:t', { registry: '[::1]:5000', repository: 'app', tag: 't' }],
    ['Registry.Example.com/app', { registry: 'Registry.Example.com', repository: 'app' }],
    ['a__b/c--d/e.f', { repository: 'a__b/c--d/e.f' }],
    [
      `ghcr.io/x/y@sha256:${'a'.repeat(64)}`,
      { registry: 'ghcr.io', repository: 'x/y', digest: `sha256:${'a'.repeat(64)}` },
    ],
    [`x:t@sha256:${'b'.repeat(64)}`, { repository: 'x', tag: 't', digest: `sha256:${'b'.repeat(64)}` }],
  ])('parses %s', (reference, expected) => {
    expect(parseImageReference(reference)).toMatchObject(expected);
  });

  it.each([
    ['an empty reference', ''],
    ['an uppercase repository', 'Hello'],
    ['an empty tag', 'hello:'],
    ['a tag starting with -', 'hello:-x'],
    ['a tag of 129 characters', `hello:${'t'.repeat(129)}`],
    ['a missing repository', ':tag'],
    ['an empty component', 'a//b'],
    ['a .. component', 'a/../b'],
    ['a trailing separator', 'a-/b'],
    ['a non-numeric port', 'localhost:abc/app'],
    ['a malformed digest', 'hello@sha256:zz'],
    ['whitespace', ' hello'],
    ['a name longer than 255 characters', `${'a'.repeat(256)}:t`],
    ['a registry without repository', 'localhost:5000/'],
  ])('refuses %s', (_what, reference) => {
    expect(() => parseImageReference(reference)).toThrow(
      expect.objectContaining({ code: 'OCI_BAD_REFERENCE' }) as Error,
    );
  });

  it('normalises tags for tarballs and refuses digests', () => {
    expect(normalizeTagReference('hello')).toBe('hello:latest');
    expect(normalizeTagReference('localhost:5000/a:1')).toBe('localhost:5000/a:1');
    expect(() => normalizeTagReference(`hello@sha256:${'a'.repeat(64)}`)).toThrow(
      expect.objectContaining({ code: 'OCI_REFERENCE_HAS_DIGEST' }) as Error,
    );
  });
});

describe('writeDockerArchive', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  async function sampleIndex(): Promise<IndexArtifact> {
    const shared = await layerWith('shared');
    return assembleIndex([
      imageFor('aarch64', [shared, await layerWith('arm64')]),
      imageFor('x86_64', [shared, await layerWith('amd64')]),
    ]);
  }

  it('writes configs and deduplicated layers, manifest.json, then the manifests and index.json', async () => {
    const index = await sampleIndex();
    const [amd64, arm64] = index.images as [ImageArtifact, ImageArtifact];
    const { entries, endOfArchive } = readTar(concatBytes(writeDockerArchive(index, { tags: ['hello'] })));
    expect(endOfArchive).toBe(true);
    const hex = (d: string): string => d.slice('sha256:'.length);
    expect(entries.map((e) => e.name)).toEqual([
      amd64.config.digest,
      `${hex(amd64.layers[0]!.digest)}.tar.gz`,
      `${hex(amd64.layers[1]!.digest)}.tar.gz`,
      arm64.config.digest,
      `${hex(arm64.layers[1]!.digest)}.tar.gz`,
      'manifest.json',
      amd64.manifest.digest,
      arm64.manifest.digest,
      'index.json',
    ]);
    for (const entry of entries) {
      expect(entry).toMatchObject({
        type: 'file',
        mode: 0o644,
        uid: 0,
        gid: 0,
        uname: '',
        gname: '',
        mtime: 0,
      });
    }
    const byName = new Map(entries.map((e) => [e.name, e.data]));
    expect(byName.get('index.json')).toEqual(index.index.bytes);
    expect(byName.get(amd64.manifest.digest)).toEqual(amd64.manifest.bytes);
    expect(byName.get(arm64.config.digest)).toEqual(arm64.config.bytes);
    expect(byName.get(`${hex(arm64.layers[1]!.digest)}.tar.gz`)).toEqual(arm64.layers[1]!.bytes);
    expect(fromUtf8(byName.get('manifest.json')!)).toBe(
      JSON.stringify([
        {
          Config: amd64.config.digest,
          RepoTags: ['hello:latest-amd64'],
          Layers: amd64.layers.map((l) => `${hex(l.digest)}.tar.gz`),
        },
        {
          Config: arm64.config.digest,
          RepoTags: ['hello:latest-arm64'],
          Layers: arm64.layers.map((l) => `${hex(l.digest)}.tar.gz`),
        },
      ]),
    );
  });

  it('gives every platform its own tag, arm variants included, and sorts manifest.json by tags', async () => {
    const layer = await layerWith('x');
    const index = assembleIndex(
      ['armv7', 'armhf', 'aarch64', 'x86', 'x86_64'].map((arch) => imageFor(arch, [layer])),
    );
    expect(platformTags(index, ['reg.example:5000/app:1', 'reg.example:5000/app:1', 'app'])).toEqual([
      ['reg.example:5000/app:1-386', 'app:latest-386'],
      ['reg.example:5000/app:1-amd64', 'app:latest-amd64'],
      ['reg.example:5000/app:1-arm_v6', 'app:latest-arm_v6'],
      ['reg.example:5000/app:1-arm_v7', 'app:latest-arm_v7'],
      ['reg.example:5000/app:1-arm64', 'app:latest-arm64'],
    ]);
    const { entries } = readTar(concatBytes(writeDockerArchive(index, { tags: ['app'] })));
    const manifest = JSON.parse(fromUtf8(entries.find((e) => e.name === 'manifest.json')!.data)) as {
      RepoTags: string[];
    }[];
    expect(manifest.map((m) => m.RepoTags[0])).toEqual([
      'app:latest-386',
      'app:latest-amd64',
      'app:latest-arm64',
      'app:latest-arm_v6',
      'app:latest-arm_v7',
    ]);
    // One layer shared by all five images is written once.
    expect(entries.filter((e) => e.name.endsWith('.tar.gz'))).toHaveLength(1);
  });

  it('tags the one image of a single-platform index with the reference as given and the per-platform tag', async () => {
    const index = assembleIndex([imageFor('x86_64', [await layerWith('only')])]);
    const [image] = index.images as [ImageArtifact];
    const hex = (d: string): string => d.slice('sha256:'.length);
    const layerName = `${hex(image.layers[0]!.digest)}.tar.gz`;
    const { entries } = readTar(concatBytes(writeDockerArchive(index, { tags: ['hello:latest'] })));
    // One config, one layer, one manifest: the second name costs no blob.
    expect(entries.map((e) => e.name)).toEqual([
      image.config.digest,
      layerName,
      'manifest.json',
      image.manifest.digest,
      'index.json',
    ]);
    const byName = new Map(entries.map((e) => [e.name, e.data]));
    expect(fromUtf8(byName.get('manifest.json')!)).toBe(
      JSON.stringify([
        {
          Config: image.config.digest,
          RepoTags: ['hello:latest', 'hello:latest-amd64'],
          Layers: [layerName],
        },
      ]),
    );
    // index.json is the image index itself: one manifest, digest unchanged, no tag annotations added.
    expect(byName.get('index.json')).toEqual(index.index.bytes);
    const indexJson = JSON.parse(fromUtf8(byName.get('index.json')!)) as {
      manifests: { digest: string; annotations?: Record<string, string> }[];
    };
    expect(indexJson.manifests.map((m) => m.digest)).toEqual([image.manifest.digest]);
    expect(JSON.stringify(indexJson)).not.toContain('hello');
    expect(byName.get(image.manifest.digest)).toEqual(image.manifest.bytes);
    expect(byName.get(image.config.digest)).toEqual(image.config.bytes);
    expect(byName.get(layerName)).toEqual(image.layers[0]!.bytes);
  });

  it('archiveRepoTags: per-platform tags only for several images, both names for one', async () => {
    const layer = await layerWith('x');
    const multi = assembleIndex(['x86_64', 'aarch64'].map((arch) => imageFor(arch, [layer])));
    expect(archiveRepoTags(multi, ['hello:latest'])).toEqual([
      ['hello:latest-amd64'],
      ['hello:latest-arm64'],
    ]);
    expect(archiveRepoTags(multi, ['a', 'b:1'])).toEqual(platformTags(multi, ['a', 'b:1']));
    const arm = assembleIndex([imageFor('armv7', [layer])]);
    expect(archiveRepoTags(arm, ['reg.example:5000/app:1'])).toEqual([
      ['reg.example:5000/app:1', 'reg.example:5000/app:1-arm_v7'],
    ]);
    const amd64 = assembleIndex([imageFor('x86_64', [layer])]);
    // Normalised (`a` → `a:latest`), each reference before its own suffixed tag, duplicates dropped.
    expect(archiveRepoTags(amd64, ['a:x', 'a:x-amd64', 'a', 'a:latest'])).toEqual([
      ['a:x', 'a:x-amd64', 'a:x-amd64-amd64', 'a:latest', 'a:latest-amd64'],
    ]);
  });

  it('refuses for a single-platform index what it refuses for several', async () => {
    const amd64 = assembleIndex([imageFor('x86_64', [await layerWith('x')])]);
    const code = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (error) {
        return (error as { code?: unknown }).code;
      }
      return undefined;
    };
    expect(code(() => archiveRepoTags(amd64, []))).toBe('OCI_NO_TAGS');
    expect(code(() => archiveRepoTags(amd64, [`a@sha256:${'a'.repeat(64)}`]))).toBe(
      'OCI_REFERENCE_HAS_DIGEST',
    );
    // The bare tag fits in 128 characters, its `-amd64` form does not: refused rather than half-tagged.
    expect(code(() => archiveRepoTags(amd64, [`a:${'t'.repeat(125)}`]))).toBe('OCI_BAD_REFERENCE');
    expect(code(() => writeDockerArchive(amd64, { tags: ['Hello:1'] }))).toBe('OCI_BAD_REFERENCE');
    expect(code(() => writeDockerArchive(amd64, { tags: ['hello:-x'] }))).toBe('OCI_BAD_REFERENCE');
  });

  it('is byte-identical across runs', async () => {
    const one = concatBytes(writeDockerArchive(await sampleIndex(), { tags: ['hello:1'] }));
    const two = concatBytes(writeDockerArchive(await sampleIndex(), { tags: ['hello:1'] }));
    expect(two).toEqual(one);
    const single = async (): Promise<Uint8Array> =>
      concatBytes(
        writeDockerArchive(assembleIndex([imageFor('x86_64', [await layerWith('s')])]), {
          tags: ['hello:1'],
        }),
      );
    expect(await single()).toEqual(await single());
  });

  it('refuses no tags, digests, over-long per-platform tags and tampered blobs', async () => {
    const index = await sampleIndex();
    const code = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (error) {
        return (error as { code?: unknown }).code;
      }
      return undefined;
    };
    expect(code(() => writeDockerArchive(index, { tags: [] }))).toBe('OCI_NO_TAGS');
    expect(code(() => writeDockerArchive(index, { tags: [`a@sha256:${'a'.repeat(64)}`] }))).toBe(
      'OCI_REFERENCE_HAS_DIGEST',
    );
    expect(code(() => writeDockerArchive(index, { tags: [`a:${'t'.repeat(125)}`] }))).toBe(
      'OCI_BAD_REFERENCE',
    );
    const image = index.images[0]!;
    const tamperedLayer = { ...image.layers[0]!, bytes: utf8('not the layer') };
    const tampered: IndexArtifact = {
      ...index,
      images: [{ ...image, layers: [tamperedLayer] }, ...index.images.slice(1)],
    };
    expect(code(() => writeDockerArchive(tampered, { tags: ['a'] }))).toBe('OCI_BAD_DESCRIPTOR');
    const badIndex: IndexArtifact = { ...index, index: { ...index.index, bytes: utf8('{}') } };
    expect(code(() => writeDockerArchive(badIndex, { tags: ['a'] }))).toBe('OCI_BAD_DESCRIPTOR');
  });

  it('writes the file atomically and reports unwritable paths', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tk-oci-tarball-'));
    dirs.push(dir);
    const index = await sampleIndex();
    const path = join(dir, 'out.tar');
    await writeDockerArchiveFile(path, index, { tags: ['hello'] });
    expect(new Uint8Array(readFileSync(path))).toEqual(
      concatBytes(writeDockerArchive(index, { tags: ['hello'] })),
    );
    await expect(
      writeDockerArchiveFile(join(dir, 'missing/out.tar'), index, { tags: ['hello'] }),
    ).rejects.toMatchObject({
      code: 'OCI_WRITE_FAILED',
    });
  });
});
