/**
 * An in-memory registry (just enough of the distribution protocol for push and manifest reads) and a
 * token service, on 127.0.0.1, for testing the Bearer token flow (distribution's own token auth needs
 * certificates). Upload Locations are relative with a query string, as some registries send them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TokenRequestRecord {
  readonly method: string;
  readonly scopes: string[];
  readonly service: string | undefined;
  /** The Basic user, or the refresh token's owner; undefined when anonymous. */
  readonly user: string | undefined;
  readonly grantType: string | undefined;
}

export interface Grant {
  readonly user: string | undefined;
  /** repository → actions. */
  readonly access: Map<string, Set<string>>;
}

export interface TokenServerOptions {
  /** user → password. */
  readonly users?: Record<string, string>;
  /** refresh token → user (for the OAuth2 POST form). */
  readonly refreshTokens?: Record<string, string>;
  /** Give tokens to anonymous requests (pull and push, like a permissive test registry). */
  readonly anonymous?: boolean;
  /** Answer with `access_token` instead of `token`. */
  readonly field?: 'token' | 'access_token' | 'none';
}

export interface RunningTokenServer {
  readonly url: string;
  readonly requests: TokenRequestRecord[];
  readonly grants: Map<string, Grant>;
  stop(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function closer(server: Server): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

function json(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

export async function startTokenServer(options: TokenServerOptions = {}): Promise<RunningTokenServer> {
  const requests: TokenRequestRecord[] = [];
  const grants = new Map<string, Grant>();
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://x');
      let params = url.searchParams;
      if (req.method === 'POST') params = new URLSearchParams(body.toString('utf8'));
      const scopes =
        req.method === 'POST'
          ? (params.get('scope') ?? '').split(' ').filter((s) => s !== '')
          : params.getAll('scope');
      let user: string | undefined;
      const auth = req.headers.authorization;
      if (req.method === 'POST') {
        const refresh = params.get('refresh_token');
        user = refresh !== null ? options.refreshTokens?.[refresh] : undefined;
        if (user === undefined)
          return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'bad refresh token' }] });
      } else if (auth !== undefined) {
        const decoded = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString();
        const [name, ...rest] = decoded.split(':');
        if (name === undefined || options.users?.[name] !== rest.join(':')) {
          requests.push({
            method: req.method ?? '',
            scopes,
            service: params.get('service') ?? undefined,
            user: name,
            grantType: undefined,
          });
          return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
        }
        user = name;
      } else if (options.anonymous !== true) {
        requests.push({
          method: req.method ?? '',
          scopes,
          service: params.get('service') ?? undefined,
          user: undefined,
          grantType: undefined,
        });
        return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
      }
      requests.push({
        method: req.method ?? '',
        scopes,
        service: params.get('service') ?? undefined,
        user,
        grantType: params.get('grant_type') ?? undefined,
      });
      const access = new Map<string, Set<string>>();
      for (const scope of scopes) {
        const [type, name, actions] = scope.split(':');
        if (type !== 'repository' || name === undefined || actions === undefined) continue;
        access.set(name, new Set([...(access.get(name) ?? []), ...actions.split(',')]));
      }
      const token = randomBytes(12).toString('hex');
      grants.set(token, { user, access });
      if (options.field === 'none') return json(res, 200, { expires_in: 300 });
      return json(
        res,
        200,
        options.field === 'access_token' ? { access_token: token } : { token, expires_in: 300 },
      );
    })();
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}/token`, requests, grants, stop: closer(server) };
}

export interface FakeRegistryRequest {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
}

export interface FakeRegistryOptions {
  /** Require bearer tokens issued by this token server (challenge with its realm). */
  readonly bearer?: { realm: string; service: string; grants: Map<string, Grant> };
  /** Answer a request instead of the registry (return true when handled). */
  readonly intercept?: (req: IncomingMessage, res: ServerResponse, body: Buffer) => boolean;
}

export interface RunningFakeRegistry {
  readonly host: string;
  readonly requests: FakeRegistryRequest[];
  /** repository → reference (tag or digest) → manifest. */
  readonly manifests: Map<string, Map<string, { bytes: Buffer; mediaType: string }>>;
  /** repository → blob digests. */
  readonly repoBlobs: Map<string, Set<string>>;
  /** Forget every issued token (as if they expired). */
  revokeTokens(): void;
  stop(): Promise<void>;
}

export async function startFakeRegistry(options: FakeRegistryOptions = {}): Promise<RunningFakeRegistry> {
  const requests: FakeRegistryRequest[] = [];
  const blobs = new Map<string, Buffer>();
  const repoBlobs = new Map<string, Set<string>>();
  const manifests = new Map<string, Map<string, { bytes: Buffer; mediaType: string }>>();
  const uploads = new Map<string, { repo: string; chunks: Buffer[] }>();
  let revoked = new Set<string>();
  let uploadCounter = 0;

  const challenge = (scope?: string): string => {
    const b = options.bearer!;
    return `Bearer realm="${b.realm}",service="${b.service}"${scope !== undefined ? `,scope="${scope}"` : ''}`;
  };
  const allowed = (req: IncomingMessage, repo: string | undefined, action: string | undefined): boolean => {
    if (options.bearer === undefined) return true;
    const auth = req.headers.authorization;
    if (auth === undefined || !auth.startsWith('Bearer ')) return false;
    const token = auth.slice('Bearer '.length);
    if (revoked.has(token)) return false;
    const grant = options.bearer.grants.get(token);
    if (grant === undefined) return false;
    if (repo === undefined) return true;
    return grant.access.get(repo)?.has(action!) === true;
  };

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
      });
      if (options.intercept?.(req, res, body) === true) return;
      const url = new URL(req.url ?? '/', 'http://x');
      const method = req.method ?? 'GET';
      const path = url.pathname;
      if (path === '/v2/' || path === '/v2') {
        if (!allowed(req, undefined, undefined)) {
          return json(
            res,
            401,
            { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] },
            { 'www-authenticate': challenge() },
          );
        }
        return json(res, 200, {});
      }
      let m = /^\/v2\/(.+)\/blobs\/uploads\/(.*)$/.exec(path);
      const repoOf = (): string => m![1]!;
      const deny = (repo: string, action: string): boolean => {
        if (allowed(req, repo, action)) return false;
        json(
          res,
          401,
          { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] },
          {
            'www-authenticate': challenge(`repository:${repo}:${action === 'push' ? 'pull,push' : 'pull'}`),
          },
        );
        return true;
      };
      if (m !== null) {
        const repo = repoOf();
        if (deny(repo, 'push')) return;
        const id = m[2]!;
        if (method === 'POST' && id === '') {
          const mount = url.searchParams.get('mount');
          const from = url.searchParams.get('from');
          if (
            mount !== null &&
            from !== null &&
            repoBlobs.get(from)?.has(mount) === true &&
            allowed(req, from, 'pull')
          ) {
            repoBlobs.set(repo, new Set([...(repoBlobs.get(repo) ?? []), mount]));
            res.writeHead(201, {
              location: `/v2/${repo}/blobs/${mount}`,
              'docker-content-digest': mount,
              'content-length': 0,
            });
            return res.end();
          }
          const uuid = `u${++uploadCounter}`;
          uploads.set(uuid, { repo, chunks: [] });
          res.writeHead(202, { location: `/v2/${repo}/blobs/uploads/${uuid}?state=s0`, 'content-length': 0 });
          return res.end();
        }
        const upload = uploads.get(id);
        if (upload === undefined)
          return json(res, 404, {
            errors: [{ code: 'BLOB_UPLOAD_UNKNOWN', message: 'blob upload unknown' }],
          });
        if (method === 'PATCH') {
          upload.chunks.push(body);
          res.writeHead(202, {
            location: `/v2/${repo}/blobs/uploads/${id}?state=s${upload.chunks.length}`,
            'content-length': 0,
          });
          return res.end();
        }
        if (method === 'PUT') {
          if (url.searchParams.get('state') === null) {
            return json(res, 400, {
              errors: [{ code: 'BLOB_UPLOAD_INVALID', message: 'query string lost' }],
            });
          }
          const data = Buffer.concat([...upload.chunks, body]);
          const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
          if (digest !== url.searchParams.get('digest')) {
            return json(res, 400, {
              errors: [{ code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' }],
            });
          }
          uploads.delete(id);
          blobs.set(digest, data);
          repoBlobs.set(repo, new Set([...(repoBlobs.get(repo) ?? []), digest]));
          res.writeHead(201, {
            location: `/v2/${repo}/blobs/${digest}`,
            'docker-content-digest': digest,
            'content-length': 0,
          });
          return res.end();
        }
      }
      m = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(path);
      if (m !== null) {
        const repo = repoOf();
        if (deny(repo, 'pull')) return;
        const digest = m[2]!;
        const data = repoBlobs.get(repo)?.has(digest) === true ? blobs.get(digest) : undefined;
        if (data === undefined) {
          res.writeHead(404, { 'content-length': 0 });
          return res.end();
        }
        res.writeHead(200, { 'content-length': data.byteLength, 'docker-content-digest': digest });
        return res.end(method === 'HEAD' ? undefined : data);
      }
      m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
      if (m !== null) {
        const repo = repoOf();
        const reference = m[2]!;
        if (deny(repo, method === 'PUT' ? 'push' : 'pull')) return;
        const store = manifests.get(repo) ?? new Map<string, { bytes: Buffer; mediaType: string }>();
        manifests.set(repo, store);
        if (method === 'PUT') {
          const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
          if (reference.startsWith('sha256:') && reference !== digest) {
            return json(res, 400, {
              errors: [{ code: 'DIGEST_INVALID', message: 'manifest digest did not match' }],
            });
          }
          const entry = { bytes: body, mediaType: req.headers['content-type'] ?? '' };
          store.set(reference, entry);
          store.set(digest, entry);
          res.writeHead(201, {
            location: `/v2/${repo}/manifests/${digest}`,
            'docker-content-digest': digest,
            'content-length': 0,
          });
          return res.end();
        }
        const entry = store.get(reference);
        if (entry === undefined)
          return json(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] });
        const digest = `sha256:${createHash('sha256').update(entry.bytes).digest('hex')}`;
        res.writeHead(200, {
          'content-type': entry.mediaType,
          'content-length': entry.bytes.byteLength,
          'docker-content-digest': digest,
        });
        return res.end(method === 'HEAD' ? undefined : entry.bytes);
      }
      return json(res, 404, { errors: [{ code: 'NAME_UNKNOWN', message: `no route ${method} ${path}` }] });
    })();
  });
  const port = await listen(server);
  return {
    host: `127.0.0.1:${port}`,
    requests,
    manifests,
    repoBlobs,
    revokeTokens: () => {
      revoked = new Set([...revoked, ...(options.bearer?.grants.keys() ?? [])]);
    },
    stop: closer(server),
  };
}
