/**
 * A tar writer whose header bytes equal Go's `archive/tar` (the writer melange and apko use), so that
 * apk data sections and image layers tk writes can match theirs byte for byte (same diff_id).
 *
 * Header block (512 bytes): name[100] mode[8] uid[8] gid[8] size[12] mtime[12] chksum[8] typeflag[1]
 * linkname[100] magic[6] version[2] uname[32] gname[32] devmajor[8] devminor[8] prefix[155] pad[12].
 * Numbers are zero-padded octal with a NUL terminator (Go `formatOctal`); the checksum is 6 octal digits,
 * NUL, space. Format choice follows Go: USTAR when every field fits (long names split into prefix/name),
 * otherwise PAX: a `PaxHeaders.0` entry whose records are sorted by key, then the header with the fields
 * truncated. Entries given PAX records (xattrs, apk checksums) are always PAX. The end of an archive is two
 * zero blocks with no record padding; apk's signature and control sections are written without them.
 */
import { concatBytes, utf8 } from '@tk/core';
import { TarError } from './errors.ts';
import { TYPEFLAGS, type TarWriteEntry } from './types.ts';

/** Size of a tar block. */
export const BLOCK_SIZE = 512;
const NAME_SIZE = 100;
const PREFIX_SIZE = 155;
const MAX_PAX_SIZE = 1 << 20;

/** Field offsets and sizes of a ustar header. */
const F = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
} as const satisfies Record<string, readonly [number, number]>;

type Field = keyof typeof F;

const NON_ASCII = /[^\x00-\x7f]/; // eslint-disable-line no-control-regex -- the ASCII range starts at NUL

function isAscii(s: string): boolean {
  return !NON_ASCII.test(s);
}

/** Header constants, encoded once. */
const USTAR_MAGIC = utf8('ustar\0');
const USTAR_VERSION = utf8('00');
const encoder = new TextEncoder();

function toAscii(s: string): string {
  let out = '';
  for (const c of s) if (c.charCodeAt(0) <= 0x7f) out += c;
  return out;
}

function fitsInOctal(width: number, value: number): boolean {
  return value >= 0 && (width >= 22 || value < 2 ** ((width - 1) * 3));
}

/** Go `splitUSTARPath`: split a long ASCII name at a `/` into prefix (≤155) and name (≤100). */
function splitUstarPath(name: string): { prefix: string; suffix: string } | undefined {
  let length = name.length;
  if (length <= NAME_SIZE || !isAscii(name)) return undefined;
  if (length > PREFIX_SIZE + 1) length = PREFIX_SIZE + 1;
  else if (name[length - 1] === '/') length--;
  const i = name.lastIndexOf('/', length - 1);
  const suffixLength = name.length - i - 1;
  if (i <= 0 || suffixLength > NAME_SIZE || suffixLength === 0 || i > PREFIX_SIZE) return undefined;
  return { prefix: name.slice(0, i), suffix: name.slice(i + 1) };
}

class Block {
  readonly bytes = new Uint8Array(BLOCK_SIZE);

  string(field: Field, value: string): void {
    const [offset, size] = F[field];
    if (value.length <= size && isAscii(value)) {
      // One byte per character and room for all of them: the bytes `utf8(value)` would copy, unallocated.
      encoder.encodeInto(value, this.bytes.subarray(offset, offset + size));
      return;
    }
    const encoded = utf8(value);
    this.bytes.set(encoded.subarray(0, size), offset);
    // Go: a truncated path must not end in '/', or readers take a file for a directory.
    if (encoded.length > size && this.bytes[offset + size - 1] === 0x2f) {
      let n = size - 1;
      while (n > 0 && encoded[n - 1] === 0x2f) n--;
      this.bytes[offset + n] = 0;
    }
  }

  octal(field: Field, value: number, width: number = F[field][1]): void {
    const [offset] = F[field];
    const v = fitsInOctal(width, value) ? value : 0;
    const digits = v.toString(8).padStart(width - 1, '0');
    encoder.encodeInto(digits, this.bytes.subarray(offset, offset + digits.length));
  }

  finish(format: 'ustar' | 'pax'): Uint8Array {
    void format; // USTAR and PAX share the POSIX magic
    this.bytes.set(USTAR_MAGIC, F.magic[0]);
    this.bytes.set(USTAR_VERSION, F.version[0]);
    this.bytes.fill(0x20, F.chksum[0], F.chksum[0] + F.chksum[1]);
    let sum = 0;
    const bytes = this.bytes;
    for (let i = 0; i < bytes.length; i++) sum += bytes[i]!;
    this.octal('chksum', sum, 7);
    this.bytes[F.chksum[0] + 6] = 0;
    this.bytes[F.chksum[0] + 7] = 0x20;
    return this.bytes;
  }
}

