/**
 * Deterministic image layers: a tar of the root filesystem, gzip-compressed, with the two digests OCI
 * needs (image-spec layer.md): the `diff_id` (SHA-256 of the uncompressed tar, listed in the config) and
 * the blob digest (SHA-256 of the gzip bytes, listed in the manifest).
 *
 * The tar is what apko writes (`pkg/build/tarball.go` `writeTar`, reference §7.1):
 * - entries in `fs.WalkDir` order: every directory before its children, siblings in byte order of their
 *   names (so `a/b` comes before `a-b`); the root itself is not an entry;
 * - names relative, without `./` or a trailing `/`; USTAR headers byte-equal to Go `archive/tar`'s
 *   (PAX only for long names, large numbers and xattrs), through `@tk/tar`;
 * - modes are permission bits plus setuid/setgid/sticky, owners and times exactly as given.
 *
 * One deliberate difference: a hard link is written right after its target when its name sorts before
 * the target's (apko writes it first, and extractors that create links as they go cannot resolve it).
 *
 * Missing parent directories are synthesised (0755, uid/gid 0, mtime 0: what apko's `MkdirAll` leaves in
 * its in-memory tree) unless `parents: 'error'` is asked for. The compressed bytes come from `@tk/gzip`'s
 * libdeflate engine, one gzip member per 1 MiB block (pgzip's block size): the same on every machine, but
 * not apko's (klauspost/pgzip); the diff_id can equal apko's.
 */
import { compareCodePoints, isTkError, type Logger, silentLogger } from '@tk/core';
import { DEFAULT_BLOCK_SIZE, gunzipMismatchAsync, gzip, type GzipOptions } from '@tk/gzip';
import { checkEntryPath, TarWriter, type TarWriteEntry } from '@tk/tar';
import { sha256Digest } from './digest.ts';
import { OciError } from './errors.ts';
import type { OciBlob } from './image.ts';
import { LAYER_GZIP_ENGINE, layerCacheKey, type LayerCache } from './layer-cache.ts';

/** Media type of a gzip-compressed OCI layer. */
export const MEDIA_TYPE_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** Kinds of entries a layer holds. */
export type LayerEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/** One file-system object of a layer. */
export interface LayerEntry {
  /** Path relative to the image root, without a leading `/` or a trailing `/` (`usr/bin/env`). */
  path: string;
  type: LayerEntryType;
  /** Permission bits plus setuid (04000), setgid (02000) and sticky (01000); no file-type bits. */
  mode: number;
  uid: number;
  gid: number;
  /** Owner name for the header; apko writes the name the image's `/etc/passwd` gives the uid, else ''. */
  uname?: string;
  /** Group name for the header; from the image's `/etc/group`, else ''. */
  gname?: string;
  /** Modification time, whole seconds since the epoch. */
  mtime: number;
  /** Symlink target (raw), or a hard link's target path (relative to the root, like `path`). */
  linkname?: string;
  /** Device numbers of char and block devices. */
  devmajor?: number;
  devminor?: number;
  /** Extended attributes (files and directories only), written as `SCHILY.xattr.<name>` PAX records. */
  xattrs?: Readonly<Record<string, Uint8Array>>;
  /** Content of regular files. */
  data?: Uint8Array;
}

/** A compressed layer and its digests. */
export interface LayerBlob extends OciBlob {
  /** `sha256:` digest of the uncompressed tar (the config's `rootfs.diff_ids` entry). */
  diffId: string;
  /** Size of the uncompressed tar. */
  uncompressedSize: number;
}

/** Owner, mode and time of directories synthesised for missing parents. */
export interface ParentTemplate {
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  mtime?: number;
}

/** How to order and validate entries. */
export interface LayerOrderOptions {
  /**
   * What to do when an entry's parent directory is not in the list: `'create'` (the default) adds it
   * from `parentTemplate`; `'error'` throws OCI_LAYER_MISSING_PARENT.
   */
  parents?: 'create' | 'error';
  /** Fields of synthesised parents. Default: mode 0755, uid/gid 0, names '', mtime 0. */
  parentTemplate?: ParentTemplate;
}

