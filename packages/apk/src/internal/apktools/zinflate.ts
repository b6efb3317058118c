/**
 * A line-by-line port of zlib 1.2.13's `inflate()` (`inflate.c`, `inftrees.c`; the version apk-tools 2.14.10
 * links), used to predict exactly what apk-tools sees when a gzip member is damaged: how much output comes
 * out before zlib reports an error, which error, and at which point of the input.
 *
 * Only the slow path is ported: zlib's `inflate_fast()` decodes the same symbols with the same checks, so
 * outputs, errors and the points where a call returns are identical. The window is exact as well (a
 * distance is "too far back" when it reaches before the member's first output byte). Opened with
 * `inflateInit2(15 + 32)` as apk-tools does: a gzip or zlib header is detected automatically.
 */
import { crc32 } from 'node:zlib';

export const Z_OK = 0;
export const Z_STREAM_END = 1;
export const Z_NEED_DICT = 2;
export const Z_DATA_ERROR = -3;
export const Z_BUF_ERROR = -5;

// Modes, in zlib's order (comparisons such as `mode < BAD` rely on it).
const HEAD = 0;
const FLAGS = 1;
const TIME = 2;
const OS = 3;
const EXLEN = 4;
const EXTRA = 5;
const NAME = 6;
const COMMENT = 7;
const HCRC = 8;
const DICTID = 9;
const DICT = 10;
const TYPE = 11;
const TYPEDO = 12;
const STORED = 13;
const COPY_ = 14;
const COPY = 15;
const TABLE = 16;
const LENLENS = 17;
const CODELENS = 18;
const LEN_ = 19;
const LEN = 20;
const LENEXT = 21;
const DIST = 22;
const DISTEXT = 23;
const MATCH = 24;
const LIT = 25;
const CHECK = 26;
const LENGTH = 27;
const DONE = 28;
const BAD = 29;

const CODES = 0;
const LENS = 1;
const DISTS = 2;
const MAXBITS = 15;
const ENOUGH_LENS = 852;
const ENOUGH_DISTS = 592;
const ENOUGH = ENOUGH_LENS + ENOUGH_DISTS;

const ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
const LBASE = [
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195,
  227, 258, 0, 0,
];
const LEXT = [
  16, 16, 16, 16, 16, 16, 16, 16, 17, 17, 17, 17, 18, 18, 18, 18, 19, 19, 19, 19, 20, 20, 20, 20, 21, 21, 21,
  21, 16, 194, 65,
];
const DBASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
  6145, 8193, 12289, 16385, 24577, 0, 0,
];
const DEXT = [
  16, 16, 16, 16, 17, 17, 18, 18, 19, 19, 20, 20, 21, 21, 22, 22, 23, 23, 24, 24, 25, 25, 26, 26, 27, 27, 28,
  28, 29, 29, 64, 64,
];

// A table entry `code { op, bits, val }` packed as op | bits << 8 | val << 16.
const opOf = (c: number): number => c & 0xff;
const bitsOf = (c: number): number => (c >>> 8) & 0xff;
const valOf = (c: number): number => c >>> 16;
const pack = (op: number, bits: number, val: number): number => (op | (bits << 8) | (val << 16)) >>> 0;

/**
 * `inflate_table()`: build decoding tables for a canonical Huffman code.
 *
 * @returns 0, -1 for an over-subscribed or incomplete code, 1 when ENOUGH is not enough; `next` advanced
 */
