/**
 * The WebAssembly fast path of {@link scanIndex} (`wasm/tk-index-scan.c`, built by `wasm/build.sh`):
 * from a record's start, it takes every following record written exactly as apk-tools writes it (the
 * records `CANONICAL_RECORD` matches), fills their columns, and hashes their names and checksums as
 * `hashName`, `hashProvideName`, `hashInstallIfName` and `q1IdentityHash` do. A resolve scans every
 * record of a large index once per process, before V8 optimizes any JavaScript; the compiled loop does
 * it in a fraction of the time. Records it does not take are read by the TypeScript scan.
 *
 * Each scan has its own instance: its memory holds the text and the hashes, which the table it makes
 * keeps (views, never copies).
 */
import { readFileSync } from 'node:fs';
import type { NameHashes } from './index-table.ts';

/** Slots per record in an index table's column array (the C file's `STRIDE`; `index-table.ts` uses this one). */
export const STRIDE = 16;
/** Records taken per call at most: the columns of one call are copied out before the next. */
const RUN = 1024;

// The parameter block's slots (tk-index-scan.c).
const PARAM_TEXT = 0;
const PARAM_LENGTH = 1;
const PARAM_POS = 2;
const PARAM_COLS = 3;
const PARAM_COLS_ROOM = 4;
const PARAM_DONE = 5;
const PARAM_OWN = 6;
const PARAM_IDENTITY = 7;
const PARAM_PROVIDE_START = 8;
const PARAM_PROVIDE_HASHES = 9;
const PARAM_IIF_START = 10;
const PARAM_IIF_HASHES = 11;
const PARAM_RECORD_ROOM = 12;
const PARAM_TOKEN_ROOM = 13;
const PARAM_COUNT = 14;

const PAGE = 65536;
/** WebAssembly's 32-bit memory: 4 GiB in pages. */
const MAX_PAGES = 65536;

/** The part of the WebAssembly API used here (the DOM lib, which declares it, is not loaded). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface ScanExports {
  readonly memory: WasmMemory;
  readonly __heap_base: { readonly value: number };
  tk_scan(params: number): number;
  tk_scan_reset(): void;
  tk_arch_id(text: number, start: number, end: number): number;
  tk_arch_count(): number;
  tk_arch_start(id: number): number;
  tk_arch_length(id: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

/** The compiled module; null when this engine cannot compile it (no WebAssembly SIMD). */
let compiled: object | null | undefined;

function instantiate(): ScanExports | undefined {
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  if (compiled === undefined) {
    const bytes = readFileSync(new URL('../wasm/tk-index-scan.wasm', import.meta.url));
    try {
      compiled = new wasm.Module(bytes);
    } catch {
      // A CPU without the vector instructions V8's WebAssembly SIMD needs: the TypeScript scan reads.
      compiled = null;
    }
  }
  return compiled === null ? undefined : (new wasm.Instance(compiled, {}).exports as ScanExports);
}

/** A record as apk-tools writes it, for {@link warmUpScanner}. */
const WARM_UP_RECORD =
  'C:Q1hdUpqRv5mYgJEqW52UmVsvmyysE=\nP:zlib\nV:1.2.13-r0\nA:aarch64\nS:123\nI:456\n' +
  'T:A compression library\nU:https://zlib.net\nL:Zlib\no:zlib\nm:Someone <someone@example.org>\n' +
  't:1680000000\nc:0123456789abcdef\nD:so:libc.musl-aarch64.so.1\np:so:libz.so.1=1.2.13 cmd:zlib\n\n';
let warmedUp = false;

/**
 * Run the compiled scan once, over a hundred synthetic records (about 0.2 ms). V8 first runs WebAssembly
 * with its baseline compiler and compiles what runs long with its optimizing one, in the background;
 * the first large scan would pay for that compilation and not use its result (the scan is one long
 * call). Called before a large index is inflated, this lets the optimized code be ready when the scan
 * starts: measured on the 2 MB Alpine index, the scan takes 3 ms instead of 7 ms. Does nothing after its
 * first call.
 */
