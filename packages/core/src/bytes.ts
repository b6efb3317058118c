/**
 * Small byte and hash helpers shared by the format packages. Public APIs take and return `Uint8Array`.
 */
import { createHash } from 'node:crypto';

/** Hash algorithms tk uses. */
export type HashAlgorithm = 'sha1' | 'sha256' | 'sha512';

/**
 * Digest bytes.
 *
 * @param algorithm - sha1, sha256 or sha512
 * @param data - one or more chunks, hashed in order
 * @returns the raw digest
 */
export function digest(algorithm: HashAlgorithm, ...data: readonly Uint8Array[]): Uint8Array {
  const hash = createHash(algorithm);
  for (const chunk of data) hash.update(chunk);
  return new Uint8Array(hash.digest());
}

/** Lowercase hex SHA-256 of the bytes. */
export function sha256Hex(...data: readonly Uint8Array[]): string {
  return toHex(digest('sha256', ...data));
}

/** Lowercase hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Standard base64 (with padding) of bytes. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Join chunks into one array. */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const chunk of chunks) length += chunk.byteLength;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 encode text. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * UTF-8 decode bytes, refusing invalid sequences.
 *
 * @throws {TypeError} when the bytes are not valid UTF-8
 */
export function fromUtf8(bytes: Uint8Array): string {
  return strictDecoder.decode(bytes);
}

/** True when two byte arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}
