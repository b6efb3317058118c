import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from './lazy-undici.ts';

let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer((_req, res) => res.end('hello'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('lazy undici', () => {
  it('sends through a lazy Agent, made on the first request', async () => {
    const agent = new Agent({ connections: 2 });
    expect(agent.closed).toBe(false);
    const res = await request(url, { dispatcher: agent });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('hello');
    await agent.close();
    expect(agent.closed).toBe(true);
  });

  it('sends without a dispatcher (undici global one)', async () => {
    const res = await request(url, { method: 'GET' });
    expect(await res.body.text()).toBe('hello');
  });

  it('closing an Agent that never sent makes no pool; a request after close fails as on a closed undici Agent', async () => {
    const agent = new Agent({});
    await agent.close();
    // undici's own Agent, closed before any request, answers UND_ERR_DESTROYED too.
    await expect(request(url, { dispatcher: agent })).rejects.toMatchObject({ code: 'UND_ERR_DESTROYED' });
  });
});
