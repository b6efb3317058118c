/**
 * A small HTTP(S) server on 127.0.0.1 that serves a repository folder and misbehaves on demand: one-shot
 * faults queued per path (500/503/429, dropped connections, truncated or huge bodies, stalls, redirects),
 * optional basic auth, ETag/Last-Modified revalidation, and a log of every request it saw.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join, normalize } from 'node:path';

/** One fault, used once (in queue order) for requests of its path. */
export type Fault =
  | { kind: 'status'; status: number; retryAfter?: string; date?: string }
  /** Send headers with the full Content-Length and half the body, then destroy the socket. */
  | { kind: 'drop-mid-body' }
  /** Send half the body without Content-Length (chunked), then destroy the socket. */
  | { kind: 'truncate-chunked' }
  /** Destroy the socket before any response. */
  | { kind: 'reset' }
  /** Send headers and a first chunk, then nothing for `ms`. */
  | { kind: 'stall'; ms: number }
  /** Stream `bytes` bytes of zeros, announcing the length or not. */
  | { kind: 'huge'; bytes: number; announce: boolean }
  | { kind: 'redirect'; status: number; location: string }
  /** Serve these bytes instead of the file. */
  | { kind: 'body'; bytes: Uint8Array };

/** What the server saw. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  status: number;
}

export interface RepoServer {
  /** `http://127.0.0.1:<port>` (or https). */
  readonly origin: string;
  readonly port: number;
  readonly requests: SeenRequest[];
  /** Queue one-shot faults for a path (e.g. `/x86_64/APKINDEX.tar.gz`). */
  fault(path: string, ...faults: Fault[]): void;
  /** Always answer a path with this fault (until cleared with `persistent(path)`). */
  persistent(path: string, fault?: Fault): void;
  /** Require basic auth for every request (undefined turns it off). */
  requireAuth(credentials: { user: string; password: string } | undefined): void;
  /** Requests for a path (GETs that reached it, whatever the answer). */
  hits(path: string): SeenRequest[];
  close(): Promise<void>;
}

export interface RepoServerOptions {
  /** Folder to serve; absent → every path is 404 unless a fault answers it. */
  root?: string;
  /** Serve https with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
}

const LAST_MODIFIED = 'Wed, 01 Jan 2025 00:00:00 GMT';

export async function startRepoServer(options: RepoServerOptions = {}): Promise<RepoServer> {
  const queues = new Map<string, Fault[]>();
  const always = new Map<string, Fault>();
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  let auth: { user: string; password: string } | undefined;

  const finish = (req: IncomingMessage, res: ServerResponse, path: string, status: number): void => {
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers, status });
  };

  const serveBytes = (req: IncomingMessage, res: ServerResponse, path: string, bytes: Uint8Array): void => {
    const etag = `"${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"`;
    if (req.headers['if-none-match'] === etag) {
      finish(req, res, path, 304);
      res.writeHead(304, { etag, 'last-modified': LAST_MODIFIED });
      res.end();
      return;
    }
    finish(req, res, path, 200);
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': bytes.length,
      etag,
      'last-modified': LAST_MODIFIED,
    });
    res.end(bytes);
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    void (async () => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      if (auth !== undefined) {
        const expected = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
        if (req.headers.authorization !== expected) {
          finish(req, res, path, 401);
          res.writeHead(401, { 'www-authenticate': 'Basic realm="apk"', 'content-length': 0 });
          res.end();
          return;
        }
      }
      const fault = queues.get(path)?.shift() ?? always.get(path);
      let file: Uint8Array | undefined;
      const loadFile = async (): Promise<Uint8Array | undefined> => {
        if (options.root === undefined) return undefined;
        const full = normalize(join(options.root, path));
        if (!full.startsWith(options.root)) return undefined;
        try {
          if (!(await stat(full)).isFile()) return undefined;
          return new Uint8Array(await readFile(full));
        } catch {
          return undefined;
        }
      };
      if (fault !== undefined) {
        switch (fault.kind) {
          case 'status': {
            finish(req, res, path, fault.status);
            const headers: Record<string, string | number> = { 'content-length': 5 };
            if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
            if (fault.date !== undefined) headers.date = fault.date;
            res.writeHead(fault.status, headers);
            res.end('oops\n');
            return;
          }
          case 'reset':
            finish(req, res, path, 0);
            req.socket.destroy();
            return;
          case 'drop-mid-body': {
            file = (await loadFile()) ?? new Uint8Array(4096);
            finish(req, res, path, 200);
            res.writeHead(200, { 'content-length': file.length });
            res.write(file.subarray(0, Math.floor(file.length / 2)), () => {
              setTimeout(() => req.socket.destroy(), 20);
            });
            return;
          }
          case 'truncate-chunked': {
            file = (await loadFile()) ?? new Uint8Array(4096);
            finish(req, res, path, 200);
            res.writeHead(200, { 'content-type': 'application/octet-stream' });
            res.write(file.subarray(0, Math.floor(file.length / 2)), () => {
              setTimeout(() => req.socket.destroy(), 20);
            });
            return;
          }
          case 'stall': {
            file = (await loadFile()) ?? new Uint8Array(4096);
            finish(req, res, path, 200);
            res.writeHead(200, { 'content-length': file.length });
            res.write(file.subarray(0, 10));
            const timer = setTimeout(() => res.end(file!.subarray(10)), fault.ms);
            res.on('close', () => clearTimeout(timer));
            return;
          }
          case 'huge': {
            finish(req, res, path, 200);
            const headers: Record<string, string | number> = {};
            if (fault.announce) headers['content-length'] = fault.bytes;
            res.writeHead(200, headers);
            const chunk = Buffer.alloc(64 * 1024);
            let sent = 0;
            const pump = (): void => {
              while (sent < fault.bytes) {
                const n = Math.min(chunk.length, fault.bytes - sent);
                sent += n;
                if (!res.write(chunk.subarray(0, n))) {
                  res.once('drain', pump);
                  return;
                }
              }
              res.end();
            };
            res.on('close', () => (sent = fault.bytes));
            pump();
            return;
          }
          case 'redirect':
            finish(req, res, path, fault.status);
            res.writeHead(fault.status, { location: fault.location, 'content-length': 0 });
            res.end();
            return;
          case 'body':
            serveBytes(req, res, path, fault.bytes);
            return;
        }
      }
      file = await loadFile();
      if (file === undefined) {
        finish(req, res, path, 404);
        res.writeHead(404, { 'content-length': 10 });
        res.end('not found\n');
        return;
      }
      serveBytes(req, res, path, file);
    })();
  };

  const server =
    options.tls === undefined ? createHttpServer(handler) : createHttpsServer(options.tls, handler);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    port,
    requests,
    fault(path, ...faults) {
      queues.set(path, [...(queues.get(path) ?? []), ...faults]);
    },
    persistent(path, fault) {
      if (fault === undefined) always.delete(path);
      else always.set(path, fault);
    },
    requireAuth(credentials) {
      auth = credentials;
    },
    hits(path) {
      return requests.filter((r) => r.path === path);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createHttpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
