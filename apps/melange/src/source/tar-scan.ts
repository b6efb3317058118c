/**
 * A streaming walker over the entry headers of a tar stream, for judging a source archive before GNU tar
 * extracts it. It reads what GNU tar reads: ustar, GNU (`ustar  `) and old v7 headers (automake writes v7
 * tarballs, so the magic is not required), PAX extended headers (`x`, `g`), GNU long names (`L`, `K`) and
 * old GNU sparse headers (`S`, with their extension blocks). Entry data is skipped, never held: memory stays
 * at one chunk plus one extension header (at most `maxExtensionSize`), whatever the archive's size.
 *
 * Header block (POSIX.1-2001 ustar, https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html):
 * name[100] mode[8] uid[8] gid[8] size[12] mtime[12] chksum[8] typeflag[1] linkname[100] magic[6]
 * version[2] uname[32] gname[32] devmajor[8] devminor[8] prefix[155]; numbers are octal text or GNU
 * base-256; the checksum is the byte sum of the block with the checksum field read as spaces.
 *
 * `@tk/tar`'s reader works on an archive held in memory and requires the ustar magic, so this module
 * reimplements the header layer as a stream and reuses its PAX record parser.
 */
import { parsePaxRecords } from '@tk/tar';

/** Size of a tar block. */
export const TAR_BLOCK_SIZE = 512;
const NAME_OFFSET = 0;
const NAME_SIZE = 100;
const SIZE_OFFSET = 124;
const SIZE_SIZE = 12;
const CHKSUM_OFFSET = 148;
const CHKSUM_SIZE = 8;
const TYPEFLAG_OFFSET = 156;
const LINKNAME_OFFSET = 157;
const LINKNAME_SIZE = 100;
const MAGIC_OFFSET = 257;
const PREFIX_OFFSET = 345;
const PREFIX_SIZE = 155;
/** Old GNU sparse header: `isextended` flag in the header, and in each 512-byte extension block. */
const GNU_SPARSE_ISEXTENDED_OFFSET = 482;
const GNU_SPARSE_EXT_ISEXTENDED_OFFSET = 504;

/** Kinds of entries, as GNU tar would extract them. */
export type ScannedEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo';

/** One entry's header, extensions applied. */
export interface ScannedEntry {
  /** The path as stored (after a PAX `path` or GNU long name). */
  name: string;
  type: ScannedEntryType;
  /** The raw typeflag character. */
  typeflag: string;
  /** Target of a link (after a PAX `linkpath` or GNU long link name). */
  linkname: string;
  /** Bytes of data that follow the header. */
  size: number;
  /** Byte offset in the tar stream of the entry's first header (its extension header, if any). */
  offset: number;
}

/** Limits of a scan. */
export interface TarScanLimits {
  /** Most entries. */
  maxEntries: number;
  /** Largest PAX or GNU long-name extension. */
  maxExtensionSize: number;
  /** Largest data of one entry. */
  maxEntrySize: number;
  /** Most bytes of tar stream read (headers, data, padding): the decompressed size of a compressed archive. */
  maxStreamSize: number;
}

/** A problem with the tar stream itself; the caller names the archive. */
export class TarScanProblem extends Error {
  readonly offset: number;
  constructor(offset: number, message: string) {
    super(message);
    this.name = 'TarScanProblem';
    this.offset = offset;
  }
}

const TYPES: Readonly<Record<string, ScannedEntryType>> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  S: 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'directory',
  D: 'directory',
  '6': 'fifo',
};

const decoder = new TextDecoder('utf-8', { fatal: false });

/** Reads exact byte counts from an async sequence of chunks, counting what it consumed. */
class ChunkReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private chunk: Uint8Array = new Uint8Array(0);
  private ended = false;
  /** Bytes pulled from the source so far. */
  private pulled = 0;
  /** Bytes handed out or skipped so far: the stream offset of the next byte. */
  position = 0;

  private readonly maxStreamSize: number;

  constructor(source: AsyncIterable<Uint8Array>, maxStreamSize: number) {
    this.iterator = source[Symbol.asyncIterator]();
    this.maxStreamSize = maxStreamSize;
  }

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.iterator.next();
    if (next.done === true) {
      this.ended = true;
      return false;
    }
    this.pulled += next.value.byteLength;
    if (this.pulled > this.maxStreamSize)
      throw new TarScanProblem(
        this.position,
        `the tar stream is larger than the ${this.maxStreamSize}-byte limit`,
      );
    this.chunk = this.chunk.byteLength === 0 ? next.value : Buffer.concat([this.chunk, next.value]);
    return true;
  }

  /** Exactly `n` bytes, or fewer when the stream ends first. */
  async read(n: number): Promise<Uint8Array> {
    while (this.chunk.byteLength < n) if (!(await this.pull())) break;
    const out = this.chunk.subarray(0, Math.min(n, this.chunk.byteLength));
    this.chunk = this.chunk.subarray(out.byteLength);
    this.position += out.byteLength;
    return out;
  }

  /** Skip `n` bytes; returns how many were skipped (fewer when the stream ends first). */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      if (this.chunk.byteLength === 0 && !(await this.pull())) break;
      const take = Math.min(left, this.chunk.byteLength);
      this.chunk = this.chunk.subarray(take);
      left -= take;
      this.position += take;
    }
    return n - left;
  }

  /** Read and drop the rest of the stream (so that a compressed stream is checked to its end). */
  async drain(): Promise<void> {
    this.chunk = new Uint8Array(0);
    while (await this.pull()) this.chunk = new Uint8Array(0);
  }
}

