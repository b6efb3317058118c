/**
 * Where an image comes from: a docker-load tarball as `tk apko build` writes it (docker-archive
 * `manifest.json` plus the OCI `index.json`; `packages/oci/src/tarball.ts`) or as `docker save` and
 * `podman save` write it (`manifest.json` only: the index is rebuilt from it), an OCI image layout directory
 * (`packages/oci/src/layout.ts`), or a registry. Every source hands out content by descriptor, checked
 * against the descriptor's digest and size.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, posix, resolve } from 'node:path';
import { silentLogger, type Logger } from '@tk/core';
import { createRegistryClient, parseReference, type Keychain, type RegistryReference } from '@tk/oci';
import { readTar } from '@tk/tar';
import { VerifyError } from './errors.ts';
import { checkContent, INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, type Descriptor } from './oci-documents.ts';

/** An image listed by a source, once its manifest and config are read. */
export interface SourceImage {
  manifestDigest: string;
  configDigest: string;
  layerDigests: readonly string[];
}

/** A place images are read from. */
export interface ImageSource {
  readonly kind: 'docker-archive' | 'oci-layout' | 'registry';
  /** The path or reference, as shown in reports. */
  readonly location: string;
  /** Where the SBOMs `tk apko build` writes would be: the tarball's folder, the layout. None for registries. */
  readonly sbomDir?: string;
  /** The top document (an index, or a manifest) with its digest and the media type it came with. */
  root(): Promise<{ bytes: Uint8Array; digest: string; mediaType?: string }>;
  /**
   * Content named by a descriptor, checked against it.
   *
   * @throws {VerifyError} VERIFY_DIGEST_MISMATCH, VERIFY_BAD_IMAGE (missing), VERIFY_READ_FAILED
   */
  fetch(descriptor: Descriptor, what: string): Promise<Uint8Array>;
  /**
   * Checks of the container itself once the images are known (a tarball's `manifest.json`).
   *
   * @throws {VerifyError} VERIFY_ARCHIVE_INCONSISTENT, VERIFY_BAD_IMAGE
   */
  crossCheck(images: readonly SourceImage[]): void;
  close(): Promise<void>;
}

/** Options for {@link openImageSource}. */
export interface OpenImageOptions {
  /** What relative paths start from. */
  cwd: string;
  /** Registry credentials (`createDockerKeychain`). */
  keychain?: Keychain;
  /** Plain HTTP to registries that are not loopback. */
  insecure?: boolean;
  logger?: Logger;
  /** Largest blob read (a compressed layer); default 1 GiB. */
  maxBlobBytes?: number;
}

const DEFAULT_MAX_BLOB = 1024 * 1024 * 1024;

function readFailed(path: string, error: unknown): VerifyError {
  return new VerifyError('VERIFY_READ_FAILED', `cannot read ${path}: ${(error as Error).message}`, {
    hint: 'check that the file exists and is readable',
    cause: error,
    data: { path },
  });
}

function sha256Of(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Whether text names a registry (`host.name/…`, `host:port/…`, `localhost/…`), as docker decides. */
export function looksLikeRegistryReference(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash <= 0) return false;
  const first = text.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost';
}

/**
 * Open an image: an existing file is a docker-archive tarball, an existing directory an OCI layout, and
 * anything else that names a registry a registry reference.
 *
 * @param image - path or reference
 * @param options - cwd, credentials, limits
 * @returns the source (close it when done)
 * @throws {VerifyError} VERIFY_IMAGE_NOT_FOUND, VERIFY_BAD_IMAGE, VERIFY_READ_FAILED
 * @throws {RegistryError} REGISTRY_BAD_REFERENCE for a malformed reference
 */
export async function openImageSource(image: string, options: OpenImageOptions): Promise<ImageSource> {
  const path = resolve(options.cwd, image);
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw readFailed(path, error);
  }
  if (info?.isDirectory() === true) return openLayout(path, image);
  if (info !== undefined) return openArchive(path, image, options.maxBlobBytes ?? DEFAULT_MAX_BLOB);
  if (looksLikeRegistryReference(image)) return openRegistry(parseReference(image), image, options);
  throw new VerifyError(
    'VERIFY_IMAGE_NOT_FOUND',
    `${JSON.stringify(image)} is not a file or directory (${path} does not exist) nor a registry reference`,
    {
      hint: 'give the tarball or OCI layout tk apko build wrote, or HOST[:PORT]/REPOSITORY:TAG for an image in a registry',
      data: { image },
    },
  );
}

