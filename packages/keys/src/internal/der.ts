/**
 * Just enough DER (ITU-T X.690 §8.1, §10.1) to check that a PEM body is exactly one complete SEQUENCE:
 * tag `0x30`, then a definite length in short form (`0x00`–`0x7f`) or long form (`0x81`–`0x84` followed by
 * that many big-endian length bytes). node:crypto parses the content; this catches truncation and trailing
 * bytes, which OpenSSL's decoders do not always report.
 */

const SEQUENCE_TAG = 0x30;
const LONG_FORM_FLAG = 0x80;
const MAX_LENGTH_BYTES = 4;

/**
 * The total encoded size (header plus content) of the DER SEQUENCE at the start of `der`.
 *
 * @param der - bytes starting with a DER SEQUENCE
 * @returns the size in bytes, or undefined when the header is not a definite-length SEQUENCE
 */
export function derSequenceLength(der: Uint8Array): number | undefined {
  if (der[0] !== SEQUENCE_TAG) return undefined;
  const first = der[1];
  if (first === undefined) return undefined;
  if ((first & LONG_FORM_FLAG) === 0) return 2 + first;
  const count = first & ~LONG_FORM_FLAG;
  // 0x80 is BER's indefinite length, which DER forbids.
  if (count === 0 || count > MAX_LENGTH_BYTES || der.byteLength < 2 + count) return undefined;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + (der[2 + i] ?? 0);
  // DER uses the shortest form: long form only from 128, and no leading zero length byte.
  if (length < LONG_FORM_FLAG || der[2] === 0) return undefined;
  return 2 + count + length;
}
