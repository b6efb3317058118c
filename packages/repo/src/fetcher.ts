/**
 * Downloading repository files: indexes, packages and keys.
 *
 * A {@link Fetcher} turns a URL into bytes, never more than the caller's `maxBytes`. {@link createHttpFetcher}
 * speaks http(s) through undici and reads `file:` URLs from disk; {@link createFileFetcher} reads `file:` URLs
 * only. The HTTP side is built for flaky mirrors and hostile servers:
 *
 * - timeouts on connecting, on waiting for the response headers and on a stalled body (idle time between
 *   chunks, not the total time, so a large package on a slow link still completes);
 * - redirects followed by hand (at most 5), so that each hop can be checked: an https → http downgrade, or a
 *   hop to anything but http(s), is refused; credentials are sent only to the host they belong to;
 * - retries with exponential backoff on 5xx, 429 (honouring `Retry-After`, capped), connection resets,
 *   refused connections, timeouts and bodies cut short. The schedule has no jitter, so it is the same on
 *   every run (tests inject `sleep` and check it). 4xx answers other than 429 are final: repeating a 404
 *   changes nothing;
 * - a body larger than `maxBytes` (announced by `Content-Length` or counted while streaming) is cut off and
 *   refused, so a hostile server cannot fill memory;
 * - HTTP basic auth for authenticated apk repositories (`HTTP_AUTH=basic:<host>:<user>:<password>`, as apko
 *   reads it), or credentials written in the URL (`https://user:token@host/…`, as apk-tools accepts). Neither
 *   ever appears in a message: URLs are redacted with {@link redactUrl}.
 *
 * Responses are taken as they are sent (`Accept-Encoding: identity`): an `APKINDEX.tar.gz` served with a
 * stray `Content-Encoding: gzip` is still the gzip file, never silently unpacked.
 */
import { open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Agent, Dispatcher } from 'undici';
import { concatBytes, internalError, silentLogger, type Logger } from '@tk/core';
import { RepoError } from './errors.ts';
import { redactUrl } from './repository.ts';

/** Options of one download. */
export interface FetchOptions {
  /** Refuse (REPO_TOO_LARGE) a body larger than this many bytes. */
  maxBytes: number;
  /** The `Accept` header; default `*\/*`. */
  accept?: string;
  /** A short label for progress events; default the URL's last path segment. */
  label?: string;
}

/** Options of a conditional download: the validators of the copy the caller already has. */
export interface ConditionalFetchOptions extends FetchOptions {
  /** The `ETag` of the cached copy (sent as `If-None-Match`). */
  etag?: string;
  /** The `Last-Modified` of the cached copy (sent as `If-Modified-Since`). */
  lastModified?: string;
}

/** The answer to a conditional download. */
export type ConditionalFetchResult =
  | { modified: false }
  | { modified: true; bytes: Uint8Array; etag?: string; lastModified?: string };

/**
 * Fetches repository files. Implement it to plug in another transport (tests, an OCI-backed repository).
 */
export interface Fetcher {
  /**
   * Download a file whole.
   *
   * @param url - http(s) or file URL
   * @param options - size limit, Accept header, progress label
   * @returns the body
   * @throws {RepoError} REPO_NOT_FOUND, REPO_UNAUTHORIZED, REPO_FETCH_FAILED, REPO_BAD_REDIRECT, REPO_TOO_LARGE
   */
  fetch(url: URL, options: FetchOptions): Promise<Uint8Array>;
  /**
   * Download a file unless it is unchanged since the copy described by the validators (HTTP 304).
   * Optional: without it, cached files are downloaded again in full.
   *
   * @param url - http(s) URL
   * @param options - size limit and the cached copy's `ETag` / `Last-Modified`
   * @returns `{ modified: false }`, or the new body and its validators
   * @throws {RepoError} as {@link Fetcher.fetch}
   */
  fetchIfModified?(url: URL, options: ConditionalFetchOptions): Promise<ConditionalFetchResult>;
  /** Release connections. The fetcher must not be used afterwards. */
  close?(): Promise<void>;
}

/** Basic-auth credentials for one host. */
export interface HttpAuth {
  /** Host name (`apk.example.com`), or host and port (`apk.example.com:8443`) to match one port only. */
  host: string;
  user: string;
  password: string;
}

