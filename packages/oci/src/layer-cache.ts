/**
 * The compressed-layer cache: gzip bytes of a layer, stored by a key that names the uncompressed tar and
 * every setting that decides the compressed bytes, so that a rebuild whose tar did not change skips deflate
 * and still writes byte-identical output (docs/decisions.md §22).
 *
 * Key: the hex SHA-256 of {@link layerCacheKeyText}: the diff_id and size of the tar, the layer media type,
 * {@link LAYER_GZIP_WRITER_VERSION}, the gzip engine, level and block size (defaults applied), and a fingerprint of
 * `@tk/gzip`'s output for a fixed probe input at those settings (which covers the gzip header fields and
 * the deflate implementation itself, so a change of engine or of the header changes every key on its own).
 * `threads` is not in the key: it never changes the output.
 *
 * On disk ({@link createDiskLayerCache}) one entry is one file, `<dir>/layers/sha256/<key-hex>`, written
 * atomically (temporary file plus rename in the same folder):
 *
 *     offset  size  field
 *          0     8  magic "TKLAYER\n"
 *          8     4  entry format version, uint32 big-endian (1)
 *         12    32  the key, raw SHA-256
 *         44    32  SHA-256 of the blob
 *         76     8  blob size, uint64 big-endian
 *         84     …  the gzip blob
 *
 * A cache is never trusted: {@link buildLayer} re-checks every hit (see `readCachedLayer` in layer.ts).
 *
 * Size bound: after every store, entries are evicted least recently used first until the entries' total
 * size is at most `maxBytes` ({@link DEFAULT_LAYER_CACHE_MAX_BYTES}). "Used" is the entry file's mtime: a
 * store sets it, and a hit (a well-formed entry read) sets it to the current time with `futimes` on the
 * open file. mtime is bookkeeping only; it never reaches an output. Eviction is safe with any number of tk
 * processes sharing the folder:
 *
 * - a reader opens an entry, then reads it whole; an entry unlinked after the open is still read whole
 *   (POSIX keeps the inode), one unlinked before is a miss, and the layer is compressed again. Entries are
 *   only ever replaced by rename, so no reader sees half of one, and buildLayer checks every hit anyway;
 * - only entries strictly older than the one just stored are evicted: an entry another process stored or
 *   used after ours is kept, so concurrent writers never evict each other's newest entries, and the entry
 *   just stored is never evicted by its own store (even when it alone exceeds the bound);
 * - temporary files of a writer in progress (`.<key>.<random>.tmp`) are neither counted nor deleted; they
 *   are deleted once they are {@link STALE_TEMP_MS} older than the entry just stored (a crashed writer);
 * - only regular files in the entries' folder whose names are a key or such a temporary name are counted
 *   or deleted (by `unlink`, which never follows a symbolic link). Any other name, symbolic links,
 *   folders, devices and FIFOs are left alone. Reads open with `O_NOFOLLOW` and only read regular files,
 *   so a symbolic link named like a key is never followed (it is dropped like any malformed entry), and a
 *   FIFO never blocks a build.
 *
 * Two processes evicting at once may together evict a little more than needed; the bound is checked
 * after each store only, so a folder can briefly exceed it while builds run.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger, utf8, writeFileAtomic, type Logger } from '@tk/core';
import { DEFAULT_BLOCK_SIZE, DEFAULT_LEVEL, gzipSync, type GzipEngine, type GzipOptions } from '@tk/gzip';
import { digestHex, sha256Digest } from './digest.ts';

/**
 * Version of tk's gzip layer writer as far as the cache is concerned. Bump it whenever `@tk/gzip` changes
 * how it cuts, primes or frames blocks (anything that changes compressed bytes for the same settings):
 * every cached layer then misses once. The probe fingerprint in the key catches most such changes by
 * itself; this constant is for the ones a small single-block probe cannot see (multi-block framing).
 */
export const LAYER_GZIP_WRITER_VERSION = 2;

/**
 * The deflate engine of image layers unless the caller picks one: libdeflate, one gzip member per block
 * (docs/decisions.md §23).
 */
export const LAYER_GZIP_ENGINE: GzipEngine = 'libdeflate';

