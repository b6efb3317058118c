/**
 * The registry client: options, the sessions it keeps per registry and the connection pool it owns.
 */
import { Agent, type Dispatcher } from './lazy-undici.ts';
import { silentLogger, type Logger } from '@tk/core';
import type { Keychain } from './credentials.ts';
import { timerSleep } from './http.ts';
import { RegistrySession, type SessionSettings } from './session.ts';

/** Options of every registry operation. */
export interface RegistryClientOptions {
  /** Where credentials come from (see `createDockerKeychain`); default: anonymous. */
  readonly keychain?: Keychain;
  /** Allow plain HTTP to registries that are not loopback (loopback registries always use HTTP). */
  readonly insecure?: boolean;
  /** undici dispatcher to send requests through (custom TLS, proxies); default: a pool owned by the client. */
  readonly dispatcher?: Dispatcher;
  /** Progress and debug messages. */
  readonly logger?: Logger;
  /** How many times a transient failure (5xx, 429, resets, timeouts) is retried; default 4. */
  readonly retries?: number;
  /** First backoff delay in ms, doubled on each retry (capped at 10 s); default 500. */
  readonly backoffMs?: number;
  /** Timeout for response headers and between body chunks, in ms; default 60 000. */
  readonly timeoutMs?: number;
  /** How to wait between retries (tests inject a fast one); default a timer. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** `User-Agent`; default `tk`. */
  readonly userAgent?: string;
  /** How many blobs or manifests are pushed at a time; default 4. */
  readonly concurrency?: number;
}

/** Defaults of {@link RegistryClientOptions}. */
export const DEFAULT_RETRIES = 4;
const DEFAULT_BACKOFF_MS = 500;
const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_CONCURRENCY = 4;

/** What the operations share: settings and one session per registry. */
export class ClientContext {
  readonly settings: SessionSettings;
  readonly concurrency: number;
  readonly logger: Logger;
  private readonly sessions = new Map<string, RegistrySession>();
  private readonly ownedAgent: Agent | undefined;

  constructor(options: RegistryClientOptions) {
    const retries = options.retries ?? DEFAULT_RETRIES;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    if (!Number.isInteger(retries) || retries < 0)
      throw new RangeError(`retries must be a non-negative integer, got ${retries}`);
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    }
    this.ownedAgent =
      options.dispatcher === undefined
        ? new Agent({ connect: { timeout: timeoutMs }, connections: concurrency + 2 })
        : undefined;
    this.logger = options.logger ?? silentLogger;
    this.concurrency = concurrency;
    this.settings = {
      dispatcher: options.dispatcher ?? this.ownedAgent,
      insecure: options.insecure ?? false,
      timeoutMs,
      retries,
      sleep: options.sleep ?? timerSleep,
      backoffMs: options.backoffMs ?? DEFAULT_BACKOFF_MS,
      userAgent: options.userAgent ?? 'tk',
      keychain: options.keychain,
      logger: this.logger,
    };
  }

  /** The session for a registry (created on first use). */
  session(registry: string): RegistrySession {
    let session = this.sessions.get(registry);
    if (session === undefined) {
      session = new RegistrySession(registry, this.settings);
      this.sessions.set(registry, session);
    }
    return session;
  }

  /** Close the connection pool the client owns (a dispatcher passed in is left open). */
  async close(): Promise<void> {
    await this.ownedAgent?.close();
  }
}
