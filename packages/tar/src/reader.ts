/**
 * A tar reader for hostile input. It reads ustar and GNU headers (magic `ustar`, as apk-tools requires),
 * PAX extended headers (`x`; global `g` headers are read and ignored) and GNU long names (`L`, `K`),
 * verifies every header checksum, bounds every size, and returns entries whose data are views into the
 * input. It does not judge paths: use {@link checkEntryPath} where a path will touch a filesystem.
 */
import { fromUtf8 } from '@tk/core';
import { TarError } from './errors.ts';
import type { TarEntry, TarEntryType } from './types.ts';
import { BLOCK_SIZE } from './writer.ts';

/** Limits and modes for reading. */
export interface TarReadOptions {
  /** Largest PAX or GNU long-name extension accepted. Default 1 MiB. */
  maxExtensionSize?: number;
  /** Most entries accepted. Default 1,000,000. */
  maxEntries?: number;
}

/** The result of reading an archive. */
export interface TarReadResult {
  entries: TarEntry[];
  /** Whether the archive ended with an end-of-archive block (apk signature/control sections do not). */
  endOfArchive: boolean;
}

const TYPES: Readonly<Record<string, TarEntryType>> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'directory',
  '6': 'fifo',
};

/** PAX keys folded into header fields rather than kept in `pax`. */
const PAX_FIELDS = new Set([
  'path',
  'linkpath',
  'size',
  'uid',
  'gid',
  'uname',
  'gname',
  'mtime',
  'atime',
  'ctime',
]);

function bad(
  offset: number,
  message: string,
  code: 'TAR_BAD_HEADER' | 'TAR_BAD_EXTENSION' | 'TAR_UNSUPPORTED' = 'TAR_BAD_HEADER',
): TarError {
  return new TarError(code, `tar header at byte ${offset}: ${message}`, {
    hint: 'the archive is corrupt or was made to attack the reader; do not trust it',
    data: { offset },
  });
}

function truncated(offset: number, what: string): TarError {
  return new TarError('TAR_TRUNCATED', `tar archive ends inside ${what} at byte ${offset}`, {
    hint: 'the archive is incomplete: download or copy it again',
    data: { offset },
  });
}

function field(block: Uint8Array, start: number, size: number): Uint8Array {
  const raw = block.subarray(start, start + size);
  const nul = raw.indexOf(0);
  return nul < 0 ? raw : raw.subarray(0, nul);
}

function text(block: Uint8Array, start: number, size: number): string {
  try {
    return fromUtf8(field(block, start, size));
  } catch {
    // Non-UTF-8 names: keep them readable and unambiguous rather than failing the whole archive.
    return Buffer.from(field(block, start, size)).toString('latin1');
  }
}

function number(block: Uint8Array, start: number, size: number, offset: number, name: string): number {
  const raw = block.subarray(start, start + size);
  if (((raw[0] ?? 0) & 0x80) !== 0) {
    // GNU base-256: big-endian two's complement, first byte's top bit set.
    if (((raw[0] ?? 0) & 0x40) !== 0) throw bad(offset, `negative ${name}`);
    let value = (raw[0] ?? 0) & 0x3f;
    for (let i = 1; i < raw.length; i++) {
      value = value * 256 + (raw[i] ?? 0);
      if (value > Number.MAX_SAFE_INTEGER) throw bad(offset, `${name} too large`);
    }
    return value;
  }
  const s = Buffer.from(raw)
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^[ ]+/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw bad(offset, `${name} field is not octal (${JSON.stringify(s)})`);
  return parseInt(s, 8);
}

function verifyChecksum(block: Uint8Array, offset: number): void {
  const stored = number(block, 148, 8, offset, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored !== unsigned && stored !== signed)
    throw bad(offset, `checksum ${stored} does not match the header (${unsigned})`);
}

function isZeroBlock(block: Uint8Array): boolean {
  for (const b of block) if (b !== 0) return false;
  return true;
}

