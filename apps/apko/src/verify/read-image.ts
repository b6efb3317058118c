/**
 * From a source's top document to the images to verify, and from an image's layers to its file system.
 * Every manifest, config and layer is checked against its descriptor as it is fetched, and every
 * uncompressed layer against the config's `diff_id`.
 */
import { createHash } from 'node:crypto';
import { gunzip, DEFAULT_MAX_OUTPUT } from '@tk/gzip';
import { readTar } from '@tk/tar';
import { VerifyError } from './errors.ts';
import { LayerFs } from './layer-fs.ts';
import {
  documentKind,
  indexManifests,
  parseConfig,
  parseJsonDocument,
  parseManifest,
  type Descriptor,
} from './oci-documents.ts';
import type { ImageSource, SourceImage } from './image-source.ts';

/** One image (platform) of the source. */
export interface ImageToVerify extends SourceImage {
  /** From the config: `linux/amd64`, `linux/arm/v7`. */
  platform: { os: string; architecture: string; variant?: string };
  entrypoint?: readonly string[];
  layers: readonly Descriptor[];
  diffIds: readonly string[];
}

/** What a source holds. */
export interface ImageListing {
  /** The digest of the index the images were found in (or of the one manifest). */
  digest: string;
  images: ImageToVerify[];
}

/** Deepest nesting of indexes followed. */
const MAX_INDEX_DEPTH = 4;

/**
 * Format a platform.
 *
 * @param p - the platform
 * @returns `linux/amd64`, `linux/arm/v7`
 */
export function platformText(p: { os: string; architecture: string; variant?: string }): string {
  return `${p.os}/${p.architecture}${p.variant === undefined ? '' : `/${p.variant}`}`;
}

/**
 * Read the top document and every manifest and config below it.
 *
 * @param source - the image source
 * @returns the index digest and the images, in index order, each manifest once (attestation manifests,
 *   whose platform is `unknown/unknown`, are left out)
 * @throws {VerifyError} VERIFY_BAD_IMAGE, VERIFY_DIGEST_MISMATCH
 */
export async function listImages(source: ImageSource): Promise<ImageListing> {
  const root = await source.root();
  const rootDoc = parseJsonDocument(root.bytes, `${source.location}: top document`);
  const manifests: { descriptor: Descriptor; bytes?: Uint8Array }[] = [];
  let digest = root.digest;
  if (documentKind(rootDoc, root.mediaType, `${source.location}: top document`) === 'manifest') {
    manifests.push({
      descriptor: { mediaType: root.mediaType ?? '', digest: root.digest, size: root.bytes.byteLength },
      bytes: root.bytes,
    });
  } else {
    const seen = new Set<string>();
    let firstNested: string | undefined;
    const visit = async (doc: Record<string, unknown>, what: string, depth: number): Promise<void> => {
      for (const [i, d] of indexManifests(doc, what).entries()) {
        if (d.platform?.os === 'unknown') continue;
        const child = await source.fetch(d, `${what} entry ${i}`);
        const parsed = parseJsonDocument(child, `${what} entry ${i} (${d.digest})`);
        if (documentKind(parsed, d.mediaType, `${what} entry ${i}`) === 'index') {
          if (depth >= MAX_INDEX_DEPTH)
            throw new VerifyError(
              'VERIFY_BAD_IMAGE',
              `${what}: indexes nested more than ${MAX_INDEX_DEPTH} deep`,
              {
                hint: 'the image is malformed',
              },
            );
          firstNested ??= d.digest;
          await visit(parsed, `index ${d.digest}`, depth + 1);
        } else if (!seen.has(d.digest)) {
          seen.add(d.digest);
          manifests.push({ descriptor: d, bytes: child });
        }
      }
    };
    await visit(rootDoc, `${source.location}: index`, 0);
    // An OCI layout's index.json may only point at the image index (tk's tagged layouts): name that one.
    digest = firstNested ?? digest;
  }
  if (manifests.length === 0)
    throw new VerifyError('VERIFY_BAD_IMAGE', `${source.location}: the index lists no image manifests`, {
      hint: 'the image is empty or malformed',
    });

  const images: ImageToVerify[] = [];
  for (const { descriptor, bytes } of manifests) {
    const what = `manifest ${descriptor.digest}`;
    const manifest = parseManifest(parseJsonDocument(bytes!, what), what);
    const configBytes = await source.fetch(manifest.config, `config of ${what}`);
    const config = parseConfig(
      parseJsonDocument(configBytes, `config ${manifest.config.digest}`),
      `config ${manifest.config.digest}`,
    );
    if (config.diffIds.length !== manifest.layers.length) {
      throw new VerifyError(
        'VERIFY_BAD_IMAGE',
        `${what} has ${manifest.layers.length} layers but its config lists ${config.diffIds.length} diff_ids`,
        { hint: 'the image is malformed' },
      );
    }
    images.push({
      manifestDigest: descriptor.digest,
      configDigest: manifest.config.digest,
      layerDigests: manifest.layers.map((l) => l.digest),
      platform: {
        os: config.os,
        architecture: config.architecture,
        ...(config.variant === undefined ? {} : { variant: config.variant }),
      },
      ...(config.entrypoint === undefined ? {} : { entrypoint: config.entrypoint }),
      layers: manifest.layers,
      diffIds: config.diffIds,
    });
  }
  return { digest, images };
}

