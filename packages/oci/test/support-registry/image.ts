/**
 * A small, valid two-arch OCI image built by hand for registry tests: one gzip'd tar layer per arch
 * (written with @tk/tar and @tk/gzip), a config, a manifest, and an index listing both.
 */
import { sha256Hex, utf8 } from '@tk/core';
import { gzipSync } from '@tk/gzip';
import { writeTar } from '@tk/tar';
import type { PushBlob, PushImage, PushImageIndex } from '../../src/registry/index.ts';

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

export function blob(mediaType: string, bytes: Uint8Array): PushBlob {
  return { mediaType, bytes, size: bytes.byteLength, digest: `sha256:${sha256Hex(bytes)}` };
}

export interface TestImage extends PushImageIndex {
  readonly images: readonly (PushImage & { readonly arch: string })[];
}

/**
 * Build the image. `seed` changes every blob (so different tests do not share blobs); `payloadBytes`
 * adds a file of that many pseudo-random bytes to each layer (to make uploads non-trivial).
 */
export function buildTestImage(seed = 'hello', payloadBytes = 0): TestImage {
  const images: (PushImage & { arch: string })[] = [];
  for (const arch of ['amd64', 'arm64']) {
    const payload = new Uint8Array(payloadBytes);
    let x = 0x9e3779b9 ^ seed.length ^ (arch === 'arm64' ? 7 : 3);
    for (let i = 0; i < payloadBytes; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      payload[i] = x & 0xff;
    }
    const tar = writeTar([
      { name: 'etc/', type: 'directory', mode: 0o755, mtime: 0 },
      { name: 'etc/hello', type: 'file', mode: 0o644, mtime: 0, data: utf8(`${seed} from ${arch}\n`) },
      ...(payloadBytes > 0
        ? [{ name: 'etc/payload', type: 'file' as const, mode: 0o644, mtime: 0, data: payload }]
        : []),
    ]);
    const layer = blob(OCI_LAYER, gzipSync(tar));
    const config = blob(
      OCI_CONFIG,
      utf8(
        JSON.stringify({
          architecture: arch,
          created: '1970-01-01T00:00:00Z',
          os: 'linux',
          config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/bin/sh'] },
          rootfs: { type: 'layers', diff_ids: [`sha256:${sha256Hex(tar)}`] },
          history: [{ created: '1970-01-01T00:00:00Z', created_by: `tk test ${seed}` }],
        }),
      ),
    );
    const manifest = blob(
      OCI_MANIFEST,
      utf8(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: OCI_CONFIG, size: config.size, digest: config.digest },
          layers: [{ mediaType: OCI_LAYER, size: layer.size, digest: layer.digest }],
        }),
      ),
    );
    images.push({ arch, manifest, config, layers: [layer] });
  }
  const index = blob(
    OCI_INDEX,
    utf8(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: images.map((img) => ({
          mediaType: OCI_MANIFEST,
          size: img.manifest.size,
          digest: img.manifest.digest,
          platform: { architecture: img.arch, os: 'linux' },
        })),
      }),
    ),
  );
  return { index, images };
}
