/**
 * Deterministic gzip writing.
 *
 * Byte layout (RFC 1952): each member has a 10-byte header `1f 8b 08 00 | MTIME=0 | XFL=0 | OS=255` (what
 * Go's `compress/gzip` writes for a zero time, as melange does), a raw deflate stream, then CRC-32 and
 * ISIZE, little-endian.
 *
 * Two engines, both WebAssembly built reproducibly from Debian's source by `wasm/build.sh`, so the bytes
 * are the same on every machine, CPU and Node version (`node:zlib` is Chromium's fork, whose output
 * depends on CPU features and Node's bundled version; docs/decisions.md §2 and §23):
 *
 * - `zlib` (the default): reference zlib 1.2.13. Input larger than one block is compressed pigz-style into
 *   one member: each `blockSize` block is a raw deflate stream primed with the previous 32 KiB as its
 *   dictionary and ended with a sync flush; the last block is finished. At levels 1-9 the bytes are the
 *   ones pako (the pure-JavaScript port tk used before) gives, and a single block is exactly one
 *   reference-zlib stream.
 * - `libdeflate`: libdeflate 1.14, about 3x faster per core and slightly smaller output. It has no
 *   dictionary or sync flush, so each `blockSize` block is a gzip member of its own (RFC 1952 allows
 *   several; every gzip reader, Go's and zlib's included, reads them as one stream, and eStargz layers
 *   rely on it). Image layers use it.
 *
 * Blocks run on worker threads; the output is the same for any number of threads.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { deflateBlock, deflateWhole } from '../worker/deflate-block.mjs';
import { GzipError } from './errors.ts';

/** Default block size: 1 MiB, as pgzip (apko's compressor) uses. */
export const DEFAULT_BLOCK_SIZE = 1 << 20;
/** zlib's default level. */
export const DEFAULT_LEVEL = 6;
const DICTIONARY_SIZE = 32 * 1024;
const GZIP_HEADER = Uint8Array.of(0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff);
const GZIP_TRAILER_SIZE = 8;

/** The deflate implementations {@link gzip} can use. */
export type GzipEngine = 'zlib' | 'libdeflate';

/** How to compress. Everything that changes the output bytes is here; `threads` does not. */
export interface GzipOptions {
  /** Deflate engine. Default `zlib`. */
  engine?: GzipEngine;
  /** Level 1-9 (0 stores). Default 6. */
  level?: number;
  /** Block size for parallel compression, at least 64 KiB. Default 1 MiB. Changes the output bytes. */
  blockSize?: number;
  /**
   * Worker threads to use (at most one per block; one means the calling thread). Default: the machine's
   * available parallelism (at most 8), but no more than the input pays for (zlib: one per MiB,
   * libdeflate: one per 8 MiB). Output is the same for any number.
   */
  threads?: number;
}

interface Settings {
  engine: GzipEngine;
  level: number;
  blockSize: number;
}

function checkOptions(options: GzipOptions): Settings {
  const engine = options.engine ?? 'zlib';
  if (engine !== 'zlib' && engine !== 'libdeflate') {
    throw new GzipError('GZIP_BAD_HEADER', `gzip engine must be zlib or libdeflate, got ${String(engine)}`);
  }
  const level = options.level ?? DEFAULT_LEVEL;
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new GzipError('GZIP_BAD_HEADER', `gzip level must be an integer 0-9, got ${level}`);
  }
  if (!Number.isInteger(blockSize) || blockSize < 64 * 1024) {
    throw new GzipError('GZIP_BAD_HEADER', `gzip block size must be at least 65536 bytes, got ${blockSize}`);
  }
  return { engine, level, blockSize };
}

function asChunks(data: Uint8Array | readonly Uint8Array[]): readonly Uint8Array[] {
  return data instanceof Uint8Array ? [data] : data;
}

/** Cut the input into blocks of exactly `blockSize` bytes (the last may be shorter), copying only across chunk seams. */
function* blocksOf(chunks: readonly Uint8Array[], blockSize: number): Generator<Uint8Array> {
  let pending: Uint8Array[] = [];
  let pendingLength = 0;
  for (const chunk of chunks) {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(blockSize - pendingLength, chunk.length - offset);
      pending.push(chunk.subarray(offset, offset + take));
      pendingLength += take;
      offset += take;
      if (pendingLength === blockSize) {
        yield join(pending, pendingLength);
        pending = [];
        pendingLength = 0;
      }
    }
  }
  if (pendingLength > 0) yield join(pending, pendingLength);
}