/** How to build a layer. */
export interface BuildLayerOptions extends LayerOrderOptions {
  /**
   * Compression settings (engine, level, block size, threads); the engine defaults to libdeflate
   * ({@link LAYER_GZIP_ENGINE}), the block size to pgzip's.
   */
  gzip?: GzipOptions;
  /**
   * Where compressed layers are kept between builds ({@link createDiskLayerCache}). A hit skips deflate
   * entirely and is checked before use (recorded digest and size, gzip size field, decompressed bytes equal
   * to the tar); an entry that fails is dropped with a warning and the layer is compressed again. Failing
   * to write the cache is a warning, never an error.
   */
  layerCache?: LayerCache;
  logger?: Logger;
}

const TYPES = new Set<LayerEntryType>(['file', 'directory', 'symlink', 'hardlink', 'char', 'block', 'fifo']);

function entryError(
  code: 'OCI_LAYER_BAD_ENTRY' | 'OCI_LAYER_UNSAFE_PATH',
  path: string,
  why: string,
  cause?: unknown,
): OciError {
  return new OciError(code, `layer entry ${JSON.stringify(path)}: ${why}`, {
    hint: 'this is a bug in whatever produced the file list (tk rootfs or a caller of @tk/oci); please report it',
    data: { path },
    cause,
  });
}