/** A compressed layer as a cache stores it. */
export interface CachedLayerBlob {
  /** The gzip bytes. */
  bytes: Uint8Array;
  /** `sha256:` digest of `bytes`, as recorded when the entry was written. */
  digest: string;
  /** Size of `bytes`, as recorded when the entry was written. */
  size: number;
}

/**
 * Where {@link buildLayer} keeps compressed layers. Implementations only store; `buildLayer` checks every
 * hit against the recorded digest and size and against the tar (gzip trailer CRC-32 and size, then the
 * decompressed content's diff_id), so a cache can lose or corrupt entries but never make a build wrong.
 */
export interface LayerCache {
  /**
   * Look an entry up.
   *
   * @param key - 64 lowercase hex digits (from {@link layerCacheKey})
   * @returns the stored blob and its record, or undefined when absent (or unreadable: a miss)
   */
  get(key: string): Promise<CachedLayerBlob | undefined>;
  /**
   * Store an entry, replacing any previous one.
   *
   * @param key - the key
   * @param blob - the compressed bytes with their digest and size
   */
  put(key: string, blob: CachedLayerBlob): Promise<void>;
  /**
   * Remove an entry; an absent one is fine.
   *
   * @param key - the key
   */
  delete(key: string): Promise<void>;
}

/** A fixed probe input: a few KiB of varied, compressible text. */
const PROBE = utf8(
  Array.from({ length: 64 }, (_, i) => `${i} ${(i * 2654435761) % 9973} usr/lib/libz.so.${i % 7}\n`).join(''),
);

const fingerprints = new Map<string, string>();

/** The gzip settings that decide the compressed bytes, defaults applied (a layer's engine is libdeflate). */
function gzipSettings(options: GzipOptions): { engine: GzipEngine; level: number; blockSize: number } {
  return {
    engine: options.engine ?? LAYER_GZIP_ENGINE,
    level: options.level ?? DEFAULT_LEVEL,
    blockSize: options.blockSize ?? DEFAULT_BLOCK_SIZE,
  };
}

function writerFingerprint(engine: GzipEngine, level: number, blockSize: number): string {
  const id = `${engine}/${level}/${blockSize}`;
  let value = fingerprints.get(id);
  if (value === undefined) {
    value = digestHex(sha256Digest(gzipSync(PROBE, { engine, level, blockSize })));
    fingerprints.set(id, value);
  }
  return value;
}

/**
 * The canonical text a layer cache key hashes: one `name value` line per input, in a fixed order.
 *
 * @param diffId - the tar's `sha256:` digest
 * @param size - the tar's size in bytes
 * @param gzip - the compression settings the layer is built with
 * @returns the text
 * @throws {GzipError} GZIP_BAD_HEADER when the gzip settings are invalid
 */
export function layerCacheKeyText(diffId: string, size: number, gzip: GzipOptions = {}): string {
  const { engine, level, blockSize } = gzipSettings(gzip);
  return [
    'tk-layer-cache 1',
    `diff_id ${diffId}`,
    `tar_size ${size}`,
    'media_type application/vnd.oci.image.layer.v1.tar+gzip',
    `gzip_writer_version ${LAYER_GZIP_WRITER_VERSION}`,
    `gzip_engine ${engine}`,
    `gzip_level ${level}`,
    `gzip_block_size ${blockSize}`,
    `gzip_probe sha256:${writerFingerprint(engine, level, blockSize)}`,
    '',
  ].join('\n');
}

/**
 * The cache key of a layer: hex SHA-256 of {@link layerCacheKeyText}.
 *
 * @param diffId - the tar's `sha256:` digest
 * @param size - the tar's size in bytes
 * @param gzip - the compression settings
 * @returns 64 lowercase hex digits
 * @throws {GzipError} GZIP_BAD_HEADER when the gzip settings are invalid
 * @example
 * const key = layerCacheKey(tar.diffId, tar.size, { level: 6 });
 */
export function layerCacheKey(diffId: string, size: number, gzip: GzipOptions = {}): string {
  return digestHex(sha256Digest(utf8(layerCacheKeyText(diffId, size, gzip))));
}

