/**
 * Hostile-input-safe gzip reading: split a file into its members (apk packages are 2-3 concatenated
 * members; the boundaries matter because signatures cover raw compressed members), check each header,
 * CRC-32 and length, and never inflate more than the caller allows.
 *
 * Header (RFC 1952 §2.3): ID1 ID2 CM FLG MTIME(4) XFL OS, then optional FEXTRA (2-byte length + data),
 * FNAME and FCOMMENT (NUL-terminated), FHCRC (2 bytes). Reserved flag bits must be zero.
 */
import { kMaxLength } from 'node:buffer';
import { crc32, inflateRaw as inflateRawCallback, inflateRawSync } from 'node:zlib';
import { concatBytes } from '@tk/core';
import { GzipError } from './errors.ts';

const FTEXT = 0x01;
const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const FRESERVED = 0xe0;
const FIXED_HEADER_SIZE = 10;
const TRAILER_SIZE = 8;
/** Default cap on decompressed bytes per call: 1 GiB. */
export const DEFAULT_MAX_OUTPUT = 1 << 30;

/** A parsed gzip member header. */
export interface GzipHeader {
  /** Bytes the header occupies. */
  length: number;
  /** MTIME field (Unix seconds; readers must ignore it). */
  mtime: number;
  /** XFL field. */
  extraFlags: number;
  /** OS field. */
  os: number;
  /** FNAME, when present (Latin-1). */
  name?: string;
  /** FCOMMENT, when present (Latin-1). */
  comment?: string;
  /** Whether FTEXT is set. */
  text: boolean;
}

/** One member of a gzip file. */
export interface GzipMember {
  /** Offset of the member's first byte (`1f`) in the file. */
  start: number;
  /** Offset just past the member's last trailer byte. */
  end: number;
  header: GzipHeader;
  /** The decompressed content. */
  data: Uint8Array;
}

/** Limits for reading. */
export interface GunzipOptions {
  /** Cap on decompressed bytes over all members. Default 1 GiB. */
  maxOutputBytes?: number;
  /** Stop after this many members (the rest is left unread). */
  maxMembers?: number;
}

function readCString(data: Uint8Array, offset: number, memberStart: number): { value: string; next: number } {
  const end = data.indexOf(0, offset);
  if (end < 0) throw truncated(memberStart, 'header string');
  return {
    value: Buffer.from(data.buffer, data.byteOffset + offset, end - offset).toString('latin1'),
    next: end + 1,
  };
}

function truncated(offset: number, where: string): GzipError {
  return new GzipError('GZIP_TRUNCATED', `gzip member at byte ${offset} is truncated (in its ${where})`, {
    hint: 'the file is incomplete: download or copy it again',
    data: { offset },
  });
}

/**
 * Parse the header of the member starting at `offset`.
 *
 * @param data - the file
 * @param offset - where the member starts
 * @returns the header and its length
 * @throws {GzipError} GZIP_BAD_HEADER, GZIP_TRUNCATED
 */
