/**
 * apk-tools 2.14.10's input streams (`src/io.c`), ported with their buffers, so that the order in which
 * apk-tools reads, decompresses, hashes and parses a file is reproduced exactly: `apk_istream_read`,
 * `__apk_istream_fill`, `apk_istream_get_max`, `apk_istream_get_delim`, the file stream (`fdi_read`) and
 * the tar-entry segment stream (`segment_read`, `segment_close`).
 *
 * Pointers become indexes into `buf`; C's NULL is {@link NULL}.
 */

/** C's NULL pointer, for `ptr`/`end`. */
export const NULL = -1;
/** `apk_io_bufsize`. */
export const IO_BUFSIZE = 128 * 1024;
/** Largest single write into caller memory; longer reads are split (which apk-tools cannot tell apart). */
const DIRECT_CHUNK = 1 << 20;

// errno values apk-tools returns (negated).
export const EIO = 5;
export const ENOMEM = 12;
export const ENAMETOOLONG = 36;
export const ENOMSG = 42;
export const EBADMSG = 74;
export const ECONNABORTED = 103;
export const ENOBUFS = 105;
export const ECANCELED = 125;
export const ENOKEY = 126;
export const EKEYREJECTED = 129;
export const EAPKFORMAT = 1026;

/** A blob: a window of `data`, or C's NULL blob (`data` undefined) carrying `len` (an error code or 0). */
export interface Blob {
  data: Uint8Array | undefined;
  start: number;
  len: number;
}

export const nullBlob = (len = 0): Blob => ({ data: undefined, start: 0, len });

/** Where `apk_istream_read` copies to: a bounded store that remembers how much it was given. */
export class Sink {
  private stored: Uint8Array;
  private used = 0;
  /** Bytes written, including any beyond `cap`. */
  written = 0;
  private readonly cap: number;

  constructor(cap: number) {
    this.cap = cap;
    this.stored = new Uint8Array(Math.min(cap, 4096));
  }

  write(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.written += n;
    const keep = Math.min(n, this.cap - this.used);
    if (keep <= 0) return;
    if (this.used + keep > this.stored.length) {
      const grown = new Uint8Array(Math.min(this.cap, Math.max(this.stored.length * 2, this.used + keep)));
      grown.set(this.stored.subarray(0, this.used));
      this.stored = grown;
    }
    this.stored.set(src.subarray(start, start + keep), this.used);
    this.used += keep;
  }

  /** The kept bytes (the first `cap`). */
  bytes(): Uint8Array {
    return this.stored.subarray(0, this.used);
  }

  /** Whether more was written than kept. */
  get overflowed(): boolean {
    return this.written > this.used;
  }
}

/** `struct apk_istream` with its `ops->read`. */
export abstract class IStream {
  ptr = NULL;
  end = NULL;
  err = 0;
  readonly buf: Uint8Array;
  readonly bufSize: number;

  constructor(buf: Uint8Array, bufSize: number) {
    this.buf = buf;
    this.bufSize = bufSize;
  }

  /** `ops->read(is, dst + off, size)`: bytes read (> 0), 0 at end of stream, or a negative error. */
  abstract readOp(dst: Uint8Array, off: number, size: number): number;

  /** `ops->close`. */
  close(): number {
    return this.err < 0 ? this.err : 0;
  }
}

/** One `ops->read(is, ptr, size)` into caller memory, of any size. */
function directRead(is: IStream, sink: Sink, size: number): number {
  if (size <= DIRECT_CHUNK) {
    const tmp = new Uint8Array(size);
    const r = is.readOp(tmp, 0, size);
    if (r > 0) sink.write(tmp, 0, r);
    return r;
  }
  // A read larger than the chunk behaves as consecutive reads that stop at the first short one.
  let total = 0;
  while (total < size) {
    const piece = Math.min(DIRECT_CHUNK, size - total);
    const r = directRead(is, sink, piece);
    if (r < 0) return r;
    total += r;
    if (r < piece) break;
  }
  return total;
}

/**
 * `apk_istream_read(is, ptr, size)`.
 *
 * @param is - the stream
 * @param sink - where the bytes go, or null to skip them (C's NULL `ptr`)
 * @param size - bytes wanted
 * @returns bytes read, 0 at end, or a negative error
 */
export function istreamRead(is: IStream, sink: Sink | null, size: number): number {
  let left = size;
  let r = 0;
  while (left) {
    if (is.ptr !== is.end) {
      r = Math.min(left, is.end - is.ptr);
      if (sink !== null) sink.write(is.buf, is.ptr, is.ptr + r);
      is.ptr += r;
      left -= r;
      continue;
    }
    if (is.err) break;
    if (sink !== null && left > is.bufSize / 4) {
      r = directRead(is, sink, left);
      if (r <= 0) break;
      left -= r;
      continue;
    }
    r = is.readOp(is.buf, 0, is.bufSize);
    if (r <= 0) break;
    is.ptr = 0;
    is.end = r;
  }
  if (r < 0) return r;
  if (size && left === size && !is.err) is.err = 1;
  if (size === left) return is.err < 0 ? is.err : 0;
  return size - left;
}