async function openArchive(path: string, location: string, maxBytes: number): Promise<ImageSource> {
  let bytes: Uint8Array;
  try {
    const info = await stat(path);
    if (info.size > maxBytes * 4)
      throw new RangeError(`${info.size} bytes is more than the ${maxBytes * 4} read`);
    bytes = new Uint8Array(await readFile(path));
  } catch (error) {
    throw readFailed(path, error);
  }
  let entries;
  try {
    entries = readTar(bytes, { maxEntries: 100_000 }).entries;
  } catch (error) {
    throw new VerifyError('VERIFY_BAD_IMAGE', `${path} is not a tar archive: ${(error as Error).message}`, {
      hint: 'give the tarball tk apko build wrote (or an OCI layout directory, or a registry reference)',
      cause: error,
    });
  }
  const files = new Map<string, Uint8Array>();
  // Link name → the archive path it points to (undefined: outside the archive).
  const links = new Map<string, string | undefined>();
  for (const e of entries) {
    const name = e.name.replace(/^(\.\/)+/, '');
    if (e.type === 'symlink' || e.type === 'hardlink') {
      if (links.has(name)) throw duplicateEntry(path, name);
      links.set(name, linkTarget(name, e.type, e.linkname));
      continue;
    }
    if (e.type !== 'file') continue;
    if (files.has(name)) throw duplicateEntry(path, name);
    files.set(name, e.data);
  }
  // A link named like a file is a duplicate whether or not it leads anywhere.
  for (const name of links.keys()) if (files.has(name)) throw duplicateEntry(path, name);
  for (const name of links.keys()) {
    const data = followLinks(name, links, files);
    if (data !== undefined) files.set(name, data);
  }
  // tk's and apko's tarballs carry an OCI index.json; a plain `docker save` / `podman save` tarball only
  // manifest.json, from which the index and manifests are rebuilt (their digests are tk's, not a registry's).
  let index = files.get('index.json');
  const rebuilt = new Map<string, Uint8Array>();
  if (index === undefined) {
    const manifest = files.get('manifest.json');
    if (manifest === undefined) {
      throw new VerifyError(
        'VERIFY_BAD_IMAGE',
        `${path} has neither index.json (the OCI index tk and apko append to their image tarballs) nor manifest.json (docker save)`,
        {
          hint: 'give an image tarball (tk apko build, docker save, podman save), an OCI layout directory or a registry reference',
        },
      );
    }
    index = indexFromDockerArchive(parseArchiveManifest(manifest, path), files, path, rebuilt);
  }
  const blob = (digest: string): Uint8Array | undefined => {
    const known = rebuilt.get(digest);
    if (known !== undefined) return known;
    const [algorithm, hex] = digest.split(':') as [string, string];
    for (const name of [
      digest,
      `${hex}.tar.gz`,
      `${hex}.tar`,
      `${hex}.tar.zst`,
      `blobs/${algorithm}/${hex}`,
      hex,
    ]) {
      const found = files.get(name);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  const digestCache = new Map<string, string>();
  const digestOf = (name: string): string | undefined => {
    const data = files.get(name);
    if (data === undefined) return undefined;
    let d = digestCache.get(name);
    if (d === undefined) {
      d = sha256Of(data);
      digestCache.set(name, d);
    }
    return d;
  };
  const root = index;
  return {
    kind: 'docker-archive',
    location,
    // A re-saved image is not the one tk's SBOMs describe: its SBOMs are checked only with --sbom-path.
    ...(rebuilt.size === 0 ? { sbomDir: dirname(path) } : {}),
    root: () => Promise.resolve({ bytes: root, digest: sha256Of(root) }),
    fetch: (descriptor, what) => {
      const data = blob(descriptor.digest);
      if (data === undefined) {
        return Promise.reject(
          new VerifyError('VERIFY_BAD_IMAGE', `${what} (${descriptor.digest}) is not in ${path}`, {
            hint: 'the tarball is incomplete: build it again',
            data: { digest: descriptor.digest },
          }),
        );
      }
      checkContent(data, descriptor, what);
      return Promise.resolve(data);
    },
    crossCheck: (images) => {
      // docker and podman load manifest.json, not index.json: it must name the images that were verified.
      const manifest = files.get('manifest.json');
      if (manifest === undefined) return;
      for (const [i, entry] of parseArchiveManifest(manifest, path).entries()) {
        const configDigest = digestOf(entry.Config);
        const image = images.find((im) => im.configDigest === configDigest);
        const layers = entry.Layers.map((l) => digestOf(l) ?? `missing ${l}`);
        if (
          image === undefined ||
          layers.length !== image.layerDigests.length ||
          layers.some((l, j) => l !== image.layerDigests[j])
        ) {
          throw new VerifyError(
            'VERIFY_ARCHIVE_INCONSISTENT',
            `manifest.json entry ${i} (${entry.RepoTags.join(', ') || 'no tags'}) names config ${configDigest ?? `missing ${entry.Config}`} and layers ${layers.join(', ')}, which are not an image of index.json`,
            {
              hint: 'docker load and podman load read manifest.json, so they would load something other than what was verified: do not load this tarball; build it again',
            },
          );
        }
      }
    },
    close: () => Promise.resolve(),
  };
}

function duplicateEntry(path: string, name: string): VerifyError {
  return new VerifyError(
    'VERIFY_ARCHIVE_INCONSISTENT',
    `${path} holds two entries named ${JSON.stringify(name)}; loaders differ on which one they read`,
    {
      hint: 'the tarball was altered after it was built: do not load it; build it again',
      data: { name },
    },
  );
}

/** Links followed from one name at most: a longer chain (or a loop) leaves the name unresolved. */
const MAX_LINK_HOPS = 16;

/**
 * The archive path a link entry points to: a hard link names an entry of the archive; a symlink is
 * resolved from its own directory, as `docker load` does for the layer two images share
 * (`<id>/layer.tar -> ../<other id>/layer.tar`). Undefined for a target outside the archive (absolute, or
 * above its root).
 */
function linkTarget(name: string, type: 'symlink' | 'hardlink', linkname: string): string | undefined {
  if (linkname === '' || linkname.startsWith('/')) return undefined;
  const target = posix.normalize(type === 'hardlink' ? linkname : posix.join(posix.dirname(name), linkname));
  if (target === '..' || target.startsWith('../') || target === '.') return undefined;
  return target.replace(/^(\.\/)+/, '');
}

/** The file a link name ends at, through at most {@link MAX_LINK_HOPS} links; undefined for a loop or a dangling link. */
function followLinks(
  name: string,
  links: ReadonlyMap<string, string | undefined>,
  files: ReadonlyMap<string, Uint8Array>,
): Uint8Array | undefined {
  let at = links.get(name);
  for (let hop = 0; at !== undefined && hop < MAX_LINK_HOPS; hop++) {
    const data = files.get(at);
    if (data !== undefined) return data;
    at = links.get(at);
  }
  return undefined;
}

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar';
const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/**
 * The OCI index of a tarball that has only docker's `manifest.json`: a docker v2 manifest per entry (its
 * config and layers by digest, each layer's media type from its first bytes), with the platform its config
 * names. Every document and blob it names goes into `blobs`, by digest.
 */
function indexFromDockerArchive(
  entries: readonly ArchiveEntry[],
  files: ReadonlyMap<string, Uint8Array>,
  path: string,
  blobs: Map<string, Uint8Array>,
): Uint8Array {
  const file = (name: string, what: string): Uint8Array => {
    const data = files.get(name.replace(/^(\.\/)+/, ''));
    if (data === undefined) {
      throw new VerifyError(
        'VERIFY_BAD_IMAGE',
        `${path}: ${what} ${JSON.stringify(name)} is not in the tarball`,
        {
          hint: 'the tarball is incomplete: save the image again',
        },
      );
    }
    return data;
  };
  const describe = (data: Uint8Array, mediaType: string) => {
    const digest = sha256Of(data);
    blobs.set(digest, data);
    return { mediaType, digest, size: data.byteLength };
  };
  const manifests = entries.map((entry, i) => {
    const config = file(entry.Config, `manifest.json entry ${i}: config`);
    const layers = entry.Layers.map((name, j) => {
      const data = file(name, `manifest.json entry ${i}: layer ${j}`);
      return describe(data, data[0] === 0x1f && data[1] === 0x8b ? DOCKER_LAYER_GZIP : DOCKER_LAYER);
    });
    const manifest = new TextEncoder().encode(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: DOCKER_MANIFEST,
        config: describe(config, DOCKER_CONFIG),
        layers,
      }),
    );
    return { ...describe(manifest, DOCKER_MANIFEST), platform: platformOf(config) };
  });
  return new TextEncoder().encode(
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }),
  );
}