/** Go `formatPAXRecord`: `"<len> <key>=<value>\n"` where len counts the whole record in bytes. */
export function encodePaxRecord(key: string, value: string | Uint8Array): Uint8Array {
  const keyBytes = utf8(key);
  const valueBytes = typeof value === 'string' ? utf8(value) : value;
  const body = keyBytes.length + valueBytes.length + 3; // ' ', '=', '\n'
  let size = body + String(body).length;
  if (String(size).length + body !== size) size = String(size).length + body;
  return concatBytes([utf8(`${size} `), keyBytes, utf8('='), valueBytes, utf8('\n')]);
}

/** {@link encodePaxRecord} for text values. */
export function formatPaxRecord(key: string, value: string): string {
  return new TextDecoder().decode(encodePaxRecord(key, value));
}

function validate(entry: TarWriteEntry): void {
  const bad = (why: string): never => {
    throw new TarError('TAR_BAD_INPUT', `cannot write tar entry ${JSON.stringify(entry.name)}: ${why}`);
  };
  if (entry.name === '') bad('empty name');
  if (entry.name.includes('\0') || (entry.linkname ?? '').includes('\0')) bad('NUL in a name');
  if (!(entry.type in TYPEFLAGS)) bad(`unknown type ${String(entry.type)}`);
  if (entry.data !== undefined && entry.data.length > 0 && entry.type !== 'file')
    bad(`a ${entry.type} cannot carry data`);
  for (const [key, value] of Object.entries(entry.pax ?? {})) {
    if (key === '' || key.includes('=') || key.includes('\0') || value.includes('\0'))
      bad(`invalid PAX record ${JSON.stringify(key)}`);
    if (key.startsWith('SCHILY.xattr.')) bad(`xattr ${JSON.stringify(key)} belongs in xattrs`);
  }
  for (const key of Object.keys(entry.xattrs ?? {})) {
    if (key === '' || key.includes('=') || key.includes('\0'))
      bad(`invalid xattr name ${JSON.stringify(key)}`);
  }
  for (const n of [entry.mode, entry.uid, entry.gid, entry.mtime, entry.devmajor, entry.devminor]) {
    if (n !== undefined && (!Number.isSafeInteger(n) || n < 0)) bad(`invalid number ${n}`);
  }
}

function defaultMode(entry: TarWriteEntry): number {
  return entry.type === 'directory' ? 0o755 : entry.type === 'symlink' ? 0o777 : 0o644;
}

/** Go `path.Join(path.Split(name)…)` with `PaxHeaders.0` between directory and file. */
function paxHeaderName(name: string): string {
  const slash = name.lastIndexOf('/');
  const parts: string[] = [];
  for (const part of `${name.slice(0, slash + 1)}/PaxHeaders.0/${name.slice(slash + 1)}`.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && parts.length > 0 && parts[parts.length - 1] !== '..') parts.pop();
    else parts.push(part);
  }
  const joined = (name.startsWith('/') ? '/' : '') + parts.join('/');
  return toAscii(joined).slice(0, NAME_SIZE).replace(/\/+$/, '');
}

/**
 * Build the header block(s) of one entry.
 *
 * @param entry - the entry's metadata (its `data` length sets the size)
 * @returns one block for USTAR, or the PAX header, its records (padded) and the main header
 * @throws {TarError} TAR_BAD_INPUT for entries tar cannot represent
 */
