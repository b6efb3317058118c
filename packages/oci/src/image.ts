/**
 * Image config, manifest and index documents, written byte for byte as go-containerregistry writes them
 * for apko (reference §7.2–7.3), and a small in-memory model of a built image.
 *
 * All three documents are compact JSON with Go's key order (struct field order; map keys sorted), Go's
 * HTML escaping (`<` → `\u003c`) and `omitempty` rules, and no final newline:
 * - config (image-spec config.md; ggcr `ConfigFile`): `architecture`, `author`, `created`, `history`,
 *   `os`, `rootfs`, `config`, `variant`, `os.features`; inside `config`: `Cmd`, `Entrypoint`, `Env`,
 *   `Labels`, `User`, `Volumes`, `WorkingDir`, `StopSignal`. `rootfs` and `config` are always present;
 * - manifest (image-spec manifest.md): `schemaVersion`, `mediaType`, `config`, `layers`, `annotations`;
 * - index (image-spec image-index.md): `schemaVersion`, `mediaType`, `manifests`, `annotations`;
 * - descriptors (image-spec descriptor.md): `mediaType`, `size`, `digest`, `urls`, `annotations`,
 *   `platform`, `artifactType`. In an index, go-containerregistry sets `artifactType` to the image's
 *   config media type, and apko's golden index carries it, so tk does too.
 */
import { sortedRecord, stringifyCanonical, utf8, type JsonValue } from '@tk/core';
import { isDigest, parseDigest, sha256Digest } from './digest.ts';
import { OciError } from './errors.ts';
import type { LayerBlob } from './layer.ts';
import { comparePlatforms, normalizePlatform, platformString, type OciPlatform } from './platform.ts';

/** `application/vnd.oci.image.index.v1+json` */
export const MEDIA_TYPE_IMAGE_INDEX = 'application/vnd.oci.image.index.v1+json';
/** `application/vnd.oci.image.manifest.v1+json` */
export const MEDIA_TYPE_IMAGE_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** `application/vnd.oci.image.config.v1+json` */
export const MEDIA_TYPE_IMAGE_CONFIG = 'application/vnd.oci.image.config.v1+json';

/** The author apko writes into every config. */
export const APKO_AUTHOR = 'github.com/chainguard-dev/apko';

/** Environment defaults apko adds to every image unless the configuration sets the variable. */
export const DEFAULT_ENVIRONMENT: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin',
  SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt',
};

/** Latest time Go's JSON encoder writes (year 9999). */
const MAX_CREATED = 253402300799;

/**
 * Content with its descriptor fields: a config, manifest, index or layer. (Named `OciBlob`, not `Blob`,
 * so that it never silently resolves to the global `Blob` class.)
 */
export interface OciBlob {
  mediaType: string;
  /** `sha256:<hex>` of `bytes`. */
  digest: string;
  /** `bytes.length`. */
  size: number;
  bytes: Uint8Array;
}

/** An OCI content descriptor (image-spec descriptor.md). */
export interface OciDescriptor {
  mediaType: string;
  size: number;
  digest: string;
  urls?: string[];
  annotations?: Readonly<Record<string, string>>;
  platform?: OciPlatform;
  artifactType?: string;
}

/** One image of an index: its manifest, config and layers. */
export interface ImageArtifact {
  platform: OciPlatform;
  manifest: OciBlob;
  config: OciBlob;
  layers: OciBlob[];
}

/** A multi-platform image: the index document and its images, in index order. */
export interface IndexArtifact {
  index: OciBlob;
  images: ImageArtifact[];
}

/** History entry fields; `created` is the config's. */
export interface ImageHistory {
  /** apko: `apko`. */
  author?: string;
  /** apko: `apko`. */
  createdBy?: string;
  /** apko: `<title> by <vendor>` or `This is an apko single-layer image`. */
  comment?: string;
}

/** Inputs of an image config. Empty strings, arrays and maps are left out, as Go's `omitempty` does. */
export interface ImageConfigOptions {
  platform: OciPlatform;
  /** Creation time in whole seconds since the epoch (the build date epoch). */
  created: number;
  /** `config.Env`, written in the given order (see {@link imageEnvironment} for apko's). */
  env?: readonly string[];
  entrypoint?: readonly string[];
  cmd?: readonly string[];
  user?: string;
  workingDir?: string;
  stopSignal?: string;
  /** Volume paths; written as the map `{"/path":{}}`. */
  volumes?: readonly string[];
  /** `config.Labels` (apko: the annotations plus `org.opencontainers.image.created`). */
  labels?: Readonly<Record<string, string>>;
  /** Layer diff_ids, base layer first. */
  diffIds: readonly string[];
  /** One history entry per layer with these fields (apko always writes them); none when omitted. */
  history?: ImageHistory;
  /** Config `author` (apko: {@link APKO_AUTHOR}). */
  author?: string;
}

