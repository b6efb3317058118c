/**
 * OCI image layouts (image-spec image-layout.md): `oci-layout`, `index.json` and `blobs/sha256/<hex>`.
 *
 * Two shapes of `index.json`:
 * - **apko's** (no `tag`): `index.json` *is* the image index, byte for byte (its SHA-256 is the index
 *   digest) and the index is not duplicated under `blobs/` — what go-containerregistry's `layout.Write`
 *   gives apko (reference §7.4). skopeo refuses such a layout when it holds several platforms ("more than
 *   one image in oci, choose an image"), because no manifest carries `org.opencontainers.image.ref.name`.
 * - **tagged** (`tag: 'latest'`): the image index is stored as a blob like everything else, and
 *   `index.json` lists it with `ref.name` = the tag, followed by each platform's manifest with
 *   `ref.name` = `<tag>-<suffix>` (`latest-amd64`, `latest-arm_v7`, the tarball's suffixes).
 *   `skopeo … oci:DIR:latest` then picks the platform from the index, and tools that cannot choose a
 *   platform (`umoci unpack --image DIR:latest-amd64`) can name one. The image index keeps its digest.
 *
 * Writing is atomic per file: blobs first (each to a temporary name, then renamed; a blob already present
 * with the right content is kept), `index.json` last, so a reader never sees an index whose blobs are
 * missing. Existing unrelated files in the directory are left alone, as go-containerregistry does.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Logger,
  silentLogger,
  stringifyCanonical,
  utf8,
  writeFileAtomic,
  type JsonValue,
} from '@tk/core';
import { digestHex, parseDigest } from './digest.ts';
import { OciError } from './errors.ts';
import { MEDIA_TYPE_IMAGE_INDEX, type IndexArtifact, type OciBlob } from './image.ts';
import { normalizePlatform, platformTagSuffix } from './platform.ts';
import { verifyIndexArtifact } from './tarball.ts';

/** The `oci-layout` file, exactly as go-containerregistry writes it (4-space indent, no final newline). */
export const OCI_LAYOUT_FILE = '{\n    "imageLayoutVersion": "1.0.0"\n}';

/** The annotation that names an image in an OCI layout's `index.json`. */
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

const REF_NAME = /^[\w][\w.-]{0,127}$/;

/** How to write a layout. */
export interface OciLayoutOptions {
  /** Write the tagged shape with this `ref.name` (a tag such as `latest`); omit for apko's shape. */
  tag?: string;
  logger?: Logger;
}

function checkRefName(name: string): void {
  if (!REF_NAME.test(name)) {
    throw new OciError(
      'OCI_BAD_REFERENCE',
      `layout tag ${JSON.stringify(name)} must be 1-128 of [A-Za-z0-9_.-], not starting with . or -`,
      {
        hint: 'give a tag such as latest',
        data: { reference: name },
      },
    );
  }
}

/**
 * The `index.json` of a layout (see the module comment for the two shapes).
 *
 * @param index - the built index
 * @param options - `tag` for the tagged shape
 * @returns the file content
 * @throws {OciError} OCI_BAD_REFERENCE for an invalid tag
 */
export function layoutIndexJson(index: IndexArtifact, options: { tag?: string } = {}): Uint8Array {
  if (options.tag === undefined) return index.index.bytes;
  const tag = options.tag;
  checkRefName(tag);
  const manifests: JsonValue[] = [
    {
      mediaType: index.index.mediaType,
      size: index.index.size,
      digest: index.index.digest,
      annotations: { [ANNOTATION_REF_NAME]: tag },
    },
  ];
  for (const image of index.images) {
    const refName = `${tag}-${platformTagSuffix(image.platform)}`;
    checkRefName(refName);
    const platform = normalizePlatform(image.platform);
    manifests.push({
      mediaType: image.manifest.mediaType,
      size: image.manifest.size,
      digest: image.manifest.digest,
      annotations: { [ANNOTATION_REF_NAME]: refName },
      platform: {
        architecture: platform.architecture,
        os: platform.os,
        'os.features': platform['os.features'],
        variant: platform.variant,
      },
      artifactType: image.config.mediaType,
    });
  }
  return utf8(stringifyCanonical({ schemaVersion: 2, mediaType: MEDIA_TYPE_IMAGE_INDEX, manifests }));
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function hasBlob(path: string, blob: OciBlob): Promise<boolean> {
  try {
    const info = await stat(path);
    if (!info.isFile() || info.size !== blob.size) return false;
    return (await fileSha256(path)) === digestHex(blob.digest);
  } catch {
    return false;
  }
}

function writeFailed(path: string, error: unknown): OciError {
  return new OciError(
    'OCI_WRITE_FAILED',
    `cannot write OCI layout file ${path}: ${(error as Error).message}`,
    {
      hint: 'check that the output directory is writable and is not a file',
      cause: error,
      data: { path },
    },
  );
}

/** What {@link writeOciLayout} wrote. */
export interface OciLayoutResult {
  /** The `index.json` bytes. */
  indexJson: Uint8Array;
  /** Blobs written (digests), in order. */
  written: string[];
  /** Blobs that were already present with the right content. */
  kept: string[];
}

/**
 * Write an index and its images as an OCI image layout.
 *
 * @param dir - the layout directory (created when missing)
 * @param index - the built index
 * @param options - `tag` for the tagged shape, logger
 * @returns the `index.json` bytes and which blobs were written or kept
 * @throws {OciError} OCI_BAD_REFERENCE for an invalid tag; OCI_BAD_DESCRIPTOR when a blob does not match
 *   its digest; OCI_WRITE_FAILED for file-system failures
 * @example
 * await writeOciLayout('out/hello', index, { tag: 'latest' });
 * // skopeo inspect oci:out/hello:latest
 */
export async function writeOciLayout(
  dir: string,
  index: IndexArtifact,
  options: OciLayoutOptions = {},
): Promise<OciLayoutResult> {
  const logger = options.logger ?? silentLogger;
  const indexJson = layoutIndexJson(index, options.tag === undefined ? {} : { tag: options.tag });
  verifyIndexArtifact(index);

  const blobs = new Map<string, OciBlob>();
  const addBlob = (blob: OciBlob): void => {
    if (!blobs.has(blob.digest)) blobs.set(blob.digest, blob);
  };
  for (const image of index.images) {
    for (const layer of image.layers) addBlob(layer);
    addBlob(image.config);
    addBlob(image.manifest);
  }
  if (options.tag !== undefined) addBlob(index.index);

  const write = async (path: string, data: Uint8Array | string): Promise<void> => {
    try {
      await writeFileAtomic(path, data, { mode: 0o644 });
    } catch (error) {
      throw writeFailed(path, error);
    }
  };
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw writeFailed(dir, error);
  }
  await write(join(dir, 'oci-layout'), OCI_LAYOUT_FILE);

  const written: string[] = [];
  const kept: string[] = [];
  for (const blob of blobs.values()) {
    const { algorithm, hex } = parseDigest(blob.digest);
    const blobDir = join(dir, 'blobs', algorithm);
    try {
      await mkdir(blobDir, { recursive: true });
    } catch (error) {
      throw writeFailed(blobDir, error);
    }
    const path = join(blobDir, hex);
    if (await hasBlob(path, blob)) {
      kept.push(blob.digest);
      continue;
    }
    await write(path, blob.bytes);
    written.push(blob.digest);
    logger.debug(`wrote blob ${blob.digest} (${blob.size} bytes)`);
  }
  await write(join(dir, 'index.json'), indexJson);
  logger.debug(`wrote OCI layout ${dir} (index ${index.index.digest})`);
  return { indexJson, written, kept };
}
