import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromUtf8, sha256Hex, utf8 } from '@tk/core';
import { afterAll, describe, expect, it } from 'vitest';
import { assembleImage, assembleIndex, type IndexArtifact } from './image.ts';
import { buildLayer } from './layer.ts';
import { layoutIndexJson, OCI_LAYOUT_FILE, writeOciLayout } from './layout.ts';
import { platformFromArch } from './platform.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tk-oci-layout-'));
  dirs.push(dir);
  return dir;
}

async function sampleIndex(archs = ['x86_64', 'armv7']): Promise<IndexArtifact> {
  const images = [];
  for (const arch of archs) {
    const layer = await buildLayer([
      { path: 'arch', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: utf8(arch) },
    ]);
    images.push(assembleImage({ platform: platformFromArch(arch), layers: [layer], config: { created: 0 } }));
  }
  return assembleIndex(images, { 'org.opencontainers.image.created': '1970-01-01T00:00:00Z' });
}

function listBlobs(dir: string): string[] {
  return readdirSync(join(dir, 'blobs/sha256')).sort();
}

describe('writeOciLayout', () => {
  it('writes apko’s shape without a tag: index.json is the image index, blobs hold the rest', async () => {
    const index = await sampleIndex();
    const dir = join(tempDir(), 'new/nested');
    const result = await writeOciLayout(dir, index);
    expect(readFileSync(join(dir, 'oci-layout'), 'utf8')).toBe(OCI_LAYOUT_FILE);
    expect(new Uint8Array(readFileSync(join(dir, 'index.json')))).toEqual(index.index.bytes);
    const expected = index.images.flatMap((i) => [
      i.manifest.digest,
      i.config.digest,
      ...i.layers.map((l) => l.digest),
    ]);
    expect(listBlobs(dir)).toEqual(expected.map((d) => d.slice(7)).sort());
    for (const name of listBlobs(dir))
      expect(sha256Hex(readFileSync(join(dir, 'blobs/sha256', name)))).toBe(name);
    expect(result.written.sort()).toEqual([...expected].sort());
    expect(result.kept).toEqual([]);
  });

  it('writes the tagged shape: the index by tag and each platform by tag-suffix', async () => {
    const index = await sampleIndex();
    const [amd64, armv7] = index.images;
    const dir = tempDir();
    await writeOciLayout(dir, index, { tag: 'v1' });
    expect(readFileSync(join(dir, 'index.json'), 'utf8')).toBe(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.index.v1+json',
            size: index.index.size,
            digest: index.index.digest,
            annotations: { 'org.opencontainers.image.ref.name': 'v1' },
          },
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            size: amd64!.manifest.size,
            digest: amd64!.manifest.digest,
            annotations: { 'org.opencontainers.image.ref.name': 'v1-amd64' },
            platform: { architecture: 'amd64', os: 'linux' },
            artifactType: 'application/vnd.oci.image.config.v1+json',
          },
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            size: armv7!.manifest.size,
            digest: armv7!.manifest.digest,
            annotations: { 'org.opencontainers.image.ref.name': 'v1-arm_v7' },
            platform: { architecture: 'arm', os: 'linux', variant: 'v7' },
            artifactType: 'application/vnd.oci.image.config.v1+json',
          },
        ],
      }),
    );
    expect(readFileSync(join(dir, 'blobs/sha256', index.index.digest.slice(7)))).toEqual(
      Buffer.from(index.index.bytes),
    );
  });

  it('keeps blobs already present with the right content and replaces corrupt ones', async () => {
    const index = await sampleIndex();
    const dir = tempDir();
    await writeOciLayout(dir, index, { tag: 'latest' });
    const victim = index.images[0]!.config.digest;
    writeFileSync(
      join(dir, 'blobs/sha256', victim.slice(7)),
      fromUtf8(index.images[0]!.config.bytes).replace('amd64', 'AMD64'),
    );
    const again = await writeOciLayout(dir, index, { tag: 'latest' });
    expect(again.written).toEqual([victim]);
    expect(again.kept).toHaveLength(6);
    expect(sha256Hex(readFileSync(join(dir, 'blobs/sha256', victim.slice(7))))).toBe(victim.slice(7));
    // No temporary files are left behind.
    expect(readdirSync(dir).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
    expect(listBlobs(dir).every((name) => /^[0-9a-f]{64}$/.test(name))).toBe(true);
  });

  it('refuses invalid tags and tampered artifacts before writing anything', async () => {
    const index = await sampleIndex();
    const dir = join(tempDir(), 'out');
    await expect(writeOciLayout(dir, index, { tag: 'bad tag' })).rejects.toMatchObject({
      code: 'OCI_BAD_REFERENCE',
    });
    await expect(writeOciLayout(dir, index, { tag: 't'.repeat(125) })).rejects.toMatchObject({
      code: 'OCI_BAD_REFERENCE',
    });
    const image = index.images[0]!;
    const tampered = { ...index, images: [{ ...image, config: { ...image.config, bytes: utf8('{}') } }] };
    await expect(writeOciLayout(dir, tampered)).rejects.toMatchObject({ code: 'OCI_BAD_DESCRIPTOR' });
    expect(existsSync(dir)).toBe(false);
  });

  it('reports a file where the directory should be', async () => {
    const file = join(tempDir(), 'file');
    writeFileSync(file, 'x');
    await expect(writeOciLayout(file, await sampleIndex())).rejects.toMatchObject({
      code: 'OCI_WRITE_FAILED',
    });
  });

  it('returns the same index.json for the same input', async () => {
    expect(layoutIndexJson(await sampleIndex(), { tag: 'x' })).toEqual(
      layoutIndexJson(await sampleIndex(), { tag: 'x' }),
    );
  });
});