function join(parts: readonly Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

interface BlockJob {
  input: Uint8Array;
  dictionary: Uint8Array | undefined;
  last: boolean;
}

function planJobs(chunks: readonly Uint8Array[], { engine, blockSize }: Settings): BlockJob[] {
  const blocks = [...blocksOf(chunks, blockSize)];
  if (blocks.length === 0) return [{ input: new Uint8Array(0), dictionary: undefined, last: true }];
  return blocks.map((input, index) => {
    const previous = index > 0 ? blocks[index - 1] : undefined;
    return {
      input,
      dictionary:
        engine === 'zlib' ? previous?.subarray(Math.max(0, previous.length - DICTIONARY_SIZE)) : undefined,
      last: index === blocks.length - 1,
    };
  });
}

function writeHeader(out: Uint8Array, offset: number): number {
  out.set(GZIP_HEADER, offset);
  return offset + GZIP_HEADER.length;
}

function writeTrailer(out: Uint8Array, offset: number, crc: number, size: number): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(offset, crc >>> 0, true);
  view.setUint32(offset + 4, size >>> 0, true);
  return offset + GZIP_TRAILER_SIZE;
}

/** zlib: one member around all the blocks' deflate output. */
function frameOne(deflated: readonly Uint8Array[], jobs: readonly BlockJob[]): Uint8Array {
  let crc = 0;
  let size = 0;
  for (const { input } of jobs) {
    crc = crc32(input, crc);
    size += input.length;
  }
  const body = deflated.reduce((n, part) => n + part.length, 0);
  const out = new Uint8Array(GZIP_HEADER.length + body + GZIP_TRAILER_SIZE);
  let offset = writeHeader(out, 0);
  for (const part of deflated) {
    out.set(part, offset);
    offset += part.length;
  }
  writeTrailer(out, offset, crc, size);
  return out;
}

/** libdeflate: one member per block. */
function frameMembers(deflated: readonly Uint8Array[], jobs: readonly BlockJob[]): Uint8Array {
  const body = deflated.reduce((n, part) => n + part.length, 0);
  const out = new Uint8Array(body + deflated.length * (GZIP_HEADER.length + GZIP_TRAILER_SIZE));
  let offset = 0;
  deflated.forEach((part, index) => {
    const input = jobs[index]!.input;
    offset = writeHeader(out, offset);
    out.set(part, offset);
    offset = writeTrailer(out, offset + part.length, crc32(input), input.length);
  });
  return out;
}

function deflateHere(job: BlockJob, settings: Settings): Uint8Array {
  return settings.engine === 'libdeflate'
    ? deflateWhole(job.input, settings.level)
    : deflateBlock(job.input, job.dictionary, job.last, settings.level);
}

function frame(deflated: readonly Uint8Array[], jobs: readonly BlockJob[], settings: Settings): Uint8Array {
  return settings.engine === 'libdeflate' ? frameMembers(deflated, jobs) : frameOne(deflated, jobs);
}

/** Every block on the calling thread. */
function compressHere(jobs: readonly BlockJob[], settings: Settings): Uint8Array {
  return frame(
    jobs.map((job) => deflateHere(job, settings)),
    jobs,
    settings,
  );
}

/**
 * Compress on the calling thread. Gives exactly the bytes {@link gzip} gives for the same options.
 *
 * @param data - the bytes, or chunks of them in order
 * @param options - level and block size
 * @returns one gzip member
 * @throws {GzipError} GZIP_BAD_HEADER for invalid options
 * @example
 * const member = gzipSync(new TextEncoder().encode('hello'));
 */
export function gzipSync(data: Uint8Array | readonly Uint8Array[], options: GzipOptions = {}): Uint8Array {
  const settings = checkOptions(options);
  return compressHere(planJobs(asChunks(data), settings), settings);
}

/**
 * Compress, spreading blocks over worker threads when the input spans several blocks.
 *
 * @param data - the bytes, or chunks of them in order
 * @param options - level, block size and thread count
 * @returns one gzip member, identical to {@link gzipSync}'s
 * @throws {GzipError} GZIP_BAD_HEADER for invalid options
 */
export async function gzip(
  data: Uint8Array | readonly Uint8Array[],
  options: GzipOptions = {},
): Promise<Uint8Array> {
  const settings = checkOptions(options);
  const jobs = planJobs(asChunks(data), settings);
  const wanted = options.threads ?? Math.min(defaultThreads(), worthwhileThreads(jobs, settings));
  const threads = Math.max(1, Math.min(wanted, jobs.length));
  if (threads === 1) return compressHere(jobs, settings);
  const pool = await getPool(threads);
  const deflated = await Promise.all(jobs.map((job) => pool.run(job, settings)));
  return frame(deflated, jobs, settings);
}