/** Options of {@link createHttpFetcher}. */
export interface HttpFetcherOptions {
  /** Receives progress events, retry warnings and debug lines; default silent. */
  logger?: Logger;
  /** Basic-auth credentials, matched on the request's host. */
  auth?: readonly HttpAuth[];
  /** Time to establish a connection (TCP + TLS). Default 30 s. */
  connectTimeoutMs?: number;
  /** Time from sending the request to receiving all response headers. Default 60 s. */
  headersTimeoutMs?: number;
  /** Longest pause between two chunks of a body. Default 60 s. */
  bodyTimeoutMs?: number;
  /** Retries after the first attempt. Default 4 (5 attempts). */
  retries?: number;
  /** Delay before the first retry; doubled for each further one. Default 1000 ms. */
  retryBaseDelayMs?: number;
  /** Longest backoff delay. Default 30 s. */
  retryMaxDelayMs?: number;
  /** Longest wait a `Retry-After` header can impose. Default 60 s. */
  retryAfterMaxMs?: number;
  /** Redirect hops followed. Default 5. */
  maxRedirects?: number;
  /** Waits between retries; tests pass one that records the delays. Default a timer. */
  sleep?: (ms: number) => Promise<void>;
  /** The `User-Agent` header. Default `tk`. */
  userAgent?: string;
  /** An undici dispatcher to send requests through (not closed by {@link Fetcher.close}). */
  dispatcher?: Dispatcher;
}

/** Default timeouts and retry schedule. */
const DEFAULTS = {
  connectTimeoutMs: 30_000,
  headersTimeoutMs: 60_000,
  bodyTimeoutMs: 60_000,
  retries: 4,
  retryBaseDelayMs: 1_000,
  retryMaxDelayMs: 30_000,
  retryAfterMaxMs: 60_000,
  maxRedirects: 5,
} as const;

/** The most bytes read from an error or redirect body before the connection is dropped instead. */
const DISCARD_LIMIT = 64 * 1024;
/** Bytes between two progress events of one download. */
const PROGRESS_STEP = 256 * 1024;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Network error codes worth another attempt (node and undici). */
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/;

/** A failed attempt; `retryable` ones are tried again, the others end the download at once. */
class AttemptFailure extends Error {
  readonly retryable: boolean;
  readonly code:
    | 'REPO_FETCH_FAILED'
    | 'REPO_NOT_FOUND'
    | 'REPO_UNAUTHORIZED'
    | 'REPO_BAD_REDIRECT'
    | 'REPO_TOO_LARGE';
  readonly reason: string;
  readonly hint: string;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  override readonly cause: unknown;
  readonly url: string;
  constructor(init: {
    retryable: boolean;
    code?: AttemptFailure['code'];
    reason: string;
    hint?: string;
    status?: number;
    retryAfterMs?: number;
    cause?: unknown;
    url: string;
  }) {
    super(init.reason);
    this.name = 'AttemptFailure';
    this.retryable = init.retryable;
    this.code = init.code ?? 'REPO_FETCH_FAILED';
    this.reason = init.reason;
    this.hint = init.hint ?? 'check the repository URL and your network, then try again';
    this.status = init.status;
    this.retryAfterMs = init.retryAfterMs;
    this.cause = init.cause;
    this.url = init.url;
  }
}

/** Small error bodies are read and dropped so the connection can be reused; anything larger ends it. */
async function discard(body: Dispatcher.ResponseData['body']): Promise<void> {
  body.on('error', () => {});
  try {
    await body.dump({ limit: DISCARD_LIMIT });
  } catch {
    // The connection is closed instead; nothing to report.
  }
}

function withoutCredentials(url: URL): URL {
  const plain = new URL(url.href);
  plain.username = '';
  plain.password = '';
  return plain;
}

function checkMaxBytes(maxBytes: number): void {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
    internalError(`fetch: maxBytes must be a non-negative integer, got ${String(maxBytes)}`);
}

function tooLarge(url: string, maxBytes: number, what: string): RepoError {
  return new RepoError('REPO_TOO_LARGE', `${url}: ${what}, over the ${maxBytes}-byte limit`, {
    hint: 'the file is larger than allowed; raise the limit (e.g. --max-http-response-size) only for a trusted repository',
    data: { url, maxBytes },
  });
}

function errorCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Read a `file:` URL, at most `maxBytes` bytes.
 *
 * @param url - a file URL
 * @param maxBytes - size limit
 * @returns the content
 * @throws {RepoError} REPO_NOT_FOUND, REPO_FETCH_FAILED, REPO_TOO_LARGE
 */
async function readFileUrl(url: URL, maxBytes: number): Promise<Uint8Array> {
  checkMaxBytes(maxBytes);
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch (error) {
    throw new RepoError('REPO_FETCH_FAILED', `${url.href}: not a local file URL`, {
      cause: error,
      hint: 'write local repositories as plain paths or file:///absolute/path',
      data: { url: url.href },
    });
  }
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new RepoError('REPO_NOT_FOUND', `${path}: no such file`, {
        cause: error,
        hint: 'check the path',
        data: { url: url.href, path },
      });
    throw new RepoError(
      'REPO_FETCH_FAILED',
      `${path}: cannot be read (${code ?? (error as Error).message})`,
      {
        cause: error,
        hint: 'check the file permissions',
        data: { url: url.href, path },
      },
    );
  }
  try {
    const info = await handle.stat();
    if (!info.isFile())
      throw new RepoError('REPO_FETCH_FAILED', `${path}: not a regular file`, {
        hint: 'check the path',
        data: { url: url.href, path },
      });
    if (info.size > maxBytes) throw tooLarge(path, maxBytes, `${info.size} bytes`);
    // Read one byte more than allowed, in case the file grew since stat.
    const buffer = new Uint8Array(Math.min(info.size, maxBytes) + 1);
    let filled = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (filled === buffer.length) break;
    }
    if (filled > maxBytes) throw tooLarge(path, maxBytes, 'more bytes than that');
    return buffer.subarray(0, filled);
  } catch (error) {
    if (error instanceof RepoError) throw error;
    throw new RepoError(
      'REPO_FETCH_FAILED',
      `${path}: read failed (${errorCode(error) ?? (error as Error).message})`,
      {
        cause: error,
        hint: 'check the file',
        data: { url: url.href, path },
      },
    );
  } finally {
    await handle.close();
  }
}

/**
 * A fetcher for `file:` URLs only (local repositories and keys).
 *
 * @returns a {@link Fetcher}; http(s) URLs are refused with REPO_FETCH_FAILED
 * @example
 * const bytes = await createFileFetcher().fetch(pathToFileURL('/repo/x86_64/APKINDEX.tar.gz'), { maxBytes: 1 << 30 });
 */
export function createFileFetcher(): Fetcher {
  return {
    fetch: async (url, options) => {
      if (url.protocol !== 'file:')
        throw new RepoError('REPO_FETCH_FAILED', `${redactUrl(url)}: only file: URLs can be read here`, {
          hint: 'use createHttpFetcher for remote repositories',
          data: { url: redactUrl(url) },
        });
      return readFileUrl(url, options.maxBytes);
    },
  };
}

/**
 * Parse the `HTTP_AUTH` environment variable as apko reads it: `basic:<host>:<user>:<password>`.
 *
 * The password is everything after the third `:` (so it may contain `:`); the host therefore cannot carry a
 * port, and matches every port of that host.
 *
 * @param value - the variable's value; undefined or empty gives no credentials
 * @returns the credentials (zero or one entry)
 * @throws {RepoError} REPO_BAD_HTTP_AUTH (the message never contains the password)
 * @example
 * parseHttpAuth('basic:apk.example.com:ci:s3cret'); // [{ host: 'apk.example.com', user: 'ci', password: 's3cret' }]
 */
