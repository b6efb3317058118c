/**
 * The image tarball `apko build` writes (reference §7.4): a `docker save` archive that `docker load` and
 * `podman load` read, with the OCI index appended.
 *
 * Entries, each a regular file with mode 0644, owner 0:0 and mtime 0 (as go-containerregistry and apko
 * write them):
 * 1. per image, in index order: `sha256:<hex>` (the config), then `<hex>.tar.gz` for each layer not yet
 *    written (layers are deduplicated);
 * 2. `manifest.json`: `[{"Config":"sha256:<hex>","RepoTags":[…],"Layers":["<hex>.tar.gz",…]},…]`, sorted
 *    by the joined RepoTags (go-containerregistry `tarball.MultiWrite`); the RepoTags are
 *    {@link archiveRepoTags};
 * 3. per image, in index order: `sha256:<hex>` (the raw image manifest), then `index.json` (the raw
 *    image index), as apko appends them.
 *
 * Differences from apko, on purpose:
 * - apko iterates images in Go map order, so its entry order changes between runs; tk's is fixed.
 * - RepoTags are `<name>:<tag>-<suffix>` where the suffix is the OCI arch string with `/` → `_`
 *   (`hello:latest-amd64`, `hello:latest-arm_v7`): apko uses the bare architecture, so `arm/v6` and
 *   `arm/v7` both become `-arm` and one hides the other (apko#605). The name is kept as written
 *   (`hello`, not apko's fully qualified `index.docker.io/library/hello`); docker and podman load both
 *   forms under the same name.
 * - a single-platform index is also tagged with the references as given: its one manifest.json entry has
 *   `RepoTags: ["hello:latest", "hello:latest-amd64"]`, so `docker load`/`podman load` give the same image
 *   both names (docker, podman and containerd's importer tag an image with every RepoTag of its entry; the
 *   appended `index.json` is not read by them, as the archive has no `oci-layout` file) and
 *   `run hello:latest` works as apko's walkthrough says. No byte of the image changes and the index digest
 *   is the same; apko (since it always builds an index) writes only the suffixed tag. A multi-platform
 *   index keeps per-platform tags only: one bare tag could name just one of its images.
 * - the archive is written to a temporary file and renamed (apko writes over the target in place without
 *   truncating it).
 */
import { utf8, writeFileAtomic, stringifyCanonical } from '@tk/core';
import { TarWriter } from '@tk/tar';
import { digestHex, isDigest, verifyContent } from './digest.ts';
import { OciError } from './errors.ts';
import type { IndexArtifact, OciBlob } from './image.ts';
import { platformString, platformTagSuffix } from './platform.ts';

/** A parsed image reference (`[registry/]repository[:tag][@digest]`, distribution/reference grammar). */
export interface ImageReference {
  /** The registry host (`localhost:5000`, `ghcr.io`) when the reference names one. */
  registry?: string;
  /** The repository path as written, without the registry (`hello`, `org/app`). */
  repository: string;
  /** `registry/repository`, or just the repository. */
  name: string;
  tag?: string;
  digest?: string;
}

const TAG = /^[\w][\w.-]{0,127}$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const MAX_NAME = 255;

function badReference(reference: string, why: string): OciError {
  return new OciError('OCI_BAD_REFERENCE', `invalid image reference ${JSON.stringify(reference)}: ${why}`, {
    hint: 'write it as [registry/]repository[:tag], with a lowercase repository (e.g. hello:latest, localhost:5000/app:1.0)',
    data: { reference },
  });
}

/**
 * Parse an image reference.
 *
 * @param reference - `hello`, `hello:1.0`, `localhost:5000/org/app:tag`, `ghcr.io/x/y@sha256:…`
 * @returns its parts (no defaults are filled in)
 * @throws {OciError} OCI_BAD_REFERENCE for malformed references
 * @example
 * parseImageReference('localhost:5000/app:1.0') // { registry: 'localhost:5000', repository: 'app', name: 'localhost:5000/app', tag: '1.0' }
 */