/** `architecture`, `os` and `variant` of an image config, as far as it has them as strings. */
function platformOf(config: Uint8Array): { architecture: string; os: string; variant?: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(config));
  } catch {
    doc = undefined;
  }
  const field = (key: string): string | undefined => {
    const value = (doc as Record<string, unknown> | null | undefined)?.[key];
    return typeof value === 'string' && value.length <= 64 ? value : undefined;
  };
  const variant = field('variant');
  return {
    architecture: field('architecture') ?? 'unknown',
    os: field('os') ?? 'unknown',
    ...(variant === undefined ? {} : { variant }),
  };
}

interface ArchiveEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

function parseArchiveManifest(bytes: Uint8Array, path: string): ArchiveEntry[] {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new VerifyError(
      'VERIFY_BAD_IMAGE',
      `${path}: manifest.json is not valid JSON (${(error as Error).message})`,
      {
        hint: 'the tarball is damaged: build it again',
      },
    );
  }
  const ok =
    Array.isArray(value) &&
    value.every(
      (e) =>
        typeof e === 'object' &&
        e !== null &&
        typeof (e as ArchiveEntry).Config === 'string' &&
        Array.isArray((e as ArchiveEntry).Layers) &&
        (e as ArchiveEntry).Layers.every((l) => typeof l === 'string') &&
        ((e as ArchiveEntry).RepoTags === undefined ||
          (Array.isArray((e as ArchiveEntry).RepoTags) &&
            (e as ArchiveEntry).RepoTags.every((t) => typeof t === 'string'))),
    );
  if (!ok) {
    throw new VerifyError(
      'VERIFY_BAD_IMAGE',
      `${path}: manifest.json is not a list of {Config, RepoTags, Layers}`,
      {
        hint: 'the tarball is damaged: build it again',
      },
    );
  }
  return (value as ArchiveEntry[]).map((e) => ({
    Config: e.Config,
    RepoTags: e.RepoTags ?? [],
    Layers: e.Layers,
  }));
}

