/**
 * A session with one registry: the `/v2/` ping, the authentication it asks for, cached bearer tokens and
 * authorised requests with retries.
 *
 * Authentication (https://distribution.github.io/distribution/spec/auth/token/,
 * https://distribution.github.io/distribution/spec/auth/oauth/):
 *
 * 1. `GET /v2/` without credentials. 200: anonymous. 401 with `WWW-Authenticate: Basic realm=…`: send
 *    `Authorization: Basic base64(user:pass)`. 401 with `Bearer realm=…,service=…`: get a token from the
 *    realm for the scopes a request needs (`repository:<repo>:pull,push`): `GET realm?service=…&scope=…`
 *    with Basic credentials when there are any (anonymously otherwise), or, with an identity token,
 *    `POST realm` (form `grant_type=refresh_token`). The answer's `token` (or `access_token`) is sent as
 *    `Authorization: Bearer …`.
 * 2. Tokens are cached for the life of the session, each reused by every request whose scopes it was
 *    asked for (a `pull,push` token serves pulls too). A 401 on a request (expired token, a scope the
 *    registry wants, or a registry that only challenges on push) drops the refused token, adds the
 *    challenge's scope, and retries once; concurrent requests share the one new token.
 * 3. Credentials and tokens go only to the registry's own origin and to its token realm; the realm must
 *    pass the same https rule as every URL, and a remote registry cannot point it at a private address.
 */
import type { Logger } from '@tk/core';
import { parseChallenges, type AuthChallenge } from './challenge.ts';
import type { Keychain, RegistryCredential } from './credentials.ts';
import { RegistryError, type RegistryErrorCode } from './errors.ts';
import {
  checkUrlAllowed,
  header,
  redactUrl,
  retrying,
  sendChecked,
  type ExhaustedInfo,
  type HttpRequest,
  type HttpResponse,
  type HttpSettings,
} from './http.ts';
import { isLoopback, isPrivateAddress } from './reference.ts';

/** Largest token-service answer read. */
const MAX_TOKEN_BODY = 1024 * 1024;
/** Largest error body read. */
export const MAX_ERROR_BODY = 64 * 1024;
const MAX_REDIRECTS = 5;
const TOKEN_RE = /^[\x21-\x7e]+$/;

/** How the registry wants to be authenticated, learnt from `GET /v2/` or a later 401. */
type AuthMode = { kind: 'none' } | { kind: 'basic' } | { kind: 'bearer'; challenge: AuthChallenge };

/** One entry of a registry's `{"errors": [...]}` body (distribution spec, "Error Codes"). */
export interface RegistryErrorDetail {
  readonly code: string;
  readonly message: string;
  readonly detail?: unknown;
}

/** Options of a request made through a session. */
export interface SessionRequestOptions {
  /** Repository the request is about (for the token scope and podman's per-repository credentials). */
  readonly repository: string | undefined;
  /** Actions needed on it: `pull`, or `pull,push`. */
  readonly actions: readonly ('pull' | 'push')[];
  /** More scopes (`repository:<other>:pull` for a cross-repository mount). */
  readonly extraScopes?: readonly string[];
  /** Retry transient failures here (true), or let {@link TransientFailure} reach the caller (false). */
  readonly retry: boolean;
  /** Follow redirects (GET and HEAD only). */
  readonly followRedirects?: boolean;
}

/** Transport settings plus what a session needs besides. */
export interface SessionSettings extends HttpSettings {
  readonly keychain: Keychain | undefined;
  readonly logger: Logger;
}

function sameOrigin(a: URL, b: URL): boolean {
  return a.origin === b.origin;
}

/**
 * Parse a registry's error body: `{"errors":[{"code","message","detail"}]}`; other bodies become one
 * entry with code `UNKNOWN` and a text excerpt.
 *
 * @param body - the response body
 * @returns the errors (empty for an empty body)
 */
export function parseRegistryErrors(body: Uint8Array): RegistryErrorDetail[] {
  if (body.byteLength === 0) return [];
  const text = Buffer.from(body.buffer, body.byteOffset, Math.min(body.byteLength, MAX_ERROR_BODY)).toString(
    'utf8',
  );
  try {
    const parsed: unknown = JSON.parse(text);
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      Array.isArray((parsed as { errors?: unknown }).errors)
    ) {
      const out: RegistryErrorDetail[] = [];
      for (const e of (parsed as { errors: unknown[] }).errors.slice(0, 20)) {
        if (typeof e !== 'object' || e === null) continue;
        const { code, message, detail } = e as { code?: unknown; message?: unknown; detail?: unknown };
        out.push({
          code: typeof code === 'string' ? clean(code, 100) : 'UNKNOWN',
          message: typeof message === 'string' ? clean(message, 500) : '',
          ...(detail !== undefined ? { detail } : {}),
        });
      }
      return out;
    }
  } catch {
    // Not JSON: quote it.
  }
  const excerpt = clean(text, 300);
  return excerpt === '' ? [] : [{ code: 'UNKNOWN', message: excerpt }];
}