function configError(why: string, data?: Record<string, unknown>): OciError {
  return new OciError('OCI_BAD_CONFIG', `invalid image configuration: ${why}`, {
    hint: 'check the image configuration values',
    ...(data === undefined ? {} : { data }),
  });
}

function checkStrings(values: readonly string[] | undefined, what: string): string[] | undefined {
  if (values === undefined) return undefined;
  if (!Array.isArray(values as unknown)) throw configError(`${what} must be a list of strings`);
  for (const value of values) {
    if (typeof value !== 'string' || value.includes('\0'))
      throw configError(`${what} holds an invalid value ${JSON.stringify(value)}`);
  }
  return values.length === 0 ? undefined : [...values];
}

function checkMap(
  map: Readonly<Record<string, string>> | undefined,
  what: string,
): Record<string, string> | undefined {
  if (map === undefined) return undefined;
  for (const [key, value] of Object.entries(map)) {
    if (typeof value !== 'string') throw configError(`${what} ${JSON.stringify(key)} is not a string`);
  }
  return Object.keys(map).length === 0 ? undefined : sortedRecord(map);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * An epoch time as Go's `time.Time` writes it in JSON and `Format(time.RFC3339)` gives it, in UTC:
 * `1970-01-01T00:00:00Z`.
 *
 * @param seconds - whole seconds since the epoch, 0 to 253402300799
 * @returns the RFC 3339 text
 * @throws {OciError} OCI_BAD_CONFIG when the time is not a whole number in range
 */
export function formatCreated(seconds: number): string {
  if (!Number.isSafeInteger(seconds) || seconds < 0 || seconds > MAX_CREATED) {
    throw configError(`time ${String(seconds)} is not whole seconds between 0 and ${MAX_CREATED}`, {
      created: seconds,
    });
  }
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** Byte order of the UTF-8 encodings, which is Go's `sort.Strings` order. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * apko's `config.Env`: the configured variables plus {@link DEFAULT_ENVIRONMENT} for the ones not set,
 * as `KEY=value` lines sorted in byte order.
 *
 * @param environment - the configuration's `environment` map
 * @returns the lines for {@link ImageConfigOptions.env}
 */
export function imageEnvironment(environment: Readonly<Record<string, string>> = {}): string[] {
  const merged: Record<string, string> = { ...environment };
  for (const [key, value] of Object.entries(DEFAULT_ENVIRONMENT)) if (!(key in merged)) merged[key] = value;
  return Object.entries(merged)
    .map(([key, value]) => `${key}=${value}`)
    .sort(compareUtf8);
}

function blobOf(mediaType: string, document: JsonValue): OciBlob {
  const bytes = utf8(stringifyCanonical(document));
  return { mediaType, digest: sha256Digest(bytes), size: bytes.length, bytes };
}

/**
 * The image config blob, byte-identical to go-containerregistry's for apko's inputs.
 *
 * @param options - platform, time, runtime settings, labels, diff_ids, history
 * @returns the config blob (media type {@link MEDIA_TYPE_IMAGE_CONFIG})
 * @throws {OciError} OCI_BAD_CONFIG for out-of-range times, malformed diff_ids or values;
 *   OCI_BAD_PLATFORM for invalid platforms
 * @example
 * const config = buildImageConfig({
 *   platform: { architecture: 'amd64', os: 'linux' },
 *   created: 0,
 *   env: imageEnvironment(),
 *   entrypoint: ['/bin/sh', '-l'],
 *   diffIds: [layer.diffId],
 *   history: { author: 'apko', createdBy: 'apko', comment: 'This is an apko single-layer image' },
 *   author: APKO_AUTHOR,
 * });
 */
export function buildImageConfig(options: ImageConfigOptions): OciBlob {
  const platform = normalizePlatform(options.platform);
  const created = formatCreated(options.created);
  if (!Array.isArray(options.diffIds as unknown)) throw configError('diffIds must be a list of digests');
  for (const diffId of options.diffIds) {
    if (typeof diffId !== 'string' || !isDigest(diffId))
      throw configError(`diff_id ${JSON.stringify(diffId)} is not a digest`, { diffId });
  }
  const volumes = checkStrings(options.volumes, 'volumes');
  const volumeMap: Record<string, JsonValue> = {};
  for (const volume of [...(volumes ?? [])].sort(compareUtf8)) volumeMap[volume] = {};
  const history =
    options.history === undefined
      ? undefined
      : options.diffIds.map(() => ({
          author: nonEmpty(options.history?.author),
          created,
          created_by: nonEmpty(options.history?.createdBy),
          comment: nonEmpty(options.history?.comment),
        }));
  const document: JsonValue = {
    architecture: platform.architecture,
    author: nonEmpty(options.author),
    created,
    history: history === undefined || history.length === 0 ? undefined : history,
    os: platform.os,
    rootfs: { type: 'layers', diff_ids: [...options.diffIds] },
    config: {
      Cmd: checkStrings(options.cmd, 'cmd'),
      Entrypoint: checkStrings(options.entrypoint, 'entrypoint'),
      Env: checkStrings(options.env, 'env'),
      Labels: checkMap(options.labels, 'label'),
      User: nonEmpty(options.user),
      Volumes: volumes === undefined ? undefined : volumeMap,
      WorkingDir: nonEmpty(options.workingDir),
      StopSignal: nonEmpty(options.stopSignal),
    },
    variant: platform.variant,
    'os.features': platform['os.features'],
  };
  return blobOf(MEDIA_TYPE_IMAGE_CONFIG, document);
}

function checkDescriptor(descriptor: OciDescriptor, what: string): void {
  const bad = (why: string): never => {
    throw new OciError('OCI_BAD_DESCRIPTOR', `${what}: ${why}`, {
      hint: 'descriptors must come from built blobs (mediaType, size and sha256 digest)',
      data: { digest: descriptor.digest },
    });
  };
  if (typeof descriptor.mediaType !== 'string' || !/^[\w.+-]+\/[\w.+-]+$/.test(descriptor.mediaType))
    bad(`media type ${JSON.stringify(descriptor.mediaType)} is malformed`);
  if (!Number.isSafeInteger(descriptor.size) || descriptor.size < 0)
    bad(`size ${String(descriptor.size)} is invalid`);
  parseDigest(descriptor.digest);
}

function platformJson(platform: OciPlatform): JsonValue {
  const p = normalizePlatform(platform);
  return { architecture: p.architecture, os: p.os, 'os.features': p['os.features'], variant: p.variant };
}

function descriptorJson(descriptor: OciDescriptor): JsonValue {
  return {
    mediaType: descriptor.mediaType,
    size: descriptor.size,
    digest: descriptor.digest,
    urls: descriptor.urls === undefined || descriptor.urls.length === 0 ? undefined : [...descriptor.urls],
    annotations: checkMap(descriptor.annotations, 'annotation'),
    platform: descriptor.platform === undefined ? undefined : platformJson(descriptor.platform),
    artifactType: nonEmpty(descriptor.artifactType),
  };
}

/**
 * The descriptor of a blob.
 *
 * @param blob - the blob
 * @returns `{ mediaType, size, digest }`
 */
export function descriptorOf(blob: OciBlob): OciDescriptor {
  return { mediaType: blob.mediaType, size: blob.size, digest: blob.digest };
}

/**
 * An image manifest blob, byte-identical to go-containerregistry's.
 *
 * @param options - the config descriptor, layer descriptors (base first) and manifest annotations
 * @returns the manifest blob (media type {@link MEDIA_TYPE_IMAGE_MANIFEST})
 * @throws {OciError} OCI_BAD_DESCRIPTOR, OCI_BAD_DIGEST for malformed descriptors
 */
export function buildManifest(options: {
  config: OciDescriptor;
  layers: readonly OciDescriptor[];
  annotations?: Readonly<Record<string, string>>;
}): OciBlob {
  checkDescriptor(options.config, 'manifest config');
  options.layers.forEach((layer, i) => checkDescriptor(layer, `manifest layer ${i}`));
  return blobOf(MEDIA_TYPE_IMAGE_MANIFEST, {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_IMAGE_MANIFEST,
    config: descriptorJson(options.config),
    layers: options.layers.map(descriptorJson),
    annotations: checkMap(options.annotations, 'annotation'),
  });
}

/** One image of an index: the manifest's descriptor and the platform it runs on. */
export interface IndexManifestEntry {
  descriptor: OciDescriptor;
  platform: OciPlatform;
}

/**
 * An image index blob, byte-identical to go-containerregistry's for apko. Entries are sorted by
 * platform as apko sorts them ({@link comparePlatforms}); each descriptor gets `artifactType` = the OCI
 * config media type unless it has one.
 *
 * @param options - the manifests with their platforms, and the index annotations
 * @returns the index blob (media type {@link MEDIA_TYPE_IMAGE_INDEX})
 * @throws {OciError} OCI_DUPLICATE_PLATFORM when two entries have the same platform;
 *   OCI_BAD_DESCRIPTOR, OCI_BAD_DIGEST, OCI_BAD_PLATFORM for malformed entries
 */
export function buildIndex(options: {
  manifests: readonly IndexManifestEntry[];
  annotations?: Readonly<Record<string, string>>;
}): OciBlob {
  const entries = [...options.manifests].sort((a, b) => comparePlatforms(a.platform, b.platform));
  entries.forEach((entry, i) => {
    checkDescriptor(entry.descriptor, `index entry ${platformString(entry.platform)}`);
    const previous = entries[i - 1];
    if (previous !== undefined && comparePlatforms(previous.platform, entry.platform) === 0) {
      throw new OciError(
        'OCI_DUPLICATE_PLATFORM',
        `the index lists two images for ${platformString(entry.platform)}`,
        {
          hint: 'build each architecture once',
          data: { platform: platformString(entry.platform) },
        },
      );
    }
  });
  return blobOf(MEDIA_TYPE_IMAGE_INDEX, {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_IMAGE_INDEX,
    manifests: entries.map((entry) =>
      descriptorJson({
        ...entry.descriptor,
        platform: entry.platform,
        artifactType: entry.descriptor.artifactType ?? MEDIA_TYPE_IMAGE_CONFIG,
      }),
    ),
    annotations: checkMap(options.annotations, 'annotation'),
  });
}

/** Config fields of {@link assembleImage}: everything but the platform and the diff_ids. */
export type ImageConfigFields = Omit<ImageConfigOptions, 'platform' | 'diffIds'>;

/**
 * Build the config and manifest of one image from its layers.
 *
 * @param options - platform, layers (base first), config fields, manifest annotations
 * @returns the image
 * @throws {OciError} see {@link buildImageConfig} and {@link buildManifest}
 * @example
 * const image = assembleImage({ platform, layers: [layer], config: { created: 0, env: imageEnvironment() } });
 */
export function assembleImage(options: {
  platform: OciPlatform;
  layers: readonly LayerBlob[];
  config: ImageConfigFields;
  annotations?: Readonly<Record<string, string>>;
}): ImageArtifact {
  const platform = normalizePlatform(options.platform);
  const config = buildImageConfig({
    ...options.config,
    platform,
    diffIds: options.layers.map((l) => l.diffId),
  });
  const manifest = buildManifest({
    config: descriptorOf(config),
    layers: options.layers.map(descriptorOf),
    ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
  });
  return { platform, manifest, config, layers: [...options.layers] };
}

/**
 * Put images into an index, sorted by platform as apko sorts them.
 *
 * @param images - one image per platform
 * @param annotations - index annotations (apko: the config annotations plus `created`)
 * @returns the index and its images in index order
 * @throws {OciError} OCI_DUPLICATE_PLATFORM; OCI_BAD_DESCRIPTOR when there is no image or a manifest is not
 *   an image manifest
 * @example
 * const index = assembleIndex([arm64Image, amd64Image], { 'org.opencontainers.image.created': formatCreated(0) });
 * index.images.map((i) => i.platform.architecture) // ['amd64', 'arm64']
 */
export function assembleIndex(
  images: readonly ImageArtifact[],
  annotations?: Readonly<Record<string, string>>,
): IndexArtifact {
  if (images.length === 0) {
    throw new OciError('OCI_BAD_DESCRIPTOR', 'an image index needs at least one image', {
      hint: 'build at least one architecture',
    });
  }
  for (const image of images) {
    if (image.manifest.mediaType !== MEDIA_TYPE_IMAGE_MANIFEST) {
      throw new OciError(
        'OCI_BAD_DESCRIPTOR',
        `manifest ${image.manifest.digest} has media type ${image.manifest.mediaType}`,
        {
          hint: `tk indexes hold ${MEDIA_TYPE_IMAGE_MANIFEST} manifests`,
        },
      );
    }
  }
  const sorted = [...images].sort((a, b) => comparePlatforms(a.platform, b.platform));
  const index = buildIndex({
    manifests: sorted.map((image) => ({
      descriptor: { ...descriptorOf(image.manifest), artifactType: image.config.mediaType },
      platform: image.platform,
    })),
    ...(annotations === undefined ? {} : { annotations }),
  });
  return { index, images: sorted };
}