async function openLayout(dir: string, location: string): Promise<ImageSource> {
  const readLimited = async (
    path: string,
    expected: number | undefined,
    max: number,
  ): Promise<Uint8Array> => {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') {
        throw new VerifyError('VERIFY_BAD_IMAGE', `${path} is missing from the OCI layout ${dir}`, {
          hint: 'the layout is incomplete: build it again',
          data: { path },
        });
      }
      throw readFailed(path, error);
    }
    if (!info.isFile())
      throw new VerifyError('VERIFY_BAD_IMAGE', `${path} is not a regular file`, {
        hint: 'the layout is damaged: build it again',
      });
    if (expected !== undefined && info.size !== expected) {
      throw new VerifyError(
        'VERIFY_DIGEST_MISMATCH',
        `${path}: ${info.size} bytes; its descriptor says ${expected}`,
        {
          hint: 'the image was changed after it was built (or the copy is damaged): do not trust it; build it again',
          data: { path },
        },
      );
    }
    if (info.size > max)
      throw readFailed(path, new RangeError(`${info.size} bytes is more than the ${max} read`));
    try {
      return new Uint8Array(await readFile(path));
    } catch (error) {
      throw readFailed(path, error);
    }
  };
  const indexPath = join(dir, 'index.json');
  const index = await readLimited(indexPath, undefined, 4 * 1024 * 1024);
  return {
    kind: 'oci-layout',
    location,
    sbomDir: dir,
    root: () => Promise.resolve({ bytes: index, digest: sha256Of(index) }),
    fetch: async (descriptor, what) => {
      const [algorithm, hex] = descriptor.digest.split(':') as [string, string];
      const data = await readLimited(
        join(dir, 'blobs', algorithm, hex),
        descriptor.size,
        Number.MAX_SAFE_INTEGER,
      );
      checkContent(data, descriptor, what);
      return data;
    },
    crossCheck: () => undefined,
    close: () => Promise.resolve(),
  };
}

function openRegistry(ref: RegistryReference, location: string, options: OpenImageOptions): ImageSource {
  const client = createRegistryClient({
    ...(options.keychain === undefined ? {} : { keychain: options.keychain }),
    insecure: options.insecure ?? false,
    logger: options.logger ?? silentLogger,
  });
  const maxBlob = options.maxBlobBytes ?? DEFAULT_MAX_BLOB;
  return {
    kind: 'registry',
    location,
    root: async () => {
      const fetched = await client.getManifest(ref);
      return { bytes: fetched.bytes, digest: fetched.digest, mediaType: fetched.mediaType };
    },
    fetch: async (descriptor, what) => {
      let data: Uint8Array;
      if (MANIFEST_MEDIA_TYPES.has(descriptor.mediaType) || INDEX_MEDIA_TYPES.has(descriptor.mediaType)) {
        data = (await client.getManifest({ ...ref, tag: undefined, digest: descriptor.digest })).bytes;
      } else {
        if (descriptor.size > maxBlob) {
          throw new VerifyError(
            'VERIFY_READ_FAILED',
            `${what} is ${descriptor.size} bytes, more than the ${maxBlob} read`,
            {
              hint: 'the layer is unusually large; verify-image reads layers into memory',
            },
          );
        }
        data = await client.getBlob(ref, descriptor.digest, { size: descriptor.size });
      }
      checkContent(data, descriptor, what);
      return data;
    },
    crossCheck: () => undefined,
    close: () => client.close(),
  };
}
