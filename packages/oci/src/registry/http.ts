/**
 * One HTTP exchange with a registry or token service, over undici, with the rules every request
 * follows:
 *
 * - Plain HTTP only to loopback hosts (`127.0.0.0/8`, `::1`, `localhost`) or with `insecure`; anything
 *   else must be https (with TLS verification). The check runs on every URL before anything is sent,
 *   including `Location`s and token realms a registry hands out, so a registry cannot redirect
 *   credentials or content onto an unencrypted connection.
 * - Response bodies are read up to a limit; longer ones are cut off with an error.
 * - Transient failures (HTTP 408, 429, 500, 502, 503, 504; connection resets, refused connections,
 *   timeouts) are retried with exponential backoff by {@link retrying}.
 */
import { request, type Dispatcher } from './lazy-undici.ts';
import { RegistryError } from './errors.ts';
import { isLoopback } from './reference.ts';

/** Options shared by every request. */
export interface HttpSettings {
  /** undici dispatcher (an Agent with custom TLS settings, a proxy, a mock); default: undici's global one. */
  readonly dispatcher: Dispatcher | undefined;
  /** Allow plain HTTP to non-loopback hosts. */
  readonly insecure: boolean;
  /** Timeout for response headers and between body chunks, in ms. */
  readonly timeoutMs: number;
  /** How many times a transient failure is retried (so `retries + 1` attempts). */
  readonly retries: number;
  /** Wait between retries (injectable so tests run fast). */
  readonly sleep: (ms: number) => Promise<void>;
  /** First backoff delay in ms; doubled each retry, capped at {@link MAX_BACKOFF_MS}. */
  readonly backoffMs: number;
  /** `User-Agent` header. */
  readonly userAgent: string;
}

/** The longest wait between two attempts (also caps `Retry-After`). */
export const MAX_BACKOFF_MS = 10_000;

/** A response with its body read. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Uint8Array;
  /** The URL that was requested. */
  readonly url: URL;
}

/** A request. */
export interface HttpRequest {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | string;
  /** The most body bytes read; longer bodies fail with REGISTRY_BAD_RESPONSE. */
  readonly maxBodyBytes: number;
}

/**
 * Refuse a URL tk must not send a request to: anything but https, or http to a host that is not loopback
 * (unless insecure).
 *
 * @param url - the URL about to be requested
 * @param insecure - whether plain HTTP to any host was allowed
 * @throws {RegistryError} REGISTRY_PLAIN_HTTP_REFUSED for such URLs
 */
export function checkUrlAllowed(url: URL, insecure: boolean): void {
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && (insecure || isLoopback(url.hostname))) return;
  throw new RegistryError(
    'REGISTRY_PLAIN_HTTP_REFUSED',
    url.protocol === 'http:'
      ? `refusing plain HTTP to ${url.host} (${redactUrl(url)}): only loopback registries are spoken to without TLS`
      : `refusing ${url.protocol} URL ${redactUrl(url)}: only https (and http to loopback) are used`,
    {
      hint:
        url.protocol === 'http:'
          ? 'use an https registry, or pass --insecure if this registry really has no TLS and the network is trusted'
          : 'the registry sent a URL with an unsupported scheme; check the registry address',
      data: { url: redactUrl(url) },
    },
  );
}