/** Options of {@link readImageFs}. */
export interface ReadImageFsOptions {
  /** Largest uncompressed layer; default `@tk/gzip`'s 1 GiB. */
  maxLayerBytes?: number;
}

/**
 * Fetch an image's layers and flatten them into its file system.
 *
 * @param source - where the layers are
 * @param image - the image
 * @param options - limits
 * @returns the file system
 * @throws {VerifyError} VERIFY_DIGEST_MISMATCH (descriptor or diff_id), VERIFY_BAD_IMAGE (not a gzip tar),
 *   VERIFY_UNSUPPORTED (zstd)
 */
export async function readImageFs(
  source: ImageSource,
  image: ImageToVerify,
  options: ReadImageFsOptions = {},
): Promise<LayerFs> {
  const fs = new LayerFs();
  const where = platformText(image.platform);
  for (const [i, layer] of image.layers.entries()) {
    const what = `layer ${i} of ${where} (${layer.digest})`;
    const blob = await source.fetch(layer, what);
    let tar: Uint8Array;
    if (blob[0] === 0x1f && blob[1] === 0x8b) {
      try {
        tar = gunzip(blob, { maxOutputBytes: options.maxLayerBytes ?? DEFAULT_MAX_OUTPUT });
      } catch (error) {
        throw new VerifyError(
          'VERIFY_BAD_IMAGE',
          `${what} is not a valid gzip stream: ${(error as Error).message}`,
          {
            hint: 'the layer is damaged or larger than the limit',
            cause: error,
          },
        );
      }
    } else if (blob[0] === 0x28 && blob[1] === 0xb5 && blob[2] === 0x2f && blob[3] === 0xfd) {
      throw new VerifyError('VERIFY_UNSUPPORTED', `${what} is zstd-compressed (${layer.mediaType})`, {
        hint: 'verify-image reads gzip and uncompressed layers, which is what tk writes',
      });
    } else tar = blob;
    const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
    const expected = image.diffIds[i];
    if (expected !== undefined && expected.startsWith('sha256:') && diffId !== expected) {
      throw new VerifyError(
        'VERIFY_DIGEST_MISMATCH',
        `${what}: the uncompressed layer has digest ${diffId}; the config's diff_id is ${expected}`,
        {
          hint: 'the image was changed after it was built: do not trust it; build or pull it again',
          data: { expected, actual: diffId },
        },
      );
    }
    let entries;
    try {
      entries = readTar(tar).entries;
    } catch (error) {
      throw new VerifyError('VERIFY_BAD_IMAGE', `${what} is not a valid tar: ${(error as Error).message}`, {
        hint: 'the layer is damaged or hostile; do not use the image',
        cause: error,
      });
    }
    fs.applyLayer(entries);
  }
  return fs;
}
