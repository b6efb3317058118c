/**
 * A lazily materialized APKINDEX: the same format and the same checks as {@link parseIndexText}, in one
 * pass over the index bytes, but without building an {@link IndexEntry} per record. The pass validates
 * every line (so the errors and warnings, with their line numbers, are exactly those of
 * `parseIndexText` over the decoded text) and records, per record, where it starts and where its
 * `C:`, `P:`, `V:`, `A:`, `D:`, `p:` and `i:` values are. A record written the way apk-tools writes
 * it, which no check can fault ({@link CANONICAL_RECORD}), is taken by a compiled WebAssembly scan
 * (`index-scan.ts`), which also hashes its names and checksum; any other is read line by line (and,
 * where WebAssembly cannot run the scan, every canonical record in one regular-expression match). A
 * resolve needs the full record of a few hundred packages out of tens of thousands:
 * {@link IndexTable.entry} builds one on first use (and returns that same object afterwards), and the
 * column accessors ({@link IndexTable.name}, {@link IndexTable.provides}…) read a field without
 * building the record.
 *
 * Values are read from the bytes as "binary" strings (one character per byte, Latin-1), which are
 * compact and cheap to make; a value holding bytes 0x80-0xFF is decoded as UTF-8 when it is read. The
 * whole text becomes one such string only when a record is read line by line. The whole text is checked
 * to be valid UTF-8 first, and a leading byte order mark is skipped, as the strict decoder of
 * `fromUtf8` does.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { RepoError } from './errors.ts';
import { identityHash, q1IdentityHash } from './identity.ts';
import { openScanner, STRIDE, type ScanHashes } from './index-scan.ts';
import type { IndexEntry, ParseIndexOptions } from './index-text.ts';

const REC_START = 0;
/** Offset just past the record's last line (its blank line or the end of the text). */
const REC_END = 1;
const C_START = 2;
const C_END = 3;
const P_START = 4;
const P_END = 5;
const V_START = 6;
const V_END = 7;
/** Index into the table's distinct `A:` values, or -1. */
const A_ID = 8;
/** {@link COMPLEX} and {@link CHECKSUM_OK} bits. */
const FLAGS = 9;
/** `D:`, `p:` and `i:` values: start here, end in the next slot (as for C, P and V). */
const D_START = 10;
const PROVIDES_START = 12;
const I_START = 14;

/** A list field given on several lines (or past 64 distinct arches): the accessors read `entry()`. */
const COMPLEX = 1;
/** The `C:` value is a well-formed SHA-1 checksum, so ASCII: read without looking for bytes to decode. */
const CHECKSUM_OK = 2;
/** Known, without looking, to be what `isPrintableRecord` checks (set for a {@link CANONICAL_RECORD}). */
const PRINTABLE_NAMES = 4;

const NON_ASCII = /[\u0080-\u00ff]/;
const NO_TOKENS: readonly string[] = Object.freeze([]);

/** Letters of the fields `parseIndexText` knows, with their bit in a record's "seen" mask. */
const BITS: Readonly<Record<string, number>> = {
  C: 1 << 0,
  P: 1 << 1,
  V: 1 << 2,
  A: 1 << 3,
  T: 1 << 4,
  U: 1 << 5,
  L: 1 << 6,
  o: 1 << 7,
  m: 1 << 8,
  c: 1 << 9,
  S: 1 << 10,
  I: 1 << 11,
  t: 1 << 12,
  k: 1 << 13,
  D: 1 << 14,
  p: 1 << 15,
  i: 1 << 16,
};
/** {@link BITS} by character code (0 for a letter tk does not model). */
const BIT_BY_CODE = new Int32Array(128);
for (const [letter, bit] of Object.entries(BITS)) BIT_BY_CODE[letter.charCodeAt(0)] = bit;
/** The column slot of each letter's value by character code, -1 for none. */
const SLOT_BY_CODE = new Int8Array(128).fill(-1);
SLOT_BY_CODE[0x43 /* C */] = C_START;
SLOT_BY_CODE[0x50 /* P */] = P_START;
SLOT_BY_CODE[0x56 /* V */] = V_START;
SLOT_BY_CODE[0x41 /* A */] = A_ID;
SLOT_BY_CODE[0x44 /* D */] = D_START;
SLOT_BY_CODE[0x70 /* p */] = PROVIDES_START;
SLOT_BY_CODE[0x69 /* i */] = I_START;
const LIST_BITS = BITS['D']! | BITS['p']! | BITS['i']!;
const NUMBER_BITS = BITS['S']! | BITS['I']! | BITS['t']! | BITS['k']!;
const REQUIRED = BITS['C']! | BITS['P']! | BITS['V']!;