export function parseImageReference(reference: string): ImageReference {
  if (typeof reference !== 'string' || reference === '') throw badReference(String(reference), 'it is empty');
  let rest = reference;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest))
      throw badReference(reference, `${JSON.stringify(digest)} is not a sha256 or sha512 digest`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag))
      throw badReference(
        reference,
        `tag ${JSON.stringify(tag)} must be 1-128 of [A-Za-z0-9_.-], not starting with . or -`,
      );
  }
  if (rest.length > MAX_NAME) throw badReference(reference, `the name is longer than ${MAX_NAME} characters`);
  const parts = rest.split('/');
  let registry: string | undefined;
  const first = parts[0] ?? '';
  if (
    parts.length > 1 &&
    (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())
  ) {
    registry = first;
    parts.shift();
    if (!DOMAIN.test(registry))
      throw badReference(
        reference,
        `registry ${JSON.stringify(registry)} is not a host name with an optional port`,
      );
  }
  for (const part of parts) {
    if (!PATH_COMPONENT.test(part)) {
      throw badReference(
        reference,
        part === ''
          ? 'the repository has an empty path component'
          : `repository component ${JSON.stringify(part)} must be lowercase letters and digits separated by ., _, __ or -`,
      );
    }
  }
  const repository = parts.join('/');
  return {
    ...(registry === undefined ? {} : { registry }),
    repository,
    name: registry === undefined ? repository : `${registry}/${repository}`,
    ...(tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
  };
}

/**
 * Normalise a tag reference for a tarball: `hello` → `hello:latest`; digests are refused (a tarball's
 * RepoTags hold tags only).
 *
 * @param reference - the reference the user gave
 * @returns `name:tag`
 * @throws {OciError} OCI_BAD_REFERENCE for malformed references; OCI_REFERENCE_HAS_DIGEST for `…@sha256:…`
 */
export function normalizeTagReference(reference: string): string {
  const parsed = parseImageReference(reference);
  if (parsed.digest !== undefined) {
    throw new OciError(
      'OCI_REFERENCE_HAS_DIGEST',
      `image reference ${JSON.stringify(reference)} has a digest; a tarball needs a tag`,
      {
        hint: 'give a tag such as hello:latest; the digest is decided by the build',
        data: { reference },
      },
    );
  }
  return `${parsed.name}:${parsed.tag ?? 'latest'}`;
}

/** How to write a docker-archive tarball. */
export interface DockerArchiveOptions {
  /**
   * Image references (`hello`, `hello:latest`, `registry/app:1`); each image gets `<ref>-<arch>`, and the
   * image of a single-platform index also `<ref>` itself (see {@link archiveRepoTags}).
   */
  tags: readonly string[];
}

/**
 * The per-platform tags of an index: `<name>:<tag>-<suffix>` for every tag, in the given order.
 *
 * @param index - the index
 * @param tags - references as given by the user
 * @returns one list of RepoTags per image, in index order
 * @throws {OciError} OCI_NO_TAGS, OCI_BAD_REFERENCE, OCI_REFERENCE_HAS_DIGEST
 */
export function platformTags(index: IndexArtifact, tags: readonly string[]): string[][] {
  const normalized = [...new Set(tags.map(normalizeTagReference))];
  if (normalized.length === 0) {
    throw new OciError('OCI_NO_TAGS', 'an image tarball needs at least one tag', {
      hint: 'give a tag such as hello:latest',
    });
  }
  return index.images.map((image) =>
    normalized.map((reference) => {
      const tagged = `${reference}-${platformTagSuffix(image.platform)}`;
      const tag = tagged.slice(tagged.lastIndexOf(':') + 1);
      if (!TAG.test(tag))
        throw badReference(
          tagged,
          `the tag for ${platformString(image.platform)} is longer than 128 characters`,
        );
      return tagged;
    }),
  );
}

/**
 * The RepoTags of each image of a tarball: the per-platform tags of {@link platformTags}; when the index
 * holds one image only, each reference as given comes first, then its per-platform tag (the same image
 * under both names: `hello:latest`, `hello:latest-amd64`). Duplicates are dropped, first one kept.
 *
 * @param index - the index
 * @param tags - references as given by the user
 * @returns one list of RepoTags per image, in index order
 * @throws {OciError} OCI_NO_TAGS, OCI_BAD_REFERENCE, OCI_REFERENCE_HAS_DIGEST
 * @example
 * archiveRepoTags(amd64Only, ['hello:latest']) // [['hello:latest', 'hello:latest-amd64']]
 * archiveRepoTags(amd64AndArm64, ['hello:latest']) // [['hello:latest-amd64'], ['hello:latest-arm64']]
 */