export function encodeHeader(entry: TarWriteEntry): Uint8Array {
  validate(entry);
  const size = entry.type === 'file' ? (entry.data?.length ?? 0) : 0;
  const h = {
    name: entry.name,
    linkname: entry.linkname ?? '',
    uname: entry.uname ?? '',
    gname: entry.gname ?? '',
    mode: entry.mode ?? defaultMode(entry),
    uid: entry.uid ?? 0,
    gid: entry.gid ?? 0,
    size,
    mtime: entry.mtime ?? 0,
    devmajor: entry.devmajor ?? 0,
    devminor: entry.devminor ?? 0,
  };
  // Go Header.allowedFormats, for the fields tk uses.
  let ustar = true;
  let pax = true;
  const records: Record<string, string | Uint8Array> = {};
  const checkString = (value: string, width: number, key: string): void => {
    // An ASCII string's UTF-8 length is its length.
    if (!isAscii(value) || value.length > width) {
      if (key !== 'path' || splitUstarPath(value) === undefined) ustar = false;
      records[key] = value;
    }
  };
  const checkNumber = (value: number, width: number, key: string | undefined): void => {
    if (!fitsInOctal(width, value)) {
      ustar = false;
      if (key === undefined) pax = false;
      else records[key] = String(value);
    }
  };
  checkString(h.name, NAME_SIZE, 'path');
  checkString(h.linkname, NAME_SIZE, 'linkpath');
  checkString(h.uname, 32, 'uname');
  checkString(h.gname, 32, 'gname');
  checkNumber(h.mode, 8, undefined);
  checkNumber(h.uid, 8, 'uid');
  checkNumber(h.gid, 8, 'gid');
  checkNumber(h.size, 12, 'size');
  checkNumber(h.devmajor, 8, undefined);
  checkNumber(h.devminor, 8, undefined);
  checkNumber(h.mtime, 12, 'mtime');
  const extra: Record<string, string | Uint8Array> = { ...entry.pax };
  for (const [name, value] of Object.entries(entry.xattrs ?? {})) extra[`SCHILY.xattr.${name}`] = value;
  if (Object.keys(extra).length > 0) {
    ustar = false;
    for (const [key, value] of Object.entries(extra)) if (!(key in records)) records[key] = value;
  }
  if (!ustar && !pax)
    throw new TarError(
      'TAR_BAD_INPUT',
      `cannot write tar entry ${JSON.stringify(h.name)}: a field is too large for any tar format`,
    );

  const main = new Block();
  const template = (name: string, ascii: (s: string) => string): void => {
    main.string('name', ascii(name));
    main.string('linkname', ascii(h.linkname));
    main.octal('mode', h.mode);
    main.octal('uid', h.uid);
    main.octal('gid', h.gid);
    main.octal('size', h.size);
    main.octal('mtime', h.mtime);
    main.bytes[F.typeflag[0]] = TYPEFLAGS[entry.type].charCodeAt(0);
    main.string('uname', ascii(h.uname));
    main.string('gname', ascii(h.gname));
    main.octal('devmajor', h.devmajor);
    main.octal('devminor', h.devminor);
  };

  if (ustar) {
    const split = splitUstarPath(h.name);
    template(split?.suffix ?? h.name, (s) => s);
    if (split !== undefined) main.string('prefix', split.prefix);
    return main.finish('ustar');
  }

  const body = concatBytes(
    Object.keys(records)
      .sort()
      .map((key) => encodePaxRecord(key, records[key] ?? '')),
  );
  if (body.length > MAX_PAX_SIZE)
    throw new TarError(
      'TAR_BAD_INPUT',
      `PAX records of ${JSON.stringify(h.name)} exceed ${MAX_PAX_SIZE} bytes`,
    );
  const paxHeader = new Block();
  paxHeader.string('name', paxHeaderName(h.name));
  paxHeader.octal('mode', 0);
  paxHeader.octal('uid', 0);
  paxHeader.octal('gid', 0);
  paxHeader.octal('size', body.length);
  paxHeader.octal('mtime', 0);
  paxHeader.bytes[F.typeflag[0]] = 'x'.charCodeAt(0);
  template(h.name, toAscii);
  return concatBytes([paxHeader.finish('pax'), body, padding(body.length), main.finish('pax')]);
}

const ZERO_BLOCK = new Uint8Array(BLOCK_SIZE);

function padding(length: number): Uint8Array {
  const rest = length % BLOCK_SIZE;
  return rest === 0 ? new Uint8Array(0) : ZERO_BLOCK.subarray(0, BLOCK_SIZE - rest);
}

/**
 * Accumulates a tar stream as a list of chunks (headers, file contents as given, padding), so large
 * trees are never copied into one buffer before compression.
 *
 * @example
 * const tar = new TarWriter();
 * tar.add({ name: 'etc', type: 'directory' });
 * tar.add({ name: 'etc/motd', type: 'file', data: utf8('hi\n') });
 * const chunks = tar.finish();
 */
export class TarWriter {
  readonly #chunks: Uint8Array[] = [];
  #length = 0;
  #finished = false;

  /** Bytes written so far. */
  get byteLength(): number {
    return this.#length;
  }

  #push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /**
   * Append an entry.
   *
   * @throws {TarError} TAR_BAD_INPUT
   */
  add(entry: TarWriteEntry): void {
    if (this.#finished) throw new TarError('TAR_BAD_INPUT', 'tar writer already finished');
    this.#push(encodeHeader(entry));
    if (entry.type === 'file' && entry.data !== undefined) {
      this.#push(entry.data);
      this.#push(padding(entry.data.length));
    }
  }

  /**
   * Finish the stream.
   *
   * @param options - `endOfArchive: false` leaves out the two zero blocks (apk signature/control sections)
   * @returns the chunks of the archive in order
   */
  finish(options: { endOfArchive?: boolean } = {}): Uint8Array[] {
    if (!this.#finished && options.endOfArchive !== false) {
      this.#push(new Uint8Array(2 * BLOCK_SIZE));
    }
    this.#finished = true;
    return this.#chunks;
  }
}

/**
 * Write a whole archive into one buffer.
 *
 * @param entries - entries in order
 * @param options - see {@link TarWriter.finish}
 * @returns the archive bytes
 */
export function writeTar(
  entries: readonly TarWriteEntry[],
  options: { endOfArchive?: boolean } = {},
): Uint8Array {
  const writer = new TarWriter();
  for (const entry of entries) writer.add(entry);
  return concatBytes(writer.finish(options));
}
