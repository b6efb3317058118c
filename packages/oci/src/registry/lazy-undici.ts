/**
 * undici's `request` and `Agent`, loaded on first use. Importing `@tk/oci` to write an image layout or a
 * tarball must not load the HTTP client (undici costs about 100 ms of start-up, docs/performance.md); only a
 * registry request does. The two exports keep undici's shapes, so the registry code uses them as it would
 * use undici itself:
 *
 * - {@link request} imports undici, then calls its `request`; a lazy {@link Agent} given as `dispatcher` is
 *   swapped for the real pool first;
 * - {@link Agent} records its options and makes the real `undici.Agent` on the first request through it;
 *   `close()` closes that pool if it was ever made. A request after `close()` fails on a closed pool, as
 *   before.
 */
import type * as Undici from 'undici';

export type { Dispatcher } from 'undici';

let loading: Promise<typeof Undici> | undefined;
const loadUndici = (): Promise<typeof Undici> => (loading ??= import('undici'));

class LazyAgent {
  readonly #options: Undici.Agent.Options;
  #real: Promise<Undici.Agent> | undefined;
  #closed = false;

  constructor(options: Undici.Agent.Options) {
    this.#options = options;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async real(): Promise<Undici.Agent> {
    this.#real ??= loadUndici().then((undici) => new undici.Agent(this.#options));
    const agent = await this.#real;
    if (this.#closed && !agent.closed) await agent.close();
    return agent;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#real !== undefined) {
      const agent = await this.#real;
      if (!agent.closed) await agent.close();
    }
  }
}

/** undici's `Agent`, made on the first request through it (see the module comment). */
export type Agent = Undici.Agent;
/** undici's `Agent`, made on the first request through it (see the module comment). */
export const Agent = LazyAgent as unknown as typeof Undici.Agent;

/**
 * undici's `request`, loading undici on the first call.
 *
 * @param url - the URL
 * @param options - undici request options; a lazy {@link Agent} as `dispatcher` is resolved to its pool
 * @returns undici's response
 */
export async function request(
  url: Parameters<typeof Undici.request>[0],
  options: NonNullable<Parameters<typeof Undici.request>[1]> = {},
): Promise<Undici.Dispatcher.ResponseData> {
  const undici = await loadUndici();
  const given: unknown = options.dispatcher;
  const response =
    given instanceof LazyAgent
      ? undici.request(url, { ...options, dispatcher: await given.real() })
      : undici.request(url, options);
  // No `opaque` is ever passed, so the response's opaque is undici's default (null).
  return (await response) as Undici.Dispatcher.ResponseData;
}
