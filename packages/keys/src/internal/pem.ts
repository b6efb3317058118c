/**
 * PEM armor as RFC 7468 describes it:
 *
 * ```
 * [explanatory text]
 * -----BEGIN <label>-----
 * <base64 of the DER body, any line length>
 * -----END <label>-----
 * ```
 *
 * The decoder is deliberately narrower than OpenSSL's: one key per input, no RFC 1421 headers
 * (`Proc-Type: 4,ENCRYPTED` is reported as an encrypted key), strict base64, and the DER body must be
 * exactly one complete ASN.1 SEQUENCE. Text before the BEGIN line and after the END line is ignored, as
 * OpenSSL (`PEM_read_bio_*`, used by apk-tools) and Go's `encoding/pem` (used by melange and apko) both
 * ignore it; but a second BEGIN line is refused instead of silently taking the first block, because a file
 * with two keys in it is a mistake whose outcome should not depend on order.
 */
import { MAX_KEY_INPUT_BYTES } from '../constants.ts';
import { KeyError } from '../errors.ts';
import { derSequenceLength } from './der.ts';

/** One decoded PEM block. */
export interface PemBlock {
  /** The label between `BEGIN ` and `-----`, for example `RSA PRIVATE KEY`. */
  label: string;
  /** The decoded body. */
  der: Uint8Array;
}

const BEGIN_PREFIX = '-----BEGIN ';
const BEGIN_LINE = /^-----BEGIN ([\x20-\x2c\x2e-\x7e]+)-----$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const ASN1_SEQUENCE_TAG = 0x30;
const PEM_HINT =
  'A key file is PEM text starting with "-----BEGIN PUBLIC KEY-----" or "-----BEGIN RSA PRIVATE KEY-----".';

function badPem(source: string, what: string, hint: string = PEM_HINT, cause?: unknown): KeyError {
  return new KeyError('KEY_BAD_PEM', `${source}: ${what}`, { hint, cause, data: { source } });
}

function tooLarge(source: string, size: number): KeyError {
  return new KeyError(
    'KEY_INPUT_TOO_LARGE',
    `${source}: ${size} bytes is larger than the ${MAX_KEY_INPUT_BYTES}-byte limit for a key`,
    {
      hint: 'Check that the path or URL points at a PEM key file and not at some other file.',
      data: { source, size },
    },
  );
}

function toText(input: string | Uint8Array, source: string): string {
  if (typeof input === 'string') {
    const size = Buffer.byteLength(input, 'utf8');
    if (size > MAX_KEY_INPUT_BYTES) throw tooLarge(source, size);
    return input;
  }
  if (!(input instanceof Uint8Array)) throw badPem(source, `is ${typeof input}, not PEM text or bytes`);
  if (input.byteLength > MAX_KEY_INPUT_BYTES) throw tooLarge(source, input.byteLength);
  // A SEQUENCE tag with a long-form length (0x81…0x84) cannot start UTF-8 text: that is DER.
  if (input[0] === ASN1_SEQUENCE_TAG && (input[1] ?? 0) > 0x80) {
    throw badPem(
      source,
      'is binary DER, not PEM text',
      'Convert it to PEM, e.g. "openssl pkey -inform DER -in KEY -out KEY.pem" (add -pubin for a public key).',
    );
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch (cause) {
    throw badPem(source, 'is not UTF-8 text, so it cannot be a PEM key', PEM_HINT, cause);
  }
}

/**
 * Decode the single PEM block of a key file.
 *
 * @param input - PEM text, or its bytes
 * @param source - what the input is (file path, URL), used in error messages
 * @returns the label and DER body
 * @throws {KeyError} KEY_BAD_PEM, KEY_INPUT_TOO_LARGE, KEY_ENCRYPTED
 */
export function decodePem(input: string | Uint8Array, source: string): PemBlock {
  const text = toText(input, source);
  if (text.includes('\0')) throw badPem(source, 'contains NUL bytes, so it is binary data and not a PEM key');
  if (text.trim() === '') throw badPem(source, 'is empty');

  const lines = text.split('\n').map((line) => line.trim());
  const begin = lines.findIndex((line) => line.startsWith(BEGIN_PREFIX));
  if (begin < 0) throw badPem(source, 'has no "-----BEGIN …-----" line, so it is not a PEM key');
  const match = BEGIN_LINE.exec(lines[begin] ?? '');
  const label = match?.[1];
  if (label === undefined) throw badPem(source, `line ${begin + 1} is a malformed PEM BEGIN line`);
  const endLine = `-----END ${label}-----`;

  const headers: string[] = [];
  const body: string[] = [];
  let end = -1;
  for (let i = begin + 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === endLine) {
      end = i;
      break;
    }
    if (line.startsWith('-----')) {
      throw badPem(source, `line ${i + 1}: expected base64 or "${endLine}", found "${line.slice(0, 64)}"`);
    }
    if (line.includes(':') && body.length === 0) headers.push(line);
    else if (line !== '') body.push(line);
  }
  if (end < 0) {
    throw badPem(
      source,
      `is truncated: the "-----BEGIN ${label}-----" block on line ${begin + 1} has no "${endLine}" line`,
      'The file was cut short; copy or download it again.',
    );
  }
  if (lines.slice(end + 1).some((line) => line.startsWith(BEGIN_PREFIX))) {
    throw badPem(
      source,
      'holds more than one PEM block; a key file must hold exactly one key',
      'Split the file: one key per file.',
    );
  }
  if (headers.some((header) => /^Proc-Type:\s*4\s*,\s*ENCRYPTED$/i.test(header))) {
    throw new KeyError('KEY_ENCRYPTED', `${source}: the private key is encrypted with a passphrase`, {
      hint: 'Write an unencrypted copy, e.g. "openssl pkey -in KEY -out KEY.plain", and keep it private.',
      data: { source },
    });
  }
  if (headers.length > 0) {
    throw badPem(
      source,
      `has PEM header lines ("${headers[0]?.slice(0, 64) ?? ''}") that tk does not understand`,
    );
  }
  const base64 = body.join('');
  if (base64 === '') throw badPem(source, `the "${label}" block is empty`);
  if (!BASE64.test(base64) || base64.length % 4 !== 0) {
    throw badPem(
      source,
      `the "${label}" block is not valid base64`,
      'The file is damaged; copy or download it again.',
    );
  }
  const der = new Uint8Array(Buffer.from(base64, 'base64'));
  const length = derSequenceLength(der);
  if (length === undefined) {
    throw badPem(
      source,
      `the "${label}" block does not hold a DER SEQUENCE`,
      'The file is damaged; copy or download it again.',
    );
  }
  if (length !== der.byteLength) {
    throw badPem(
      source,
      length > der.byteLength
        ? `the "${label}" block is truncated: DER says ${length} bytes, the block holds ${der.byteLength}`
        : `the "${label}" block has ${der.byteLength - length} bytes after its DER SEQUENCE`,
      'The file is damaged; copy or download it again.',
    );
  }
  return { label, der };
}

/**
 * Build the {@link KeyError} for a DER body that node:crypto refused.
 *
 * @param source - what the input is
 * @param label - the PEM label
 * @param cause - node's error
 * @returns the error to throw
 */
export function badDer(source: string, label: string, cause: unknown): KeyError {
  return badPem(
    source,
    `the "${label}" block is not a valid ${label.toLowerCase()}`,
    'The file is damaged or mislabelled; copy or download it again.',
    cause,
  );
}
