/**
 * Package identity as apk-tools sees it: the bytes a `C:` checksum decodes to, not its spelling
 * (`apk_blob_pull_csum`, `apk_db_pkg_add`). Shared by {@link IndexTable.identityHashes}, which reads
 * the checksums straight from an index's bytes, and the solver, which deduplicates packages by it.
 */

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** For each character code below 128, its base64 value with the two lowest bits cleared, or -1. */
const CLEARED_VALUE = new Int8Array(128).fill(-1);
for (let value = 0; value < 64; value++) CLEARED_VALUE[BASE64.charCodeAt(value)] = value & ~3;
const HEX_SHA1 = /^X1[0-9a-fA-F]{40}$/;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Whether `checksum` is a `Q1` SHA-1: 27 base64 characters and a `=` after the prefix. */
function isQ1Sha1(checksum: string): boolean {
  return (
    checksum.length === 30 &&
    checksum.charCodeAt(0) === 0x51 /* Q */ &&
    checksum.charCodeAt(1) === 0x31 /* 1 */ &&
    checksum.charCodeAt(29) === 0x3d /* = */
  );
}

/**
 * The identity of a package as apk-tools decodes its `C:`: the checksum bytes, not their spelling. A
 * `Q1` SHA-1 is 20 bytes in 27 base64 characters and a `=`: the last character carries two padding
 * bits that decoding drops, so `…ysE=` and `…ysF=` are one package. An `X1` hex SHA-1 is the same bytes
 * as its base64 form. Anything else is compared as written.
 *
 * @param checksum - the `C:` value
 * @returns a key equal for two checksums apk-tools decodes to the same bytes
 * @example
 * identityKey('Q1hdUpqRv5mYgJEqW52UmVsvmyysF='); // 'Q1hdUpqRv5mYgJEqW52UmVsvmyysE='
 */
export function identityKey(checksum: string): string {
  if (isQ1Sha1(checksum)) {
    const code = checksum.charCodeAt(28);
    const cleared = code < 128 ? CLEARED_VALUE[code]! : -1;
    if (cleared < 0 || BASE64.charCodeAt(cleared) === code) return checksum;
    return `${checksum.slice(0, 28)}${BASE64.charAt(cleared)}=`;
  }
  if (HEX_SHA1.test(checksum)) return `Q1${Buffer.from(checksum.slice(2), 'hex').toString('base64')}`;
  return checksum;
}

/**
 * A 30-bit hash of {@link identityKey}, computed without building the key for `Q1` checksums (nearly
 * every one): a universe hashes every record of every index. A SHA-1 is uniform, so four of its
 * characters and the decoded last one are enough; checksums crafted to share them only cost their
 * user a slower table (see the solver's `IdentityTable`).
 *
 * @param checksum - the `C:` value
 * @returns the hash, equal for equal identity keys
 */
export function identityHash(checksum: string): number {
  let hash = FNV_OFFSET;
  if (isQ1Sha1(checksum)) {
    for (let i = 2; i < 6; i++) hash = Math.imul(hash ^ checksum.charCodeAt(i), FNV_PRIME);
    const code = checksum.charCodeAt(28);
    hash = Math.imul(hash ^ (code < 128 ? CLEARED_VALUE[code]! : code), FNV_PRIME);
    return hash & 0x3fffffff;
  }
  const key = identityKey(checksum);
  // An X1 checksum hashes as the Q1 form it decodes to.
  if (key !== checksum) return identityHash(key);
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), FNV_PRIME);
  return hash & 0x3fffffff;
}

/**
 * {@link identityHash} of a well-formed `Q1` checksum held as bytes from `start` (its `Q`): the same
 * number, for a caller that has checked the form (every digit base64, so below 128).
 *
 * @param bytes - the text holding the checksum
 * @param start - offset of its `Q`
 * @returns the hash
 */
export function q1IdentityHash(bytes: Uint8Array, start: number): number {
  let hash = FNV_OFFSET;
  for (let i = start + 2; i < start + 6; i++) hash = Math.imul(hash ^ bytes[i]!, FNV_PRIME);
  hash = Math.imul(hash ^ CLEARED_VALUE[bytes[start + 28]!]!, FNV_PRIME);
  return hash & 0x3fffffff;
}