function normalizePath(path: unknown, what: string, owner: string): string {
  if (typeof path !== 'string')
    throw entryError('OCI_LAYER_UNSAFE_PATH', String(owner), `${what} is not a string`);
  try {
    return checkEntryPath(path);
  } catch (error) {
    if (isTkError(error))
      throw entryError('OCI_LAYER_UNSAFE_PATH', owner, `unsafe ${what}: ${error.message}`, error);
    throw error;
  }
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function checkEntry(entry: LayerEntry, path: string): void {
  const bad = (why: string): never => {
    throw entryError('OCI_LAYER_BAD_ENTRY', path, why);
  };
  if (!TYPES.has(entry.type)) bad(`unknown type ${JSON.stringify(entry.type)}`);
  if (!isCount(entry.mode) || entry.mode > 0o7777) bad(`mode ${String(entry.mode)} is not within 0..07777`);
  if (!isCount(entry.uid) || !isCount(entry.gid))
    bad(`owner ${String(entry.uid)}:${String(entry.gid)} is invalid`);
  if (!isCount(entry.mtime)) bad(`mtime ${String(entry.mtime)} is not a non-negative whole number`);
  for (const [key, value] of [
    ['uname', entry.uname],
    ['gname', entry.gname],
  ] as const) {
    if (value !== undefined && (typeof value !== 'string' || value.includes('\0'))) bad(`${key} is invalid`);
  }
  const isLink = entry.type === 'symlink' || entry.type === 'hardlink';
  if (isLink) {
    if (typeof entry.linkname !== 'string' || entry.linkname === '') bad(`a ${entry.type} needs a target`);
    if (entry.linkname!.includes('\0')) bad('the link target contains NUL');
  } else if (entry.linkname !== undefined && entry.linkname !== '')
    bad(`a ${entry.type} cannot have a link target`);
  const isDevice = entry.type === 'char' || entry.type === 'block';
  for (const n of [entry.devmajor, entry.devminor]) {
    if (n === undefined) continue;
    if (!isCount(n)) bad(`device number ${String(n)} is invalid`);
    if (!isDevice && n !== 0) bad(`a ${entry.type} cannot have device numbers`);
  }
  if (entry.data !== undefined) {
    if (!(entry.data instanceof Uint8Array)) bad('data must be a Uint8Array');
    if (entry.type !== 'file' && entry.data.length > 0) bad(`a ${entry.type} cannot carry data`);
  }
  if (entry.xattrs !== undefined && Object.keys(entry.xattrs).length > 0) {
    // apko only collects xattrs of regular files and directories.
    if (entry.type !== 'file' && entry.type !== 'directory') bad(`a ${entry.type} cannot carry xattrs`);
    for (const [name, value] of Object.entries(entry.xattrs)) {
      if (name === '' || name.includes('=') || name.includes('\0'))
        bad(`invalid xattr name ${JSON.stringify(name)}`);
      if (!(value instanceof Uint8Array)) bad(`xattr ${name} must be a Uint8Array`);
    }
  }
}

/** Sort key: the UTF-8 path with `/` mapped to 0, so byte order equals component-by-component order. */
function sortKey(path: string): Buffer {
  const key = Buffer.from(path, 'utf8');
  for (let i = 0; i < key.length; i++) if (key[i] === 0x2f) key[i] = 0;
  return key;
}

function parentOf(path: string): string | undefined {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? undefined : path.slice(0, slash);
}

/**
 * Validate entries and put them in the order a layer holds them (see the module comment): walk order,
 * hard links after their targets, missing parents synthesised. Paths are normalised (`./a/` → `a`).
 *
 * @param entries - the entries, in any order
 * @param options - parent handling
 * @returns new entry objects in layer order (data arrays are shared, not copied)
 * @throws {OciError} OCI_LAYER_UNSAFE_PATH, OCI_LAYER_BAD_ENTRY, OCI_LAYER_DUPLICATE_PATH,
 *   OCI_LAYER_MISSING_PARENT, OCI_LAYER_PARENT_NOT_DIRECTORY, OCI_LAYER_BAD_HARDLINK
 */
export function orderLayerEntries(
  entries: readonly LayerEntry[],
  options: LayerOrderOptions = {},
): LayerEntry[] {
  const byPath = new Map<string, LayerEntry>();
  for (const entry of entries) {
    const path = normalizePath(entry.path, 'path', String(entry.path));
    checkEntry(entry, path);
    if (byPath.has(path)) {
      throw new OciError(
        'OCI_LAYER_DUPLICATE_PATH',
        `two layer entries have the path ${JSON.stringify(path)}`,
        {
          hint: 'each path may appear once in a layer; check what produced the file list',
          data: { path },
        },
      );
    }
    const copy: LayerEntry = { ...entry, path };
    if (entry.type === 'hardlink') copy.linkname = normalizePath(entry.linkname, 'hard link target', path);
    byPath.set(path, copy);
  }

  const template = options.parentTemplate ?? {};
  const parentEntry = (path: string): LayerEntry => ({
    path,
    type: 'directory',
    mode: template.mode ?? 0o755,
    uid: template.uid ?? 0,
    gid: template.gid ?? 0,
    uname: template.uname ?? '',
    gname: template.gname ?? '',
    mtime: template.mtime ?? 0,
  });
  for (const path of [...byPath.keys()]) {
    for (
      let parent = parentOf(path), child = path;
      parent !== undefined;
      child = parent, parent = parentOf(parent)
    ) {
      const existing = byPath.get(parent);
      if (existing !== undefined) {
        if (existing.type !== 'directory') {
          throw new OciError(
            'OCI_LAYER_PARENT_NOT_DIRECTORY',
            `layer entry ${JSON.stringify(child)} is inside ${JSON.stringify(parent)}, which is a ${existing.type}`,
            {
              hint: 'a path cannot be both a file and a directory; check the file list',
              data: { path: child, parent },
            },
          );
        }
        break;
      }
      if (options.parents === 'error') {
        throw new OciError(
          'OCI_LAYER_MISSING_PARENT',
          `layer entry ${JSON.stringify(child)} has no parent directory entry ${JSON.stringify(parent)}`,
          {
            hint: 'add the directory to the file list, or let the layer create it',
            data: { path: child, parent },
          },
        );
      }
      byPath.set(parent, parentEntry(parent));
    }
  }

  for (const entry of byPath.values()) {
    if (entry.type !== 'hardlink') continue;
    const target = byPath.get(entry.linkname!);
    if (target?.type !== 'file') {
      throw new OciError(
        'OCI_LAYER_BAD_HARDLINK',
        `hard link ${JSON.stringify(entry.path)} points at ${JSON.stringify(entry.linkname)}, which ${
          target === undefined ? 'is not in the layer' : `is a ${target.type}, not a regular file`
        }`,
        {
          hint: 'a hard link must name a regular file of the same layer',
          data: { path: entry.path, target: entry.linkname },
        },
      );
    }
  }

  const keyed = [...byPath.values()].map((entry) => ({ entry, key: sortKey(entry.path) }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key) || compareCodePoints(a.entry.path, b.entry.path));

  const ordered: LayerEntry[] = [];
  const emitted = new Set<string>();
  const waiting = new Map<string, LayerEntry[]>();
  for (const { entry } of keyed) {
    if (entry.type === 'hardlink' && !emitted.has(entry.linkname!)) {
      const list = waiting.get(entry.linkname!) ?? [];
      list.push(entry);
      waiting.set(entry.linkname!, list);
      continue;
    }
    ordered.push(entry);
    emitted.add(entry.path);
    for (const link of waiting.get(entry.path) ?? []) {
      ordered.push(link);
      emitted.add(link.path);
    }
    waiting.delete(entry.path);
  }
  return ordered;
}

function toTarEntry(entry: LayerEntry): TarWriteEntry {
  const isDevice = entry.type === 'char' || entry.type === 'block';
  return {
    name: entry.path,
    type: entry.type,
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    uname: entry.uname ?? '',
    gname: entry.gname ?? '',
    mtime: entry.mtime,
    linkname: entry.linkname ?? '',
    devmajor: isDevice ? (entry.devmajor ?? 0) : 0,
    devminor: isDevice ? (entry.devminor ?? 0) : 0,
    ...(entry.xattrs !== undefined && Object.keys(entry.xattrs).length > 0 ? { xattrs: entry.xattrs } : {}),
    ...(entry.type === 'file' && entry.data !== undefined ? { data: entry.data } : {}),
  };
}

/** The uncompressed tar of a layer. */
export interface LayerTar {
  /** The archive, as chunks in order (file contents are not copied). */
  chunks: Uint8Array[];
  /** Total size in bytes. */
  size: number;
  /** `sha256:` digest of the archive: the layer's diff_id. */
  diffId: string;
}

/**
 * Write the uncompressed tar of a layer (validated and ordered by {@link orderLayerEntries}).
 *
 * @param entries - the entries, in any order
 * @param options - parent handling
 * @returns the tar chunks, size and diff_id
 * @throws {OciError} see {@link orderLayerEntries}
 */
export function writeLayerTar(entries: readonly LayerEntry[], options: LayerOrderOptions = {}): LayerTar {
  const writer = new TarWriter();
  for (const entry of orderLayerEntries(entries, options)) {
    try {
      writer.add(toTarEntry(entry));
    } catch (error) {
      if (isTkError(error)) throw entryError('OCI_LAYER_BAD_ENTRY', entry.path, error.message, error);
      throw error;
    }
  }
  const chunks = writer.finish();
  return { chunks, size: writer.byteLength, diffId: sha256Digest(...chunks) };
}

/** Size of the gzip trailer (CRC-32, ISIZE) and offset of ISIZE from the end (RFC 1952 §2.3.1). */
const GZIP_TRAILER_SIZE = 8;
const GZIP_ISIZE_FROM_END = 4;

/** The ISIZE of the blob's last member: the tar size for one zlib member, the last block's for libdeflate's members. */
function lastMemberSize(tarSize: number, gzip: GzipOptions): number {
  if ((gzip.engine ?? LAYER_GZIP_ENGINE) === 'zlib' || tarSize === 0) return tarSize % 2 ** 32;
  const blockSize = gzip.blockSize ?? DEFAULT_BLOCK_SIZE;
  return tarSize - Math.floor((tarSize - 1) / blockSize) * blockSize;
}

/**
 * Why a cached blob cannot be the layer of this tar, or undefined when it is. The checks, cheapest first:
 * the recorded size and SHA-256 (disk corruption, truncation, a half-copied file), the gzip ISIZE field,
 * then the blob decompressed must equal the tar byte for byte (an entry that is intact but is not this
 * tar's layer: a key collision or a file placed there on purpose), member by member, with every member's
 * CRC-32 and length (`gunzipMismatchAsync`: the members inflate at the same time on the thread pool, and
 * nothing is copied).
 */
async function rejectCached(
  bytes: Uint8Array,
  digest: string,
  size: number,
  tar: LayerTar,
  gzip: GzipOptions,
): Promise<string | undefined> {
  if (bytes.length !== size) return `it holds ${bytes.length} bytes, but its record says ${size}`;
  const actual = sha256Digest(bytes);
  if (actual !== digest) return `its bytes hash to ${actual}, but its record says ${digest}`;
  if (bytes.length < GZIP_TRAILER_SIZE) return 'it is too short to be gzip';
  const isize = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).readUInt32LE(
    bytes.length - GZIP_ISIZE_FROM_END,
  );
  const expected = lastMemberSize(tar.size, gzip);
  if (isize !== expected)
    return `its last gzip size field is ${isize}, but the tar's last block is ${expected} bytes`;
  const engine = gzip.engine ?? LAYER_GZIP_ENGINE;
  const mismatch = await gunzipMismatchAsync(bytes, tar.chunks, {
    memberSize: engine === 'zlib' ? tar.size : (gzip.blockSize ?? DEFAULT_BLOCK_SIZE),
  });
  return mismatch === undefined ? undefined : `it does not decompress to the tar ${tar.diffId}: ${mismatch}`;
}