/** Parse PAX records: `"<len> <key>=<value>\n"` repeated, each length covering its whole record. Values stay bytes. */
export function parsePaxRecords(data: Uint8Array, offset: number): Map<string, Uint8Array> {
  const records = new Map<string, Uint8Array>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0 || space - pos > 20) throw bad(offset, 'malformed PAX record length', 'TAR_BAD_EXTENSION');
    const lengthText = Buffer.from(data.subarray(pos, space)).toString('latin1');
    if (!/^[1-9][0-9]*$/.test(lengthText))
      throw bad(offset, `malformed PAX record length ${JSON.stringify(lengthText)}`, 'TAR_BAD_EXTENSION');
    const length = Number(lengthText);
    const end = pos + length;
    if (end > data.length || end <= space + 1 || data[end - 1] !== 0x0a)
      throw bad(offset, 'PAX record overruns its header', 'TAR_BAD_EXTENSION');
    const record = data.subarray(space + 1, end - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw bad(offset, 'PAX record without a key', 'TAR_BAD_EXTENSION');
    let key: string;
    try {
      key = fromUtf8(record.subarray(0, eq));
    } catch {
      throw bad(offset, 'PAX record key is not UTF-8', 'TAR_BAD_EXTENSION');
    }
    if (key.includes('\0')) throw bad(offset, 'NUL in a PAX key', 'TAR_BAD_EXTENSION');
    records.set(key, record.subarray(eq + 1));
    pos = end;
  }
  return records;
}

function paxNumber(value: string, offset: number, key: string): number {
  // mtime may carry a fraction ("1700000000.123"); tk keeps whole seconds.
  const m = /^(-?[0-9]{1,16})(\.[0-9]*)?$/.exec(value);
  if (m?.[1] === undefined)
    throw bad(offset, `PAX ${key} is not a number (${JSON.stringify(value)})`, 'TAR_BAD_EXTENSION');
  const n = Number(m[1]);
  if (n < 0 && key !== 'mtime') throw bad(offset, `negative PAX ${key}`, 'TAR_BAD_EXTENSION');
  return n;
}

/**
 * Iterate over the entries of an archive held in memory.
 *
 * @param archive - the tar bytes
 * @param options - limits
 * @returns a generator of entries; its return value says whether an end-of-archive block was seen
 * @throws {TarError} TAR_BAD_HEADER, TAR_TRUNCATED, TAR_BAD_EXTENSION, TAR_UNSUPPORTED
 */
