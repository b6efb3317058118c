/**
 * Getting the sources of `fetch` steps into the melange cache on the host, before the sandbox starts.
 *
 * The cache uses melange's layout: one file per source, named `sha256:<hex>` or `sha512:<hex>`, in the
 * cache dir that the sandbox sees as `/var/cache/melange` (where the `fetch` pipeline looks first). A file
 * gets there only whole and verified: it is downloaded to a temporary name in the cache dir, hashed while
 * it streams, compared with the recipe's checksum, flushed and renamed into place. A cached file is hashed
 * again before use; a bad one is deleted (with a warning) and fetched again. Archives that the step will
 * extract are then checked for path traversal and link escapes ({@link checkArchive}).
 *
 * Steps with `expected-none` are not cached (there is nothing to key the cache on): the sandbox downloads
 * them itself, which needs the build's network.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { internalError, silentLogger, type Logger } from '@tk/core';
import { redactUrl } from '@tk/repo';
import { MelangeError } from '../errors.ts';
import type { CompiledStep } from '../recipe/types.ts';
import { checkArchive, type ArchiveCheckResult } from './archive-check.ts';
import { downloadSource, type SourceFetch } from './download.ts';

/** Options of {@link prefetchSources}. */
export interface PrefetchOptions {
  /** The melange cache dir (`--cache-dir`), mounted at /var/cache/melange in the sandbox. Created if missing. */
  cacheDir: string;
  /** Use the cache only; a missing source is an error (MELANGE_SOURCE_OFFLINE). `file:` URIs are still read. */
  offline?: boolean;
  /** Progress events for downloads, warnings (retries, a corrupt cache entry), debug lines. */
  logger?: Logger;
  /** The HTTP client (tests); default undici's `request`. */
  fetch?: SourceFetch;
  /** Largest source accepted. Default 2 GiB. */
  maxBytes?: number;
  /** Longest wait for a response, or between two chunks of a body. Default 60 s. */
  timeoutMs?: number;
  /** Retries of a failed download (5xx, network errors, stalls). Default 4. */
  retries?: number;
  /** Delay before the first retry, doubled for each further one. Default 1 s. */
  retryDelayMs?: number;
  /** Waits between retries (tests record them). */
  sleep?: (ms: number) => Promise<void>;
  /** Check archives the step extracts (default true). */
  checkArchives?: boolean;
}

/** A source in the cache, for the SBOM. */
export interface FetchedSource {
  /** The URI as the recipe gives it (credentials redacted). */
  uri: string;
  algorithm: 'sha256' | 'sha512';
  /** Lowercase hex digest. */
  hash: string;
  /** The cache file on the host (`<cacheDir>/<algorithm>:<hash>`). */
  path: string;
  size: number;
  /** True when the cache already held it (no download). */
  fromCache: boolean;
  /** The archive check, when the step extracts the source. */
  archive?: ArchiveCheckResult;
}

const DEFAULTS = {
  maxBytes: 2 * 1024 ** 3,
  timeoutMs: 60_000,
  retries: 4,
  retryDelayMs: 1_000,
} as const;

const HEX = { sha256: /^[0-9a-f]{64}$/, sha512: /^[0-9a-f]{128}$/ } as const;

/** Enabled `fetch` steps, at any depth, in order. */
function* fetchSteps(steps: readonly CompiledStep[]): Generator<CompiledStep> {
  for (const step of steps) {
    if (!step.enabled) continue;
    if (step.uses === 'fetch') yield step;
    yield* fetchSteps(step.pipeline);
  }
}

async function hashFile(
  path: string,
  algorithm: string,
): Promise<{ hash: string; size: number } | undefined> {
  try {
    const info = await stat(path);
    if (!info.isFile()) return undefined;
  } catch {
    return undefined;
  }
  const hash = createHash(algorithm);
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  return { hash: hash.digest('hex'), size };
}

function badInput(message: string, hint: string, data: Record<string, unknown>): MelangeError {
  return new MelangeError('MELANGE_SOURCE_BAD_INPUT', message, { hint, data });
}

interface FetchSpec {
  url: URL;
  shown: string;
  algorithm: 'sha256' | 'sha512';
  hash: string;
  extract: boolean;
  stripComponents: number;
}