export function parseGzipHeader(data: Uint8Array, offset = 0): GzipHeader {
  if (data.length - offset < FIXED_HEADER_SIZE) throw truncated(offset, 'header');
  if (data[offset] !== 0x1f || data[offset + 1] !== 0x8b) {
    throw new GzipError(
      'GZIP_BAD_HEADER',
      `no gzip member at byte ${offset} (magic ${hexByte(data[offset])}${hexByte(data[offset + 1])}, expected 1f8b)`,
      {
        hint: 'the file is not gzip-compressed or is corrupt',
        data: { offset },
      },
    );
  }
  if (data[offset + 2] !== 8) {
    throw new GzipError(
      'GZIP_BAD_HEADER',
      `gzip member at byte ${offset} uses compression method ${data[offset + 2]}, not deflate (8)`,
      { data: { offset } },
    );
  }
  const flags = data[offset + 3] ?? 0;
  if ((flags & FRESERVED) !== 0) {
    throw new GzipError(
      'GZIP_BAD_HEADER',
      `gzip member at byte ${offset} sets reserved flag bits (${flags.toString(2)})`,
      { data: { offset } },
    );
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const header: GzipHeader = {
    length: 0,
    mtime: view.getUint32(offset + 4, true),
    extraFlags: data[offset + 8] ?? 0,
    os: data[offset + 9] ?? 0,
    text: (flags & FTEXT) !== 0,
  };
  let pos = offset + FIXED_HEADER_SIZE;
  if ((flags & FEXTRA) !== 0) {
    if (data.length - pos < 2) throw truncated(offset, 'extra field');
    pos += 2 + view.getUint16(pos, true);
    if (pos > data.length) throw truncated(offset, 'extra field');
  }
  if ((flags & FNAME) !== 0) {
    const s = readCString(data, pos, offset);
    header.name = s.value;
    pos = s.next;
  }
  if ((flags & FCOMMENT) !== 0) {
    const s = readCString(data, pos, offset);
    header.comment = s.value;
    pos = s.next;
  }
  if ((flags & FHCRC) !== 0) {
    pos += 2;
    if (pos > data.length) throw truncated(offset, 'header CRC');
  }
  header.length = pos - offset;
  return header;
}

function hexByte(b: number | undefined): string {
  return b === undefined ? '--' : b.toString(16).padStart(2, '0');
}

/** Deflate's largest possible expansion: a 258-byte match coded in 2 bits (RFC 1951 §3.2.5). */
const MAX_DEFLATE_RATIO = 1032;
/** Output chunk size when no usable size hint is known (node:zlib's default is 16 KiB). */
const FALLBACK_CHUNK = 64 * 1024;
/** Node's smallest allowed `chunkSize`. */
const MIN_CHUNK = 64;
/** Largest Buffer Node can make, so the largest `maxOutputLength` it accepts. */
const MAX_BUFFER = kMaxLength;

/** node:zlib's sync result with `info: true` (its typings give only the Buffer). */
interface InflateInfo {
  buffer: Buffer;
  engine: { bytesWritten: number };
}

function inflateRaw(body: Uint8Array, chunkSize: number, maxOutputLength: number): InflateInfo {
  return inflateRawSync(body, { info: true, chunkSize, maxOutputLength }) as unknown as InflateInfo;
}

function tooLarge(start: number, budget: number, cause?: unknown): GzipError {
  return new GzipError(
    'GZIP_TOO_LARGE',
    `gzip member at byte ${start} decompresses to more than the ${budget}-byte limit`,
    {
      hint: 'the input is larger than allowed (or a decompression bomb); raise the limit only for trusted input',
      ...(cause === undefined ? {} : { cause }),
      data: { offset: start, limit: budget },
    },
  );
}

function isOutputLimit(error: unknown): boolean {
  return (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError;
}

function inflateError(error: unknown, start: number, budget: number): GzipError {
  if (isOutputLimit(error)) return tooLarge(start, budget, error);
  if ((error as { code?: string }).code === 'Z_BUF_ERROR') return truncated(start, 'deflate data');
  return new GzipError(
    'GZIP_BAD_DATA',
    `gzip member at byte ${start} has corrupt deflate data: ${(error as Error).message}`,
    {
      hint: 'the file is corrupt: download or copy it again',
      cause: error,
      data: { offset: start },
    },
  );
}

/**
 * The decompressed size to preallocate for the member whose deflate data starts at `bodyStart`, or
 * `undefined` for none. The guess is the file's last four bytes: the ISIZE of its last member, which is
 * this member's size when it is the last one (an apk's data member, where the bytes are). It is only a
 * hint, never trusted: a file may lie in it, end early or carry trailing bytes, and earlier members have
 * other sizes. A hint above the output budget or above what the remaining compressed bytes can expand to
 * is refused, so a lie can cost at most an untouched allocation no larger than a real bomb of the same
 * size could fill; a hint that is too small costs at most one aborted pass over `hint` output bytes.
 */
function sizeHint(data: Uint8Array, bodyStart: number, budget: number): number | undefined {
  const available = data.length - bodyStart - TRAILER_SIZE;
  if (available <= 0) return undefined;
  const hint = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(data.length - 4, true);
  return hint <= budget && hint <= MAX_BUFFER - 1 && hint <= available * MAX_DEFLATE_RATIO ? hint : undefined;
}

/**
 * Inflate one member's deflate data. With a size hint, the first pass writes into one buffer of exactly
 * `hint + 1` bytes and stops as soon as the output outgrows the hint; when the hint was right (the last
 * member of a well-formed file) that buffer is the result, with no chunk list and no concatenation. A
 * hint that is too small falls back to inflating in {@link FALLBACK_CHUNK}-byte chunks up to the budget,
 * which alone decides GZIP_TOO_LARGE; the other errors are properties of the data, the same in either pass,
 * so no error code depends on the hint.
 */
function inflateBody(body: Uint8Array, start: number, budget: number, hint: number | undefined): InflateInfo {
  const maxOutputLength = Math.max(1, Math.min(budget, MAX_BUFFER));
  if (hint !== undefined) {
    try {
      return inflateRaw(body, Math.max(MIN_CHUNK, hint + 1), Math.max(1, hint));
    } catch (error) {
      // More output than the hint said (or the buffer could not be had): fall back. Anything else is a
      // property of the data, the same for any chunking.
      if (!isOutputLimit(error)) throw inflateError(error, start, budget);
    }
  }
  try {
    return inflateRaw(body, FALLBACK_CHUNK, maxOutputLength);
  } catch (error) {
    throw inflateError(error, start, budget);
  }
}

/**
 * A view of `out`, copied into its own right-sized buffer when it sits in a much larger one (a hint that
 * was too big, or a mostly empty chunk), so that what callers keep does not pin the slack.
 */
function trimmed(out: Buffer): Uint8Array {
  const slack = out.buffer.byteLength - out.byteLength;
  if (slack > FALLBACK_CHUNK / 4 && slack > out.byteLength >>> 3) return new Uint8Array(out);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** The checks after a member's deflate data is inflated: the limit, the trailer, CRC-32 and length. */
function finishMember(
  data: Uint8Array,
  start: number,
  bodyStart: number,
  budget: number,
  result: InflateInfo,
): { data: Uint8Array; end: number } {
  if (result.buffer.byteLength > budget) throw tooLarge(start, budget);
  const bodyEnd = bodyStart + result.engine.bytesWritten;
  if (bodyEnd + TRAILER_SIZE > data.length) throw truncated(start, 'trailer');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const expectedCrc = view.getUint32(bodyEnd, true);
  const expectedSize = view.getUint32(bodyEnd + 4, true);
  const out = trimmed(result.buffer);
  if (crc32(out) >>> 0 !== expectedCrc || out.length >>> 0 !== expectedSize) {
    throw new GzipError('GZIP_BAD_CHECKSUM', `gzip member at byte ${start} fails its CRC-32/length check`, {
      hint: 'the file is corrupt: download or copy it again',
      data: { offset: start },
    });
  }
  return { data: out, end: bodyEnd + TRAILER_SIZE };
}

/**
 * Split a file into its gzip members, decompressing each.
 *
 * @param data - the whole file
 * @param options - output cap, member cap
 * @returns the members in file order, with their raw byte ranges
 * @throws {GzipError} on bad headers, truncation, corrupt data, checksum mismatches and limits
 * @example
 * const [signature, control, ...data] = splitGzipMembers(apkBytes);
 */
export function splitGzipMembers(data: Uint8Array, options: GunzipOptions = {}): GzipMember[] {
  const steps = memberSteps(data, options);
  for (let step = steps.next(); ; ) {
    if (step.done === true) return step.value;
    const { body, start, budget, hint } = step.value;
    step = steps.next(inflateBody(body, start, budget, hint));
  }
}

/** What a member needs inflated: its deflate data, where it starts, the output budget, the size hint. */
interface InflateRequest {
  body: Uint8Array;
  start: number;
  budget: number;
  hint: number | undefined;
}

/**
 * The member walk shared by {@link splitGzipMembers} and {@link splitGzipMembersAsync}: yields each member's
 * inflate request, takes the inflated result back, checks it and moves on; returns the members.
 */
function* memberSteps(
  data: Uint8Array,
  options: GunzipOptions,
): Generator<InflateRequest, GzipMember[], InflateInfo> {
  const members: GzipMember[] = [];
  let budget = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  let offset = 0;
  if (data.length === 0) throw truncated(0, 'header');
  while (offset < data.length && members.length < (options.maxMembers ?? Infinity)) {
    const header = parseGzipHeader(data, offset);
    const bodyStart = offset + header.length;
    const hint = sizeHint(data, bodyStart, budget);
    const result = yield { body: data.subarray(bodyStart), start: offset, budget, hint };
    const member = finishMember(data, offset, bodyStart, budget, result);
    budget -= member.data.length;
    members.push({ start: offset, end: member.end, header, data: member.data });
    offset = member.end;
  }
  return members;
}

/** {@link inflateRaw} on libuv's thread pool: the main thread stays free while a member inflates. */
function inflateRawAsync(body: Uint8Array, chunkSize: number, maxOutputLength: number): Promise<InflateInfo> {
  return new Promise((resolve, reject) => {
    inflateRawCallback(body, { info: true, chunkSize, maxOutputLength }, (error, result) => {
      if (error !== null) reject(error);
      else resolve(result as unknown as InflateInfo);
    });
  });
}

/** {@link inflateBody} with the inflating done off the main thread; the same passes and errors. */
async function inflateBodyAsync(
  body: Uint8Array,
  start: number,
  budget: number,
  hint: number | undefined,
): Promise<InflateInfo> {
  const maxOutputLength = Math.max(1, Math.min(budget, MAX_BUFFER));
  if (hint !== undefined) {
    try {
      return await inflateRawAsync(body, Math.max(MIN_CHUNK, hint + 1), Math.max(1, hint));
    } catch (error) {
      if (!isOutputLimit(error)) throw inflateError(error, start, budget);
    }
  }
  try {
    return await inflateRawAsync(body, FALLBACK_CHUNK, maxOutputLength);
  } catch (error) {
    throw inflateError(error, start, budget);
  }
}

/**
 * {@link splitGzipMembers}, with each member inflated on libuv's thread pool, so that several files (the
 * packages of an image) inflate on several cores at once. Same results, limits and errors.
 *
 * @param data - the whole file
 * @param options - output cap, member cap
 * @returns the members in file order, with their raw byte ranges
 * @throws {GzipError} on bad headers, truncation, corrupt data, checksum mismatches and limits
 * @example
 * const [signature, control, ...data] = await splitGzipMembersAsync(apkBytes);
 */
export async function splitGzipMembersAsync(
  data: Uint8Array,
  options: GunzipOptions = {},
): Promise<GzipMember[]> {
  const steps = memberSteps(data, options);
  for (let step = steps.next(); ; ) {
    if (step.done === true) return step.value;
    const { body, start, budget, hint } = step.value;
    step = steps.next(await inflateBodyAsync(body, start, budget, hint));
  }
}

/**
 * Decompress every member and concatenate the results (a multistream gunzip).
 *
 * @param data - gzip bytes
 * @param options - output cap
 * @returns the decompressed bytes
 * @throws {GzipError} as {@link splitGzipMembers}
 */
export function gunzip(data: Uint8Array, options: GunzipOptions = {}): Uint8Array {
  const members = splitGzipMembers(data, options);
  if (members.length === 1 && members[0] !== undefined) return members[0].data;
  return concatBytes(members.map((m) => m.data));
}

/** Options for {@link gunzipMismatch}. */
export interface GunzipMismatchOptions {
  /**
   * The decompressed size members usually have (a writer's block size): each member is inflated into one
   * buffer of that size plus one byte, so a member of that size or less costs one pass and no copies.
   * Default: the whole expected size.
   */
  memberSize?: number;
}

/**
 * Why `data` is not a well-formed gzip file whose decompressed bytes are exactly `expected`, or undefined
 * when it is. Every member's header, deflate data, CRC-32 and length are checked, and each member's output
 * is compared with the expected bytes as it comes, so nothing is inflated beyond `expected`'s size in total
 * and no concatenated copy is made. Members may split the content anywhere. Proves that a cached blob is
 * the compression of given content (`@tk/oci`'s layer cache).
 *
 * @param data - gzip bytes
 * @param expected - the content, in pieces (a tar writer's chunks), concatenated
 * @param options - the usual member size
 * @returns a reason, or undefined when `data` decompresses to `expected`
 * @example
 * gunzipMismatch(gzipSync(utf8('hi')), [utf8('hi')]) // undefined
 */
export function gunzipMismatch(
  data: Uint8Array,
  expected: readonly Uint8Array[],
  options: GunzipMismatchOptions = {},
): string | undefined {
  let total = 0;
  for (const piece of expected) total += piece.length;
  const hint = options.memberSize ?? total;
  const memberSize = Number.isSafeInteger(hint) && hint > 0 ? Math.min(hint, total) : total;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let offset = 0;
  let produced = 0;
  let piece = 0;
  let pieceOffset = 0;
  /** Compare `out` with the expected bytes at `produced`. */
  const matches = (out: Uint8Array): boolean => {
    let done = 0;
    while (done < out.length) {
      const current = expected[piece];
      if (current === undefined) return false;
      const n = Math.min(current.length - pieceOffset, out.length - done);
      if (Buffer.compare(out.subarray(done, done + n), current.subarray(pieceOffset, pieceOffset + n)) !== 0)
        return false;
      done += n;
      pieceOffset += n;
      if (pieceOffset === current.length) {
        piece += 1;
        pieceOffset = 0;
      }
    }
    return true;
  };
  if (data.length === 0) return 'it is empty';
  while (offset < data.length) {
    let header: GzipHeader;
    try {
      header = parseGzipHeader(data, offset);
    } catch (error) {
      return (error as Error).message;
    }
    const left = total - produced;
    const bodyStart = offset + header.length;
    let result: InflateInfo;
    try {
      result = inflateRaw(
        data.subarray(bodyStart),
        Math.max(MIN_CHUNK, Math.min(memberSize, left) + 1),
        Math.max(left, 1),
      );
    } catch (error) {
      if (isOutputLimit(error)) return `it decompresses to more than the expected ${total} bytes`;
      return inflateError(error, offset, left).message;
    }
    const out = result.buffer;
    if (out.length > left) return `it decompresses to more than the expected ${total} bytes`;
    const bodyEnd = bodyStart + result.engine.bytesWritten;
    if (bodyEnd + TRAILER_SIZE > data.length) return truncated(offset, 'trailer').message;
    if (!matches(out)) return `its member at byte ${offset} differs from the expected bytes`;
    if (
      crc32(out) >>> 0 !== view.getUint32(bodyEnd, true) ||
      out.length >>> 0 !== view.getUint32(bodyEnd + 4, true)
    )
      return `its member at byte ${offset} fails its CRC-32/length check`;
    produced += out.length;
    offset = bodyEnd + TRAILER_SIZE;
  }
  if (produced !== total) return `it decompresses to ${produced} bytes, not the expected ${total}`;
  return undefined;
}

/**
 * {@link gunzipMismatch} with the members inflated at the same time on libuv's thread pool, when the file
 * looks like a block writer's output: members that all start with the first member's header bytes (a fixed
 * header with no name or comment), as many as `memberSize` blocks need, each but the last decompressing to
 * exactly `memberSize` bytes. Member boundaries found that way are only guesses (the header bytes could also
 * occur inside compressed data): every guessed member must be a complete gzip member that ends exactly where
 * the next begins, decompresses to its block and passes its CRC-32 and length check, which together is
 * exactly a well-formed file of that content. Whenever a guess does not hold, or the file has another shape,
 * the sequential {@link gunzipMismatch} gives the verdict, so the answer is always the same; the work is
 * bounded by the expected size either way.
 *
 * @param data - gzip bytes
 * @param expected - the content, in pieces, concatenated
 * @param options - the writer's block size (without it, the sequential check runs)
 * @returns a reason, or undefined when `data` decompresses to `expected`
 * @example
 * await gunzipMismatchAsync(layerBlob, tarChunks, { memberSize: 1 << 20 }) // undefined
 */
export async function gunzipMismatchAsync(
  data: Uint8Array,
  expected: readonly Uint8Array[],
  options: GunzipMismatchOptions = {},
): Promise<string | undefined> {
  const ranges = guessMembers(data, expected, options.memberSize);
  if (ranges !== undefined && (await membersMatch(data, expected, ranges))) return undefined;
  return gunzipMismatch(data, expected, options);
}

/** A guessed member: where its deflate data starts and where the member ends (after its trailer). */
interface MemberRange {
  bodyStart: number;
  end: number;
  /** Its block of the expected content. */
  outStart: number;
  outEnd: number;
}

function guessMembers(
  data: Uint8Array,
  expected: readonly Uint8Array[],
  memberSize: number | undefined,
): MemberRange[] | undefined {
  let total = 0;
  for (const piece of expected) total += piece.length;
  if (memberSize === undefined || !Number.isSafeInteger(memberSize) || memberSize <= 0 || total === 0)
    return undefined;
  let header: GzipHeader;
  try {
    header = parseGzipHeader(data, 0);
  } catch {
    return undefined;
  }
  if (header.length !== FIXED_HEADER_SIZE) return undefined;
  const count = Math.ceil(total / memberSize);
  const pattern = Buffer.from(data.buffer, data.byteOffset, header.length);
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const starts: number[] = [];
  for (let at = 0; at >= 0 && at < bytes.length; at = bytes.indexOf(pattern, at + 1)) {
    starts.push(at);
    if (starts.length > count) return undefined;
  }
  if (starts.length !== count) return undefined;
  return starts.map((start, i) => ({
    bodyStart: start + header.length,
    end: starts[i + 1] ?? data.length,
    outStart: i * memberSize,
    outEnd: Math.min((i + 1) * memberSize, total),
  }));
}

/** Whether every guessed member is complete, ends where the next begins and is its block, checksums included. */
async function membersMatch(
  data: Uint8Array,
  expected: readonly Uint8Array[],
  ranges: readonly MemberRange[],
): Promise<boolean> {
  const offsets: number[] = [];
  let at = 0;
  for (const piece of expected) {
    offsets.push(at);
    at += piece.length;
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const results = await Promise.all(
    ranges.map(async (range) => {
      const size = range.outEnd - range.outStart;
      if (range.end - TRAILER_SIZE < range.bodyStart) return false;
      let result: InflateInfo;
      try {
        result = await inflateRawAsync(
          data.subarray(range.bodyStart, range.end - TRAILER_SIZE),
          Math.max(MIN_CHUNK, size + 1),
          Math.max(size, 1),
        );
      } catch {
        return false;
      }
      const out = result.buffer;
      return (
        out.length === size &&
        range.bodyStart + result.engine.bytesWritten === range.end - TRAILER_SIZE &&
        equalsAt(expected, offsets, range.outStart, out) &&
        crc32(out) >>> 0 === view.getUint32(range.end - TRAILER_SIZE, true) &&
        out.length >>> 0 === view.getUint32(range.end - 4, true)
      );
    }),
  );
  return results.every(Boolean);
}

/** Whether `out` equals the concatenation of `pieces` (starting at `offsets`) from byte `start` on. */
function equalsAt(
  pieces: readonly Uint8Array[],
  offsets: readonly number[],
  start: number,
  out: Uint8Array,
): boolean {
  let lo = 0;
  let hi = offsets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid]! <= start) lo = mid;
    else hi = mid - 1;
  }
  let piece = lo;
  let within = start - (offsets[piece] ?? 0);
  let done = 0;
  while (done < out.length) {
    const current = pieces[piece];
    if (current === undefined) return false;
    const n = Math.min(current.length - within, out.length - done);
    if (n > 0 && Buffer.compare(out.subarray(done, done + n), current.subarray(within, within + n)) !== 0)
      return false;
    done += n;
    piece += 1;
    within = 0;
  }
  return true;
}