function inflateTable(
  type: number,
  lens: Uint16Array,
  lensOffset: number,
  codes: number,
  table: Uint32Array,
  start: number,
  rootBits: number,
  work: Uint16Array,
): { ret: number; bits: number; next: number } {
  const count = new Uint16Array(MAXBITS + 1);
  const offs = new Uint16Array(MAXBITS + 1);
  for (let sym = 0; sym < codes; sym++) count[lens[lensOffset + sym]!]!++;
  let root = rootBits;
  let max = MAXBITS;
  for (; max >= 1; max--) if (count[max] !== 0) break;
  if (root > max) root = max;
  if (max === 0) {
    const here = pack(64, 1, 0);
    table[start] = here;
    table[start + 1] = here;
    return { ret: 0, bits: 1, next: start + 2 };
  }
  let min = 1;
  for (; min < max; min++) if (count[min] !== 0) break;
  if (root < min) root = min;
  let left = 1;
  for (let len = 1; len <= MAXBITS; len++) {
    left <<= 1;
    left -= count[len]!;
    if (left < 0) return { ret: -1, bits: rootBits, next: start };
  }
  if (left > 0 && (type === CODES || max !== 1)) return { ret: -1, bits: rootBits, next: start };
  offs[1] = 0;
  for (let len = 1; len < MAXBITS; len++) offs[len + 1] = offs[len]! + count[len]!;
  for (let sym = 0; sym < codes; sym++) {
    const l = lens[lensOffset + sym]!;
    if (l !== 0) work[offs[l]!++] = sym;
  }
  let base: readonly number[] | Uint16Array;
  let extra: readonly number[] | Uint16Array;
  let match: number;
  if (type === CODES) {
    base = extra = work;
    match = 20;
  } else if (type === LENS) {
    base = LBASE;
    extra = LEXT;
    match = 257;
  } else {
    base = DBASE;
    extra = DEXT;
    match = 0;
  }
  let huff = 0;
  let sym = 0;
  let len = min;
  let next = start;
  let curr = root;
  let drop = 0;
  let low = -1;
  let used = 1 << root;
  const mask = used - 1;
  if ((type === LENS && used > ENOUGH_LENS) || (type === DISTS && used > ENOUGH_DISTS))
    return { ret: 1, bits: rootBits, next: start };
  for (;;) {
    const w = work[sym]!;
    let here: number;
    if (w + 1 < match) here = pack(0, len - drop, w);
    else if (w >= match) here = pack(extra[w - match]!, len - drop, base[w - match]!);
    else here = pack(32 + 64, len - drop, 0);
    let incr = 1 << (len - drop);
    let fill = 1 << curr;
    min = fill;
    do {
      fill -= incr;
      table[next + (huff >>> drop) + fill] = here;
    } while (fill !== 0);
    incr = 1 << (len - 1);
    while (huff & incr) incr >>>= 1;
    if (incr !== 0) {
      huff &= incr - 1;
      huff += incr;
    } else huff = 0;
    sym++;
    if (--count[len]! === 0) {
      if (len === max) break;
      len = lens[lensOffset + work[sym]!]!;
    }
    if (len > root && (huff & mask) !== low) {
      if (drop === 0) drop = root;
      next += min;
      curr = len - drop;
      left = 1 << curr;
      while (curr + drop < max) {
        left -= count[curr + drop]!;
        if (left <= 0) break;
        curr++;
        left <<= 1;
      }
      used += 1 << curr;
      if ((type === LENS && used > ENOUGH_LENS) || (type === DISTS && used > ENOUGH_DISTS))
        return { ret: 1, bits: rootBits, next: start };
      low = huff & mask;
      table[start + low] = pack(curr, root, next - start);
    }
  }
  if (huff !== 0) table[next + huff] = pack(64, len - drop, 0);
  return { ret: 0, bits: root, next: start + used };
}

interface FixedTables {
  table: Uint32Array;
  lenStart: number;
  distStart: number;
}
let fixed: FixedTables | undefined;