/** The step's inputs as a cacheable source, or undefined for `expected-none` and steps without a checksum. */
function specOf(step: CompiledStep): FetchSpec | undefined {
  const w = step.with;
  const sha256 = (w['expected-sha256'] ?? '').trim();
  const sha512 = (w['expected-sha512'] ?? '').trim();
  if (sha256 === '' && sha512 === '') {
    if ((w['expected-none'] ?? '').trim() !== '') return undefined;
    const shown = redactUrl((w.uri ?? '').trim());
    throw badInput(
      `fetch ${shown}: one of expected-sha256, expected-sha512 or expected-none is required`,
      `add expected-sha256 (the output of sha256sum on the file); expected-none fetches without a check, not reproducibly`,
      { uri: shown },
    );
  }
  const algorithm = sha256 !== '' ? 'sha256' : 'sha512';
  const hash = sha256 !== '' ? sha256 : sha512;
  const rawUri = (w.uri ?? '').trim();
  const shown = redactUrl(rawUri);
  if (!HEX[algorithm].test(hash)) {
    // The hash names a file in the cache: anything but hex could walk out of it.
    throw badInput(
      `fetch ${shown}: expected-${algorithm} must be ${algorithm === 'sha256' ? 64 : 128} lowercase hex digits, got ${JSON.stringify(hash.slice(0, 140))}`,
      `write the ${algorithm} checksum of the file as printed by ${algorithm}sum`,
      { uri: shown, [`expected-${algorithm}`]: hash.slice(0, 140) },
    );
  }
  if (rawUri === '') throw badInput('fetch: uri is empty', 'give the URI of the source', {});
  let url: URL;
  try {
    url = new URL(rawUri);
  } catch (error) {
    throw new MelangeError('MELANGE_SOURCE_BAD_INPUT', `fetch: ${JSON.stringify(shown)} is not a valid URI`, {
      hint: 'give an absolute http://, https:// or file:// URI',
      cause: error,
      data: { uri: shown },
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:' && url.protocol !== 'file:')
    throw badInput(
      `fetch ${shown}: the scheme ${url.protocol} is not supported`,
      'use an http://, https:// or file:// URI, or seed the cache',
      { uri: shown },
    );
  const strip = (w['strip-components'] ?? '1').trim();
  if (!/^[0-9]{1,4}$/.test(strip))
    throw badInput(
      `fetch ${shown}: strip-components must be a non-negative integer, got ${JSON.stringify(strip.slice(0, 40))}`,
      'set strip-components to 0, 1, 2…',
      { uri: shown },
    );
  return {
    url,
    shown,
    algorithm,
    hash,
    extract: (w.extract ?? 'true').trim() === 'true',
    stripComponents: Number(strip),
  };
}

/**
 * Make sure the cache holds, verified, the source of every enabled `fetch` step that has a checksum.
 *
 * @param steps - compiled steps (main and subpackage pipelines); `fetch` steps are found at any depth, and
 *   skipped ones (`enabled: false`) are ignored
 * @param options - cache dir, offline mode, logger, HTTP client and limits
 * @returns one entry per fetch step with a checksum, in step order (a source fetched twice is downloaded once)
 * @throws {MelangeError} MELANGE_SOURCE_CHECKSUM (nothing is left in the cache), MELANGE_SOURCE_OFFLINE,
 *   MELANGE_SOURCE_DOWNLOAD, MELANGE_SOURCE_TOO_LARGE, MELANGE_SOURCE_BAD_INPUT, MELANGE_SOURCE_UNSAFE
 * @example
 * const sources = await prefetchSources(compiled.pipeline, { cacheDir: './melange-cache', logger });
 */
export async function prefetchSources(
  steps: readonly CompiledStep[],
  options: PrefetchOptions,
): Promise<FetchedSource[]> {
  const logger = options.logger ?? silentLogger;
  const out: FetchedSource[] = [];
  const verified = new Map<string, { size: number }>();
  let cacheReady = false;
  for (const step of fetchSteps(steps)) {
    const spec = specOf(step);
    if (spec === undefined) {
      logger.info(
        `fetch ${redactUrl(step.with.uri ?? '')}: no checksum (expected-none), so not cached; the build downloads it itself, which needs its network`,
      );
      continue;
    }
    if (!cacheReady) {
      await mkdir(options.cacheDir, { recursive: true });
      cacheReady = true;
    }
    const name = `${spec.algorithm}:${spec.hash}`;
    const path = join(options.cacheDir, name);
    let fromCache = true;
    let size = verified.get(name)?.size;
    if (size === undefined) {
      const cached = await hashFile(path, spec.algorithm);
      if (cached !== undefined && cached.hash === spec.hash) size = cached.size;
      else {
        if (cached !== undefined) {
          logger.warn(
            `cache entry ${path} has ${spec.algorithm} ${cached.hash}, not ${spec.hash}: deleting it and fetching ${spec.shown} again`,
            'MELANGE_SOURCE_CACHE_CORRUPT',
          );
          await rm(path, { force: true });
        }
        if (options.offline === true && spec.url.protocol !== 'file:') {
          throw new MelangeError(
            'MELANGE_SOURCE_OFFLINE',
            `offline, and the cache ${options.cacheDir} has no ${name} for ${spec.shown}`,
            {
              hint: `seed the cache: put the file into ${options.cacheDir} named ${name} (melange's cache layout), or build without --offline`,
              data: { uri: spec.shown, path },
            },
          );
        }
        size = await fetchInto(spec, path, options, logger);
        fromCache = false;
      }
      verified.set(name, { size });
    }
    const source: FetchedSource = {
      uri: spec.shown,
      algorithm: spec.algorithm,
      hash: spec.hash,
      path,
      size,
      fromCache,
    };
    if (spec.extract && options.checkArchives !== false) {
      source.archive = await checkArchive(path, { stripComponents: spec.stripComponents });
      if (!source.archive.checked)
        logger.info(`fetch ${spec.shown}: archive not checked on the host: ${source.archive.reason}`);
    }
    out.push(source);
  }
  return out;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Download into a temporary file in the cache dir, verify, then rename into place. Returns the size. */
async function fetchInto(
  spec: FetchSpec,
  path: string,
  options: PrefetchOptions,
  logger: Logger,
): Promise<number> {
  // The temporary name only has to be unique; it never reaches the cache under its final name unverified.
  const temp = join(
    options.cacheDir,
    `.${spec.algorithm}:${spec.hash}.${randomBytes(6).toString('hex')}.part`,
  );
  const handle = await open(temp, 'wx', 0o644);
  let done = false;
  try {
    logger.debug(`fetch ${spec.shown} into ${path}`);
    const label =
      spec.url.pathname
        .split('/')
        .filter((p) => p !== '')
        .pop() ?? spec.url.host;
    const result = await downloadSource(spec.url, handle, {
      algorithm: spec.algorithm,
      maxBytes: options.maxBytes ?? DEFAULTS.maxBytes,
      idleTimeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
      retries: options.retries ?? DEFAULTS.retries,
      retryDelayMs: options.retryDelayMs ?? DEFAULTS.retryDelayMs,
      logger,
      progress: {
        id: `source:${spec.algorithm}:${spec.hash.slice(0, 16)}`,
        label: `fetch ${safeDecode(label)}`,
      },
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
    });
    if (result.hash !== spec.hash) {
      throw new MelangeError(
        'MELANGE_SOURCE_CHECKSUM',
        `${spec.shown}: ${spec.algorithm} is ${result.hash}, but the recipe expects ${spec.hash} (${result.size} bytes downloaded)`,
        {
          hint: `if upstream re-released the file, find out why before updating expected-${spec.algorithm}; otherwise the download was corrupted or tampered with`,
          data: {
            uri: spec.shown,
            algorithm: spec.algorithm,
            expected: spec.hash,
            actual: result.hash,
            size: result.size,
          },
        },
      );
    }
    const written = (await handle.stat()).size;
    if (written !== result.size)
      internalError(
        `fetch ${spec.shown}: ${temp} holds ${written} bytes, but ${result.size} were downloaded`,
      );
    await handle.sync();
    await handle.close();
    await rename(temp, path);
    done = true;
    return result.size;
  } finally {
    if (!done) {
      await handle.close().catch(() => undefined);
      await rm(temp, { force: true });
    }
  }
}