/** A URL without credentials or query string, for messages (upload URLs carry state tokens). */
export function redactUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** A transient failure: worth retrying. */
export class TransientFailure extends Error {
  readonly status: number | undefined;
  readonly response: HttpResponse | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(
    message: string,
    options: { status?: number; response?: HttpResponse; cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TransientFailure';
    this.status = options.status;
    this.response = options.response;
    this.retryAfterMs = options.retryAfterMs;
  }
}

const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const TRANSIENT_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

/** Whether a status is worth retrying. */
export function isTransientStatus(status: number): boolean {
  return TRANSIENT_STATUS.has(status);
}

function errorCode(error: unknown): string | undefined {
  let e: unknown = error;
  for (let depth = 0; depth < 4 && typeof e === 'object' && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_ERROR_CODES.has(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Send one request and read the response (no retries). Network failures become {@link TransientFailure}
 * when they are worth retrying.
 *
 * @param settings - transport settings
 * @param req - the request
 * @returns the response, whatever its status
 * @throws {RegistryError} REGISTRY_PLAIN_HTTP_REFUSED before sending to a forbidden URL; REGISTRY_BAD_RESPONSE for an oversized body
 * @throws {TransientFailure} on resets, refused connections and timeouts
 */
export async function sendOnce(settings: HttpSettings, req: HttpRequest): Promise<HttpResponse> {
  checkUrlAllowed(req.url, settings.insecure);
  const headers: Record<string, string> = { 'user-agent': settings.userAgent, ...req.headers };
  let res: Dispatcher.ResponseData;
  try {
    res = await request(req.url, {
      method: req.method,
      headers,
      ...(req.body !== undefined ? { body: req.body } : {}),
      ...(settings.dispatcher !== undefined ? { dispatcher: settings.dispatcher } : {}),
      headersTimeout: settings.timeoutMs,
      bodyTimeout: settings.timeoutMs,
    });
  } catch (error) {
    const code = errorCode(error);
    if (code !== undefined) {
      throw new TransientFailure(`${req.method} ${redactUrl(req.url)} failed: ${code}`, { cause: error });
    }
    const message = (error as Error).message;
    const tls = /certificate|self[- ]signed|TLS|SSL|ERR_TLS|CERT_/i.test(
      `${message} ${String((error as { code?: unknown }).code)}`,
    );
    throw new RegistryError(
      'REGISTRY_UNAVAILABLE',
      `${req.method} ${redactUrl(req.url)} failed: ${message}`,
      {
        hint: tls
          ? `the TLS connection to ${req.url.host} failed; if the registry uses a private CA, make Node trust it (NODE_EXTRA_CA_CERTS=ca.pem)`
          : 'check the registry address and that it is reachable',
        cause: error,
        data: { url: redactUrl(req.url) },
      },
    );
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    if (req.method === 'HEAD') {
      await res.body.dump();
    } else {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (size > req.maxBodyBytes) {
          res.body.destroy();
          throw new RegistryError(
            'REGISTRY_BAD_RESPONSE',
            `${req.method} ${redactUrl(req.url)}: the response body is larger than ${req.maxBodyBytes} bytes`,
            {
              hint: 'the registry sent more than expected; check the registry address',
              data: { url: redactUrl(req.url) },
            },
          );
        }
        chunks.push(chunk);
      }
    }
  } catch (error) {
    if (error instanceof RegistryError) throw error;
    const code = errorCode(error);
    throw new TransientFailure(
      `${req.method} ${redactUrl(req.url)}: reading the response failed: ${code ?? (error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { status: res.statusCode, headers: res.headers, body, url: req.url };
}

/** Read a single-valued header. */
export function header(res: HttpResponse, name: string): string | undefined {
  const value = res.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function retryAfter(res: HttpResponse): number | undefined {
  const value = header(res, 'retry-after');
  if (value === undefined || !/^\d{1,6}$/.test(value.trim())) return undefined;
  return Math.min(Number(value.trim()) * 1000, MAX_BACKOFF_MS);
}

/**
 * Send a request, turning transient statuses into {@link TransientFailure} (no retries).
 *
 * @param settings - transport settings
 * @param req - the request
 * @returns a response whose status is not transient
 */
export async function sendChecked(settings: HttpSettings, req: HttpRequest): Promise<HttpResponse> {
  const res = await sendOnce(settings, req);
  if (isTransientStatus(res.status)) {
    const ra = retryAfter(res);
    throw new TransientFailure(`${req.method} ${redactUrl(req.url)} answered ${res.status}`, {
      status: res.status,
      response: res,
      ...(ra !== undefined ? { retryAfterMs: ra } : {}),
    });
  }
  return res;
}

/** The backoff before retry number `n` (1-based). */
export function backoffDelay(settings: HttpSettings, n: number, failure: TransientFailure): number {
  const exp = Math.min(settings.backoffMs * 2 ** (n - 1), MAX_BACKOFF_MS);
  return failure.retryAfterMs !== undefined ? Math.max(exp, failure.retryAfterMs) : exp;
}

/** What {@link retrying} reports when the budget runs out. */
export interface ExhaustedInfo {
  readonly step: string;
  readonly attempts: number;
  readonly last: TransientFailure;
}

/**
 * Run `fn`, retrying it with backoff while it throws {@link TransientFailure}, at most
 * `settings.retries` times.
 *
 * @param settings - transport settings (retries, backoff, sleep)
 * @param step - what is being done, for messages ("upload blob sha256:…")
 * @param fn - the attempt
 * @param onExhausted - builds the error thrown when every attempt failed
 * @returns what `fn` returned
 */
export async function retrying<T>(
  settings: HttpSettings,
  step: string,
  fn: (attempt: number) => Promise<T>,
  onExhausted: (info: ExhaustedInfo) => Error,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (!(error instanceof TransientFailure)) throw error;
      if (attempt > settings.retries) throw onExhausted({ step, attempts: attempt, last: error });
      await settings.sleep(backoffDelay(settings, attempt, error));
    }
  }
}

/** Sleep with a timer (the default {@link HttpSettings.sleep}). */
export function timerSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