export function* iterateTar(archive: Uint8Array, options: TarReadOptions = {}): Generator<TarEntry, boolean> {
  const maxExtension = options.maxExtensionSize ?? 1 << 20;
  const maxEntries = options.maxEntries ?? 1_000_000;
  let pos = 0;
  let count = 0;
  let pax = new Map<string, Uint8Array>();
  let longName: string | undefined;
  let longLink: string | undefined;
  let entryStart = 0;
  let pending = false;

  while (pos < archive.length) {
    if (archive.length - pos < BLOCK_SIZE) throw truncated(pos, 'a header');
    const block = archive.subarray(pos, pos + BLOCK_SIZE);
    if (!pending) entryStart = pos;
    if (isZeroBlock(block)) {
      if (pending) throw bad(pos, 'archive ends after an extension header with no entry');
      // Go and GNU tar: a zero block followed by a non-zero one is an error, two zero blocks end the archive.
      const next = archive.subarray(pos + BLOCK_SIZE, pos + 2 * BLOCK_SIZE);
      if (next.length === BLOCK_SIZE && !isZeroBlock(next))
        throw bad(pos + BLOCK_SIZE, 'header after a single end-of-archive block');
      return true;
    }
    verifyChecksum(block, pos);
    const magic = Buffer.from(block.subarray(257, 262)).toString('latin1');
    if (magic !== 'ustar') throw bad(pos, 'not a ustar header (no "ustar" magic)');
    const gnu = block[262] === 0x20;
    const typeflag = String.fromCharCode(block[156] ?? 0);
    const size = number(block, 124, 12, pos, 'size');
    const dataStart = pos + BLOCK_SIZE;
    const padded = Math.ceil(size / BLOCK_SIZE) * BLOCK_SIZE;

    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      if (size > maxExtension) {
        throw new TarError(
          'TAR_BAD_EXTENSION',
          `tar header at byte ${pos}: ${typeflag} extension of ${size} bytes exceeds the ${maxExtension}-byte limit`,
          {
            hint: 'the archive is corrupt or hostile',
            data: { offset: pos },
          },
        );
      }
      if (dataStart + size > archive.length) throw truncated(pos, 'an extension header');
      const data = archive.subarray(dataStart, dataStart + size);
      if (typeflag === 'x') {
        for (const [key, value] of parsePaxRecords(data, pos)) pax.set(key, value);
      } else if (typeflag === 'g') {
        parsePaxRecords(data, pos); // validated, then ignored as apk-tools does
      } else {
        const nul = data.indexOf(0);
        const value = Buffer.from(nul < 0 ? data : data.subarray(0, nul)).toString('utf8');
        if (typeflag === 'L') longName = value;
        else longLink = value;
      }
      pending = typeflag !== 'g';
      pos = dataStart + padded;
      continue;
    }

    const type = TYPES[typeflag];
    if (type === undefined)
      throw bad(pos, `unsupported entry type ${JSON.stringify(typeflag)}`, 'TAR_UNSUPPORTED');
    if (++count > maxEntries) throw bad(pos, `more than ${maxEntries} entries`);

    let name = text(block, 0, 100);
    const prefix = gnu ? '' : text(block, 345, 155);
    if (prefix !== '') name = `${prefix}/${name}`;
    if (longName !== undefined) name = longName;
    let linkname = longLink ?? text(block, 157, 100);
    let entrySize = size;
    let uid = number(block, 108, 8, pos, 'uid');
    let gid = number(block, 116, 8, pos, 'gid');
    let mtime = number(block, 136, 12, pos, 'mtime');
    let uname = text(block, 265, 32);
    let gname = text(block, 297, 32);
    const extra: Record<string, string> = {};
    const xattrs: Record<string, Uint8Array> = {};
    for (const [key, raw] of [...pax].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (key.startsWith('SCHILY.xattr.')) {
        xattrs[key.slice('SCHILY.xattr.'.length)] = raw;
        continue;
      }
      let value: string;
      try {
        value = fromUtf8(raw);
      } catch {
        throw bad(pos, `PAX record ${key} is not UTF-8`, 'TAR_BAD_EXTENSION');
      }
      switch (key) {
        case 'path':
          name = value;
          break;
        case 'linkpath':
          linkname = value;
          break;
        case 'size':
          entrySize = paxNumber(value, pos, key);
          break;
        case 'uid':
          uid = paxNumber(value, pos, key);
          break;
        case 'gid':
          gid = paxNumber(value, pos, key);
          break;
        case 'mtime':
          mtime = paxNumber(value, pos, key);
          break;
        case 'uname':
          uname = value;
          break;
        case 'gname':
          gname = value;
          break;
        default:
          if (!PAX_FIELDS.has(key)) extra[key] = value;
      }
    }
    if (name === '') throw bad(pos, 'empty entry name');
    const hasData = type === 'file';
    const consumed = hasData ? entrySize : size;
    const consumedPadded = Math.ceil(consumed / BLOCK_SIZE) * BLOCK_SIZE;
    if (dataStart + consumed > archive.length) throw truncated(pos, `the data of ${JSON.stringify(name)}`);
    yield {
      name,
      type,
      mode: number(block, 100, 8, pos, 'mode') & 0o7777,
      uid,
      gid,
      uname,
      gname,
      mtime,
      linkname,
      devmajor: type === 'char' || type === 'block' ? number(block, 329, 8, pos, 'devmajor') : 0,
      devminor: type === 'char' || type === 'block' ? number(block, 337, 8, pos, 'devminor') : 0,
      pax: extra,
      xattrs,
      data: hasData ? archive.subarray(dataStart, dataStart + entrySize) : new Uint8Array(0),
      offset: entryStart,
    };
    pos = dataStart + consumedPadded;
    pax = new Map();
    longName = undefined;
    longLink = undefined;
    pending = false;
  }
  if (pending) throw truncated(pos, 'an entry announced by an extension header');
  return false;
}

/**
 * Read every entry of an archive.
 *
 * @param archive - the tar bytes
 * @param options - limits
 * @returns the entries and whether an end-of-archive marker was present
 * @throws {TarError} as {@link iterateTar}
 * @example
 * const { entries } = readTar(bytes);
 */
export function readTar(archive: Uint8Array, options: TarReadOptions = {}): TarReadResult {
  const entries: TarEntry[] = [];
  const iterator = iterateTar(archive, options);
  for (;;) {
    const next = iterator.next();
    if (next.done === true) return { entries, endOfArchive: next.value };
    entries.push(next.value);
  }
}
