/**
 * A `git daemon` on 127.0.0.1 for the git-checkout tests (unit and end to end): started on a free port,
 * ready when it says so, stopped with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A free port on 127.0.0.1 (closed again before git daemon binds it). */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** `git daemon` serving `base` on 127.0.0.1, ready when it says so. */
export async function startDaemon(base: string): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    'git',
    [
      'daemon',
      '--verbose',
      '--export-all',
      '--reuseaddr',
      `--base-path=${base}`,
      '--listen=127.0.0.1',
      `--port=${port}`,
      base,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await new Promise<void>((ready, reject) => {
    let text = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      text += d;
      if (text.includes('Ready to rumble')) ready();
    });
    child.once('exit', (c) => reject(new Error(`git daemon exited (${c}): ${text}`)));
  });
  return { port, child };
}

/** Stop a daemon started by {@link startDaemon}. */
export function stopDaemon(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGTERM');
  });
}
