/**
 * apk-tools 2.14.10's tar reader (`src/io_archive.c`, `apk_tar_parse` and `handle_extended_header`), as
 * far as `apk verify` can observe it: which entries reach the callback, under which name, and which error
 * stops the walk. Names are C strings, so they are kept as Latin-1 strings of their bytes.
 */
import type { IStream } from './istream.ts';
import { EAPKFORMAT, EBADMSG, ENAMETOOLONG, SegmentIStream, Sink, istreamRead } from './istream.ts';

/** What the entry callback sees of `struct apk_file_info`. */
export interface TarEntryInfo {
  /** The name as a C string (bytes as Latin-1 characters). */
  name: string;
  size: number;
  /** `mode` with the S_IFMT type bits apk-tools sets from the type flag. */
  mode: number;
}

/** The entry callback (`apk_archive_entry_parser`): 0 to go on, anything else stops with that value. */
export type TarEntryCallback = (entry: TarEntryInfo, is: IStream) => number;

/** Why the walk stopped, for messages. */
export interface TarFailure {
  /** Offset in the decompressed stream of the header that failed, or of the short read. */
  streamOffset: number;
  message: string;
}

const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFDIR = 0o040000;
const S_IFIFO = 0o010000;
const PATH_MAX = 4096;
/** Longest name kept (longer ones fail apk-tools' length check anyway). */
const MAX_NAME = 2 * PATH_MAX;
/** Longest PAX header kept. */
const MAX_PAX = 16 << 20;

/** `digitdecode[]` of `src/blob.c`. */
const DIGITS = (() => {
  const t = new Uint8Array(256).fill(0xff);
  for (let i = 0; i < 10; i++) t[0x30 + i] = i;
  for (let i = 0; i < 6; i++) {
    t[0x41 + i] = 10 + i;
    t[0x61 + i] = 10 + i;
  }
  t[0x2b] = 0x3e;
  return t;
})();

/** `dx(c)`. */
export const dx = (c: number): number => DIGITS[c & 0xff]!;

/** `apk_blob_pull_uint`: digits from `pos`, stopping at NUL or a non-digit; unsigned 32-bit. */
export function pullUint(
  bytes: Uint8Array,
  pos: number,
  end: number,
  radix: number,
): { value: number; next: number } {
  let value = 0;
  let p = pos;
  while (p < end && bytes[p] !== 0) {
    const ch = dx(bytes[p]!);
    if (ch >= radix) break;
    value = (value * radix + ch) >>> 0;
    p++;
  }
  return { value, next: p };
}

/** `get_octal`: the value, and whether anything but NULs and spaces follows the digits. */
function getOctal(h: Uint8Array, start: number, len: number): { value: number; bad: boolean } {
  const end = start + len;
  const { value, next } = pullUint(h, start, end, 8);
  let p = next;
  while (p < end && (h[p] === 0 || h[p] === 0x20)) p++;
  return { value, bad: p !== end };
}

/** A C string of `bytes` from `start`, at most `max` bytes. */
function cString(bytes: Uint8Array, start: number, max: number): string {
  const end = Math.min(bytes.length, start + max);
  let p = start;
  while (p < end && bytes[p] !== 0) p++;
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, p - start).toString('latin1');
}

const matches = (bytes: Uint8Array, pos: number, end: number, text: string): boolean => {
  if (end - pos < text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[pos + i] !== text.charCodeAt(i)) return false;
  return true;
};

/** Where `entry.name` points: it is a pointer in C, and stays one across headers. */
type NameRef =
  | { kind: 'header' }
  | { kind: 'filename' }
  | { kind: 'longname' }
  | { kind: 'pax'; offset: number };

/**
 * `handle_extended_header`: the `path` and `linkpath` records of a PAX header (the last of each wins).
 * Writes the NUL terminators into `pax` as apk-tools does.
 */
function extendedHeader(pax: Uint8Array, paxlen: number): { path?: number; linkpath?: number } {
  const out: { path?: number; linkpath?: number } = {};
  let pos = 0;
  const end = Math.min(paxlen, pax.length);
  for (;;) {
    const start = pos;
    const num = pullUint(pax, pos, end, 10);
    let len = num.value;
    pos = num.next;
    if (pos >= end || pax[pos] !== 0x20) break;
    pos++;
    const eq = pax.subarray(pos, end).indexOf(0x3d);
    if (eq < 0) break;
    const nameStart = pos;
    const nameEnd = pos + eq;
    pos = nameEnd + 1;
    if (len < pos - start + 1) break;
    len -= pos - start + 1;
    if (end - pos < len) break;
    const valueStart = pos;
    pos += len;
    if (pos >= end || pax[pos] !== 0x0a) break;
    pos++;
    pax[valueStart + len] = 0;
    if (nameEnd - nameStart === 4 && matches(pax, nameStart, nameEnd, 'path')) out.path = valueStart;
    else if (nameEnd - nameStart === 8 && matches(pax, nameStart, nameEnd, 'linkpath'))
      out.linkpath = valueStart;
    else if (matches(pax, nameStart, nameEnd, 'SCHILY.xattr.')) pax[nameEnd] = 0;
  }
  return out;
}

/**
 * `apk_tar_parse(is, parser, ctx, idc)`.
 *
 * @param is - the decompressed stream
 * @param parser - called for each entry that has a file type
 * @param onFailure - told why the walk failed when the failure is the tar layer's own
 * @returns 0, or a negative error (the stream's, the callback's, or the tar layer's)
 */