function clean(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const t = text.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

function describeErrors(errors: readonly RegistryErrorDetail[]): string {
  if (errors.length === 0) return '';
  return `: ${errors.map((e) => (e.message === '' ? e.code : `${e.code}: ${e.message}`)).join('; ')}`;
}

/**
 * The error for a response a step did not expect: code from the status, message with the step, method,
 * URL, status and the registry's own errors, and a hint.
 *
 * @param step - what was being done ("push manifest sha256:…")
 * @param method - the HTTP method
 * @param res - the response
 * @param registry - the registry host, for the hint
 * @returns the error to throw
 */
export function responseError(
  step: string,
  method: string,
  res: HttpResponse,
  registry: string,
): RegistryError {
  const errors = parseRegistryErrors(res.body);
  let code: RegistryErrorCode = 'REGISTRY_HTTP_ERROR';
  let hint = 'the registry refused the request; its error is in the message';
  if (res.status === 401) {
    code = 'REGISTRY_UNAUTHORIZED';
    hint = `log in with tk apko login ${registry}, or check ~/.docker/config.json (or $DOCKER_CONFIG/config.json)`;
  } else if (res.status === 403) {
    code = 'REGISTRY_DENIED';
    hint = `the credentials for ${registry} lack permission for this; log in with tk apko login ${registry} as a user who has it, or check ~/.docker/config.json`;
  } else if (res.status === 404) {
    code = 'REGISTRY_NOT_FOUND';
    hint = 'check the repository name and tag';
  }
  return new RegistryError(
    code,
    `${step}: ${method} ${redactUrl(res.url)} answered ${res.status}${describeErrors(errors)}`,
    { hint, data: { step, method, url: redactUrl(res.url), status: res.status, errors } },
  );
}

/**
 * The error when every retry of a step failed.
 *
 * @param info - what {@link retrying} reports
 * @param method - the HTTP method of the last attempt
 * @returns the error to throw
 */
export function exhaustedError(info: ExhaustedInfo, method?: string): RegistryError {
  const res = info.last.response;
  const errors = res !== undefined ? parseRegistryErrors(res.body) : [];
  const what =
    res !== undefined
      ? `${method ?? ''} ${redactUrl(res.url)} answered ${res.status}${describeErrors(errors)}`.trim()
      : info.last.message;
  return new RegistryError(
    'REGISTRY_UNAVAILABLE',
    `${info.step}: failed after ${info.attempts} attempts; last: ${what}`,
    {
      hint: 'the registry or the network kept failing; try again later, or check the registry status',
      cause: info.last,
      data: {
        step: info.step,
        attempts: info.attempts,
        ...(res !== undefined ? { status: res.status, url: redactUrl(res.url), errors } : {}),
      },
    },
  );
}

/** A session with one registry. */
export class RegistrySession {
  readonly registry: string;
  readonly base: URL;
  private readonly settings: SessionSettings;
  private mode: Promise<AuthMode> | undefined;
  /** Bearer tokens fetched so far, each with the scopes it was granted for (as asked). */
  private readonly tokens: TokenEntry[] = [];
  private readonly credentials = new Map<string, Promise<RegistryCredential | undefined>>();

  constructor(registry: string, settings: SessionSettings) {
    this.registry = registry;
    this.settings = settings;
    const loopback = isLoopback(registry);
    this.base = new URL(`${loopback || settings.insecure ? 'http' : 'https'}://${registry}/`);
  }

  /** A URL under the registry: `/v2/…`. */
  url(path: string): URL {
    return new URL(path, this.base);
  }

  private credential(repository: string | undefined): Promise<RegistryCredential | undefined> {
    const key = repository ?? '';
    let found = this.credentials.get(key);
    if (found === undefined) {
      found = this.settings.keychain?.resolve(this.registry, repository) ?? Promise.resolve(undefined);
      this.credentials.set(key, found);
    }
    return found;
  }

  /** `GET /v2/`: learn how the registry authenticates (cached). */
  ping(): Promise<AuthMode> {
    if (this.mode === undefined) {
      this.mode = this.doPing();
      this.mode.catch(() => {
        this.mode = undefined;
      });
    }
    return this.mode;
  }

  private async doPing(): Promise<AuthMode> {
    const url = this.url('/v2/');
    const res = await retrying(
      this.settings,
      `contact registry ${this.registry}`,
      () => sendChecked(this.settings, { method: 'GET', url, maxBodyBytes: MAX_ERROR_BODY }),
      (info) => exhaustedError(info, 'GET'),
    );
    if (res.status === 200) return { kind: 'none' };
    if (res.status === 401) return this.modeFromChallenge(res);
    const error = responseError(`contact registry ${this.registry}`, 'GET', res, this.registry);
    throw new RegistryError(error.code, `${error.message} (is ${this.registry} an OCI registry?)`, {
      hint: `check the registry address ${this.registry}`,
      ...(error.data !== undefined ? { data: error.data } : {}),
    });
  }

  private modeFromChallenge(res: HttpResponse): AuthMode {
    const challenges = parseChallenges(res.headers['www-authenticate']);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer !== undefined) return { kind: 'bearer', challenge: bearer };
    if (challenges.some((c) => c.scheme === 'basic')) return { kind: 'basic' };
    throw new RegistryError(
      'REGISTRY_BAD_RESPONSE',
      `${res.url.host} asked for authentication without a Basic or Bearer challenge (WWW-Authenticate: ${JSON.stringify(
        header(res, 'www-authenticate') ?? '',
      )})`,
      {
        hint: 'tk supports registries with Basic and Bearer (token) authentication',
        data: { url: redactUrl(res.url) },
      },
    );
  }

  private scopes(options: SessionRequestOptions): string[] {
    const scopes: string[] = [];
    if (options.repository !== undefined)
      scopes.push(`repository:${options.repository}:${options.actions.join(',')}`);
    return mergeScopes([...scopes, ...(options.extraScopes ?? [])]);
  }

  private async authorization(
    mode: AuthMode,
    scopes: readonly string[],
    repository: string | undefined,
  ): Promise<{ header: string | undefined; entry?: TokenEntry }> {
    if (mode.kind === 'none') return { header: undefined };
    const credential = await this.credential(repository);
    if (credential?.registryToken !== undefined) return { header: `Bearer ${credential.registryToken}` };
    if (mode.kind === 'basic') {
      if (credential?.username === undefined) return { header: undefined };
      return { header: basicHeader(credential.username, credential.password ?? '') };
    }
    const wanted = parseScopes(scopes);
    let entry = this.tokens.find((t) => covers(t.scopes, wanted));
    if (entry === undefined) {
      const created: TokenEntry = {
        scopes: wanted,
        token: this.fetchToken(mode.challenge, scopes, credential),
      };
      this.tokens.push(created);
      created.token.catch(() => this.dropToken(created));
      entry = created;
    }
    return { header: `Bearer ${await entry.token}`, entry };
  }

  private dropToken(entry: TokenEntry): void {
    const at = this.tokens.indexOf(entry);
    if (at >= 0) this.tokens.splice(at, 1);
  }

  private realmUrl(challenge: AuthChallenge): URL {
    const realm = challenge.params.get('realm');
    if (realm === undefined || realm === '') {
      throw new RegistryError(
        'REGISTRY_BAD_RESPONSE',
        `${this.registry} sent a Bearer challenge without a realm`,
        {
          hint: 'the registry is misconfigured; tk cannot get a token',
        },
      );
    }
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError(
        'REGISTRY_BAD_RESPONSE',
        `${this.registry} sent a token realm that is not a URL: ${JSON.stringify(realm)}`,
        {
          hint: 'the registry is misconfigured; tk cannot get a token',
        },
      );
    }
    checkUrlAllowed(url, this.settings.insecure);
    // A remote registry must not send the client (and its credentials) to internal addresses.
    const local = isLoopback(this.registry) || isPrivateAddress(this.registry) || this.settings.insecure;
    if (!local && url.host !== this.base.host && isPrivateAddress(url.hostname)) {
      throw new RegistryError(
        'REGISTRY_BAD_RESPONSE',
        `${this.registry} sent a token realm on a private address (${redactUrl(url)}); refusing to send credentials there`,
        {
          hint: 'the registry or something between it and you is misbehaving; check the registry address',
          data: { url: redactUrl(url) },
        },
      );
    }
    return url;
  }

  private async fetchToken(
    challenge: AuthChallenge,
    scopes: readonly string[],
    credential: RegistryCredential | undefined,
  ): Promise<string> {
    const realm = this.realmUrl(challenge);
    const service = challenge.params.get('service');
    const step = `get a token from ${realm.host} for ${scopes.join(' ') || this.registry}`;
    let res: HttpResponse | undefined;
    let method = 'GET';
    if (credential?.identityToken !== undefined) {
      method = 'POST';
      const form = new URLSearchParams();
      form.set('grant_type', 'refresh_token');
      form.set('refresh_token', credential.identityToken);
      if (service !== undefined) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      form.set('client_id', this.settings.userAgent);
      res = await this.tokenRequest(step, {
        method: 'POST',
        url: realm,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        maxBodyBytes: MAX_TOKEN_BODY,
      });
      // Not every token service speaks OAuth2; fall back to the GET form, as docker does.
      if (res.status === 404 || res.status === 405) res = undefined;
    }
    if (res === undefined) {
      method = 'GET';
      const url = new URL(realm);
      if (service !== undefined) url.searchParams.set('service', service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      const headers: Record<string, string> = {};
      if (credential?.username !== undefined)
        headers.authorization = basicHeader(credential.username, credential.password ?? '');
      res = await this.tokenRequest(step, { method: 'GET', url, headers, maxBodyBytes: MAX_TOKEN_BODY });
    }
    if (res.status !== 200) {
      const error = responseError(step, method, res, this.registry);
      if (res.status === 401 && credential === undefined) {
        throw new RegistryError(
          'REGISTRY_UNAUTHORIZED',
          `${error.message} (no credentials were found for ${this.registry})`,
          {
            hint: error.hint ?? '',
            ...(error.data !== undefined ? { data: error.data } : {}),
          },
        );
      }
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(res.body).toString('utf8'));
    } catch {
      throw new RegistryError(
        'REGISTRY_TOKEN_ERROR',
        `${step}: the token service answered with something that is not JSON`,
        {
          hint: 'the token service is misbehaving; try again later',
        },
      );
    }
    const fields = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
    const token =
      typeof fields.token === 'string' && fields.token !== ''
        ? fields.token
        : typeof fields.access_token === 'string' && fields.access_token !== ''
          ? fields.access_token
          : undefined;
    if (token === undefined) {
      throw new RegistryError(
        'REGISTRY_TOKEN_ERROR',
        `${step}: the token service's answer has no "token" or "access_token"`,
        {
          hint: 'the token service is misbehaving; try again later',
        },
      );
    }
    if (!TOKEN_RE.test(token) || token.length > 64 * 1024) {
      throw new RegistryError(
        'REGISTRY_TOKEN_ERROR',
        `${step}: the token contains characters not allowed in a header`,
        {
          hint: 'the token service is misbehaving; try again later',
        },
      );
    }
    this.settings.logger.debug(`registry: got a token for ${scopes.join(' ') || this.registry}`);
    return token;
  }

  private async tokenRequest(step: string, req: HttpRequest): Promise<HttpResponse> {
    return retrying(
      this.settings,
      step,
      () => sendChecked(this.settings, req),
      (info) => exhaustedError(info, req.method),
    );
  }

  /**
   * Check that the session can authenticate: ping, and for Bearer registries fetch a token (for
   * `scopes`, or none), then `GET /v2/` with it.
   *
   * @param repository - a repository to scope the token to, if any
   * @throws {RegistryError} REGISTRY_UNAUTHORIZED when the credentials are refused or missing
   */
  async checkAuth(repository?: string): Promise<void> {
    const res = await this.send(
      `log in to ${this.registry}`,
      { method: 'GET', url: this.url('/v2/'), maxBodyBytes: MAX_ERROR_BODY },
      { repository, actions: ['pull'], retry: true },
    );
    if (res.status !== 200) throw responseError(`log in to ${this.registry}`, 'GET', res, this.registry);
  }

  /**
   * Send a request with authorisation, retries and (for GET/HEAD) redirects. A 401 is answered once by
   * fetching a fresh token (or switching to the scheme the challenge names).
   *
   * @param step - what is being done, for errors
   * @param req - the request (its URL may be outside the registry: then no credentials are sent)
   * @param options - scope and retry behaviour
   * @returns the response (any non-transient status; the caller decides what it means)
   */
  async send(step: string, req: HttpRequest, options: SessionRequestOptions): Promise<HttpResponse> {
    let scopes = this.scopes(options);
    let mode = await this.ping();
    for (let authRound = 0; ; authRound++) {
      const authz = await this.authorization(mode, scopes, options.repository);
      const res = await this.sendFollowing(step, req, authz.header, options);
      if (res.status !== 401 || authRound > 0 || !sameOrigin(res.url, this.base)) return res;
      // Retry once with fresh authentication, if there is anything fresh to try.
      const challenges = parseChallenges(res.headers['www-authenticate']);
      const bearer = challenges.find((c) => c.scheme === 'bearer');
      const credential = await this.credential(options.repository);
      if (bearer !== undefined) {
        // Drop the token that was refused (unless a concurrent request already replaced it).
        if (authz.entry !== undefined) this.dropToken(authz.entry);
        const wanted = bearer.params.get('scope');
        if (wanted !== undefined) scopes = mergeScopes([...wanted.split(' '), ...scopes]);
        mode = { kind: 'bearer', challenge: bearer };
        this.mode = Promise.resolve(mode);
        continue;
      }
      if (
        mode.kind === 'none' &&
        challenges.some((c) => c.scheme === 'basic') &&
        credential?.username !== undefined
      ) {
        mode = { kind: 'basic' };
        this.mode = Promise.resolve(mode);
        continue;
      }
      return res;
    }
  }

  private async sendFollowing(
    step: string,
    req: HttpRequest,
    authz: string | undefined,
    options: SessionRequestOptions,
  ): Promise<HttpResponse> {
    let current = req;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { ...current.headers };
      if (authz !== undefined && sameOrigin(current.url, this.base)) headers.authorization = authz;
      const attempt = { ...current, headers };
      const res = options.retry
        ? await retrying(
            this.settings,
            step,
            () => sendChecked(this.settings, attempt),
            (info) => exhaustedError(info, attempt.method),
          )
        : await sendChecked(this.settings, attempt);
      const follow =
        options.followRedirects === true &&
        (current.method === 'GET' || current.method === 'HEAD') &&
        [301, 302, 303, 307, 308].includes(res.status);
      if (!follow) return res;
      const location = header(res, 'location');
      if (location === undefined) return res;
      if (hop >= MAX_REDIRECTS) {
        throw new RegistryError(
          'REGISTRY_BAD_RESPONSE',
          `${step}: more than ${MAX_REDIRECTS} redirects from ${redactUrl(req.url)}`,
          {
            hint: 'the registry redirects in a loop; check the registry address',
          },
        );
      }
      const next = resolveLocation(res, location);
      current = { ...current, url: next, headers: stripAuthorization(current.headers) };
    }
  }
}

