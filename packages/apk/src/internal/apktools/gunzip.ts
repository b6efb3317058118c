/**
 * apk-tools 2.14.10's multi-member gunzip stream (`src/io_gunzip.c`, `gzi_read` and friends), with the
 * multipart callback that hashes raw member bytes and marks member boundaries for the signature checks.
 *
 * Members that decompress cleanly are inflated by Node's zlib up front (fast); a member that is damaged or
 * unusual is inflated by the zlib port in `zinflate.ts`, which reproduces where zlib stops and which error
 * it reports. Both give apk-tools' exact sequence of reads and callbacks.
 */
import { crc32, inflateRawSync } from 'node:zlib';
import {
  EIO,
  ECANCELED,
  IStream,
  IO_BUFSIZE,
  NULL,
  istreamGetMax,
  nullBlob,
  type Blob,
  type FileIStream,
} from './istream.ts';
import { ZInflate, Z_BUF_ERROR, Z_OK, Z_STREAM_END, type ZStream } from './zinflate.ts';

export const MPART_DATA = 1;
export const MPART_BOUNDARY = 2;
export const MPART_END = 3;

/** `apk_multipart_cb`. */
export type MultipartCallback = (part: number, data: Blob) => number;

/** Why the gzip layer failed, for messages. */
export interface GzipFailure {
  /** File offset where the failing member starts. */
  memberOffset: number;
  /** zlib's message. */
  message: string;
}

interface Member {
  inflate(zs: ZStream): number;
}

/** A member already inflated by Node's zlib: hand out its output as zlib would, then skip to its end. */
class PrecomputedMember implements Member {
  private outPos = 0;
  private readonly output: Uint8Array;
  private readonly end: number;
  private readonly fileOffset: (bufPos: number) => number;

  constructor(output: Uint8Array, end: number, fileOffset: (bufPos: number) => number) {
    this.output = output;
    this.end = end;
    this.fileOffset = fileOffset;
  }

  inflate(zs: ZStream): number {
    const n = Math.min(zs.availOut, this.output.length - this.outPos);
    if (n > 0) {
      zs.output.set(this.output.subarray(this.outPos, this.outPos + n), zs.nextOut);
      zs.nextOut += n;
      zs.availOut -= n;
      this.outPos += n;
    }
    let took = 0;
    if (this.outPos === this.output.length) {
      const need = this.end - this.fileOffset(zs.nextIn);
      took = Math.min(need, zs.availIn);
      zs.nextIn += took;
      zs.availIn -= took;
      if (took === need) return Z_STREAM_END;
    }
    return n > 0 || took > 0 ? Z_OK : Z_BUF_ERROR;
  }
}

/**
 * The length of a gzip header at `offset` if it is one zlib reads plainly (no header CRC), else undefined.
 */
function plainGzipHeaderLength(file: Uint8Array, offset: number): number | undefined {
  if (offset + 10 > file.length) return undefined;
  if (file[offset] !== 0x1f || file[offset + 1] !== 0x8b || file[offset + 2] !== 8) return undefined;
  const flags = file[offset + 3]!;
  if ((flags & 0xe0) !== 0 || (flags & 0x02) !== 0) return undefined;
  let pos = offset + 10;
  if ((flags & 0x04) !== 0) {
    if (pos + 2 > file.length) return undefined;
    pos += 2 + (file[pos]! | (file[pos + 1]! << 8));
  }
  for (const flag of [0x08, 0x10]) {
    if ((flags & flag) === 0) continue;
    const nul = file.indexOf(0, pos);
    if (nul < 0) return undefined;
    pos = nul + 1;
  }
  return pos <= file.length ? pos - offset : undefined;
}

/** Largest member output inflated up front; larger members go through the port. */
const MAX_PRECOMPUTED = 256 << 20;

/**
 * Inflate the member at `offset` with Node's zlib if it is intact (header, deflate data, CRC and length).
 *
 * @returns its output and end offset, or undefined when zlib would report anything on the way
 */
export function precomputeMember(
  file: Uint8Array,
  offset: number,
): { output: Uint8Array; end: number } | undefined {
  const headerLength = plainGzipHeaderLength(file, offset);
  if (headerLength === undefined) return undefined;
  const bodyStart = offset + headerLength;
  let result: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    result = inflateRawSync(file.subarray(bodyStart), {
      info: true,
      maxOutputLength: MAX_PRECOMPUTED,
    }) as unknown as typeof result;
  } catch {
    return undefined;
  }
  const bodyEnd = bodyStart + result.engine.bytesWritten;
  if (bodyEnd + 8 > file.length) return undefined;
  const output = new Uint8Array(result.buffer.buffer, result.buffer.byteOffset, result.buffer.byteLength);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (view.getUint32(bodyEnd, true) !== crc32(output) >>> 0) return undefined;
  if (view.getUint32(bodyEnd + 4, true) !== output.length >>> 0) return undefined;
  return { output, end: bodyEnd + 8 };
}

