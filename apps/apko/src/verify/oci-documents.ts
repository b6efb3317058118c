/**
 * Reading the OCI documents of an image that is being verified (image-spec descriptor.md, manifest.md,
 * image-index.md, config.md; Docker's manifest v2 and manifest list are read too). Everything here is
 * outside data: sizes are bounded, every field used is type-checked, and content is checked against its
 * descriptor's digest and size before it is parsed.
 */
import { createHash } from 'node:crypto';
import { VerifyError } from './errors.ts';

/** Largest index, manifest or config read (go-containerregistry's manifest limit; configs are small). */
export const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;

/** Image index media types (OCI, Docker manifest list). */
export const INDEX_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

/** Image manifest media types (OCI, Docker v2 schema 2). */
export const MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
]);

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** A content descriptor as read from a document. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string; variant?: string };
}

/** An image manifest: config and layers. */
export interface ManifestDocument {
  config: Descriptor;
  layers: Descriptor[];
}

/** The fields of an image config the verifier uses. */
export interface ConfigDocument {
  architecture: string;
  os: string;
  variant?: string;
  entrypoint?: string[];
  diffIds: string[];
}

function bad(what: string, why: string): VerifyError {
  return new VerifyError('VERIFY_BAD_IMAGE', `${what}: ${why}`, {
    hint: 'the image is malformed or was not written by an OCI tool; rebuild it',
  });
}

/**
 * Check content against a descriptor's size and digest.
 *
 * @param bytes - the content
 * @param descriptor - its digest and size
 * @param what - what it is, for the message (`layer 0 of linux/amd64`)
 * @throws {VerifyError} VERIFY_DIGEST_MISMATCH when either differs
 */
export function checkContent(
  bytes: Uint8Array,
  descriptor: { digest: string; size: number },
  what: string,
): void {
  const [algorithm] = descriptor.digest.split(':') as [string];
  const actual = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
  if (bytes.byteLength !== descriptor.size || actual !== descriptor.digest) {
    throw new VerifyError(
      'VERIFY_DIGEST_MISMATCH',
      `${what}: ${bytes.byteLength} bytes with digest ${actual}; its descriptor says ${descriptor.size} bytes, ${descriptor.digest}`,
      {
        hint: 'the image was changed after it was built (or the copy is damaged): do not trust it; build or pull it again',
        data: { expected: descriptor.digest, actual, what },
      },
    );
  }
}

/**
 * Parse a JSON document of at most {@link MAX_DOCUMENT_BYTES}.
 *
 * @param bytes - the document
 * @param what - what it is, for messages
 * @returns the parsed object
 * @throws {VerifyError} VERIFY_BAD_IMAGE when it is too large, not UTF-8 JSON, or not an object
 */
