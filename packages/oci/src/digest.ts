/**
 * Content digests as OCI writes them: `<algorithm>:<hex>` (image-spec descriptor.md#digests). tk produces
 * only `sha256` digests, and accepts `sha256` and `sha512` ones from outside (registries, layouts).
 */
import { digest as hash, toHex } from '@tk/core';
import { OciError } from './errors.ts';

/** A parsed digest. */
export interface ParsedDigest {
  algorithm: 'sha256' | 'sha512';
  /** Lowercase hex of the hash. */
  hex: string;
}

const DIGEST_PATTERN = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;

/**
 * The `sha256:<hex>` digest of some bytes.
 *
 * @param chunks - the content, in one or more chunks hashed in order
 * @returns the digest string
 * @example
 * sha256Digest(new Uint8Array()) // 'sha256:e3b0c442…b855'
 */
export function sha256Digest(...chunks: readonly Uint8Array[]): string {
  return `sha256:${toHex(hash('sha256', ...chunks))}`;
}

/**
 * Parse and check a digest string.
 *
 * @param value - a digest such as `sha256:…`
 * @returns the algorithm and hex
 * @throws {OciError} OCI_BAD_DIGEST when the value is not `sha256:` + 64 or `sha512:` + 128 lowercase hex digits
 */
export function parseDigest(value: string): ParsedDigest {
  if (!DIGEST_PATTERN.test(value)) {
    throw new OciError(
      'OCI_BAD_DIGEST',
      `digest ${JSON.stringify(value)} is not sha256:<64 hex> or sha512:<128 hex>`,
      {
        hint: 'digests are written as lowercase hex after the algorithm name, e.g. sha256:e3b0c442…',
        data: { digest: value },
      },
    );
  }
  const [algorithm, hex] = value.split(':') as ['sha256' | 'sha512', string];
  return { algorithm, hex };
}

/**
 * True when a string is a well-formed digest.
 *
 * @param value - any string
 * @returns whether {@link parseDigest} would accept it
 */
export function isDigest(value: string): boolean {
  return DIGEST_PATTERN.test(value);
}

/**
 * The hex part of a digest (the name blobs get in an OCI layout or a docker-archive).
 *
 * @param value - a digest
 * @returns the hex after the colon
 * @throws {OciError} OCI_BAD_DIGEST for malformed digests
 */
export function digestHex(value: string): string {
  return parseDigest(value).hex;
}

/**
 * Check that bytes have the digest and size a descriptor claims.
 *
 * @param bytes - the content
 * @param expected - the claimed digest and size
 * @param what - what the bytes are, for the message (`layer of linux/arm64`)
 * @throws {OciError} OCI_BAD_DESCRIPTOR when the size or digest differ; OCI_BAD_DIGEST for a malformed digest
 */
export function verifyContent(
  bytes: Uint8Array,
  expected: { digest: string; size: number },
  what: string,
): void {
  const { algorithm } = parseDigest(expected.digest);
  if (bytes.length !== expected.size) {
    throw new OciError(
      'OCI_BAD_DESCRIPTOR',
      `${what}: ${bytes.length} bytes, but its descriptor says ${expected.size}`,
      {
        hint: 'the artifact was modified after it was built; build it again',
        data: { digest: expected.digest },
      },
    );
  }
  const actual = `${algorithm}:${toHex(hash(algorithm, bytes))}`;
  if (actual !== expected.digest) {
    throw new OciError(
      'OCI_BAD_DESCRIPTOR',
      `${what}: content digest ${actual}, but its descriptor says ${expected.digest}`,
      {
        hint: 'the artifact was modified after it was built; build it again',
        data: { digest: expected.digest, actual },
      },
    );
  }
}