/**
 * Input bytes below which one more thread does not pay for itself: starting a worker (a thread, its
 * module, the WebAssembly compile; about 40 ms and 13 MiB) costs what libdeflate compresses in about 2.5 MB,
 * and the calling thread is free anyway. Measured on the hello image (docs/decisions.md §23): 6 MB in-thread
 * took 504 ms and 107 MiB for the whole build, on two workers 529 ms and 133 MiB.
 */
const MIN_BYTES_PER_THREAD: Record<GzipEngine, number> = { zlib: 1 << 20, libdeflate: 8 << 20 };

function worthwhileThreads(jobs: readonly BlockJob[], { engine }: Settings): number {
  const total = jobs.reduce((n, job) => n + job.input.length, 0);
  return Math.max(1, Math.floor(total / MIN_BYTES_PER_THREAD[engine]));
}

function defaultThreads(): number {
  return Math.min(availableParallelism(), 8);
}

interface PendingJob {
  resolve: (output: Uint8Array) => void;
  reject: (error: Error) => void;
}

/** A fixed set of deflate workers; a worker is referenced only while it has work, so it never holds the process open. */
class DeflatePool {
  readonly #workers: Worker[] = [];
  readonly #load = new Map<Worker, number>();
  readonly #pending = new Map<number, PendingJob>();
  #nextId = 0;

  readonly #Worker: typeof Worker;

  constructor(size: number, WorkerClass: typeof Worker) {
    this.#Worker = WorkerClass;
    for (let i = 0; i < size; i++) this.#spawn();
  }

  get size(): number {
    return this.#workers.length;
  }

  #spawn(): void {
    const worker = new this.#Worker(new URL('../worker/deflate-worker.mjs', import.meta.url));
    worker.on('message', (message: { id: number; output?: Uint8Array; error?: string }) => {
      const job = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      const load = (this.#load.get(worker) ?? 1) - 1;
      this.#load.set(worker, load);
      if (load === 0) worker.unref();
      if (job === undefined) return;
      if (message.output !== undefined) job.resolve(message.output);
      else
        job.reject(
          new GzipError('GZIP_BAD_DATA', `deflate worker failed: ${message.error ?? 'unknown error'}`),
        );
    });
    worker.on('error', (error) => {
      for (const job of this.#pending.values()) job.reject(error);
      this.#pending.clear();
    });
    // After the listeners: adding a 'message' listener refs the worker's port again.
    worker.unref();
    this.#workers.push(worker);
    this.#load.set(worker, 0);
  }

  run(job: BlockJob, { engine, level }: Settings): Promise<Uint8Array> {
    let target = this.#workers[0];
    for (const worker of this.#workers)
      if ((this.#load.get(worker) ?? 0) < (this.#load.get(target!) ?? 0)) target = worker;
    const worker = target!;
    const id = this.#nextId++;
    const load = (this.#load.get(worker) ?? 0) + 1;
    this.#load.set(worker, load);
    if (load === 1) worker.ref();
    return new Promise<Uint8Array>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // One copy, then moved: cloning a view would clone its whole underlying buffer, and a
      // structured clone of the copy would copy it again.
      // `new Uint8Array(view)` copies; a Buffer's `slice` would not, and transferring would then detach
      // the caller's memory.
      const input = new Uint8Array(job.input);
      const dictionary = job.dictionary === undefined ? undefined : new Uint8Array(job.dictionary);
      const transfer: ArrayBuffer[] = [input.buffer];
      if (dictionary !== undefined) transfer.push(dictionary.buffer);
      worker.postMessage({ id, engine, input, dictionary, last: job.last, level }, transfer);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => worker.terminate()));
    this.#workers.length = 0;
  }
}

let pool: DeflatePool | undefined;
/** node:worker_threads, loaded with the first pool: commands that compress nothing big never load it. */
let workerThreads: Promise<{ Worker: typeof Worker }> | undefined;

async function getPool(threads: number): Promise<DeflatePool> {
  const { Worker } = await (workerThreads ??= import('node:worker_threads'));
  if (pool === undefined || pool.size < threads) {
    void pool?.close();
    pool = new DeflatePool(threads, Worker);
  }
  return pool;
}

/** Stop the worker threads (they are unreferenced when idle, so calling this is optional). */
export async function closeGzipWorkers(): Promise<void> {
  const current = pool;
  pool = undefined;
  await current?.close();
}
