/**
 * Starts Debian's CNCF distribution registry (`docker-registry serve CONFIG`, 2.8) on a free 127.0.0.1
 * port with its storage in a temporary folder, for tests. See ../../../../../shared/reference/test-bench.md.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunningRegistry {
  /** `127.0.0.1:PORT`. */
  readonly host: string;
  readonly port: number;
  /** The temporary folder holding config and storage. */
  readonly dir: string;
  /** Storage root (`docker/registry/v2/…` appears below it). */
  readonly storage: string;
  /** What the registry printed. */
  output(): string;
  stop(): Promise<void>;
}

export interface RegistryServerOptions {
  /** Require these credentials (htpasswd, bcrypt). */
  readonly user?: { name: string; password: string };
  /** `http.relativeurls: true`: Location headers become relative paths. */
  readonly relativeUrls?: boolean;
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function getStatus(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/v2/', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => {
      req.destroy();
      resolve(0);
    });
    req.end();
  });
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Start a registry; retries on another port if the chosen one was taken meanwhile. */
export async function startRegistry(options: RegistryServerOptions = {}): Promise<RunningRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'tk-registry-'));
  const storage = join(dir, 'storage');
  let htpasswdLine: string | undefined;
  if (options.user !== undefined) {
    htpasswdLine = execFileSync('htpasswd', ['-Bbn', options.user.name, options.user.password], {
      encoding: 'utf8',
    });
    await writeFile(join(dir, 'htpasswd'), htpasswdLine);
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${storage}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      ...(options.relativeUrls === true ? ['  relativeurls: true'] : []),
      ...(htpasswdLine !== undefined
        ? ['auth:', '  htpasswd:', '    realm: tk-test', `    path: ${join(dir, 'htpasswd')}`]
        : []),
      '',
    ].join('\n');
    const configPath = join(dir, 'config.yml');
    await writeFile(configPath, config);
    const child = spawn('docker-registry', ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    let ready = false;
    for (let i = 0; i < 100 && child.exitCode === null; i++) {
      const status = await getStatus(port);
      if (status === 200 || status === 401) {
        ready = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!ready) {
      child.kill('SIGKILL');
      await waitExit(child, 2000);
      if (attempt === 2) {
        await rm(dir, { recursive: true, force: true });
        throw new Error(`docker-registry did not start: ${output}`);
      }
      continue;
    }
    return {
      host: `127.0.0.1:${port}`,
      port,
      dir,
      storage,
      output: () => output,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          if (!(await waitExit(child, 3000))) {
            child.kill('SIGKILL');
            await waitExit(child, 2000);
          }
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  throw new Error('unreachable');
}
