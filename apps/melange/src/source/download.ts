/**
 * Streaming a source download into a file while hashing it: http(s) through undici (or an injected
 * client), `file:` URLs from disk. Built for flaky mirrors and hostile servers:
 *
 * - the body is streamed to disk and hashed on the way; it is never held in memory;
 * - a body larger than `maxBytes` (announced by `Content-Length` or counted) is refused at once;
 * - a stalled transfer (no byte for `idleTimeoutMs`) is aborted; waiting for headers is bounded the same;
 * - redirects are followed by hand, at most 10 hops, to http(s) only; credentials in the URI are never sent
 *   to another host and never appear in a message;
 * - 5xx, 408, 429, network errors, stalls and bodies shorter than their `Content-Length` are retried with
 *   exponential backoff (no jitter: the same schedule every run); other 4xx answers are final;
 * - responses are taken as sent (`Accept-Encoding: identity`): a `.tar.gz` served with a stray
 *   `Content-Encoding: gzip` is still the gzip file the checksum describes.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { silentLogger, type Logger } from '@tk/core';
import { redactUrl } from '@tk/repo';
import { MelangeError } from '../errors.ts';

/** What an injected HTTP client is asked for. */
export interface SourceRequest {
  headers: Record<string, string>;
  /** Aborted on an idle timeout: the client must then reject, and stop the body. */
  signal: AbortSignal;
}

/** What an HTTP client answers: the raw response, redirects not followed, body not decoded. */
export interface SourceResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: AsyncIterable<Uint8Array>;
}

/** An HTTP GET that follows no redirects and does not decode the body (undici's `request` by default). */
export type SourceFetch = (url: URL, init: SourceRequest) => Promise<SourceResponse>;

/** Options of {@link downloadSource}. */
export interface DownloadOptions {
  algorithm: 'sha256' | 'sha512';
  /** Refuse a body larger than this. */
  maxBytes: number;
  /** Longest wait for response headers, or between two chunks of the body. */
  idleTimeoutMs: number;
  /** Retries after the first attempt. */
  retries: number;
  /** Delay before the first retry; doubled for each further one, capped at 30 s. */
  retryDelayMs: number;
  fetch?: SourceFetch;
  /** Waits between retries (tests record them). */
  sleep?: (ms: number) => Promise<void>;
  logger?: Logger;
  /** Id and label of progress events. */
  progress?: { id: string; label: string };
}

/** A finished download. */
export interface DownloadResult {
  /** Lowercase hex digest of the bytes written. */
  hash: string;
  size: number;
}

const MAX_REDIRECTS = 10;
const MAX_RETRY_DELAY_MS = 30_000;
const PROGRESS_STEP = 1 << 20;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_ABORTED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'ABORT_ERR',
]);

/** One failed attempt; `retryable` ones are tried again. */
class AttemptFailed extends Error {
  readonly reason: string;
  readonly retryable: boolean;
  /** The error to throw at once, without retrying. */
  readonly final: MelangeError | undefined;
  constructor(reason: string, retryable: boolean, final?: MelangeError) {
    super(reason);
    this.reason = reason;
    this.retryable = retryable;
    this.final = final;
  }
}

function errorCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Percent-decoding that keeps malformed text as it is. */
function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function header(headers: SourceResponse['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** undici's `request`: no redirects followed, body as sent. undici is loaded on the first download. */
const undiciFetch: SourceFetch = async (url, init) => {
  const { request } = await import('undici');
  const response = await request(url, {
    method: 'GET',
    headers: init.headers,
    signal: init.signal,
  });
  return { status: response.statusCode, headers: response.headers, body: response.body };
};

/** Bytes of an error or redirect body read (and dropped) so the connection can be reused; larger ones end it. */
const DISCARD_LIMIT = 64 * 1024;

/** Drop a body that is not wanted, without leaving an unhandled stream error behind. */
async function discard(body: AsyncIterable<Uint8Array>): Promise<void> {
  const stream = body as {
    on?: (event: string, listener: () => void) => unknown;
    dump?: (options: { limit: number }) => Promise<void>;
    destroy?: () => void;
  };
  stream.on?.('error', () => {});
  try {
    if (typeof stream.dump === 'function') await stream.dump({ limit: DISCARD_LIMIT });
    else if (typeof stream.destroy === 'function') stream.destroy();
  } catch {
    // The connection is closed instead; nothing to report.
  }
}

function tooLarge(shown: string, maxBytes: number, what: string): MelangeError {
  return new MelangeError(
    'MELANGE_SOURCE_TOO_LARGE',
    `${shown}: ${what}, over the ${maxBytes}-byte download limit`,
    {
      hint: 'check the URI; raise the source size limit only for a source you trust',
      data: { uri: shown, maxBytes },
    },
  );
}

/** Streams chunks into a file and a hash, enforcing the size limit and emitting progress. */
class Sink {
  readonly hash: Hash;
  size = 0;
  private lastProgress = 0;
  private readonly handle: FileHandle;
  private readonly options: DownloadOptions;
  private readonly shown: string;
  private readonly total: number | undefined;

  constructor(handle: FileHandle, options: DownloadOptions, shown: string, total: number | undefined) {
    this.hash = createHash(options.algorithm);
    this.handle = handle;
    this.options = options;
    this.shown = shown;
    this.total = total;
  }

  async write(chunk: Uint8Array): Promise<void> {
    const position = this.size;
    this.size += chunk.byteLength;
    if (this.size > this.options.maxBytes)
      throw tooLarge(this.shown, this.options.maxBytes, 'the body is larger');
    this.hash.update(chunk);
    // Explicit positions: a retry truncates the file, but the handle's own offset would stay where the
    // failed attempt left it.
    for (let written = 0; written < chunk.byteLength; ) {
      const { bytesWritten } = await this.handle.write(
        chunk,
        written,
        chunk.byteLength - written,
        position + written,
      );
      written += bytesWritten;
    }
    if (this.options.progress !== undefined && this.size - this.lastProgress >= PROGRESS_STEP) {
      this.lastProgress = this.size;
      this.options.logger?.progress({
        ...this.options.progress,
        current: this.size,
        ...(this.total === undefined ? {} : { total: this.total }),
        unit: 'bytes',
      });
    }
  }
}

async function copyFileUrl(
  url: URL,
  handle: FileHandle,
  options: DownloadOptions,
  shown: string,
): Promise<DownloadResult> {
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch (error) {
    throw new AttemptFailed(`not a local file URL`, false, badInput(shown, 'is not a local file URL', error));
  }
  await handle.truncate(0);
  const sink = new Sink(handle, options, shown, undefined);
  try {
    for await (const chunk of createReadStream(path, {
      highWaterMark: 256 * 1024,
    }) as AsyncIterable<Uint8Array>)
      await sink.write(chunk);
  } catch (error) {
    if (error instanceof MelangeError) throw error;
    const code = errorCode(error);
    throw new AttemptFailed(
      `cannot read ${path} (${code ?? (error as Error).message})`,
      false,
      new MelangeError(
        'MELANGE_SOURCE_DOWNLOAD',
        `${shown}: cannot read ${path} (${code ?? (error as Error).message})`,
        {
          hint: 'check the path of the file: URI',
          cause: error,
          data: { uri: shown },
        },
      ),
    );
  }
  return { hash: sink.hash.digest('hex'), size: sink.size };
}

function badInput(shown: string, problem: string, cause?: unknown): MelangeError {
  return new MelangeError('MELANGE_SOURCE_BAD_INPUT', `fetch uri ${shown} ${problem}`, {
    hint: 'fetch takes http://, https:// or file:// URIs',
    ...(cause === undefined ? {} : { cause }),
    data: { uri: shown },
  });
}

/** One attempt over HTTP, following redirects; the file is truncated first. */
async function attemptHttp(
  url: URL,
  handle: FileHandle,
  options: DownloadOptions,
  shown: string,
): Promise<DownloadResult> {
  const fetch = options.fetch ?? undiciFetch;
  let current = new URL(url.href);
  for (let hop = 0; ; hop++) {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(), options.idleTimeoutMs);
    };
    const headers: Record<string, string> = {
      accept: '*/*',
      'accept-encoding': 'identity',
      'user-agent': 'tk-melange',
    };
    if (current.username !== '' && current.host === url.host) {
      headers.authorization = `Basic ${Buffer.from(`${decode(current.username)}:${decode(current.password)}`).toString('base64')}`;
    }
    const plain = new URL(current.href);
    plain.username = '';
    plain.password = '';
    try {
      arm();
      let response: SourceResponse;
      try {
        response = await fetch(plain, { headers, signal: controller.signal });
      } catch (error) {
        const code = errorCode(error);
        const reason = controller.signal.aborted
          ? `no response within ${options.idleTimeoutMs / 1000} s`
          : `${code ?? 'network error'}: ${(error as Error).message}`;
        throw new AttemptFailed(
          reason,
          controller.signal.aborted || (code !== undefined && RETRYABLE_CODES.has(code)),
        );
      }
      const location = header(response.headers, 'location');
      if (REDIRECTS.has(response.status) && location !== undefined) {
        await discard(response.body);
        if (hop >= MAX_REDIRECTS) {
          throw new AttemptFailed(
            'too many redirects',
            false,
            new MelangeError('MELANGE_SOURCE_DOWNLOAD', `${shown}: more than ${MAX_REDIRECTS} redirects`, {
              hint: 'check the URI; the server redirects in a loop',
              data: { uri: shown },
            }),
          );
        }
        let next: URL;
        try {
          next = new URL(location, current);
        } catch (error) {
          throw new AttemptFailed(
            'bad redirect',
            false,
            badInput(
              shown,
              `redirects to an invalid location ${JSON.stringify(location.slice(0, 200))}`,
              error,
            ),
          );
        }
        if (next.protocol !== 'http:' && next.protocol !== 'https:')
          throw new AttemptFailed(
            'bad redirect',
            false,
            badInput(shown, `redirects to ${redactUrl(next)}, which is not http(s)`),
          );
        // Credentials belong to the original host only.
        if (next.host !== url.host) {
          next.username = '';
          next.password = '';
        }
        current = next;
        continue;
      }
      if (response.status !== 200) {
        await discard(response.body);
        const retryable = RETRYABLE_STATUS.has(response.status);
        const reason = `HTTP ${response.status}`;
        throw new AttemptFailed(
          reason,
          retryable,
          retryable
            ? undefined
            : new MelangeError(
                'MELANGE_SOURCE_DOWNLOAD',
                `${shown}: the server answered HTTP ${response.status}`,
                {
                  hint:
                    response.status === 404
                      ? 'check the URI: the file is not there (moved upstream?)'
                      : 'check the URI and your access to it',
                  data: { uri: shown, status: response.status },
                },
              ),
        );
      }
      const lengthText = header(response.headers, 'content-length');
      const length = lengthText !== undefined && /^[0-9]+$/.test(lengthText) ? Number(lengthText) : undefined;
      if (length !== undefined && length > options.maxBytes) {
        await discard(response.body);
        throw tooLarge(shown, options.maxBytes, `announced ${length} bytes`);
      }
      await handle.truncate(0);
      const sink = new Sink(handle, options, shown, length);
      try {
        for await (const chunk of response.body) {
          arm();
          await sink.write(chunk);
        }
      } catch (error) {
        if (error instanceof MelangeError) {
          await discard(response.body);
          throw error;
        }
        const code = errorCode(error);
        const reason = controller.signal.aborted
          ? `the download stalled for ${options.idleTimeoutMs / 1000} s`
          : `the connection broke after ${sink.size} bytes (${code ?? (error as Error).message})`;
        throw new AttemptFailed(reason, true);
      }
      if (length !== undefined && sink.size !== length)
        throw new AttemptFailed(`got ${sink.size} of ${length} bytes`, true);
      return { hash: sink.hash.digest('hex'), size: sink.size };
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Download a source into an open file (truncated before each attempt), hashing it on the way.
 *
 * @param url - http(s) or file URL
 * @param handle - the destination, opened for writing
 * @param options - algorithm, size limit, timeouts, retries, client, logger
 * @returns the digest and size of what was written
 * @throws {MelangeError} MELANGE_SOURCE_DOWNLOAD, MELANGE_SOURCE_TOO_LARGE, MELANGE_SOURCE_BAD_INPUT
 */
export async function downloadSource(
  url: URL,
  handle: FileHandle,
  options: DownloadOptions,
): Promise<DownloadResult> {
  const logger = options.logger ?? silentLogger;
  const shown = redactUrl(url);
  const sleep =
    options.sleep ?? ((ms: number) => new Promise<void>((resolve) => void setTimeout(resolve, ms)));
  if (url.protocol === 'file:') {
    try {
      return await copyFileUrl(url, handle, options, shown);
    } catch (error) {
      if (error instanceof AttemptFailed && error.final !== undefined) throw error.final;
      throw error;
    }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw badInput(shown, `has the unsupported scheme ${url.protocol}`);
  let delay = options.retryDelayMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await attemptHttp(url, handle, options, shown);
      if (options.progress !== undefined)
        logger.progress({
          ...options.progress,
          current: result.size,
          total: result.size,
          unit: 'bytes',
          done: true,
        });
      return result;
    } catch (error) {
      if (!(error instanceof AttemptFailed)) throw error;
      if (error.final !== undefined) throw error.final;
      if (!error.retryable || attempt >= options.retries) {
        throw new MelangeError(
          'MELANGE_SOURCE_DOWNLOAD',
          `${shown}: download failed after ${attempt + 1} attempt${attempt === 0 ? '' : 's'} (${error.reason})`,
          {
            hint: 'check the URI and the network; or put the file into the cache dir as <algorithm>:<hash> and build with --offline',
            data: { uri: shown, attempts: attempt + 1 },
          },
        );
      }
      logger.warn(
        `${shown}: ${error.reason}; retrying in ${Math.round(delay / 100) / 10} s (attempt ${attempt + 2} of ${options.retries + 1})`,
        'MELANGE_SOURCE_RETRY',
      );
      await sleep(delay);
      delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
    }
  }
}