async function readCachedLayer(
  cache: LayerCache,
  key: string,
  tar: LayerTar,
  gzip: GzipOptions,
  logger: Logger,
): Promise<{ bytes: Uint8Array; digest: string } | undefined> {
  let hit;
  try {
    hit = await cache.get(key);
  } catch (error) {
    logger.warn(
      `layer cache: cannot read entry ${key}: ${(error as Error).message}; compressing the layer again`,
      'OCI_LAYER_CACHE_UNREADABLE',
    );
    return undefined;
  }
  if (hit === undefined) {
    logger.debug(`layer cache: miss for ${tar.diffId} (key ${key})`);
    return undefined;
  }
  const why = await rejectCached(hit.bytes, hit.digest, hit.size, tar, gzip);
  if (why === undefined) {
    logger.debug(`layer cache: hit for ${tar.diffId}: ${hit.digest} (${hit.size} bytes)`);
    return { bytes: hit.bytes, digest: hit.digest };
  }
  logger.warn(
    `layer cache: dropping entry ${key} for ${tar.diffId}: ${why}; compressing the layer again`,
    'OCI_LAYER_CACHE_CORRUPT',
  );
  try {
    await cache.delete(key);
  } catch (error) {
    logger.warn(
      `layer cache: cannot delete entry ${key}: ${(error as Error).message}`,
      'OCI_LAYER_CACHE_WRITE_FAILED',
    );
  }
  return undefined;
}