/** Entry file layout (see the module comment). */
const ENTRY_MAGIC = utf8('TKLAYER\n');
const ENTRY_VERSION = 1;
const ENTRY_MAGIC_OFFSET = 0;
const ENTRY_MAGIC_SIZE = 8;
const ENTRY_VERSION_OFFSET = 8;
const ENTRY_KEY_OFFSET = 12;
const ENTRY_DIGEST_OFFSET = 44;
const ENTRY_SIZE_OFFSET = 76;
const ENTRY_HEADER_SIZE = 84;
const SHA256_SIZE = 32;
const KEY_PATTERN = /^[0-9a-f]{64}$/;

/** The default bound of a disk layer cache: 1 GiB, a few hundred layers of a small image. */
export const DEFAULT_LAYER_CACHE_MAX_BYTES = 2 ** 30;

/**
 * How much older than the entry just stored a writer's temporary file must be before eviction deletes it
 * as left over by a crash: one hour. A live writer's file is at most as old as its slowest write.
 */
export const STALE_TEMP_MS = 60 * 60 * 1000;

/** Options of {@link createDiskLayerCache}. */
export interface DiskLayerCacheOptions {
  /** Where notes about dropped entries go (debug) and failures to read or write (warn). */
  logger?: Logger;
  /**
   * The most bytes the entries may take together (file sizes, headers included), enforced after every
   * store by evicting least recently used entries; default {@link DEFAULT_LAYER_CACHE_MAX_BYTES}.
   * `Infinity` never evicts. `0` keeps only the entry just stored (and entries other processes stored or
   * used since): a store never evicts its own entry, whatever the bound. To not cache at all, do not pass
   * a cache to {@link buildLayer}.
   */
  maxBytes?: number;
}

/** A {@link LayerCache} on disk, with the folder it uses. */
export interface DiskLayerCache extends LayerCache {
  /** The entries' folder: `<cacheDir>/layers/sha256`. */
  readonly dir: string;
  /** The bound on the entries' total size, in bytes (`Infinity`: none). */
  readonly maxBytes: number;
  /**
   * Where an entry lives.
   *
   * @param key - the key
   * @returns the entry file's path
   */
  pathFor(key: string): string;
}

function encodeHeader(key: string, blob: CachedLayerBlob): Uint8Array {
  const header = Buffer.alloc(ENTRY_HEADER_SIZE);
  header.set(ENTRY_MAGIC, ENTRY_MAGIC_OFFSET);
  header.writeUInt32BE(ENTRY_VERSION, ENTRY_VERSION_OFFSET);
  header.write(key, ENTRY_KEY_OFFSET, SHA256_SIZE, 'hex');
  header.write(digestHex(blob.digest), ENTRY_DIGEST_OFFSET, SHA256_SIZE, 'hex');
  header.writeBigUInt64BE(BigInt(blob.size), ENTRY_SIZE_OFFSET);
  return header;
}

/** Parse an entry file; a string says why it is not a usable entry. */
function decodeEntry(file: Buffer, key: string): CachedLayerBlob | string {
  if (file.length < ENTRY_HEADER_SIZE) return `it is ${file.length} bytes, shorter than its header`;
  if (!file.subarray(ENTRY_MAGIC_OFFSET, ENTRY_MAGIC_SIZE).equals(ENTRY_MAGIC))
    return 'it does not start with the entry magic';
  const version = file.readUInt32BE(ENTRY_VERSION_OFFSET);
  if (version !== ENTRY_VERSION) return `its format version is ${version}, not ${ENTRY_VERSION}`;
  const storedKey = file.toString('hex', ENTRY_KEY_OFFSET, ENTRY_KEY_OFFSET + SHA256_SIZE);
  if (storedKey !== key) return `it records the key ${storedKey}`;
  const size = file.readBigUInt64BE(ENTRY_SIZE_OFFSET);
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) return `its recorded size ${size} is out of range`;
  const digest = `sha256:${file.toString('hex', ENTRY_DIGEST_OFFSET, ENTRY_DIGEST_OFFSET + SHA256_SIZE)}`;
  const bytes = new Uint8Array(
    file.buffer,
    file.byteOffset + ENTRY_HEADER_SIZE,
    file.length - ENTRY_HEADER_SIZE,
  );
  return { bytes, digest, size: Number(size) };
}