/** `__apk_istream_fill`. */
export function istreamFill(is: IStream): number {
  if (is.err) return is.err;
  if (is.ptr !== 0) {
    const sz = is.end - is.ptr;
    if (sz > 0) is.buf.copyWithin(0, is.ptr, is.end);
    is.ptr = 0;
    is.end = sz;
  }
  const sz = is.readOp(is.buf, is.end, is.bufSize - is.end);
  if (sz <= 0) {
    is.err = sz || 1;
    return is.err;
  }
  is.end += sz;
  return 0;
}

/** `apk_istream_get_max(is, max)`. */
export function istreamGetMax(is: IStream, max: number): Blob {
  if (is.err < 0) return nullBlob(is.err);
  if (is.ptr === is.end) istreamFill(is);
  if (is.ptr !== is.end) {
    const len = Math.min(is.end - is.ptr, max);
    const ret: Blob = { data: is.buf, start: is.ptr, len };
    is.ptr += len;
    return ret;
  }
  return nullBlob(is.err < 0 ? is.err : 0);
}

/** `apk_istream_get_delim(is, token)` for a one-byte token. */
export function istreamGetDelim(is: IStream, token: number): Blob {
  let ret: Blob | undefined;
  let left: Blob | undefined;
  for (;;) {
    if (is.ptr !== NULL && is.end > is.ptr) {
      const pos = is.buf.subarray(is.ptr, is.end).indexOf(token);
      if (pos >= 0) {
        ret = { data: is.buf, start: is.ptr, len: pos };
        left = { data: is.buf, start: is.ptr + pos + 1, len: is.end - is.ptr - pos - 1 };
        break;
      }
    }
    if (is.end - is.ptr === is.bufSize) {
      is.err = -ENOBUFS;
      break;
    }
    if (istreamFill(is)) break;
  }
  if (is.ptr !== NULL && is.err > 0) ret = { data: is.buf, start: is.ptr, len: is.end - is.ptr };
  if (ret !== undefined) {
    if (left === undefined) {
      is.ptr = NULL;
      is.end = NULL;
    } else {
      is.ptr = left.start;
      is.end = left.start + left.len;
    }
    return ret;
  }
  return nullBlob(is.err < 0 ? is.err : 0);
}

/** `apk_istream_from_file` over bytes in memory: `read(2)` gives what is left, up to the size asked. */
export class FileIStream extends IStream {
  private pos = 0;
  /** File offset of `buf[0]`. */
  bufFileOffset = 0;

  private readonly file: Uint8Array;

  constructor(file: Uint8Array) {
    super(new Uint8Array(IO_BUFSIZE), IO_BUFSIZE);
    this.file = file;
  }

  readOp(dst: Uint8Array, off: number, size: number): number {
    const n = Math.min(size, this.file.length - this.pos);
    if (n <= 0) return 0;
    if (dst === this.buf) this.bufFileOffset = this.pos - off;
    dst.set(this.file.subarray(this.pos, this.pos + n), off);
    this.pos += n;
    return n;
  }
}

/** `struct apk_segment_istream`: one tar entry's content, sharing its parent's buffer. */
export class SegmentIStream extends IStream {
  private bytesLeft: number;
  private readonly parent: IStream;

  /** `apk_istream_segment(sis, is, len, mtime)`. */
  constructor(parent: IStream, len: number) {
    super(parent.buf, parent.bufSize);
    this.parent = parent;
    this.ptr = parent.ptr;
    this.end = parent.end;
    this.bytesLeft = len;
    if (this.end - this.ptr > len) {
      this.end = this.ptr + len;
      parent.ptr += len;
    } else {
      parent.ptr = NULL;
      parent.end = NULL;
    }
    this.bytesLeft -= this.end - this.ptr;
  }

  readOp(dst: Uint8Array, off: number, sizeIn: number): number {
    let size = sizeIn;
    if (size > this.bytesLeft) size = this.bytesLeft;
    if (size === 0) return 0;
    let r = this.parent.readOp(dst, off, size);
    if (r <= 0) {
      if (r === 0) r = -ECONNABORTED;
    } else this.bytesLeft -= r;
    return r;
  }

  override close(): number {
    const r = this.err;
    if (this.bytesLeft) {
      istreamRead(this.parent, null, this.bytesLeft);
      this.bytesLeft = 0;
    }
    return r < 0 ? r : 0;
  }
}