function isAsciiLetter(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

/** A binary (one byte per character) string as UTF-8 text. */
function decodeBinary(value: string): string {
  return NON_ASCII.test(value) ? Buffer.from(value, 'latin1').toString('utf8') : value;
}

/** `parseIndexText`'s list split: whitespace-separated tokens, empty ones dropped. */
function splitList(value: string): string[] {
  if (value === '') return [];
  if (value.indexOf(' ') < 0 && value.indexOf('\t') < 0 && !/\s/.test(value)) return [value];
  return value.split(/\s+/).filter((token) => token !== '');
}

/**
 * {@link splitList} over `raw[start, end)` when it is ASCII: split at the ASCII characters `\s` matches
 * (tab, line feed, vertical tab, form feed, carriage return, space); undefined when it is not ASCII.
 */
function splitAscii(raw: string, start: number, end: number): string[] | undefined {
  const tokens: string[] = [];
  let from = -1;
  for (let i = start; i < end; i++) {
    const code = raw.charCodeAt(i);
    if (code > 0x7f) return undefined;
    if (code === 32 || (code >= 9 && code <= 13)) {
      if (from >= 0) tokens.push(raw.slice(from, i));
      from = -1;
    } else if (from < 0) from = i;
  }
  if (from >= 0) tokens.push(raw.slice(from, end));
  return tokens;
}

/** For each character code below 128: 1 for a base64 digit, 2 for a lower-case hex digit (both: 3). */
const DIGIT_KIND = new Uint8Array(128);
for (const char of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/')
  DIGIT_KIND[char.charCodeAt(0)] = 1;
for (const char of '0123456789abcdef') DIGIT_KIND[char.charCodeAt(0)]! |= 2;

/**
 * Whether `raw[start, end)` is a SHA-1 identity checksum as `parseIndexText` checks it:
 * `Q1` + 27 base64 digits + `=`, or `X1` + 40 lower-case hex digits.
 */
function isChecksum(raw: string, start: number, end: number): boolean {
  const q1 = end - start === 30 && raw.startsWith('Q1', start) && raw.charCodeAt(end - 1) === 0x3d;
  const x1 = !q1 && end - start === 42 && raw.startsWith('X1', start);
  if (!q1 && !x1) return false;
  const kind = q1 ? 1 : 2;
  for (let i = start + 2, stop = q1 ? end - 1 : end; i < stop; i++) {
    const code = raw.charCodeAt(i);
    if (code >= 128 || (DIGIT_KIND[code]! & kind) === 0) return false;
  }
  return true;
}

/** Whether `raw[start, end)` holds a byte above 0x7F. */
function hasHighByte(raw: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (raw.charCodeAt(i) > 0x7f) return true;
  return false;
}

/** Whether `raw[start, end)` is 1 to 15 decimal digits (`parseIndexText`'s whole numbers). */
function isDecimal(raw: string, start: number, end: number): boolean {
  if (end <= start || end - start > 15) return false;
  for (let i = start; i < end; i++) {
    const code = raw.charCodeAt(i);
    if (code < 48 || code > 57) return false;
  }
  return true;
}

/**
 * A 25-bit hash of the characters `text[start, end)`: of its length and of its characters, or, past
 * 16 of them, of 16 spread evenly and the last. It reads few characters, in small integers, because it
 * runs once per process over every name of an index, before V8 optimizes anything; names that share
 * it are told apart by comparing them (see `NameHashes`).
 *
 * @param text - the text
 * @param start - first character, default 0
 * @param end - end (exclusive), default the text's length
 * @returns the hash, in 0..2^25-1
 */
export function hashName(text: string, start = 0, end = text.length): number {
  const length = end - start;
  let hash = 5381 + length;
  if (length <= 16) {
    for (let i = start; i < end; i++) hash = ((hash * 59) ^ text.charCodeAt(i)) & 0x1ffffff;
    return hash;
  }
  for (let k = 0; k < 16; k++)
    hash = ((hash * 59) ^ text.charCodeAt(start + ((k * length) >>> 4))) & 0x1ffffff;
  return ((hash * 59) ^ text.charCodeAt(end - 1)) & 0x1ffffff;
}

/**
 * {@link hashName} of ASCII text held as bytes (`bytes[start, end)`), the same number: an element read
 * costs the interpreter less than a `charCodeAt` call.
 */
function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  const length = end - start;
  let hash = 5381 + length;
  if (length <= 16) {
    for (let i = start; i < end; i++) hash = ((hash * 59) ^ bytes[i]!) & 0x1ffffff;
    return hash;
  }
  for (let k = 0; k < 16; k++) hash = ((hash * 59) ^ bytes[start + ((k * length) >>> 4)]!) & 0x1ffffff;
  return ((hash * 59) ^ bytes[end - 1]!) & 0x1ffffff;
}

/** Where the name of a `p:` token starting at `lastIndex` ends (a sticky match). */
const PROVIDE_NAME = /[^=\s]*/y;
/** Where the name of an `i:` token (after its `!`) starting at `lastIndex` ends. */
const INSTALL_IF_NAME = /[^<=>~@\s]*/y;
/** A run of printable ASCII characters and spaces starting at `lastIndex` (a value hashed directly). */
const PRINTABLE = /[ -~]*/y;

/** The end of the name of the token `text[start, ...)`, found by `pattern` (a sticky match). */
function nameEnd(pattern: RegExp, text: string, start: number): number {
  pattern.lastIndex = start;
  pattern.test(text);
  return pattern.lastIndex;
}

/**
 * {@link hashName} of the name a `p:` token provides: the token up to its first `=`.
 *
 * @param token - the token
 * @returns the hash
 */
export function hashProvideName(token: string): number {
  const at = token.indexOf('=');
  return hashName(token, 0, at < 0 ? token.length : at);
}

/**
 * {@link hashName} of the name an `i:` (or `D:`) token mentions: without a leading `!`, up to the
 * first of `<`, `=`, `>`, `~` and `@`.
 *
 * @param token - the token
 * @returns the hash
 */
export function hashInstallIfName(token: string): number {
  const start = token.charCodeAt(0) === 0x21 /* ! */ ? 1 : 0;
  let end = start;
  while (end < token.length && !'<=>~@'.includes(token.charAt(end))) end++;
  return hashName(token, start, end);
}

/**
 * Per record, the {@link hashName} of the names it mentions, in typed arrays: its `P:` name, the name
 * of each `p:` token ({@link hashProvideName}) and of each `i:` token ({@link hashInstallIfName}). The
 * hashes of record `r`'s `p:` tokens are `provideHashes[provideStart[r] .. provideStart[r + 1])`, in
 * token order (the order of {@link IndexTable.provides}); likewise for `i:`.
 */
export interface NameHashes {
  /** Per record: the hash of its `P:` name. */
  readonly own: Int32Array;
  /** Per record, and one past the last: where its `p:` hashes start. */
  readonly provideStart: Int32Array;
  readonly provideHashes: Int32Array;
  /** Per record, and one past the last: where its `i:` hashes start. */
  readonly iifStart: Int32Array;
  readonly iifHashes: Int32Array;
}

/** A typed array at least `needed` long, holding `array`'s values. */
function ensureLength(array: Int32Array<ArrayBuffer>, needed: number): Int32Array<ArrayBuffer> {
  if (needed <= array.length) return array;
  const grown = new Int32Array(Math.max(needed, array.length * 2));
  grown.set(array);
  return grown;
}

/** Per record, its decoded `P:` name and `p:` and `i:` tokens (for records {@link hashNames} cannot read directly). */
interface NameSource {
  name(index: number): string;
  provides(index: number): readonly string[];
  installIf(index: number): readonly string[];
}

/** The index text twice: as a binary string and as the bytes it was made from (`raw[i]` is `bytes[i + offset]`). */
interface RawText {
  readonly raw: string;
  readonly bytes: Uint8Array;
  readonly offset: number;
  readonly cols: Int32Array;
}

/**
 * {@link NameHashes} of records, in one loop that calls out only to native string searches and
 * {@link hashBytes} (it runs once per process, mostly before V8 optimizes it): when `text` is given, a
 * record that is not {@link COMPLEX} and whose `P:`, `p:` and `i:` values are printable ASCII is hashed
 * straight from the text; any other record from the strings `source` gives.
 */
function hashNames(source: NameSource, length: number, text?: RawText): NameHashes {
  const own = new Int32Array(length);
  const provideStart = new Int32Array(length + 1);
  const iifStart = new Int32Array(length + 1);
  let provideHashes = new Int32Array(length * 2 + 16);
  let iifHashes = new Int32Array(length + 16);
  let provideCount = 0;
  let iifCount = 0;
  for (let index = 0; index < length; index++) {
    const base = index * STRIDE;
    if (text !== undefined && isPrintableRecord(text.raw, text.cols, base)) {
      const { raw, bytes, offset, cols } = text;
      own[index] = hashBytes(bytes, cols[base + P_START]! + offset, cols[base + P_END]! + offset);
      for (let field = 0; field < 2; field++) {
        const installIf = field === 1;
        const slot = installIf ? I_START : PROVIDES_START;
        const from = cols[base + slot]!;
        if (from < 0) continue;
        const to = cols[base + slot + 1]!;
        // At most one token per two characters.
        const room = (installIf ? iifCount : provideCount) + ((to - from + 2) >> 1);
        if (installIf) iifHashes = ensureLength(iifHashes, room);
        else provideHashes = ensureLength(provideHashes, room);
        const hashes = installIf ? iifHashes : provideHashes;
        let count = installIf ? iifCount : provideCount;
        for (let at = from; at < to; ) {
          if (raw.charCodeAt(at) === 32) {
            at++;
            continue;
          }
          let tokenEnd = raw.indexOf(' ', at);
          if (tokenEnd < 0 || tokenEnd > to) tokenEnd = to;
          const start = installIf && raw.charCodeAt(at) === 0x21 /* ! */ ? at + 1 : at;
          const end = nameEnd(installIf ? INSTALL_IF_NAME : PROVIDE_NAME, raw, start);
          hashes[count++] = hashBytes(bytes, start + offset, (end < tokenEnd ? end : tokenEnd) + offset);
          at = tokenEnd;
        }
        if (installIf) iifCount = count;
        else provideCount = count;
      }
    } else {
      own[index] = hashName(source.name(index));
      const provides = source.provides(index);
      const installIf = source.installIf(index);
      provideHashes = ensureLength(provideHashes, provideCount + provides.length);
      iifHashes = ensureLength(iifHashes, iifCount + installIf.length);
      for (const token of provides) provideHashes[provideCount++] = hashProvideName(token);
      for (const token of installIf) iifHashes[iifCount++] = hashInstallIfName(token);
    }
    provideStart[index + 1] = provideCount;
    iifStart[index + 1] = iifCount;
  }
  return {
    own,
    provideStart,
    provideHashes: provideHashes.subarray(0, provideCount),
    iifStart,
    iifHashes: iifHashes.subarray(0, iifCount),
  };
}

/** Whether the record at `base` is not {@link COMPLEX} and its `P:`, `p:` and `i:` values are printable ASCII. */
function isPrintableRecord(raw: string, cols: Int32Array, base: number): boolean {
  const flags = cols[base + FLAGS]!;
  if ((flags & COMPLEX) !== 0) return false;
  return (
    (flags & PRINTABLE_NAMES) !== 0 ||
    (isPrintable(raw, cols[base + P_START]!, cols[base + P_END]!) &&
      isPrintable(raw, cols[base + PROVIDES_START]!, cols[base + PROVIDES_START + 1]!) &&
      isPrintable(raw, cols[base + I_START]!, cols[base + I_START + 1]!))
  );
}

/** Whether `raw[start, end)` (none when `start` < 0) holds only printable ASCII characters and spaces. */
function isPrintable(raw: string, start: number, end: number): boolean {
  return start < 0 || nameEnd(PRINTABLE, raw, start) >= end;
}

/**
 * {@link NameHashes} of an array of records.
 *
 * @param entries - the records
 * @returns their name hashes
 */
export function nameHashesOf(entries: readonly IndexEntry[]): NameHashes {
  return hashNames(
    {
      name: (index) => entries[index]!.name,
      provides: (index) => entries[index]!.provides,
      installIf: (index) => entries[index]!.installIf,
    },
    entries.length,
  );
}

/**
 * The records of an APKINDEX, read on demand. Made by {@link parseIndexTable}; immutable.
 */
export class IndexTable {
  /** How many records the index has. */
  readonly length: number;
  #rawText: string | undefined;
  readonly #bytes: Uint8Array;
  readonly #view: Buffer;
  readonly #offset: number;
  readonly #cols: Int32Array;
  readonly #archs: readonly string[];
  readonly #ascii: boolean;
  readonly #cache: (IndexEntry | undefined)[];
  #all: IndexEntry[] | undefined;
  #nameHashes: NameHashes | undefined;
  #identityHashes: Int32Array | undefined;

  /** @internal Use {@link parseIndexTable}. */
  constructor(
    raw: string | undefined,
    bytes: Uint8Array,
    offset: number,
    cols: Int32Array,
    length: number,
    archs: readonly string[],
    ascii: boolean,
    hashes?: ScanHashes,
  ) {
    this.#nameHashes = hashes?.names;
    this.#identityHashes = hashes?.identities;
    this.#ascii = ascii;
    this.#rawText = raw;
    this.#bytes = bytes;
    this.#view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#offset = offset;
    this.#cols = cols;
    this.length = length;
    // Kept raw (one character per byte) while scanning, for comparing with the text.
    this.#archs = archs.map(decodeBinary);
    this.#cache = new Array<IndexEntry | undefined>(length);
  }

  /** The whole text as a binary string: made on first use when the scan did not make it. */
  get #raw(): string {
    this.#rawText ??= this.#view.toString('latin1', this.#offset);
    return this.#rawText;
  }

  /** `text[from, to)` as a binary string, without making the whole text's. */
  #slice(from: number, to: number): string {
    return this.#rawText === undefined
      ? this.#view.toString('latin1', from + this.#offset, to + this.#offset)
      : this.#rawText.slice(from, to);
  }

  #check(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.length)
      throw new RangeError(`index record ${index} out of range (0..${this.length - 1})`);
    return index * STRIDE;
  }

  #complex(base: number): boolean {
    return (this.#cols[base + FLAGS]! & COMPLEX) !== 0;
  }

  #text(base: number, start: number): string {
    const from = this.#cols[base + start]!;
    if (from < 0) return '';
    const to = this.#cols[base + start + 1]!;
    const value = this.#slice(from, to);
    return this.#ascii || !hasHighByte(value, 0, value.length) ? value : decodeBinary(value);
  }

  #list(base: number, start: number): readonly string[] {
    const from = this.#cols[base + start]!;
    if (from < 0) return NO_TOKENS;
    // Not COMPLEX: one line.
    const to = this.#cols[base + start + 1]!;
    const value = this.#slice(from, to);
    return splitAscii(value, 0, value.length) ?? splitList(decodeBinary(value));
  }

  /**
   * The full record, built on first use; the same object on every later call (and in {@link entries}).
   *
   * @param index - position in the index, from 0
   * @returns the record, as {@link parseIndexText} would return it
   * @throws {RangeError} when `index` is out of range
   */
  entry(index: number): IndexEntry {
    const base = this.#check(index);
    return (this.#cache[index] ??= this.#materialize(base));
  }

  /**
   * Every record, in index order (built on first call, the same array afterwards).
   *
   * @returns the records, as {@link parseIndexText} would return them
   */
  entries(): IndexEntry[] {
    if (this.#all !== undefined) return this.#all;
    const all: IndexEntry[] = new Array<IndexEntry>(this.length);
    for (let index = 0; index < this.length; index++) all[index] = this.entry(index);
    this.#all = all;
    return all;
  }

  /**
   * The `P:` name of a record.
   *
   * @param index - position in the index
   * @returns the name
   */
  name(index: number): string {
    const base = this.#check(index);
    return this.#complex(base) ? this.entry(index).name : this.#text(base, P_START);
  }

  /**
   * The `V:` version of a record.
   *
   * @param index - position in the index
   * @returns the version
   */
  version(index: number): string {
    const base = this.#check(index);
    return this.#complex(base) ? this.entry(index).version : this.#text(base, V_START);
  }

  /**
   * The `C:` checksum of a record.
   *
   * @param index - position in the index
   * @returns the checksum as written
   */
  checksum(index: number): string {
    const base = this.#check(index);
    if (this.#complex(base)) return this.entry(index).checksum;
    if ((this.#cols[base + FLAGS]! & CHECKSUM_OK) !== 0)
      return this.#slice(this.#cols[base + C_START]!, this.#cols[base + C_END]!);
    return this.#text(base, C_START);
  }

  /**
   * The `A:` arch of a record.
   *
   * @param index - position in the index
   * @returns the arch, or undefined when the record has none
   */
  arch(index: number): string | undefined {
    const base = this.#check(index);
    if (this.#complex(base)) return this.entry(index).arch;
    const id = this.#cols[base + A_ID]!;
    return id < 0 ? undefined : this.#archs[id];
  }

  /**
   * The `D:` tokens of a record (do not mutate).
   *
   * @param index - position in the index
   * @returns the tokens
   */
  depends(index: number): readonly string[] {
    const base = this.#check(index);
    return this.#complex(base) ? this.entry(index).depends : this.#list(base, D_START);
  }

  /**
   * The `p:` tokens of a record (do not mutate).
   *
   * @param index - position in the index
   * @returns the tokens
   */
  provides(index: number): readonly string[] {
    const base = this.#check(index);
    return this.#complex(base) ? this.entry(index).provides : this.#list(base, PROVIDES_START);
  }

  /**
   * The `i:` tokens of a record (do not mutate).
   *
   * @param index - position in the index
   * @returns the tokens
   */
  installIf(index: number): readonly string[] {
    const base = this.#check(index);
    return this.#complex(base) ? this.entry(index).installIf : this.#list(base, I_START);
  }

  /**
   * The hashes of the names each record mentions (see {@link NameHashes}), computed on first call
   * from the index text without building strings (the same object afterwards).
   *
   * @returns the hashes
   */
  nameHashes(): NameHashes {
    this.#nameHashes ??= hashNames(this, this.length, {
      raw: this.#raw,
      bytes: this.#bytes,
      offset: this.#offset,
      cols: this.#cols,
    });
    return this.#nameHashes;
  }

  /**
   * Per record, the {@link identityHash} of its `C:` checksum, computed on first call (the same array
   * afterwards; do not mutate): a well-formed `Q1` checksum is hashed from the index bytes without
   * building its string.
   *
   * @returns the hashes, in index order
   */
  identityHashes(): Int32Array {
    if (this.#identityHashes !== undefined) return this.#identityHashes;
    const hashes = new Int32Array(this.length);
    const cols = this.#cols;
    for (let index = 0; index < this.length; index++) {
      const base = index * STRIDE;
      const start = cols[base + C_START]!;
      hashes[index] =
        (cols[base + FLAGS]! & (COMPLEX | CHECKSUM_OK)) === CHECKSUM_OK &&
        this.#bytes[start + this.#offset] === 0x51 /* Q */
          ? q1IdentityHash(this.#bytes, start + this.#offset)
          : identityHash(this.checksum(index));
    }
    this.#identityHashes = hashes;
    return hashes;
  }

  #materialize(base: number): IndexEntry {
    // The record's own text: positions below are relative to its start.
    const raw = this.#slice(this.#cols[base + REC_START]!, this.#cols[base + REC_END]!);
    const end = raw.length;
    const entry: IndexEntry = {
      checksum: '',
      name: '',
      version: '',
      depends: [],
      provides: [],
      installIf: [],
      other: [],
    };
    let pos = 0;
    while (pos < end) {
      let nl = raw.indexOf('\n', pos);
      if (nl < 0 || nl > end) nl = end;
      let stop = nl;
      if (stop > pos && raw.charCodeAt(stop - 1) === 13) stop--;
      // The scan has checked every line: a line is either malformed (skipped, as parseIndexText does)
      // or `X:value` with a valid number where one is due.
      if (stop - pos >= 2 && raw.charCodeAt(pos + 1) === 58 && isAsciiLetter(raw.charCodeAt(pos))) {
        const letter = raw[pos]!;
        const value = decodeBinary(raw.slice(pos + 2, stop));
        switch (letter) {
          case 'C':
            entry.checksum = value;
            break;
          case 'P':
            entry.name = value;
            break;
          case 'V':
            entry.version = value;
            break;
          case 'A':
            entry.arch = value;
            break;
          case 'T':
            entry.description = value;
            break;
          case 'U':
            entry.url = value;
            break;
          case 'L':
            entry.license = value;
            break;
          case 'o':
            entry.origin = value;
            break;
          case 'm':
            entry.maintainer = value;
            break;
          case 'c':
            entry.commit = value;
            break;
          case 'S':
            entry.size = Number(value);
            break;
          case 'I':
            entry.installedSize = Number(value);
            break;
          case 't':
            entry.buildTime = Number(value);
            break;
          case 'k':
            entry.providerPriority = Number(value);
            break;
          case 'D':
          case 'p':
          case 'i': {
            const key = letter === 'D' ? 'depends' : letter === 'p' ? 'provides' : 'installIf';
            const list = splitList(value);
            const known = entry[key];
            if (known.length === 0) entry[key] = list;
            else for (const token of list) known.push(token);
            break;
          }
          default:
            entry.other.push([letter, value]);
            if (letter >= 'A' && letter <= 'Z') entry.uninstallable = true;
        }
      }
      pos = nl + 1;
    }
    return entry;
  }
}

/**
 * Parse the bytes of an `APKINDEX` into an {@link IndexTable}: the checks, errors and warnings of
 * {@link parseIndexText} over the same text, without building the records (see the module comment).
 *
 * @param bytes - the `APKINDEX` file's content (UTF-8)
 * @param options - strictness and warning sink, as for {@link parseIndexText}
 * @returns the table
 * @throws {RepoError} REPO_BAD_INDEX: the bytes are not UTF-8, and every case where
 *   {@link parseIndexText} throws
 * @example
 * const table = parseIndexTable(bytes);
 * table.name(0); // 'busybox'
 * table.entry(0).description;
 */
export function parseIndexTable(bytes: Uint8Array, options: ParseIndexOptions = {}): IndexTable {
  const ascii = isAscii(bytes);
  if (!ascii && !isUtf8(bytes)) new Reporter(options).fail(1, 'the index is not valid UTF-8');
  return scanIndex(bytes, options, ascii);
}

/**
 * {@link parseIndexTable} for bytes known to be UTF-8 (`readIndexArchive` checks them first).
 *
 * @param bytes - the `APKINDEX` content, valid UTF-8
 * @param options - as for {@link parseIndexTable}
 * @param ascii - whether every byte is below 0x80
 * @returns the table
 * @throws {RepoError} REPO_BAD_INDEX as {@link parseIndexTable}
 */
export function scanIndex(
  bytes: Uint8Array,
  options: ParseIndexOptions,
  ascii: boolean,
  engine: 'wasm' | 'typescript' = 'wasm',
): IndexTable {
  const report = new Reporter(options);
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The text as a binary string, made when a record is read line by line (always without the fast
  // path): an index the fast path takes whole is never copied into one. Empty until then.
  let raw = engine === 'wasm' ? '' : view.toString('latin1', bom);
  const length = bytes.length - bom;

  // Sized once from the blank lines (records end with one; CRLF files and missing blank lines grow it).
  // A record the fast path takes ends with a blank line or the text, so it takes at most this many.
  let blankLines = 1;
  for (let at = view.indexOf('\n\n', bom); at >= 0; at = view.indexOf('\n\n', at + 2)) blankLines++;
  let cols: Int32Array = new Int32Array(STRIDE * (blankLines + 1));
  let count = 0;
  const scanner = engine === 'wasm' ? openScanner(bytes.subarray(bom), blankLines) : undefined;
  // Without the fast path, the distinct A: values (raw); with it, the scanner numbers them for both paths.
  const archs: string[] = [];
  // The record being read: its base in `cols` (-1 between records), letters seen, repeated ones.
  let base = -1;
  let seen = 0;
  let recordLine = 0;
  let repeated = 0;
  let unknownSeen = 0;

  // The loop keeps its state in locals and calls out only for what is rare (messages, growth, a record
  // taken whole by CANONICAL_RECORD), so that it runs as one tight loop: a resolve reads every line of a
  // large index once.
  let pos = 0;
  let lineNumber = 0;
  // Where the lines that CANONICAL_RECORD matched start (-1: none since lineNumber was last counted).
  let uncounted = -1;
  for (;;) {
    if (base < 0 && bytes[pos + bom] === 0x43 /* C */) {
      if (scanner !== undefined) {
        const run = scanner.take(pos, cols, count);
        if (run.taken > 0) {
          cols = run.cols;
          count += run.taken;
          if (uncounted < 0) uncounted = pos;
          pos = run.next;
          continue;
        }
      } else {
        CANONICAL_RECORD.lastIndex = pos;
        const match = CANONICAL_RECORD.exec(raw);
        if (match !== null) {
          if ((count + 1) * STRIDE > cols.length) cols = grow(cols);
          fillCanonical(cols, count * STRIDE, archs, raw, pos, CANONICAL_RECORD.lastIndex, match);
          count++;
          if (uncounted < 0) uncounted = pos;
          pos = CANONICAL_RECORD.lastIndex;
          continue;
        }
      }
    }
    const atEnd = pos >= length;
    // A text with a line to read is not empty, so neither is its string once made.
    if (!atEnd && raw === '') raw = view.toString('latin1', bom);
    let nl = atEnd ? length : raw.indexOf('\n', pos);
    if (nl < 0) nl = length;
    let end = nl;
    if (!atEnd) {
      if (uncounted >= 0) {
        lineNumber += countLines(raw, uncounted, pos);
        uncounted = -1;
      }
      lineNumber++;
      if (end > pos && raw.charCodeAt(end - 1) === 13) end--;
    }
    if (atEnd || end === pos) {
      // A blank line (or the end of the text) ends the record, if one is open.
      if (base >= 0) {
        finishRecord(report, raw, cols, base, seen, recordLine);
        cols[base + REC_END] = atEnd ? length : pos;
        count++;
        base = -1;
        seen = 0;
        repeated = 0;
        unknownSeen = 0;
      }
      if (atEnd) break;
    } else if (end - pos < 2 || raw.charCodeAt(pos + 1) !== 58 || !isAsciiLetter(raw.charCodeAt(pos))) {
      report.malformed(lineNumber, raw, pos, end);
    } else {
      if (base < 0) {
        if ((count + 1) * STRIDE > cols.length) cols = grow(cols);
        base = count * STRIDE;
        cols.fill(-1, base, base + STRIDE);
        cols[base + REC_START] = pos;
        cols[base + FLAGS] = 0;
        recordLine = lineNumber;
      }
      const code = raw.charCodeAt(pos);
      const start = pos + 2;
      const bit = BIT_BY_CODE[code]!;
      if (bit === 0) {
        // An unknown upper-case letter (A-Z is 26 bits past the known ones' mask) is reported once per record.
        if (code <= 0x5a /* Z */ && (unknownSeen & (1 << (code - 0x41))) === 0) {
          unknownSeen |= 1 << (code - 0x41);
          report.unknown(lineNumber, raw, cols, base, seen, code);
        }
      } else {
        if ((seen & bit) !== 0) {
          if ((bit & LIST_BITS) !== 0) cols[base + FLAGS]! |= COMPLEX;
          else if ((repeated & bit) === 0) {
            repeated |= bit;
            report.repeated(lineNumber, code);
          }
        }
        seen |= bit;
        if ((bit & NUMBER_BITS) !== 0) {
          if (!isDecimal(raw, start, end)) report.notNumber(lineNumber, raw, code, start, end);
        } else {
          const slot = SLOT_BY_CODE[code]!;
          if (slot === A_ID) {
            const id = scanner === undefined ? archId(archs, raw, start, end) : scanner.archId(start, end);
            // Past 64 distinct arches (a crafted index), the record is read through entry().
            if (id < 0) cols[base + FLAGS]! |= COMPLEX;
            cols[base + A_ID] = id;
          } else if (slot >= 0) {
            cols[base + slot] = start;
            cols[base + slot + 1] = end;
          }
        }
      }
    }
    pos = nl + 1;
  }
  if (scanner === undefined) return new IndexTable(raw, bytes, bom, cols, count, archs, ascii);
  for (const [start, end] of scanner.archRanges())
    archs.push(view.toString('latin1', start + bom, end + bom));
  return new IndexTable(raw || undefined, scanner.text, 0, cols, count, archs, ascii, scanner.hashes(count));
}

/**
 * A record as apk-tools writes it, which the per-line checks would pass without a message: its fields in
 * apk-tools' order, each at most once, `C:` a Q1 SHA-1, `P:` and `V:` not empty, the numbers 1 to 15
 * digits, no carriage return, `P:`, `p:` and `i:` printable ASCII (see {@link PRINTABLE_NAMES}), ended by a
 * blank line or the end of the text. Captures `P:`, `V:`, `A:`, `D:`, `p:` and `i:`. Matching a whole record
 * in one native regular-expression run costs a fraction of reading its lines one by one before V8
 * optimizes the loop; any other record is read line by line.
 *
 * @internal exported for tests
 */
export const CANONICAL_RECORD =
  /C:Q1[A-Za-z0-9+/]{27}=\nP:([ -~]+)\nV:([^\n\r]+)\n(?:A:([^\n\r]*)\n)?(?:S:\d{1,15}\n)?(?:I:\d{1,15}\n)?(?:T:[^\n\r]*\n)?(?:U:[^\n\r]*\n)?(?:L:[^\n\r]*\n)?(?:o:[^\n\r]*\n)?(?:m:[^\n\r]*\n)?(?:t:\d{1,15}\n)?(?:c:[^\n\r]*\n)?(?:k:\d{1,15}\n)?(?:D:([^\n\r]*)\n)?(?:p:([ -~]*)\n)?(?:i:([ -~]*)\n)?(?:\n|$)/y;

/** The column of {@link CANONICAL_RECORD}'s list captures: group 4 is `D:`, 5 `p:`, 6 `i:`. */
const LIST_SLOT_BY_GROUP = [-1, -1, -1, -1, D_START, PROVIDES_START, I_START];

/**
 * Fill the columns of a record {@link CANONICAL_RECORD} matched at `start`, ending at `next`, as the
 * per-line loop would: the value positions follow from the captured values' lengths, `C:` to `A:` from
 * the start, `i:`, `p:` and `D:` back from the end.
 */
function fillCanonical(
  cols: Int32Array,
  base: number,
  archs: string[],
  raw: string,
  start: number,
  next: number,
  match: RegExpExecArray,
): void {
  cols.fill(-1, base, base + STRIDE);
  cols[base + REC_START] = start;
  cols[base + FLAGS] = CHECKSUM_OK | PRINTABLE_NAMES;
  cols[base + C_START] = start + 2;
  cols[base + C_END] = start + 32;
  const pStart = start + 35;
  const pEnd = pStart + match[1]!.length;
  cols[base + P_START] = pStart;
  cols[base + P_END] = pEnd;
  const vEnd = pEnd + 3 + match[2]!.length;
  cols[base + V_START] = pEnd + 3;
  cols[base + V_END] = vEnd;
  const arch = match[3];
  if (arch !== undefined) {
    const id = archId(archs, raw, vEnd + 3, vEnd + 3 + arch.length);
    if (id < 0) cols[base + FLAGS]! |= COMPLEX;
    cols[base + A_ID] = id;
  }
  // The match ends after a blank line or, at the end of the text, after the last field's line feed. A field
  // line is never empty (it holds at least its letter and colon), so two line feeds before `next` mean a
  // blank line, which the record (as the per-line loop records it) does not include.
  const recordEnd = raw.charCodeAt(next - 2) === 10 ? next - 1 : next;
  cols[base + REC_END] = recordEnd;
  let linesEnd = recordEnd;
  for (let group = 6; group >= 4; group--) {
    const value = match[group];
    if (value === undefined) continue;
    const slot = LIST_SLOT_BY_GROUP[group]!;
    cols[base + slot + 1] = linesEnd - 1;
    cols[base + slot] = linesEnd - 1 - value.length;
    linesEnd -= value.length + 3;
  }
}

/** How many lines start in `raw[start, end)` (`end` starts a line). */
function countLines(raw: string, start: number, end: number): number {
  let lines = 0;
  for (let at = raw.indexOf('\n', start); at >= 0 && at < end; at = raw.indexOf('\n', at + 1)) lines++;
  return lines;
}

function grow(cols: Int32Array): Int32Array {
  const grown = new Int32Array(cols.length * 2);
  grown.set(cols);
  return grown;
}

/** The index of `raw[start, end)` among the distinct `A:` values (added when new), or -1 past 64 of them. */
function archId(archs: string[], raw: string, start: number, end: number): number {
  for (let known = 0; known < archs.length; known++) {
    const arch = archs[known]!;
    if (arch.length === end - start && raw.startsWith(arch, start)) return known;
  }
  return archs.length < 64 ? archs.push(raw.slice(start, end)) - 1 : -1;
}

/** A column value as text (UTF-8 decoded). */
function columnText(raw: string, cols: Int32Array, base: number, slot: number): string {
  return cols[base + slot]! < 0 ? '' : decodeBinary(raw.slice(cols[base + slot], cols[base + slot + 1]));
}

/** The end-of-record checks of `parseIndexText`: P, V and C present and not empty; a SHA-1 checksum. */
function finishRecord(
  report: Reporter,
  raw: string,
  cols: Int32Array,
  base: number,
  seen: number,
  recordLine: number,
): void {
  // An unset slot is -1, -1: "empty" covers both.
  const emptyP = cols[base + P_START] === cols[base + P_END];
  const emptyV = cols[base + V_START] === cols[base + V_END];
  const emptyC = cols[base + C_START] === cols[base + C_END];
  if ((seen & REQUIRED) !== REQUIRED || emptyP || emptyV || emptyC)
    report.fail(recordLine, `record has no ${emptyP ? 'P' : emptyV ? 'V' : 'C'}: field`);
  if (isChecksum(raw, cols[base + C_START]!, cols[base + C_END]!)) cols[base + FLAGS]! |= CHECKSUM_OK;
  else {
    report.warn(
      recordLine,
      `${columnText(raw, cols, base, P_START)}: C: ${JSON.stringify(columnText(raw, cols, base, C_START).slice(0, 40))} is not a Q1 SHA-1 checksum`,
      'REPO_INDEX_BAD_CHECKSUM',
    );
  }
}

/** The errors and warnings of a parse, worded as `parseIndexText` words them. */
class Reporter {
  readonly #options: ParseIndexOptions;
  readonly #source: string;

  constructor(options: ParseIndexOptions) {
    this.#options = options;
    this.#source = options.source ?? 'APKINDEX';
  }

  fail(line: number, message: string): never {
    throw new RepoError('REPO_BAD_INDEX', `${this.#source}:${line}: ${message}`, {
      hint: 'the repository index is corrupt; regenerate it (tk melange index)',
    });
  }

  /** A recoverable problem: thrown in strict mode, else reported. */
  warn(line: number, message: string, code: string): void {
    if (this.#options.strict === true) this.fail(line, message);
    this.#options.warn?.(`${this.#source}:${line}: ${message}`, code);
  }

  malformed(line: number, raw: string, start: number, end: number): void {
    const text = decodeBinary(raw.slice(start, end));
    this.warn(line, `malformed line ${JSON.stringify(text.slice(0, 60))}`, 'REPO_INDEX_BAD_LINE');
  }

  unknown(line: number, raw: string, cols: Int32Array, base: number, seen: number, code: number): void {
    const name = (seen & BITS['P']!) === 0 ? '' : columnText(raw, cols, base, P_START);
    const letter = String.fromCharCode(code);
    this.#options.warn?.(
      `${this.#source}:${line}: unknown field ${letter}: makes ${name || '?'} uninstallable for apk-tools`,
      'REPO_INDEX_UNKNOWN_FIELD',
    );
  }

  repeated(line: number, code: number): void {
    const letter = String.fromCharCode(code);
    this.warn(
      line,
      `field ${letter}: appears more than once in one record; the last is used (as apk-tools does)`,
      'REPO_INDEX_REPEATED_FIELD',
    );
  }

  notNumber(line: number, raw: string, code: number, start: number, end: number): never {
    const text = decodeBinary(raw.slice(start, end));
    return this.fail(
      line,
      `${String.fromCharCode(code)}: is not a whole number: ${JSON.stringify(text.slice(0, 40))}`,
    );
  }
}