const TEMP_PATTERN = /^\.[0-9a-f]{64}\.[0-9a-f]+\.tmp$/;
/** `O_NOFOLLOW` where the platform has it; `O_NONBLOCK` so that opening a FIFO does not wait for a writer. */
const OPEN_ENTRY_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

const errorCode = (error: unknown): string | undefined => (error as { code?: string }).code;

/**
 * Read an open regular file of `size` bytes with as few reads as the kernel allows (one, for a file in the
 * page cache), where `FileHandle.readFile` reads 512 KiB at a time, each a round trip to the thread pool.
 * A file that changed size since its stat gives what was read up to `size` bytes; decoding rejects it.
 */
async function readWhole(handle: FileHandle, size: number): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(size);
  let filled = 0;
  while (filled < size) {
    const { bytesRead } = await handle.read(bytes, filled, size - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return bytes.subarray(0, filled);
}

/** A regular file of the entries' folder that eviction may delete. */
interface EvictionCandidate {
  name: string;
  size: number;
  mtimeMs: number;
}

/**
 * Bring the entries' total size to at most `maxBytes`: delete stale temporary files, then entries older
 * than `kept` (the entry just stored), least recently used first. Never throws; failures other than a file
 * already gone are one warning.
 */
async function evict(dir: string, kept: string, maxBytes: number, logger: Logger): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    logger.warn(
      `layer cache: cannot list ${dir} to keep it under ${maxBytes} bytes: ${(error as Error).message}`,
      'OCI_LAYER_CACHE_WRITE_FAILED',
    );
    return;
  }
  const entries: EvictionCandidate[] = [];
  const temps: EvictionCandidate[] = [];
  for (const name of names) {
    const isEntry = KEY_PATTERN.test(name);
    if (!isEntry && !TEMP_PATTERN.test(name)) continue;
    let stats;
    try {
      stats = await lstat(join(dir, name));
    } catch {
      continue; // gone already (another process), or unreadable: not ours to count
    }
    if (!stats.isFile()) continue;
    (isEntry ? entries : temps).push({ name, size: stats.size, mtimeMs: stats.mtimeMs });
  }
  const own = entries.find((e) => e.name === kept);
  // Our entry vanished: another process evicted or dropped it after our rename, and its eviction saw the
  // folder as we do. Without our mtime there is no "now" to age temporary files by.
  if (own === undefined) return;
  let total = entries.reduce((sum, e) => sum + e.size, 0);
  const failures: string[] = [];
  const remove = async (candidate: EvictionCandidate, why: string): Promise<boolean> => {
    const path = join(dir, candidate.name);
    try {
      // Look again just before: a reader may have used the entry since it was listed.
      const now = await lstat(path);
      if (!now.isFile() || now.mtimeMs !== candidate.mtimeMs) return false;
      await unlink(path);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') {
        failures.push(`${path}: ${(error as Error).message}`);
        return false;
      }
      // Gone already: another process removed it, the space is free all the same.
    }
    logger.debug(`layer cache: ${why} ${path} (${candidate.size} bytes)`);
    return true;
  };
  for (const temp of temps)
    if (temp.mtimeMs < own.mtimeMs - STALE_TEMP_MS) await remove(temp, 'deleted the stale temporary file');
  if (total > maxBytes) {
    const older = entries
      .filter((e) => e.mtimeMs < own.mtimeMs)
      .sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of older) {
      if (total <= maxBytes) break;
      if (await remove(entry, `evicted (total ${total} > ${maxBytes} bytes)`)) total -= entry.size;
    }
  }
  if (failures.length > 0)
    logger.warn(
      `layer cache: cannot delete ${failures.length} file(s) to keep ${dir} under ${maxBytes} bytes: ${failures[0]}`,
      'OCI_LAYER_CACHE_WRITE_FAILED',
    );
}

