/**
 * The compressed-layer cache: gzip bytes of a layer, stored by a key that names the uncompressed tar and
 * every setting that decides the compressed bytes, so that a rebuild whose tar did not change skips deflate
 * and still writes byte-identical output (docs/decisions.md §22).
 *
 * Key: the hex SHA-256 of {@link layerCacheKeyText}: the diff_id and size of the tar, the layer media type,
 * {@link LAYER_GZIP_WRITER_VERSION}, the gzip level and block size (defaults applied), and a fingerprint of
 * `@tk/gzip`'s output for a fixed probe input at those settings (which covers the gzip header fields and
 * the deflate implementation itself, so a change of pako or of the header changes every key on its own).
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
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger, utf8, writeFileAtomic, type Logger } from '@tk/core';
import { DEFAULT_BLOCK_SIZE, DEFAULT_LEVEL, gzipSync, type GzipOptions } from '@tk/gzip';
import { digestHex, sha256Digest } from './digest.ts';

/**
 * Version of tk's gzip layer writer as far as the cache is concerned. Bump it whenever `@tk/gzip` changes
 * how it cuts, primes or frames blocks (anything that changes compressed bytes for the same settings):
 * every cached layer then misses once. The probe fingerprint in the key catches most such changes by
 * itself; this constant is for the ones a small single-block probe cannot see (multi-block framing).
 */
export const LAYER_GZIP_WRITER_VERSION = 1;

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

/** The gzip settings that decide the compressed bytes, defaults applied. */
function gzipSettings(options: GzipOptions): { level: number; blockSize: number } {
  return { level: options.level ?? DEFAULT_LEVEL, blockSize: options.blockSize ?? DEFAULT_BLOCK_SIZE };
}

function writerFingerprint(level: number, blockSize: number): string {
  const id = `${level}/${blockSize}`;
  let value = fingerprints.get(id);
  if (value === undefined) {
    value = digestHex(sha256Digest(gzipSync(PROBE, { level, blockSize })));
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
  const { level, blockSize } = gzipSettings(gzip);
  return [
    'tk-layer-cache 1',
    `diff_id ${diffId}`,
    `tar_size ${size}`,
    'media_type application/vnd.oci.image.layer.v1.tar+gzip',
    `gzip_writer_version ${LAYER_GZIP_WRITER_VERSION}`,
    `gzip_level ${level}`,
    `gzip_block_size ${blockSize}`,
    `gzip_probe sha256:${writerFingerprint(level, blockSize)}`,
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

/** Options of {@link createDiskLayerCache}. */
export interface DiskLayerCacheOptions {
  /** Where notes about dropped entries go (debug) and failures to read or write (warn). */
  logger?: Logger;
}

/** A {@link LayerCache} on disk, with the folder it uses. */
export interface DiskLayerCache extends LayerCache {
  /** The entries' folder: `<cacheDir>/layers/sha256`. */
  readonly dir: string;
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

/**
 * Open (lazily create) the compressed-layer cache under a cache folder: entries live in
 * `<cacheDir>/layers/sha256/<key-hex>`, next to the download cache's host folders. Reads return the
 * stored blob with its recorded digest and size; {@link buildLayer} verifies them. A file that is not a
 * well-formed entry for its key (short, wrong magic or version, another key) is deleted and reported as a
 * miss. Writes are atomic; removing the folder (or all of `cacheDir`) is always safe.
 *
 * @param cacheDir - the cache folder (`--cache-dir`)
 * @param options - logger
 * @returns the cache
 * @example
 * const layer = await buildLayer(entries, { layerCache: createDiskLayerCache('/var/cache/tk'), logger });
 */
export function createDiskLayerCache(cacheDir: string, options: DiskLayerCacheOptions = {}): DiskLayerCache {
  const logger = options.logger ?? silentLogger;
  const dir = join(cacheDir, 'layers', 'sha256');
  const pathFor = (key: string): string => {
    if (!KEY_PATTERN.test(key))
      throw new TypeError(`layer cache key ${JSON.stringify(key)} is not sha256 hex`);
    return join(dir, key);
  };
  const remove = async (key: string): Promise<void> => {
    await rm(pathFor(key), { force: true });
  };
  return {
    dir,
    pathFor,
    async get(key) {
      const path = pathFor(key);
      let file: Buffer;
      try {
        file = await readFile(path);
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code !== 'ENOENT')
          logger.warn(
            `layer cache: cannot read ${path}: ${(error as Error).message}; compressing the layer again`,
            'OCI_LAYER_CACHE_UNREADABLE',
          );
        return undefined;
      }
      const entry = decodeEntry(file, key);
      if (typeof entry !== 'string') return entry;
      logger.warn(
        `layer cache: dropping ${path}: ${entry}; compressing the layer again`,
        'OCI_LAYER_CACHE_CORRUPT',
      );
      await remove(key);
      return undefined;
    },
    async put(key, blob) {
      const path = pathFor(key);
      await mkdir(dir, { recursive: true });
      await writeFileAtomic(path, [encodeHeader(key, blob), blob.bytes]);
      logger.debug(`layer cache: stored ${blob.digest} (${blob.size} bytes) as ${path}`);
    },
    delete: remove,
  };
}