export function parseJsonDocument(
  bytes: Uint8Array,
  what: string,
  maxBytes = MAX_DOCUMENT_BYTES,
): Record<string, unknown> {
  if (bytes.byteLength > maxBytes)
    throw bad(what, `${bytes.byteLength} bytes, more than the ${maxBytes} allowed`);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw bad(what, `not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad(what, 'not a JSON object');
  return value as Record<string, unknown>;
}

/**
 * Read a descriptor.
 *
 * @param value - the JSON value
 * @param what - where it is, for messages
 * @returns the descriptor
 * @throws {VerifyError} VERIFY_BAD_IMAGE for a malformed one
 */
export function parseDescriptor(value: unknown, what: string): Descriptor {
  if (typeof value !== 'object' || value === null) throw bad(what, 'not a descriptor object');
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== 'string' || d.mediaType.length > 255) throw bad(what, 'no mediaType');
  if (typeof d.digest !== 'string' || !DIGEST.test(d.digest))
    throw bad(what, `digest ${JSON.stringify(d.digest)} is not sha256:<hex> or sha512:<hex>`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0)
    throw bad(what, `size ${JSON.stringify(d.size)} is not a non-negative integer`);
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  const p = d.platform;
  if (typeof p === 'object' && p !== null) {
    const { architecture, os, variant } = p as Record<string, unknown>;
    if (typeof architecture === 'string' && typeof os === 'string')
      out.platform = {
        architecture,
        os,
        ...(typeof variant === 'string' && variant !== '' ? { variant } : {}),
      };
  }
  return out;
}

/**
 * The kind of a document: from its `mediaType` field, else its shape.
 *
 * @param doc - the parsed document
 * @param mediaType - the media type it was served or described with, if known
 * @returns `index` or `manifest`
 * @throws {VerifyError} VERIFY_BAD_IMAGE when it is neither
 */
export function documentKind(
  doc: Record<string, unknown>,
  mediaType: string | undefined,
  what: string,
): 'index' | 'manifest' {
  const type = typeof doc.mediaType === 'string' ? doc.mediaType : mediaType;
  if (type !== undefined && INDEX_MEDIA_TYPES.has(type)) return 'index';
  if (type !== undefined && MANIFEST_MEDIA_TYPES.has(type)) return 'manifest';
  if (Array.isArray(doc.manifests)) return 'index';
  if (Array.isArray(doc.layers) && typeof doc.config === 'object') return 'manifest';
  throw bad(
    what,
    `neither an image index nor an image manifest (media type ${JSON.stringify(type ?? 'none')})`,
  );
}

/**
 * The manifests an index lists.
 *
 * @param doc - the parsed index
 * @param what - for messages
 * @returns its descriptors
 * @throws {VerifyError} VERIFY_BAD_IMAGE
 */
export function indexManifests(doc: Record<string, unknown>, what: string): Descriptor[] {
  if (!Array.isArray(doc.manifests)) throw bad(what, 'no manifests list');
  if (doc.manifests.length > 1000)
    throw bad(what, `${doc.manifests.length} manifests; at most 1000 are read`);
  return doc.manifests.map((m, i) => parseDescriptor(m, `${what} manifests[${i}]`));
}

/**
 * Read an image manifest.
 *
 * @param doc - the parsed manifest
 * @param what - for messages
 * @returns its config and layers
 * @throws {VerifyError} VERIFY_BAD_IMAGE
 */
export function parseManifest(doc: Record<string, unknown>, what: string): ManifestDocument {
  if (!Array.isArray(doc.layers)) throw bad(what, 'no layers list');
  if (doc.layers.length > 1000) throw bad(what, `${doc.layers.length} layers; at most 1000 are read`);
  return {
    config: parseDescriptor(doc.config, `${what} config`),
    layers: doc.layers.map((l, i) => parseDescriptor(l, `${what} layers[${i}]`)),
  };
}

/**
 * Read an image config.
 *
 * @param doc - the parsed config
 * @param what - for messages
 * @returns platform, entrypoint and diff_ids
 * @throws {VerifyError} VERIFY_BAD_IMAGE
 */
export function parseConfig(doc: Record<string, unknown>, what: string): ConfigDocument {
  if (typeof doc.architecture !== 'string' || typeof doc.os !== 'string')
    throw bad(what, 'no architecture or os');
  const rootfs = doc.rootfs as { diff_ids?: unknown } | undefined;
  const diffIds = rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || !diffIds.every((d): d is string => typeof d === 'string' && DIGEST.test(d)))
    throw bad(what, 'rootfs.diff_ids is not a list of digests');
  const config = doc.config as { Entrypoint?: unknown } | undefined;
  const ep = config?.Entrypoint;
  return {
    architecture: doc.architecture,
    os: doc.os,
    ...(typeof doc.variant === 'string' && doc.variant !== '' ? { variant: doc.variant } : {}),
    ...(Array.isArray(ep) && ep.every((a) => typeof a === 'string') ? { entrypoint: ep } : {}),
    diffIds,
  };
}