function text(block: Uint8Array, start: number, size: number): string {
  const raw = block.subarray(start, start + size);
  const nul = raw.indexOf(0);
  return decoder.decode(nul < 0 ? raw : raw.subarray(0, nul));
}

function number(block: Uint8Array, start: number, size: number, offset: number, what: string): number {
  const raw = block.subarray(start, start + size);
  const first = raw[0] ?? 0;
  if ((first & 0x80) !== 0) {
    // GNU base-256: big-endian, top bit set; a negative value (0xff…) is never a valid size.
    if ((first & 0x40) !== 0) throw new TarScanProblem(offset, `negative ${what} in the header`);
    let value = first & 0x3f;
    for (let i = 1; i < raw.length; i++) {
      value = value * 256 + (raw[i] ?? 0);
      if (value > Number.MAX_SAFE_INTEGER)
        throw new TarScanProblem(offset, `${what} too large in the header`);
    }
    return value;
  }
  const s = Buffer.from(raw)
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^ +/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s))
    throw new TarScanProblem(offset, `the ${what} field is not an octal number (${JSON.stringify(s)})`);
  return parseInt(s, 8);
}

/** Whether the block's checksum field matches its bytes (unsigned or, for old writers, signed sum). */
export function tarChecksumMatches(block: Uint8Array): boolean {
  let stored: number;
  try {
    stored = number(block, CHKSUM_OFFSET, CHKSUM_SIZE, 0, 'checksum');
  } catch {
    return false;
  }
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK_SIZE; i++) {
    const b = i >= CHKSUM_OFFSET && i < CHKSUM_OFFSET + CHKSUM_SIZE ? 0x20 : (block[i] ?? 0);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

function isZero(block: Uint8Array): boolean {
  for (const b of block) if (b !== 0) return false;
  return true;
}

function paxSize(value: string, offset: number): number {
  if (!/^[0-9]{1,16}$/.test(value))
    throw new TarScanProblem(offset, `PAX size ${JSON.stringify(value)} is not a number`);
  return Number(value);
}

/**
 * Walk the entry headers of a tar stream, skipping the data.
 *
 * @param source - the (decompressed) tar bytes, in chunks
 * @param limits - entry count, extension, entry and stream size limits
 * @returns an async generator of entries; it ends at the end-of-archive marker (the rest of the stream is
 *   read and dropped) or at the end of the stream on a block boundary
 * @throws {TarScanProblem} for bad checksums, malformed fields, truncation, unsupported or ambiguous headers,
 *   and exceeded limits
 */
export async function* scanTarHeaders(
  source: AsyncIterable<Uint8Array>,
  limits: TarScanLimits,
): AsyncGenerator<ScannedEntry, void> {
  const reader = new ChunkReader(source, limits.maxStreamSize);
  let count = 0;
  let pax = new Map<string, string>();
  let longName: string | undefined;
  let longLink: string | undefined;
  let pending = false;
  let entryStart = 0;

  const readData = async (offset: number, size: number, what: string): Promise<Uint8Array> => {
    if (size > limits.maxExtensionSize)
      throw new TarScanProblem(
        offset,
        `${what} of ${size} bytes exceeds the ${limits.maxExtensionSize}-byte limit`,
      );
    const data = await reader.read(size);
    if (data.byteLength < size) throw new TarScanProblem(offset, `the archive ends inside ${what}`);
    const padding = (TAR_BLOCK_SIZE - (size % TAR_BLOCK_SIZE)) % TAR_BLOCK_SIZE;
    if ((await reader.skip(padding)) < padding)
      throw new TarScanProblem(offset, `the archive ends inside ${what}`);
    return data;
  };

  for (;;) {
    const offset = reader.position;
    const block = await reader.read(TAR_BLOCK_SIZE);
    if (block.byteLength === 0) {
      if (pending)
        throw new TarScanProblem(offset, 'the archive ends after an extension header, before its entry');
      return;
    }
    if (block.byteLength < TAR_BLOCK_SIZE)
      throw new TarScanProblem(offset, 'the archive ends inside a header');
    if (!pending) entryStart = offset;
    if (isZero(block)) {
      if (pending) throw new TarScanProblem(offset, 'end-of-archive marker right after an extension header');
      // GNU tar stops at the end-of-archive marker; nothing after it is extracted. Read the rest anyway,
      // so that a compressed stream is decompressed (and its integrity checked) to the end.
      await reader.drain();
      return;
    }
    if (!tarChecksumMatches(block))
      throw new TarScanProblem(offset, 'header checksum mismatch (corrupt or forged header)');
    const typeflag = String.fromCharCode(block[TYPEFLAG_OFFSET] ?? 0);
    const size = number(block, SIZE_OFFSET, SIZE_SIZE, offset, 'size');

    if (typeflag === 'x' || typeflag === 'g') {
      const data = await readData(offset, size, 'a PAX header');
      let records: Map<string, Uint8Array>;
      try {
        records = parsePaxRecords(data, offset);
      } catch (error) {
        throw new TarScanProblem(offset, `malformed PAX header (${(error as Error).message})`);
      }
      const values = new Map<string, string>();
      for (const [key, value] of records) values.set(key, decoder.decode(value));
      if (typeflag === 'g') {
        // A global header that renames entries would apply to every later entry: never legitimate.
        for (const key of ['path', 'linkpath', 'GNU.sparse.name'])
          if (values.has(key)) throw new TarScanProblem(offset, `global PAX header sets "${key}"`);
        continue;
      }
      for (const [key, value] of values) pax.set(key, value);
      pending = true;
      continue;
    }
    if (typeflag === 'L' || typeflag === 'K') {
      const data = await readData(offset, size, 'a GNU long name');
      const nul = data.indexOf(0);
      const value = decoder.decode(nul < 0 ? data : data.subarray(0, nul));
      if (typeflag === 'L') longName = value;
      else longLink = value;
      pending = true;
      continue;
    }
    if (typeflag === 'V') {
      // A volume label: not extracted.
      if ((await reader.skip(Math.ceil(size / TAR_BLOCK_SIZE) * TAR_BLOCK_SIZE)) < size)
        throw new TarScanProblem(offset, 'the archive ends inside a volume label');
      continue;
    }
    if (typeflag === 'M' || typeflag === 'N')
      throw new TarScanProblem(
        offset,
        `unsupported GNU entry type ${JSON.stringify(typeflag)} (multi-volume or old long names)`,
      );

    // GNU tar extracts unknown (vendor) types as regular files.
    const type: ScannedEntryType = TYPES[typeflag] ?? 'file';
    if (++count > limits.maxEntries)
      throw new TarScanProblem(offset, `more than ${limits.maxEntries} entries`);

    let name = text(block, NAME_OFFSET, NAME_SIZE);
    const posix =
      Buffer.from(block.subarray(MAGIC_OFFSET, MAGIC_OFFSET + 6)).toString('latin1') === 'ustar\0';
    if (posix) {
      const prefix = text(block, PREFIX_OFFSET, PREFIX_SIZE);
      if (prefix !== '') name = `${prefix}/${name}`;
    }
    if (longName !== undefined) name = longName;
    const paxPath = pax.get('GNU.sparse.name') ?? pax.get('path');
    if (paxPath !== undefined) name = paxPath;
    let linkname = longLink ?? text(block, LINKNAME_OFFSET, LINKNAME_SIZE);
    const paxLink = pax.get('linkpath');
    if (paxLink !== undefined) linkname = paxLink;
    const paxSizeText = pax.get('size');
    let dataSize = paxSizeText === undefined ? size : paxSize(paxSizeText, offset);

    if (typeflag === 'S' && (block[GNU_SPARSE_ISEXTENDED_OFFSET] ?? 0) !== 0) {
      // Old GNU sparse files: extension blocks with more of the sparse map follow the header.
      for (;;) {
        const ext = await reader.read(TAR_BLOCK_SIZE);
        if (ext.byteLength < TAR_BLOCK_SIZE)
          throw new TarScanProblem(offset, 'the archive ends inside a sparse map');
        if ((ext[GNU_SPARSE_EXT_ISEXTENDED_OFFSET] ?? 0) === 0) break;
      }
    }
    if (type !== 'file' && !(type === 'directory' && typeflag === 'D') && dataSize !== 0) {
      // Readers disagree on whether data follows such a header: an archive that relies on it is refused.
      throw new TarScanProblem(
        offset,
        `${type} entry ${JSON.stringify(name)} claims ${dataSize} bytes of data`,
      );
    }
    if (dataSize > limits.maxEntrySize)
      throw new TarScanProblem(
        offset,
        `entry ${JSON.stringify(name)} is ${dataSize} bytes, over the ${limits.maxEntrySize}-byte limit`,
      );
    if (typeflag === 'S') dataSize = size; // the stored (sparse) bytes, not the real size

    yield { name, type, typeflag, linkname, size: dataSize, offset: entryStart };

    const padded = Math.ceil(dataSize / TAR_BLOCK_SIZE) * TAR_BLOCK_SIZE;
    if ((await reader.skip(padded)) < padded)
      throw new TarScanProblem(offset, `the archive ends inside the data of ${JSON.stringify(name)}`);
    pax = new Map();
    longName = undefined;
    longLink = undefined;
    pending = false;
  }
}