/**
 * Build a gzip-compressed layer from file-system entries. With a `layerCache`, a layer whose tar and gzip
 * settings were compressed before is taken from the cache (after checking it) instead of compressed; the
 * result is byte-identical either way.
 *
 * @param entries - the entries, in any order
 * @param options - parent handling, gzip settings, layer cache, logger
 * @returns the compressed blob with its digest, size, diff_id and uncompressed size
 * @throws {OciError} see {@link orderLayerEntries}
 * @throws {GzipError} GZIP_BAD_HEADER when the gzip settings are invalid
 * @example
 * const layer = await buildLayer([
 *   { path: 'etc', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: 0 },
 *   { path: 'etc/motd', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: utf8('hi\n') },
 * ]);
 * layer.diffId // 'sha256:…'
 */
export async function buildLayer(
  entries: readonly LayerEntry[],
  options: BuildLayerOptions = {},
): Promise<LayerBlob> {
  const logger = options.logger ?? silentLogger;
  const tar = writeLayerTar(entries, options);
  logger.debug(`layer tar: ${tar.size} bytes, diff_id ${tar.diffId}`);
  const gzipOptions: GzipOptions = { engine: LAYER_GZIP_ENGINE, ...options.gzip };
  const cache = options.layerCache;
  const key = cache === undefined ? undefined : layerCacheKey(tar.diffId, tar.size, gzipOptions);
  const cached =
    cache === undefined || key === undefined
      ? undefined
      : await readCachedLayer(cache, key, tar, gzipOptions, logger);
  let bytes: Uint8Array;
  let digest: string;
  if (cached !== undefined) ({ bytes, digest } = cached);
  else {
    bytes = await gzip(tar.chunks, gzipOptions);
    digest = sha256Digest(bytes);
    if (cache !== undefined && key !== undefined) {
      try {
        await cache.put(key, { bytes, digest, size: bytes.length });
      } catch (error) {
        logger.warn(
          `layer cache: cannot store the layer ${digest}: ${(error as Error).message}`,
          'OCI_LAYER_CACHE_WRITE_FAILED',
        );
      }
    }
  }
  logger.debug(`layer blob: ${bytes.length} bytes, digest ${digest}`);
  return {
    mediaType: MEDIA_TYPE_LAYER_GZIP,
    digest,
    size: bytes.length,
    bytes,
    diffId: tar.diffId,
    uncompressedSize: tar.size,
  };
}