export function parseHttpAuth(value: string | undefined): HttpAuth[] {
  if (value === undefined || value.trim() === '') return [];
  const bad = (problem: string): RepoError =>
    new RepoError('REPO_BAD_HTTP_AUTH', `HTTP_AUTH ${problem}`, {
      hint: 'set HTTP_AUTH=basic:<host>:<user>:<password>, e.g. basic:apk.example.com:ci:token',
    });
  const first = value.indexOf(':');
  const second = first < 0 ? -1 : value.indexOf(':', first + 1);
  const third = second < 0 ? -1 : value.indexOf(':', second + 1);
  if (third < 0)
    throw bad('is not basic:<host>:<user>:<password> (it has fewer than four ":"-separated fields)');
  const scheme = value.slice(0, first);
  const host = value.slice(first + 1, second);
  const user = value.slice(second + 1, third);
  const password = value.slice(third + 1);
  if (scheme.toLowerCase() !== 'basic')
    throw bad(`uses the scheme ${JSON.stringify(scheme.slice(0, 16))}; only "basic" is supported`);
  if (host === '' || /[\s/@]/.test(host) || CONTROL_CHARACTER.test(host))
    throw bad(`has an invalid host ${JSON.stringify(host.slice(0, 64))}`);
  if (user === '' || CONTROL_CHARACTER.test(user)) throw bad('has an empty or invalid user name');
  if (CONTROL_CHARACTER.test(password)) throw bad('has a control character in the password');
  return [{ host: host.toLowerCase(), user, password }];
}