export function tarParse(
  is: IStream,
  parser: TarEntryCallback,
  onFailure: (failure: TarFailure) => void,
): number {
  const h = new Uint8Array(512);
  const headerSink = (): Sink => new Sink(512);
  let end = 0;
  let r = 0;
  let paxlen = 0;
  let pax = new Uint8Array(0);
  let longname = new Uint8Array(0);
  let filename = '';
  let nameRef: NameRef = { kind: 'header' };
  let streamPos = 0;
  let headerPos = 0;

  const read = (sink: Sink | null, size: number): number => {
    const n = istreamRead(is, sink, size);
    if (n > 0) streamPos += n;
    return n;
  };
  const readHeader = (): number => {
    const sink = headerSink();
    headerPos = streamPos;
    const n = read(sink, 512);
    if (n > 0) h.set(sink.bytes());
    return n;
  };
  const fail = (message: string, at = headerPos): void => onFailure({ streamOffset: at, message });
  const resolveName = (ref: NameRef): string => {
    switch (ref.kind) {
      case 'header':
        return cString(h, 0, 100);
      case 'filename':
        return filename;
      case 'longname':
        return cString(longname, 0, longname.length);
      default:
        return cString(pax, ref.offset, pax.length - ref.offset);
    }
  };

  // A `goto err` in C: skips the end-of-archive checks below.
  let jumped = false;
  loop: while ((r = readHeader()) === 512) {
    if (h[0] === 0) {
      if (end) break;
      end++;
      continue;
    }
    if (!matches(h, 257, 262, 'ustar')) {
      fail('tar header without the ustar magic');
      r = -EAPKFORMAT;
      break;
    }
    let bad = false;
    const octal = (start: number, len: number): number => {
      const v = getOctal(h, start, len);
      if (v.bad) bad = true;
      return v.value;
    };
    const size = octal(124, 12);
    octal(108, 8);
    octal(116, 8);
    let mode = octal(100, 8) & 0o7777;
    octal(136, 12);
    octal(329, 8);
    octal(337, 8);
    if (bad) {
      fail('tar header with a malformed number field');
      r = -EAPKFORMAT;
      break;
    }
    const typeflag = String.fromCharCode(h[156]!);
    let entryName: NameRef = nameRef;
    if (h[345] !== 0 && typeflag !== 'x' && typeflag !== 'g') {
      filename = `${cString(h, 345, 155)}/${cString(h, 0, 100)}`;
      entryName = { kind: 'filename' };
    }
    h[100] = 0;
    h[257] = 0;
    let linkTarget: string | undefined;
    if (paxlen) {
      const ext = extendedHeader(pax, paxlen);
      if (ext.path !== undefined) entryName = { kind: 'pax', offset: ext.path };
      if (ext.linkpath !== undefined) linkTarget = cString(pax, ext.linkpath, pax.length - ext.linkpath);
    }
    // (size + 511) & -512, without JavaScript's 32-bit &.
    let toskip = Math.ceil(size / 512) * 512;
    switch (typeflag) {
      case 'L': {
        const sink = new Sink(MAX_NAME);
        const n = read(sink, size);
        if (n !== size) {
          r = n;
          jumped = true;
          if (n >= 0) fail('short read in a GNU long name entry', streamPos);
          break loop;
        }
        longname = new Uint8Array(Math.min(size, MAX_NAME) + 1);
        longname.set(sink.bytes());
        entryName = { kind: 'longname' };
        toskip -= size;
        break;
      }
      case '0':
      case '7':
        mode |= S_IFREG;
        break;
      case '1':
        mode |= S_IFREG;
        linkTarget ??= cString(h, 157, 100);
        break;
      case '2':
        mode |= S_IFLNK;
        linkTarget ??= cString(h, 157, 100);
        break;
      case '3':
        mode |= S_IFCHR;
        break;
      case '4':
        mode |= S_IFBLK;
        break;
      case '5':
        mode |= S_IFDIR;
        break;
      case '6':
        mode |= S_IFIFO;
        break;
      case 'x': {
        paxlen = size;
        const sink = new Sink(MAX_PAX);
        const n = read(sink, paxlen);
        if (n !== paxlen) {
          r = n;
          jumped = true;
          if (n >= 0) fail('short read in a PAX header', streamPos);
          break loop;
        }
        const kept = sink.bytes();
        if (pax.length < kept.length + 1) {
          const grown = new Uint8Array(kept.length + 1);
          grown.set(pax.subarray(0, Math.min(pax.length, grown.length)));
          pax = grown;
        }
        pax.set(kept);
        toskip -= size;
        break;
      }
      default:
        break;
    }
    nameRef = entryName;
    const name = resolveName(entryName);
    if (name.length >= PATH_MAX - 10 || (linkTarget !== undefined && linkTarget.length >= PATH_MAX - 10)) {
      fail('tar entry name too long');
      r = -ENAMETOOLONG;
      break;
    }
    if (mode & 0o170000) {
      const segment = new SegmentIStream(is, size);
      const before = streamPos;
      r = parser({ name, size, mode }, segment);
      if (r !== 0) break;
      segment.close();
      streamPos = before + size;
      nameRef = { kind: 'header' };
      toskip -= size;
      paxlen = 0;
    }
    if (toskip) {
      const n = read(null, toskip);
      if (n !== toskip) {
        r = n;
        jumped = true;
        if (n >= 0) fail('the stream ends inside a tar entry', streamPos);
        break;
      }
    }
  }
  if (!jumped && r === 512) {
    while ((r = readHeader()) === 512) if (h[0] !== 0) break;
    if (r === 512) fail('data after the end-of-archive marker');
  }
  if ((jumped || r !== 0) && r >= 0) {
    if (!jumped && r > 0) fail('the stream ends inside a tar header');
    r = -EBADMSG;
  }
  is.close();
  return r;
}