/** A cached bearer token and the scopes it was asked for: resource (`repository:name`) → actions. */
interface TokenEntry {
  readonly scopes: ReadonlyMap<string, ReadonlySet<string>>;
  readonly token: Promise<string>;
}

/** Parse scopes (`type:name:action,action`) into resource → actions. */
function parseScopes(scopes: readonly string[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const scope of scopes) {
    const colon = scope.lastIndexOf(':');
    const resource = colon > 0 ? scope.slice(0, colon) : scope;
    const actions = colon > 0 ? scope.slice(colon + 1).split(',') : [];
    const set = out.get(resource) ?? new Set<string>();
    for (const action of actions) if (action !== '') set.add(action);
    out.set(resource, set);
  }
  return out;
}

/** Merge scopes naming the same resource (`repository:a:pull` + `repository:a:push` → `repository:a:pull,push`), keeping first-seen order. */
function mergeScopes(scopes: readonly string[]): string[] {
  return [...parseScopes(scopes.filter((s) => s !== ''))].map(([resource, actions]) =>
    actions.size === 0 ? resource : `${resource}:${[...actions].join(',')}`,
  );
}

/** Whether a token asked for `have` also serves `want`. */
function covers(
  have: ReadonlyMap<string, ReadonlySet<string>>,
  want: ReadonlyMap<string, ReadonlySet<string>>,
): boolean {
  for (const [resource, actions] of want) {
    const granted = have.get(resource);
    if (granted === undefined) return false;
    for (const action of actions) if (!granted.has(action)) return false;
  }
  return true;
}

function stripAuthorization(headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) if (k.toLowerCase() !== 'authorization') out[k] = v;
  return out;
}

/**
 * Resolve a `Location` header against the URL it answered (registries send absolute URLs, relative paths
 * and paths with query strings).
 *
 * @param res - the response
 * @param location - the header value
 * @returns the absolute URL
 * @throws {RegistryError} REGISTRY_BAD_RESPONSE when it does not parse
 */
export function resolveLocation(res: HttpResponse, location: string): URL {
  try {
    return new URL(location, res.url);
  } catch {
    throw new RegistryError(
      'REGISTRY_BAD_RESPONSE',
      `${redactUrl(res.url)} answered with an invalid Location ${JSON.stringify(location.slice(0, 200))}`,
      {
        hint: 'the registry is misbehaving; check the registry address',
      },
    );
  }
}

function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}
