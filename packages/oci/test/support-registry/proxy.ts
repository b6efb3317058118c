/**
 * A recording, fault-injecting HTTP proxy on 127.0.0.1 in front of a registry. Each request gets a
 * number (1, 2, …) and a fault decided by the test:
 *
 * - `pass`: forwarded, the answer relayed;
 * - `error500`: answered 500 with a distribution-style error body, not forwarded;
 * - `drop`: the connection is destroyed before anything is forwarded;
 * - `drop-after-forward`: forwarded (the registry acts on it), then the connection is destroyed instead of
 *   relaying the answer (the client never learns it succeeded).
 *
 * The Host header is passed through, so the registry writes Location URLs that point back at the proxy.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = 'pass' | 'error500' | 'drop' | 'drop-after-forward';

export interface ProxyRequest {
  readonly n: number;
  readonly method: string;
  /** Path and query. */
  readonly url: string;
  /** Path without query. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly bodyLength: number;
}

export interface ProxyLogEntry extends ProxyRequest {
  readonly fault: Fault;
  /** Status relayed or injected; undefined when the connection was dropped. */
  status: number | undefined;
}

export interface RunningProxy {
  readonly host: string;
  readonly port: number;
  readonly log: ProxyLogEntry[];
  stop(): Promise<void>;
}

export async function startProxy(
  target: { host: string; port: number },
  decide: (req: ProxyRequest) => Fault = () => 'pass',
): Promise<RunningProxy> {
  const log: ProxyLogEntry[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = req.url ?? '/';
      const info: ProxyRequest = {
        n: ++n,
        method: req.method ?? 'GET',
        url,
        path: url.split('?')[0]!,
        headers: req.headers,
        bodyLength: body.byteLength,
      };
      const fault = decide(info);
      const entry: ProxyLogEntry = { ...info, fault, status: undefined };
      log.push(entry);
      if (fault === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault === 'error500') {
        entry.status = 500;
        const payload = JSON.stringify({
          errors: [{ code: 'UNKNOWN', message: `injected fault on request ${info.n}` }],
        });
        res.writeHead(500, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        });
        res.end(payload);
        return;
      }
      const upstream = request(
        { host: target.host, port: target.port, method: info.method, path: url, headers: req.headers },
        (up) => {
          const upChunks: Buffer[] = [];
          up.on('data', (c: Buffer) => upChunks.push(c));
          up.on('end', () => {
            if (fault === 'drop-after-forward') {
              req.socket.destroy();
              return;
            }
            entry.status = up.statusCode;
            const headers = { ...up.headers };
            res.writeHead(up.statusCode ?? 502, headers);
            res.end(Buffer.concat(upChunks));
          });
        },
      );
      upstream.on('error', (error) => {
        entry.status = 502;
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(String(error));
      });
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    port,
    log,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
