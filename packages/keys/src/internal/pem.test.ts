import { describe, expect, it } from 'vitest';
import { codeOf } from '../../test/fixtures.ts';
import type { KeyError } from '../errors.ts';
import { derSequenceLength } from './der.ts';
import { decodePem } from './pem.ts';

function pem(label: string, base64: string): string {
  return `-----BEGIN ${label}-----\n${base64}\n-----END ${label}-----\n`;
}

// A minimal DER SEQUENCE holding INTEGER 1: 30 03 02 01 01.
const TINY_SEQUENCE = 'MAMCAQE=';

describe('decodePem', () => {
  it('decodes one block, ignoring text around it and CRLF line ends', () => {
    const text = `explanatory text: ignored\r\n${pem('PUBLIC KEY', TINY_SEQUENCE).replaceAll('\n', '\r\n')}trailing words\n`;
    const block = decodePem(text, 'x');
    expect(block.label).toBe('PUBLIC KEY');
    expect([...block.der]).toEqual([0x30, 0x03, 0x02, 0x01, 0x01]);
  });

  it('accepts bytes as well as text', () => {
    expect(decodePem(new TextEncoder().encode(pem('PUBLIC KEY', TINY_SEQUENCE)), 'x').label).toBe(
      'PUBLIC KEY',
    );
  });

  it.each([
    ['empty text', ''],
    ['whitespace only', ' \n\t\n'],
    ['garbage', 'hello world, I am not a key'],
    ['no END line (truncated)', '-----BEGIN PUBLIC KEY-----\nMAMCAQE=\n'],
    ['END with another label', '-----BEGIN PUBLIC KEY-----\nMAMCAQE=\n-----END PRIVATE KEY-----\n'],
    ['malformed BEGIN line', '-----BEGIN PUBLIC KEY----\nMAMCAQE=\n-----END PUBLIC KEY-----\n'],
    ['a second block', pem('PUBLIC KEY', TINY_SEQUENCE) + pem('PUBLIC KEY', TINY_SEQUENCE)],
    [
      'a BEGIN inside the block',
      '-----BEGIN PUBLIC KEY-----\n-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n',
    ],
    ['an empty body', pem('PUBLIC KEY', '')],
    ['bad base64 characters', pem('PUBLIC KEY', 'MAMC*QE=')],
    ['base64 of the wrong length', pem('PUBLIC KEY', 'MAMCAQE')],
    ['a body that is not a SEQUENCE', pem('PUBLIC KEY', 'AgEB')],
    ['a truncated DER body', pem('PUBLIC KEY', 'MAQCAQE=')],
    ['trailing bytes after the DER SEQUENCE', pem('PUBLIC KEY', 'MAMCAQEA')],
    [
      'unknown PEM headers',
      '-----BEGIN PUBLIC KEY-----\nComment: hi\n\nMAMCAQE=\n-----END PUBLIC KEY-----\n',
    ],
    ['NUL bytes', `\0${pem('PUBLIC KEY', TINY_SEQUENCE)}`],
  ])('refuses %s with KEY_BAD_PEM', (_name, text) => {
    expect(codeOf(() => decodePem(text, 'x'))).toBe('KEY_BAD_PEM');
  });

  it('refuses DER bytes with a hint to convert them', () => {
    const der = Uint8Array.from([0x30, 0x82, 0x01, 0x22, 0x30, 0x0d]);
    const error = (() => {
      try {
        decodePem(der, 'key.der');
      } catch (caught) {
        return caught as KeyError;
      }
      return undefined;
    })();
    expect(error?.code).toBe('KEY_BAD_PEM');
    expect(error?.message).toContain('key.der');
    expect(error?.hint).toContain('openssl');
  });

  it('refuses values that are neither text nor bytes', () => {
    expect(codeOf(() => decodePem(undefined as unknown as string, 'x'))).toBe('KEY_BAD_PEM');
    expect(codeOf(() => decodePem(42 as unknown as string, 'x'))).toBe('KEY_BAD_PEM');
  });

  it('refuses bytes that are not UTF-8', () => {
    expect(codeOf(() => decodePem(Uint8Array.from([0xff, 0xfe, 0x2d, 0x2d]), 'x'))).toBe('KEY_BAD_PEM');
  });

  it('reports RFC 1421 encryption headers as an encrypted key', () => {
    const text =
      '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nMAMCAQE=\n-----END RSA PRIVATE KEY-----\n';
    expect(codeOf(() => decodePem(text, 'x'))).toBe('KEY_ENCRYPTED');
  });

  it('refuses input over 64 KiB, as text or bytes, before parsing it', () => {
    const huge = `${'#'.repeat(64 * 1024)}\n${pem('PUBLIC KEY', TINY_SEQUENCE)}`;
    expect(codeOf(() => decodePem(huge, 'x'))).toBe('KEY_INPUT_TOO_LARGE');
    expect(codeOf(() => decodePem(new Uint8Array(64 * 1024 + 1), 'x'))).toBe('KEY_INPUT_TOO_LARGE');
    // Multi-byte characters count as bytes.
    expect(codeOf(() => decodePem('é'.repeat(40 * 1024), 'x'))).toBe('KEY_INPUT_TOO_LARGE');
  });
});

describe('derSequenceLength', () => {
  it.each([
    [[0x30, 0x03, 0x02, 0x01, 0x01], 5],
    [[0x30, 0x81, 0x80], 3 + 0x80],
    [[0x30, 0x82, 0x01, 0x22], 4 + 0x122],
  ])('reads the length of %j', (bytes, length) => {
    expect(derSequenceLength(Uint8Array.from(bytes))).toBe(length);
  });

  it.each([
    ['empty', []],
    ['not a SEQUENCE', [0x02, 0x01, 0x01]],
    ['no length byte', [0x30]],
    ['indefinite length', [0x30, 0x80]],
    ['too many length bytes', [0x30, 0x85, 1, 1, 1, 1, 1]],
    ['missing long-form length bytes', [0x30, 0x82, 0x01]],
    ['non-minimal long form', [0x30, 0x81, 0x05]],
    ['leading zero length byte', [0x30, 0x82, 0x00, 0x90]],
  ])('refuses %s', (_name, bytes) => {
    expect(derSequenceLength(Uint8Array.from(bytes))).toBeUndefined();
  });
});