export function archiveRepoTags(index: IndexArtifact, tags: readonly string[]): string[][] {
  const perPlatform = platformTags(index, tags);
  const [only] = perPlatform;
  if (perPlatform.length !== 1 || only === undefined) return perPlatform;
  const references = [...new Set(tags.map(normalizeTagReference))];
  return [[...new Set(references.flatMap((reference, i) => [reference, only[i] ?? reference]))]];
}

function layerExtension(mediaType: string): string {
  if (mediaType.endsWith('+zstd')) return '.tar.zst';
  if (mediaType.endsWith('.tar') || mediaType === 'application/vnd.docker.image.rootfs.diff.tar')
    return '.tar';
  return '.tar.gz';
}

/** Byte order of the UTF-8 encodings (Go string comparison). */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Check every blob of an index against its digest and size, so no writer puts out an inconsistent image.
 *
 * @param index - the index
 * @throws {OciError} OCI_BAD_DESCRIPTOR
 */
export function verifyIndexArtifact(index: IndexArtifact): void {
  verifyContent(index.index.bytes, index.index, 'image index');
  for (const image of index.images) {
    const where = platformString(image.platform);
    verifyContent(image.manifest.bytes, image.manifest, `manifest of ${where}`);
    verifyContent(image.config.bytes, image.config, `config of ${where}`);
    image.layers.forEach((layer, i) => verifyContent(layer.bytes, layer, `layer ${i} of ${where}`));
  }
}

/**
 * Write the image tarball (docker-archive plus the OCI index, see the module comment).
 *
 * @param index - the built index
 * @param options - the tags
 * @returns the archive as chunks in order (blob bytes are not copied)
 * @throws {OciError} OCI_NO_TAGS, OCI_BAD_REFERENCE, OCI_REFERENCE_HAS_DIGEST, OCI_BAD_DESCRIPTOR
 * @example
 * const chunks = writeDockerArchive(index, { tags: ['hello:latest'] });
 * // loads as hello:latest-amd64, hello:latest-arm64 (a single-platform index: hello:latest, hello:latest-amd64)
 */
export function writeDockerArchive(index: IndexArtifact, options: DockerArchiveOptions): Uint8Array[] {
  const repoTags = archiveRepoTags(index, options.tags);
  verifyIndexArtifact(index);
  const tar = new TarWriter();
  const add = (name: string, data: Uint8Array): void =>
    tar.add({ name, type: 'file', mode: 0o644, mtime: 0, data });
  const written = new Set<string>();
  const addBlob = (name: string, blob: OciBlob): void => {
    if (written.has(name)) return;
    written.add(name);
    add(name, blob.bytes);
  };

  const descriptors: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
  index.images.forEach((image, i) => {
    addBlob(image.config.digest, image.config);
    const layers = image.layers.map((layer) => {
      const name = digestHex(layer.digest) + layerExtension(layer.mediaType);
      addBlob(name, layer);
      return name;
    });
    descriptors.push({ Config: image.config.digest, RepoTags: repoTags[i] ?? [], Layers: layers });
  });
  descriptors.sort((a, b) => compareUtf8(a.RepoTags.join(','), b.RepoTags.join(',')));
  add('manifest.json', utf8(stringifyCanonical(descriptors)));

  for (const image of index.images) addBlob(image.manifest.digest, image.manifest);
  add('index.json', index.index.bytes);
  return tar.finish();
}

/**
 * Write the image tarball to a file, atomically (temporary file, then rename).
 *
 * @param path - the output file
 * @param index - the built index
 * @param options - the tags
 * @throws {OciError} as {@link writeDockerArchive}; OCI_WRITE_FAILED when the file cannot be written
 */
export async function writeDockerArchiveFile(
  path: string,
  index: IndexArtifact,
  options: DockerArchiveOptions,
): Promise<void> {
  const chunks = writeDockerArchive(index, options);
  try {
    await writeFileAtomic(path, chunks, { mode: 0o644 });
  } catch (error) {
    throw new OciError(
      'OCI_WRITE_FAILED',
      `cannot write image tarball ${path}: ${(error as Error).message}`,
      {
        hint: 'check that the directory exists and is writable',
        cause: error,
        data: { path },
      },
    );
  }
}