function headerValue(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function retryAfterMs(headers: Record<string, string | string[] | undefined>): number | undefined {
  const value = headerValue(headers, 'retry-after')?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // An HTTP date: measured against the response's own Date header, so no local clock is involved.
  const at = Date.parse(value);
  const now = Date.parse(headerValue(headers, 'date') ?? '');
  if (Number.isNaN(at) || Number.isNaN(now)) return undefined;
  return Math.max(0, at - now);
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

function lastSegment(url: URL): string {
  const parts = url.pathname.split('/').filter((p) => p !== '');
  return decodeURIComponent(parts[parts.length - 1] ?? url.host);
}

function networkReason(
  error: unknown,
  options: { connectS: number; headersS: number; bodyS: number },
): string {
  const code = errorCode(error);
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset by the server';
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `no connection within ${options.connectS} s`;
    case 'UND_ERR_HEADERS_TIMEOUT':
      return `no response within ${options.headersS} s`;
    case 'UND_ERR_BODY_TIMEOUT':
      return `the download stalled for ${options.bodyS} s`;
    case 'UND_ERR_SOCKET':
      return 'the server closed the connection';
    case 'ENOTFOUND':
      return 'host not found';
    default:
      return `${code ?? 'network error'}: ${(error as Error).message}`;
  }
}

/**
 * Create a fetcher for http(s) and file URLs, with timeouts, redirects, retries, size limits, basic auth and
 * progress events.
 *
 * @param options - logger, credentials, timeouts, retry schedule, `sleep` (for tests)
 * @returns a {@link Fetcher}; call `close()` when done to release connections
 * @example
 * const fetcher = createHttpFetcher({ logger, auth: parseHttpAuth(env.HTTP_AUTH) });
 * try {
 *   const index = await fetcher.fetch(new URL('https://dl-cdn.alpinelinux.org/alpine/v3.19/main/x86_64/APKINDEX.tar.gz'), { maxBytes: 64 << 20 });
 * } finally {
 *   await fetcher.close?.();
 * }
 */
export function createHttpFetcher(options: HttpFetcherOptions = {}): Fetcher {
  const logger = options.logger ?? silentLogger;
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
  const headersTimeoutMs = options.headersTimeoutMs ?? DEFAULTS.headersTimeoutMs;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? DEFAULTS.bodyTimeoutMs;
  const retries = options.retries ?? DEFAULTS.retries;
  const baseDelay = options.retryBaseDelayMs ?? DEFAULTS.retryBaseDelayMs;
  const maxDelay = options.retryMaxDelayMs ?? DEFAULTS.retryMaxDelayMs;
  const retryAfterCap = options.retryAfterMaxMs ?? DEFAULTS.retryAfterMaxMs;
  const maxRedirects = options.maxRedirects ?? DEFAULTS.maxRedirects;
  const sleep =
    options.sleep ?? ((ms: number) => new Promise<void>((resolve) => void setTimeout(resolve, ms)));
  const userAgent = options.userAgent ?? 'tk';
  const auth = (options.auth ?? []).map((a) => ({ ...a, host: a.host.toLowerCase() }));
  // undici is loaded, and the connection pool made, on the first http(s) request: a build from local
  // repositories or the cache never pays for the HTTP client (docs/performance.md).
  let ownAgent: Promise<Agent> | undefined;
  let closed = false;
  const dispatcherFor = async (): Promise<Dispatcher> => {
    if (options.dispatcher !== undefined) return options.dispatcher;
    ownAgent ??= import('undici').then(
      ({ Agent }) =>
        new Agent({
          connect: { timeout: connectTimeoutMs },
          headersTimeout: headersTimeoutMs,
          bodyTimeout: bodyTimeoutMs,
        }),
    );
    const agent = await ownAgent;
    // A request after close() fails as it did when the pool was made up front: on a closed agent.
    if (closed && !agent.closed) await agent.close();
    return agent;
  };
  const warnedPlainHttp = new Set<string>();
  const seconds = {
    connectS: connectTimeoutMs / 1000,
    headersS: headersTimeoutMs / 1000,
    bodyS: bodyTimeoutMs / 1000,
  };

  /** Credentials for one hop: the original URL's own (same host only), else a configured entry. */
  const credentialsFor = (hop: URL, original: URL): { user: string; password: string } | undefined => {
    if (original.username !== '' && hop.host === original.host)
      return { user: decodeURIComponent(original.username), password: decodeURIComponent(original.password) };
    const host = hop.host.toLowerCase();
    const hostname = hop.hostname.toLowerCase();
    const entry = auth.find((a) => a.host === host) ?? auth.find((a) => a.host === hostname);
    return entry === undefined ? undefined : { user: entry.user, password: entry.password };
  };

  async function attempt(
    url: URL,
    fetchOptions: ConditionalFetchOptions,
    conditional: boolean,
  ): Promise<ConditionalFetchResult> {
    let current = withoutCredentials(url);
    for (let hops = 0; ; hops++) {
      const shown = current.href;
      const headers: Record<string, string> = {
        accept: fetchOptions.accept ?? '*/*',
        'accept-encoding': 'identity',
        'user-agent': userAgent,
      };
      const credentials = credentialsFor(current, url);
      if (credentials !== undefined) {
        headers.authorization = `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`, 'utf8').toString('base64')}`;
        if (
          current.protocol === 'http:' &&
          !isLoopback(current.hostname) &&
          !warnedPlainHttp.has(current.host)
        ) {
          warnedPlainHttp.add(current.host);
          logger.warn(
            `sending credentials to ${current.host} over plain http; anyone on the network can read them`,
            'REPO_PLAIN_HTTP_AUTH',
          );
        }
      }
      if (conditional && fetchOptions.etag !== undefined) headers['if-none-match'] = fetchOptions.etag;
      if (conditional && fetchOptions.lastModified !== undefined)
        headers['if-modified-since'] = fetchOptions.lastModified;
      let response: Dispatcher.ResponseData;
      try {
        const dispatcher = await dispatcherFor();
        response = await dispatcher.request({
          origin: current.origin,
          path: `${current.pathname}${current.search}`,
          method: 'GET',
          headers,
          headersTimeout: headersTimeoutMs,
          bodyTimeout: bodyTimeoutMs,
        });
      } catch (error) {
        const code = errorCode(error);
        const certificate = code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code);
        throw new AttemptFailure({
          retryable: code !== undefined && RETRYABLE_CODES.has(code),
          reason: networkReason(error, seconds),
          hint: certificate
            ? 'the server certificate is not trusted; check the URL or the system CA certificates'
            : code === 'ENOTFOUND'
              ? 'check the host name, or build with --offline from the cache'
              : 'check the repository URL and your network, then try again',
          cause: error,
          url: shown,
        });
      }
      const status = response.statusCode;
      const respHeaders = response.headers;
      if (REDIRECT_STATUSES.has(status)) {
        await discard(response.body);
        const location = headerValue(respHeaders, 'location');
        if (location === undefined || location === '')
          throw new AttemptFailure({
            retryable: false,
            reason: `HTTP ${status} redirect without a Location header`,
            status,
            url: shown,
          });
        let next: URL;
        try {
          next = new URL(location, current);
        } catch (error) {
          throw new AttemptFailure({
            retryable: false,
            code: 'REPO_BAD_REDIRECT',
            reason: `HTTP ${status} redirect to an invalid URL`,
            status,
            cause: error,
            url: shown,
          });
        }
        next.username = '';
        next.password = '';
        if (next.protocol !== 'http:' && next.protocol !== 'https:')
          throw new AttemptFailure({
            retryable: false,
            code: 'REPO_BAD_REDIRECT',
            reason: `redirected to a ${next.protocol} URL; only http(s) redirects are followed`,
            status,
            hint: 'the server sends clients somewhere tk will not go; ask its operator or use the final URL',
            url: shown,
          });
        if (current.protocol === 'https:' && next.protocol === 'http:')
          throw new AttemptFailure({
            retryable: false,
            code: 'REPO_BAD_REDIRECT',
            reason: `redirected from https to plain http (${next.href}); refusing the downgrade`,
            status,
            hint: 'use an https mirror; a downgrade would let anyone on the network alter the download',
            url: shown,
          });
        if (hops + 1 > maxRedirects)
          throw new AttemptFailure({
            retryable: false,
            code: 'REPO_BAD_REDIRECT',
            reason: `more than ${maxRedirects} redirects`,
            status,
            hint: 'the server redirects in a loop; use the final URL directly',
            url: withoutCredentials(url).href,
          });
        logger.debug(`${redactUrl(current)}: HTTP ${status} → ${next.href}`);
        current = next;
        continue;
      }
      if (status === 304 && conditional) {
        await discard(response.body);
        return { modified: false };
      }
      if (status === 200 || status === 203) {
        const bytes = await readBody(response, shown, fetchOptions);
        const etag = headerValue(respHeaders, 'etag');
        const lastModified = headerValue(respHeaders, 'last-modified');
        return {
          modified: true,
          bytes,
          ...(etag === undefined ? {} : { etag }),
          ...(lastModified === undefined ? {} : { lastModified }),
        };
      }
      await discard(response.body);
      if (status === 404 || status === 410)
        throw new AttemptFailure({
          retryable: false,
          code: 'REPO_NOT_FOUND',
          reason: `HTTP ${status} Not Found`,
          status,
          hint: 'check the URL',
          url: shown,
        });
      if (status === 401 || status === 403)
        throw new AttemptFailure({
          retryable: false,
          code: 'REPO_UNAUTHORIZED',
          reason: `HTTP ${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'}`,
          status,
          hint:
            credentials === undefined
              ? `the server wants credentials: set HTTP_AUTH=basic:${current.hostname}:<user>:<password>`
              : `the server refused the credentials for ${current.hostname}; check HTTP_AUTH`,
          url: shown,
        });
      if (status === 429 || status >= 500) {
        const after = retryAfterMs(respHeaders);
        throw new AttemptFailure({
          retryable: true,
          reason: `HTTP ${status}${status === 429 ? ' Too Many Requests' : ' server error'}`,
          status,
          ...(after === undefined ? {} : { retryAfterMs: after }),
          hint: 'the server is failing or overloaded; try again later or use another mirror',
          url: shown,
        });
      }
      throw new AttemptFailure({
        retryable: false,
        reason: `unexpected HTTP status ${status}`,
        status,
        url: shown,
      });
    }
  }

  async function readBody(
    response: Dispatcher.ResponseData,
    shown: string,
    fetchOptions: FetchOptions,
  ): Promise<Uint8Array> {
    const maxBytes = fetchOptions.maxBytes;
    // Destroying the body below emits an abort error nobody else listens for.
    response.body.on('error', () => {});
    const lengthHeader = headerValue(response.headers, 'content-length');
    const total = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    if (total !== undefined && total > maxBytes) {
      response.body.destroy();
      throw new AttemptFailure({
        retryable: false,
        code: 'REPO_TOO_LARGE',
        reason: `the server announces ${total} bytes, over the ${maxBytes}-byte limit`,
        hint: 'raise the limit (e.g. --max-http-response-size) only for a trusted repository',
        url: shown,
      });
    }
    const label = fetchOptions.label ?? lastSegment(new URL(shown));
    const chunks: Uint8Array[] = [];
    let received = 0;
    let reported = 0;
    logger.progress({
      id: shown,
      label,
      current: 0,
      ...(total === undefined ? {} : { total }),
      unit: 'bytes',
    });
    try {
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        received += chunk.length;
        if (received > maxBytes)
          throw new AttemptFailure({
            retryable: false,
            code: 'REPO_TOO_LARGE',
            reason: `the body exceeds the ${maxBytes}-byte limit; download cut off`,
            hint: 'raise the limit (e.g. --max-http-response-size) only for a trusted repository',
            url: shown,
          });
        chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if (received - reported >= PROGRESS_STEP) {
          reported = received;
          logger.progress({
            id: shown,
            label,
            current: received,
            ...(total === undefined ? {} : { total }),
            unit: 'bytes',
          });
        }
      }
    } catch (error) {
      response.body.destroy();
      if (error instanceof AttemptFailure) throw error;
      throw new AttemptFailure({
        retryable: true,
        reason: `${networkReason(error, seconds)} after ${received}${total === undefined ? '' : ` of ${total}`} bytes`,
        cause: error,
        url: shown,
      });
    }
    if (total !== undefined && received !== total)
      throw new AttemptFailure({
        retryable: true,
        reason: `the body ended after ${received} of ${total} bytes`,
        url: shown,
      });
    logger.progress({ id: shown, label, current: received, total: received, unit: 'bytes', done: true });
    return chunks.length === 1 ? chunks[0]! : concatBytes(chunks);
  }

  function delayFor(attemptNumber: number, failure: AttemptFailure): number {
    if (failure.retryAfterMs !== undefined) return Math.min(failure.retryAfterMs, retryAfterCap);
    return Math.min(baseDelay * 2 ** (attemptNumber - 1), maxDelay);
  }

  async function run(url: URL, fetchOptions: ConditionalFetchOptions, conditional: boolean) {
    checkMaxBytes(fetchOptions.maxBytes);
    const shown = redactUrl(url);
    const attempts = retries + 1;
    for (let n = 1; ; n++) {
      try {
        return await attempt(url, fetchOptions, conditional);
      } catch (error) {
        if (!(error instanceof AttemptFailure)) throw error;
        if (!error.retryable || n >= attempts) {
          const where = error.url === withoutCredentials(url).href ? shown : `${shown} (at ${error.url})`;
          const tries = error.retryable
            ? `after ${n} attempts`
            : n === 1
              ? 'on the first attempt'
              : `on attempt ${n}`;
          throw new RepoError(error.code, `GET ${where}: ${error.reason} (${tries})`, {
            hint: error.hint,
            ...(error.cause === undefined ? {} : { cause: error.cause }),
            data: {
              url: shown,
              attempts: n,
              ...(error.status === undefined ? {} : { status: error.status }),
              ...(error.code === 'REPO_TOO_LARGE' ? { maxBytes: fetchOptions.maxBytes } : {}),
            },
          });
        }
        const delay = delayFor(n, error);
        logger.warn(
          `GET ${shown}: ${error.reason}; retrying in ${delay / 1000} s (attempt ${n + 1} of ${attempts})`,
          'REPO_FETCH_RETRY',
        );
        await sleep(delay);
      }
    }
  }

  const unsupported = (url: URL): RepoError =>
    new RepoError('REPO_FETCH_FAILED', `${redactUrl(url)}: unsupported URL scheme ${url.protocol}`, {
      hint: 'repositories and keys are http(s) URLs or local paths',
      data: { url: redactUrl(url) },
    });

  return {
    fetch: async (url, fetchOptions) => {
      if (url.protocol === 'file:') return readFileUrl(url, fetchOptions.maxBytes);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw unsupported(url);
      const result = await run(url, fetchOptions, false);
      if (!result.modified) internalError('unconditional GET answered 304');
      return result.bytes;
    },
    fetchIfModified: async (url, fetchOptions) => {
      if (url.protocol === 'file:')
        return { modified: true, bytes: await readFileUrl(url, fetchOptions.maxBytes) };
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw unsupported(url);
      return run(
        url,
        fetchOptions,
        fetchOptions.etag !== undefined || fetchOptions.lastModified !== undefined,
      );
    },
    close: async () => {
      closed = true;
      if (ownAgent === undefined) return;
      const agent = await ownAgent;
      if (!agent.closed) await agent.close();
    },
  };
}