function fixedTables(): FixedTables {
  if (fixed !== undefined) return fixed;
  const lens = new Uint16Array(320);
  const work = new Uint16Array(288);
  const table = new Uint32Array(544);
  let sym = 0;
  while (sym < 144) lens[sym++] = 8;
  while (sym < 256) lens[sym++] = 9;
  while (sym < 280) lens[sym++] = 7;
  while (sym < 288) lens[sym++] = 8;
  const l = inflateTable(LENS, lens, 0, 288, table, 0, 9, work);
  lens.fill(5, 0, 32);
  const d = inflateTable(DISTS, lens, 0, 32, table, l.next, 5, work);
  fixed = { table, lenStart: 0, distStart: l.next };
  void d;
  return fixed;
}

function adler32(adler: number, data: Uint8Array, start: number, end: number): number {
  let a = adler & 0xffff;
  let b = adler >>> 16;
  for (let i = start; i < end; i++) {
    a = (a + data[i]!) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** zlib's `z_stream`, reduced to what apk-tools uses. Input and output are windows of caller arrays. */
export interface ZStream {
  input: Uint8Array;
  nextIn: number;
  availIn: number;
  output: Uint8Array;
  nextOut: number;
  availOut: number;
  /** zlib's `msg` after an error. */
  msg?: string;
}

/** One gzip/zlib member being inflated, as after `inflateInit2(&zs, 15 + 32)`. */
export class ZInflate {
  private mode = HEAD;
  private last = 0;
  private wrap = 7;
  private havedict = 0;
  private flags = -1;
  private check = 0;
  private total = 0;
  private wbits = 15;
  private wsize = 0;
  private whave = 0;
  private wnext = 0;
  private window: Uint8Array | undefined;
  private hold = 0;
  private bits = 0;
  private length = 0;
  private offset = 0;
  private extra = 0;
  private table = new Uint32Array(ENOUGH);
  private lenTable: Uint32Array = this.table;
  private lenStart = 0;
  private lenbits = 0;
  private distTable: Uint32Array = this.table;
  private distStart = 0;
  private distbits = 0;
  private ncode = 0;
  private nlen = 0;
  private ndist = 0;
  private have = 0;
  private lens = new Uint16Array(320);
  private work = new Uint16Array(288);
  private readonly hbuf = new Uint8Array(4);

  /** Bytes of output so far (zlib's `total_out` for this member). */
  get totalOut(): number {
    return this.total;
  }

  private crcHeader(word: number, n: number): void {
    for (let i = 0; i < n; i++) this.hbuf[i] = (word >>> (8 * i)) & 0xff;
    this.check = crc32(this.hbuf.subarray(0, n), this.check) >>> 0;
  }

  private updateWindow(output: Uint8Array, end: number, copyIn: number): void {
    let copy = copyIn;
    if (this.window === undefined) this.window = new Uint8Array(1 << this.wbits);
    if (this.wsize === 0) {
      this.wsize = 1 << this.wbits;
      this.wnext = 0;
      this.whave = 0;
    }
    const window = this.window;
    if (copy >= this.wsize) {
      window.set(output.subarray(end - this.wsize, end), 0);
      this.wnext = 0;
      this.whave = this.wsize;
    } else {
      let dist = this.wsize - this.wnext;
      if (dist > copy) dist = copy;
      window.set(output.subarray(end - copy, end - copy + dist), this.wnext);
      copy -= dist;
      if (copy) {
        window.set(output.subarray(end - copy, end), 0);
        this.wnext = copy;
        this.whave = this.wsize;
      } else {
        this.wnext += dist;
        if (this.wnext === this.wsize) this.wnext = 0;
        if (this.whave < this.wsize) this.whave += dist;
      }
    }
  }

  private updateCheck(output: Uint8Array, start: number, len: number): void {
    this.check =
      this.flags !== 0
        ? crc32(output.subarray(start, start + len), this.check) >>> 0
        : adler32(this.check, output, start, start + len);
  }

  /**
   * `inflate(strm, Z_NO_FLUSH)`.
   *
   * @param strm - input and output windows; updated as zlib updates them
   * @returns Z_OK, Z_STREAM_END, Z_NEED_DICT, Z_DATA_ERROR (with `strm.msg`) or Z_BUF_ERROR
   */
  inflate(strm: ZStream): number {
    if (this.mode === TYPE) this.mode = TYPEDO;
    const input = strm.input;
    const output = strm.output;
    let next = strm.nextIn;
    let have = strm.availIn;
    let put = strm.nextOut;
    let left = strm.availOut;
    let hold = this.hold;
    let bits = this.bits;
    const inStart = have;
    let out = left;
    let ret = Z_OK;
    let here = 0;
    let copy = 0;
    let len = 0;

    // PULLBYTE: false means "leave, no input".
    const pull = (): boolean => {
      if (have === 0) return false;
      have--;
      hold = (hold | (input[next++]! << bits)) >>> 0;
      bits += 8;
      return true;
    };
    const need = (n: number): boolean => {
      while (bits < n) if (!pull()) return false;
      return true;
    };
    const take = (n: number): number => hold & ((1 << n) - 1);
    const drop = (n: number): void => {
      hold >>>= n;
      bits -= n;
    };

    leave: for (;;) {
      switch (this.mode) {
        case HEAD: {
          if (!need(16)) break leave;
          if ((this.wrap & 2) !== 0 && hold === 0x8b1f) {
            this.check = 0;
            this.crcHeader(hold, 2);
            hold = 0;
            bits = 0;
            this.mode = FLAGS;
            break;
          }
          if ((this.wrap & 1) === 0 || ((take(8) << 8) + (hold >>> 8)) % 31 !== 0) {
            strm.msg = 'incorrect header check';
            this.mode = BAD;
            break;
          }
          if (take(4) !== 8) {
            strm.msg = 'unknown compression method';
            this.mode = BAD;
            break;
          }
          drop(4);
          len = take(4) + 8;
          if (len > 15 || len > this.wbits) {
            strm.msg = 'invalid window size';
            this.mode = BAD;
            break;
          }
          this.flags = 0;
          this.check = 1;
          this.mode = (hold & 0x200) !== 0 ? DICTID : TYPE;
          hold = 0;
          bits = 0;
          break;
        }
        case FLAGS: {
          if (!need(16)) break leave;
          this.flags = hold;
          if ((this.flags & 0xff) !== 8) {
            strm.msg = 'unknown compression method';
            this.mode = BAD;
            break;
          }
          if ((this.flags & 0xe000) !== 0) {
            strm.msg = 'unknown header flags set';
            this.mode = BAD;
            break;
          }
          if ((this.flags & 0x0200) !== 0) this.crcHeader(hold, 2);
          hold = 0;
          bits = 0;
          this.mode = TIME;
          break;
        }
        case TIME: {
          if (!need(32)) break leave;
          if ((this.flags & 0x0200) !== 0) this.crcHeader(hold, 4);
          hold = 0;
          bits = 0;
          this.mode = OS;
          break;
        }
        case OS: {
          if (!need(16)) break leave;
          if ((this.flags & 0x0200) !== 0) this.crcHeader(hold, 2);
          hold = 0;
          bits = 0;
          this.mode = EXLEN;
          break;
        }
        case EXLEN: {
          if ((this.flags & 0x0400) !== 0) {
            if (!need(16)) break leave;
            this.length = hold;
            if ((this.flags & 0x0200) !== 0) this.crcHeader(hold, 2);
            hold = 0;
            bits = 0;
          }
          this.mode = EXTRA;
          break;
        }
        case EXTRA: {
          if ((this.flags & 0x0400) !== 0) {
            copy = this.length;
            if (copy > have) copy = have;
            if (copy) {
              if ((this.flags & 0x0200) !== 0)
                this.check = crc32(input.subarray(next, next + copy), this.check) >>> 0;
              have -= copy;
              next += copy;
              this.length -= copy;
            }
            if (this.length) break leave;
          }
          this.length = 0;
          this.mode = NAME;
          break;
        }
        case NAME:
        case COMMENT: {
          const flag = this.mode === NAME ? 0x0800 : 0x1000;
          if ((this.flags & flag) !== 0) {
            if (have === 0) break leave;
            copy = 0;
            do len = input[next + copy++]!;
            while (len && copy < have);
            if ((this.flags & 0x0200) !== 0)
              this.check = crc32(input.subarray(next, next + copy), this.check) >>> 0;
            have -= copy;
            next += copy;
            if (len) break leave;
          }
          this.length = 0;
          this.mode = this.mode === NAME ? COMMENT : HCRC;
          break;
        }
        case HCRC: {
          if ((this.flags & 0x0200) !== 0) {
            if (!need(16)) break leave;
            if (hold !== (this.check & 0xffff)) {
              strm.msg = 'header crc mismatch';
              this.mode = BAD;
              break;
            }
            hold = 0;
            bits = 0;
          }
          this.check = 0;
          this.mode = TYPE;
          break;
        }
        case DICTID: {
          if (!need(32)) break leave;
          hold = 0;
          bits = 0;
          this.mode = DICT;
          break;
        }
        case DICT: {
          if (this.havedict === 0) {
            strm.nextIn = next;
            strm.availIn = have;
            strm.nextOut = put;
            strm.availOut = left;
            this.hold = hold;
            this.bits = bits;
            return Z_NEED_DICT;
          }
          this.mode = TYPE;
          break;
        }
        case TYPE:
        case TYPEDO: {
          if (this.last) {
            hold >>>= bits & 7;
            bits -= bits & 7;
            this.mode = CHECK;
            break;
          }
          if (!need(3)) break leave;
          this.last = take(1);
          drop(1);
          switch (take(2)) {
            case 0:
              this.mode = STORED;
              break;
            case 1: {
              const f = fixedTables();
              this.lenTable = f.table;
              this.lenStart = f.lenStart;
              this.lenbits = 9;
              this.distTable = f.table;
              this.distStart = f.distStart;
              this.distbits = 5;
              this.mode = LEN_;
              break;
            }
            case 2:
              this.mode = TABLE;
              break;
            default:
              strm.msg = 'invalid block type';
              this.mode = BAD;
          }
          drop(2);
          break;
        }
        case STORED: {
          hold >>>= bits & 7;
          bits -= bits & 7;
          if (!need(32)) break leave;
          if ((hold & 0xffff) !== ((hold >>> 16) ^ 0xffff)) {
            strm.msg = 'invalid stored block lengths';
            this.mode = BAD;
            break;
          }
          this.length = hold & 0xffff;
          hold = 0;
          bits = 0;
          this.mode = COPY;
          break;
        }
        case COPY_:
        case COPY: {
          this.mode = COPY;
          copy = this.length;
          if (copy) {
            if (copy > have) copy = have;
            if (copy > left) copy = left;
            if (copy === 0) break leave;
            output.set(input.subarray(next, next + copy), put);
            have -= copy;
            next += copy;
            left -= copy;
            put += copy;
            this.length -= copy;
            break;
          }
          this.mode = TYPE;
          break;
        }
        case TABLE: {
          if (!need(14)) break leave;
          this.nlen = take(5) + 257;
          drop(5);
          this.ndist = take(5) + 1;
          drop(5);
          this.ncode = take(4) + 4;
          drop(4);
          if (this.nlen > 286 || this.ndist > 30) {
            strm.msg = 'too many length or distance symbols';
            this.mode = BAD;
            break;
          }
          this.have = 0;
          this.mode = LENLENS;
          break;
        }
        case LENLENS: {
          while (this.have < this.ncode) {
            if (!need(3)) break leave;
            this.lens[ORDER[this.have++]!] = take(3);
            drop(3);
          }
          while (this.have < 19) this.lens[ORDER[this.have++]!] = 0;
          const t = inflateTable(CODES, this.lens, 0, 19, this.table, 0, 7, this.work);
          this.lenTable = this.table;
          this.lenStart = 0;
          this.lenbits = t.bits;
          if (t.ret) {
            strm.msg = 'invalid code lengths set';
            this.mode = BAD;
            break;
          }
          this.have = 0;
          this.mode = CODELENS;
          break;
        }
        case CODELENS: {
          let bad = false;
          while (this.have < this.nlen + this.ndist) {
            for (;;) {
              here = this.lenTable[this.lenStart + take(this.lenbits)]!;
              if (bitsOf(here) <= bits) break;
              if (!pull()) break leave;
            }
            const hv = valOf(here);
            const hb = bitsOf(here);
            if (hv < 16) {
              drop(hb);
              this.lens[this.have++] = hv;
            } else {
              if (hv === 16) {
                if (!need(hb + 2)) break leave;
                drop(hb);
                if (this.have === 0) {
                  strm.msg = 'invalid bit length repeat';
                  this.mode = BAD;
                  bad = true;
                  break;
                }
                len = this.lens[this.have - 1]!;
                copy = 3 + take(2);
                drop(2);
              } else if (hv === 17) {
                if (!need(hb + 3)) break leave;
                drop(hb);
                len = 0;
                copy = 3 + take(3);
                drop(3);
              } else {
                if (!need(hb + 7)) break leave;
                drop(hb);
                len = 0;
                copy = 11 + take(7);
                drop(7);
              }
              if (this.have + copy > this.nlen + this.ndist) {
                strm.msg = 'invalid bit length repeat';
                this.mode = BAD;
                bad = true;
                break;
              }
              while (copy--) this.lens[this.have++] = len;
            }
          }
          if (bad) break;
          if (this.lens[256] === 0) {
            strm.msg = 'invalid code -- missing end-of-block';
            this.mode = BAD;
            break;
          }
          const l = inflateTable(LENS, this.lens, 0, this.nlen, this.table, 0, 9, this.work);
          this.lenTable = this.table;
          this.lenStart = 0;
          this.lenbits = l.bits;
          if (l.ret) {
            strm.msg = 'invalid literal/lengths set';
            this.mode = BAD;
            break;
          }
          const d = inflateTable(DISTS, this.lens, this.nlen, this.ndist, this.table, l.next, 6, this.work);
          this.distTable = this.table;
          this.distStart = l.next;
          this.distbits = d.bits;
          if (d.ret) {
            strm.msg = 'invalid distances set';
            this.mode = BAD;
            break;
          }
          this.mode = LEN;
          break;
        }
        case LEN_:
        case LEN: {
          this.mode = LEN;
          for (;;) {
            here = this.lenTable[this.lenStart + take(this.lenbits)]!;
            if (bitsOf(here) <= bits) break;
            if (!pull()) break leave;
          }
          let op = opOf(here);
          if (op && (op & 0xf0) === 0) {
            const lastCode = here;
            const lb = bitsOf(lastCode);
            for (;;) {
              here = this.lenTable[this.lenStart + valOf(lastCode) + (take(lb + opOf(lastCode)) >>> lb)]!;
              if (lb + bitsOf(here) <= bits) break;
              if (!pull()) break leave;
            }
            drop(lb);
            op = opOf(here);
          }
          drop(bitsOf(here));
          this.length = valOf(here);
          if (op === 0) {
            this.mode = LIT;
            break;
          }
          if (op & 32) {
            this.mode = TYPE;
            break;
          }
          if (op & 64) {
            strm.msg = 'invalid literal/length code';
            this.mode = BAD;
            break;
          }
          this.extra = op & 15;
          this.mode = LENEXT;
          break;
        }
        case LENEXT: {
          if (this.extra) {
            if (!need(this.extra)) break leave;
            this.length += take(this.extra);
            drop(this.extra);
          }
          this.mode = DIST;
          break;
        }
        case DIST: {
          for (;;) {
            here = this.distTable[this.distStart + take(this.distbits)]!;
            if (bitsOf(here) <= bits) break;
            if (!pull()) break leave;
          }
          if ((opOf(here) & 0xf0) === 0) {
            const lastCode = here;
            const lb = bitsOf(lastCode);
            for (;;) {
              here = this.distTable[this.distStart + valOf(lastCode) + (take(lb + opOf(lastCode)) >>> lb)]!;
              if (lb + bitsOf(here) <= bits) break;
              if (!pull()) break leave;
            }
            drop(lb);
          }
          drop(bitsOf(here));
          if (opOf(here) & 64) {
            strm.msg = 'invalid distance code';
            this.mode = BAD;
            break;
          }
          this.offset = valOf(here);
          this.extra = opOf(here) & 15;
          this.mode = DISTEXT;
          break;
        }
        case DISTEXT: {
          if (this.extra) {
            if (!need(this.extra)) break leave;
            this.offset += take(this.extra);
            drop(this.extra);
          }
          this.mode = MATCH;
          break;
        }
        case MATCH: {
          if (left === 0) break leave;
          copy = out - left;
          let fromArray: Uint8Array;
          let from: number;
          if (this.offset > copy) {
            copy = this.offset - copy;
            if (copy > this.whave) {
              strm.msg = 'invalid distance too far back';
              this.mode = BAD;
              break;
            }
            fromArray = this.window!;
            if (copy > this.wnext) {
              copy -= this.wnext;
              from = this.wsize - copy;
            } else from = this.wnext - copy;
            if (copy > this.length) copy = this.length;
          } else {
            fromArray = output;
            from = put - this.offset;
            copy = this.length;
          }
          if (copy > left) copy = left;
          left -= copy;
          this.length -= copy;
          do output[put++] = fromArray[from++]!;
          while (--copy);
          if (this.length === 0) this.mode = LEN;
          break;
        }
        case LIT: {
          if (left === 0) break leave;
          output[put++] = this.length;
          left--;
          this.mode = LEN;
          break;
        }
        case CHECK: {
          if (!need(32)) break leave;
          out -= left;
          this.total = (this.total + out) >>> 0;
          if (out) this.updateCheck(output, put - out, out);
          out = left;
          const stored =
            this.flags !== 0
              ? hold
              : (((hold & 0xff) << 24) | ((hold & 0xff00) << 8) | ((hold >>> 8) & 0xff00) | (hold >>> 24)) >>>
                0;
          if (stored !== this.check) {
            strm.msg = 'incorrect data check';
            this.mode = BAD;
            break;
          }
          hold = 0;
          bits = 0;
          this.mode = LENGTH;
          break;
        }
        case LENGTH: {
          if (this.flags !== 0) {
            if (!need(32)) break leave;
            if (hold !== this.total) {
              strm.msg = 'incorrect length check';
              this.mode = BAD;
              break;
            }
            hold = 0;
            bits = 0;
          }
          this.mode = DONE;
          ret = Z_STREAM_END;
          break leave;
        }
        case DONE:
          ret = Z_STREAM_END;
          break leave;
        default:
          // BAD
          ret = Z_DATA_ERROR;
          break leave;
      }
      if (this.mode === BAD) {
        ret = Z_DATA_ERROR;
        break leave;
      }
    }

    // inf_leave
    strm.nextIn = next;
    strm.availIn = have;
    strm.nextOut = put;
    strm.availOut = left;
    this.hold = hold;
    this.bits = bits;
    if (this.wsize || (out !== left && this.mode < BAD)) this.updateWindow(output, put, out - left);
    const consumed = inStart - have;
    const produced = out - left;
    this.total = (this.total + produced) >>> 0;
    if (produced) this.updateCheck(output, put - produced, produced);
    if (consumed === 0 && produced === 0 && ret === Z_OK) ret = Z_BUF_ERROR;
    return ret;
  }
}