/** Options of {@link GzipIStream}. */
export interface GzipIStreamOptions {
  /** Use only the zlib port (for tests that compare both paths). */
  portOnly?: boolean;
}

/** `apk_istream_gunzip_mpart(is, cb, ctx)`. */
export class GzipIStream extends IStream {
  private readonly zs: ZStream;
  private member: Member | undefined;
  private cbarg: { start: number; len: number } | null = null;
  private cbprev = NULL;
  private memberStart = 0;
  /** The zlib error that stopped the stream, if any. */
  failure: GzipFailure | undefined;
  /**
   * File offset of a member end that fell exactly on a 128 KiB read boundary while more data followed.
   * apk-tools 2.14.10 then refills its file buffer before hashing the member's last bytes, so it hashes
   * the next chunk's bytes instead, and a valid signature or datahash fails.
   */
  staleBoundary: number | undefined;

  private readonly zis: FileIStream;
  private readonly file: Uint8Array;
  private readonly cb: MultipartCallback;
  private readonly options: GzipIStreamOptions;

  constructor(zis: FileIStream, file: Uint8Array, cb: MultipartCallback, options: GzipIStreamOptions = {}) {
    super(new Uint8Array(IO_BUFSIZE), IO_BUFSIZE);
    this.zis = zis;
    this.file = file;
    this.cb = cb;
    this.options = options;
    this.zs = { input: zis.buf, nextIn: 0, availIn: 0, output: this.buf, nextOut: 0, availOut: 0 };
  }

  private fileOffset = (bufPos: number): number => this.zis.bufFileOffset + bufPos;

  private currentMember(): Member | undefined {
    if (this.member !== undefined) return this.member;
    if (this.zs.availIn === 0) return undefined;
    this.memberStart = this.fileOffset(this.zs.nextIn);
    const pre = this.options.portOnly === true ? undefined : precomputeMember(this.file, this.memberStart);
    this.member =
      pre === undefined ? new ZInflate() : new PrecomputedMember(pre.output, pre.end, this.fileOffset);
    return this.member;
  }

  private boundaryChange(): number {
    if (this.cbarg !== null) {
      const r = this.cb(MPART_DATA, { data: this.zis.buf, start: this.cbarg.start, len: this.cbarg.len });
      if (r) {
        this.err = r;
        return r;
      }
    }
    this.cbarg = null;
    if (!this.err && this.zis.err && this.zs.availIn === 0) this.err = this.zis.err;
    let r = this.cb(this.err ? MPART_END : MPART_BOUNDARY, nullBlob());
    if (r > 0) r = -ECANCELED;
    if (r !== 0) this.err = r;
    return r;
  }

  private readMore(): number {
    const blob = istreamGetMax(this.zis, Number.MAX_SAFE_INTEGER);
    if (blob.len <= 0) {
      if (blob.len < 0) {
        this.err = blob.len;
        return this.err;
      }
      return 0;
    }
    this.zs.availIn = blob.len;
    this.zs.nextIn = blob.start;
    this.cbprev = blob.start;
    return 0;
  }

  /** `gzi_read`. */
  readOp(dst: Uint8Array, off: number, size: number): number {
    const zs = this.zs;
    zs.output = dst;
    zs.nextOut = off;
    zs.availOut = size;
    let r: number;
    while (zs.availOut !== 0 && this.err >= 0) {
      if (this.cbarg !== null) {
        r = this.boundaryChange();
        if (r) return r;
      }
      if (zs.availIn === 0 && this.err === 0) {
        if (this.cbprev !== NULL && this.cbprev !== zs.nextIn) {
          r = this.cb(MPART_DATA, { data: this.zis.buf, start: this.cbprev, len: zs.nextIn - this.cbprev });
          if (r < 0) {
            this.err = r;
            return r;
          }
          this.cbprev = zs.nextIn;
        }
        r = this.readMore();
        if (r) return r;
      }
      const member = this.currentMember();
      r = member === undefined ? Z_BUF_ERROR : member.inflate(zs);
      if (r === Z_STREAM_END) {
        this.cbarg = { start: this.cbprev, len: zs.nextIn - this.cbprev };
        this.cbprev = zs.nextIn;
        if (zs.availIn === 0) {
          const end = this.fileOffset(zs.nextIn);
          r = this.readMore();
          if (r) return r;
          if (zs.availIn > 0 && this.cbarg.len > 0) this.staleBoundary ??= end;
        }
        if (zs.availIn === 0 && zs.availOut === size) {
          r = this.boundaryChange();
          if (r) return r;
        }
        this.member = undefined;
        if (zs.availOut !== size) break;
      } else if (r === Z_BUF_ERROR) {
        break;
      } else if (r !== Z_OK) {
        this.failure = { memberOffset: this.memberStart, message: zs.msg ?? `zlib error ${r}` };
        this.err = -EIO;
        return -EIO;
      }
    }
    return size - zs.availOut;
  }
}
