/**
 * The order in which apk-tools 2.14 enumerates package names: its name table is a fixed hash table
 * of 20,000 buckets (`apk_hash_init(&db->available.names, …, 20000)` in `src/database.c`), keyed by
 * MurmurHash3 (x86, 32-bit) of the name with seed 5381 (`apk_blob_hash`), each bucket a list with the
 * newest name first (`hlist_add_head`). Reverse `install_if` lists are built by walking that table
 * (`apk_db_name_rdepends`), and the install order visits `install_if` packages in that list order, so
 * matching apk-tools' install order means matching this enumeration order.
 */

/** apk-tools' bucket count for the name table. */
const NAME_BUCKETS = 20_000;
/** apk-tools' seed for `apk_blob_hash`. */
const NAME_HASH_SEED = 5381;

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function rotl32(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

/**
 * MurmurHash3 x86_32 (Austin Appleby's public-domain algorithm), over bytes, blocks read little-endian.
 *
 * @param bytes - the key
 * @param seed - the seed
 * @returns the 32-bit hash, unsigned
 */
export function murmur3x86_32(bytes: Uint8Array, seed: number): number {
  let h = seed >>> 0;
  const blocks = bytes.length >>> 2;
  for (let i = 0; i < blocks; i++) {
    const o = i * 4;
    let k = (bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16) | (bytes[o + 3]! << 24)) >>> 0;
    k = Math.imul(k, C1) >>> 0;
    k = rotl32(k, 15);
    k = Math.imul(k, C2) >>> 0;
    h = (h ^ k) >>> 0;
    h = rotl32(h, 13);
    h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
  }
  const tail = blocks * 4;
  const rest = bytes.length & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= bytes[tail + 2]! << 16;
    if (rest >= 2) k ^= bytes[tail + 1]! << 8;
    k ^= bytes[tail]!;
    k = Math.imul(k, C1) >>> 0;
    k = rotl32(k, 15);
    k = Math.imul(k, C2) >>> 0;
    h = (h ^ k) >>> 0;
  }
  h = (h ^ bytes.length) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h;
}

const encoder = new TextEncoder();

/**
 * The bucket of a name in apk-tools' name table.
 *
 * @param name - the name
 * @returns the bucket index
 */
export function nameBucket(name: string): number {
  return murmur3x86_32(encoder.encode(name), NAME_HASH_SEED) % NAME_BUCKETS;
}