export function warmUpScanner(): void {
  if (warmedUp) return;
  warmedUp = true;
  const records = 100;
  const scanner = openScanner(Buffer.from(WARM_UP_RECORD.repeat(records), 'latin1'), records + 1);
  scanner?.take(0, new Int32Array(STRIDE * (records + 1)), 0);
}

/** Round up to a multiple of 8. */
function align(offset: number): number {
  return (offset + 7) & ~7;
}

/** Where each buffer of a scan lies in the instance's memory (byte offsets). */
interface Layout {
  params: number;
  text: number;
  cols: number;
  own: number;
  identity: number;
  provideStart: number;
  provideHashes: number;
  iifStart: number;
  iifHashes: number;
}

/** What the fast path hashed, when it took every record of the index. */
export interface ScanHashes {
  readonly names: NameHashes;
  readonly identities: Int32Array;
}

/**
 * One scan's WebAssembly instance, holding a copy of the text. Made by {@link openScanner}.
 */
export class CanonicalScanner {
  /** The text (after any byte order mark), in the instance's memory. */
  readonly text: Uint8Array;
  readonly #api: ScanExports;
  readonly #params: Int32Array;
  readonly #cols: Int32Array;
  readonly #own: Int32Array;
  readonly #identity: Int32Array;
  readonly #provideStart: Int32Array;
  readonly #provideHashes: Int32Array;
  readonly #iifStart: Int32Array;
  readonly #iifHashes: Int32Array;
  readonly #textAt: number;
  /** Records taken so far. */
  #done = 0;

  /** @internal Use {@link openScanner}. */
  constructor(api: ScanExports, bytes: Uint8Array, records: number, tokens: number, layout: Layout) {
    this.#api = api;
    const buffer = api.memory.buffer;
    const { params, text, cols, own, identity, provideStart, provideHashes, iifStart, iifHashes } = layout;
    this.#textAt = text;
    this.text = new Uint8Array(buffer, text, bytes.length);
    this.text.set(bytes);
    new Uint8Array(buffer, text + bytes.length, 1)[0] = 0x0a;
    this.#params = new Int32Array(buffer, params, PARAM_COUNT);
    this.#cols = new Int32Array(buffer, cols, RUN * STRIDE);
    this.#own = new Int32Array(buffer, own, records);
    this.#identity = new Int32Array(buffer, identity, records);
    this.#provideStart = new Int32Array(buffer, provideStart, records + 1);
    this.#provideHashes = new Int32Array(buffer, provideHashes, tokens);
    this.#iifStart = new Int32Array(buffer, iifStart, records + 1);
    this.#iifHashes = new Int32Array(buffer, iifHashes, tokens);
    const p = this.#params;
    p[PARAM_TEXT] = text;
    p[PARAM_LENGTH] = bytes.length;
    p[PARAM_COLS] = cols;
    p[PARAM_COLS_ROOM] = RUN;
    p[PARAM_OWN] = own;
    p[PARAM_IDENTITY] = identity;
    p[PARAM_PROVIDE_START] = provideStart;
    p[PARAM_PROVIDE_HASHES] = provideHashes;
    p[PARAM_IIF_START] = iifStart;
    p[PARAM_IIF_HASHES] = iifHashes;
    p[PARAM_RECORD_ROOM] = records;
    p[PARAM_TOKEN_ROOM] = tokens;
    api.tk_scan_reset();
  }