/**
 * Open (lazily create) the compressed-layer cache under a cache folder: entries live in
 * `<cacheDir>/layers/sha256/<key-hex>`, next to the download cache's host folders. Reads return the
 * stored blob with its recorded digest and size; {@link buildLayer} verifies them. A file that is not a
 * well-formed entry for its key (short, wrong magic or version, another key, a symbolic link) is deleted
 * and reported as a miss. Writes are atomic and followed by eviction down to `maxBytes` (least recently
 * used first, see the module comment); removing the folder (or all of `cacheDir`) is always safe.
 *
 * @param cacheDir - the cache folder (`--cache-dir`)
 * @param options - logger, size bound
 * @returns the cache
 * @throws {TypeError} when `maxBytes` is not a whole number of bytes, 0 or more, or `Infinity`
 * @example
 * const layer = await buildLayer(entries, { layerCache: createDiskLayerCache('/var/cache/tk'), logger });
 */
export function createDiskLayerCache(cacheDir: string, options: DiskLayerCacheOptions = {}): DiskLayerCache {
  const logger = options.logger ?? silentLogger;
  const maxBytes = options.maxBytes ?? DEFAULT_LAYER_CACHE_MAX_BYTES;
  if (!(maxBytes === Infinity || (Number.isSafeInteger(maxBytes) && maxBytes >= 0)))
    throw new TypeError(`layer cache maxBytes ${maxBytes} is not a whole number of bytes (or Infinity)`);
  const dir = join(cacheDir, 'layers', 'sha256');
  const pathFor = (key: string): string => {
    if (!KEY_PATTERN.test(key))
      throw new TypeError(`layer cache key ${JSON.stringify(key)} is not sha256 hex`);
    return join(dir, key);
  };
  const remove = async (key: string): Promise<void> => {
    // unlink never follows a symbolic link; a folder under a key's name is not ours to remove.
    try {
      await unlink(pathFor(key));
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }
  };
  const drop = async (path: string, key: string, why: string): Promise<undefined> => {
    logger.warn(
      `layer cache: dropping ${path}: ${why}; compressing the layer again`,
      'OCI_LAYER_CACHE_CORRUPT',
    );
    await remove(key);
    return undefined;
  };
  const unreadable = (path: string, why: string): undefined => {
    logger.warn(
      `layer cache: cannot read ${path}: ${why}; compressing the layer again`,
      'OCI_LAYER_CACHE_UNREADABLE',
    );
    return undefined;
  };
  return {
    dir,
    maxBytes,
    pathFor,
    async get(key) {
      const path = pathFor(key);
      let handle: FileHandle;
      try {
        handle = await open(path, OPEN_ENTRY_FLAGS);
      } catch (error) {
        const code = errorCode(error);
        if (code === 'ENOENT') return undefined;
        if (code === 'ELOOP') return drop(path, key, 'it is a symbolic link');
        return unreadable(path, (error as Error).message);
      }
      try {
        const stats = await handle.stat();
        if (!stats.isFile()) return unreadable(path, 'it is not a regular file');
        const entry = decodeEntry(await readWhole(handle, stats.size), key);
        if (typeof entry === 'string') return await drop(path, key, entry);
        // A hit: mark the entry used for eviction. On the open file, so a file renamed over it since is
        // not touched; not through a hard link that may be shared with a file outside the cache.
        if (stats.nlink === 1) {
          // eslint-disable-next-line no-restricted-syntax -- recency for eviction; never reaches an output
          const now = new Date();
          await handle.utimes(now, now).catch((error: unknown) => {
            logger.debug(`layer cache: cannot mark ${path} used: ${(error as Error).message}`);
          });
        }
        return entry;
      } catch (error) {
        return unreadable(path, (error as Error).message);
      } finally {
        await handle.close();
      }
    },
    async put(key, blob) {
      const path = pathFor(key);
      await mkdir(dir, { recursive: true });
      await writeFileAtomic(path, [encodeHeader(key, blob), blob.bytes]);
      logger.debug(`layer cache: stored ${blob.digest} (${blob.size} bytes) as ${path}`);
      if (maxBytes !== Infinity) await evict(dir, key, maxBytes, logger);
    },
    delete: remove,
  };
}
