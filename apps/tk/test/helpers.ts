import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { runCli } from '@tk/tk';

export const ROOT = join(import.meta.dirname, '../../..');
export const FIXTURES = join(ROOT, 'test-fixtures/real');
/** The offline bootstrap repository that `scripts/setup.sh` builds. */
export const BOOTSTRAP_REPO = join(ROOT, '.cache/bootstrap/repo');
/** `podman run` with the flags this machine's podman needs (test-bench.md). */
export const PODMAN_RUN = [
  'run',
  '--rm',
  '--runtime',
  'runc',
  '--ulimit',
  'nofile=1024:1024',
  '--ulimit',
  'nproc=1024:1024',
];

/** Run tk in-process; returns the exit code and what it printed. */
export async function tk(
  cwd: string,
  ...argv: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    cwd,
    env: {},
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, stdout, stderr };
}

/** A scratch directory, optionally seeded with fixture paths (fixtures stay read-only). */
export function scratch(...copy: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'tk-cli-'));
  for (const path of copy)
    cpSync(join(FIXTURES, path), join(dir, path.split('/').pop()!), { recursive: true });
  return dir;
}

/**
 * A maker of temporary folders named `<prefix>…`, all removed after the test file's tests. Call it at the
 * top level of a test file.
 *
 * @param prefix - the folder name's start, e.g. `tk-bundle-`
 * @returns a function that makes one more folder and returns its path
 */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
}