  /**
   * Take the canonical records from `pos` on and write their columns into `cols` from record `count`
   * (growing it as needed).
   *
   * @returns the columns (`cols` or a larger copy), how many records were taken, and where the first
   *   record not taken starts
   */
  take(pos: number, cols: Int32Array, count: number): { cols: Int32Array; taken: number; next: number } {
    const p = this.#params;
    let taken = 0;
    let next = pos;
    for (;;) {
      p[PARAM_POS] = next;
      p[PARAM_DONE] = this.#done;
      const run = this.#api.tk_scan(p.byteOffset);
      if (run === 0) break;
      const at = (count + taken) * STRIDE;
      if (at + run * STRIDE > cols.length) {
        const grown = new Int32Array(Math.max(cols.length * 2, at + run * STRIDE));
        grown.set(cols);
        cols = grown;
      }
      cols.set(this.#cols.subarray(0, run * STRIDE), at);
      taken += run;
      this.#done += run;
      next = p[PARAM_POS]!;
      if (run < RUN) break;
    }
    return { cols, taken, next };
  }

  /**
   * The id of `text[start, end)` among the distinct `A:` values, shared with the records the instance
   * takes (added when new), or -1 past 64 of them.
   */
  archId(start: number, end: number): number {
    return this.#api.tk_arch_id(this.#textAt, start, end);
  }

  /** The distinct `A:` values so far, as ranges of the text, in order of first appearance. */
  archRanges(): [number, number][] {
    const ranges: [number, number][] = [];
    for (let id = 0; id < this.#api.tk_arch_count(); id++) {
      const start = this.#api.tk_arch_start(id);
      ranges.push([start, start + this.#api.tk_arch_length(id)]);
    }
    return ranges;
  }

  /**
   * The hashes of the records taken, when they are all `count` records of the index (else undefined:
   * the records read by TypeScript were not hashed).
   */
  hashes(count: number): ScanHashes | undefined {
    if (this.#done !== count) return undefined;
    return {
      names: {
        own: this.#own.subarray(0, count),
        provideStart: this.#provideStart.subarray(0, count + 1),
        provideHashes: this.#provideHashes.subarray(0, this.#provideStart[count]),
        iifStart: this.#iifStart.subarray(0, count + 1),
        iifHashes: this.#iifHashes.subarray(0, this.#iifStart[count]),
      },
      identities: this.#identity.subarray(0, count),
    };
  }
}

/**
 * A scanner over `bytes` (the text after any byte order mark) that can take up to `records` records,
 * or undefined when the text is too large for WebAssembly's 32-bit memory (the TypeScript scan then
 * reads every record).
 *
 * @param bytes - the text
 * @param records - how many records the text can hold at most (its blank lines, plus one)
 */
export function openScanner(bytes: Uint8Array, records: number): CanonicalScanner | undefined {
  // A list of n characters has at most (n + 1) / 2 tokens; the lists of all records, at most this many.
  const tokens = Math.floor(bytes.length / 2) + records + 1;
  const api = instantiate();
  if (api === undefined) return undefined;
  // Each region's size in bytes, in the order they are laid out after the module's own data.
  const sizes: Layout = {
    params: PARAM_COUNT * 4,
    // The text, a line feed and a vector's room: the compiled searches stop at the line feed at the latest.
    text: bytes.length + 1 + 16,
    cols: RUN * STRIDE * 4,
    own: records * 4,
    identity: records * 4,
    provideStart: (records + 1) * 4,
    provideHashes: tokens * 4,
    iifStart: (records + 1) * 4,
    iifHashes: tokens * 4,
  };
  const layout = { ...sizes };
  let end = align(api.__heap_base.value);
  for (const region of Object.keys(sizes) as (keyof Layout)[]) {
    layout[region] = end;
    end = align(end + sizes[region]);
  }
  const pages = Math.ceil(end / PAGE);
  if (pages > MAX_PAGES) return undefined;
  const have = api.memory.buffer.byteLength / PAGE;
  try {
    if (pages > have) api.memory.grow(pages - have);
  } catch {
    // The engine refused the memory (RangeError): the TypeScript scan reads the index instead.
    return undefined;
  }
  return new CanonicalScanner(api, bytes, records, tokens, layout);
}
