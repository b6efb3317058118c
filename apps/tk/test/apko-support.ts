import { cpSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readTar, type TarEntry } from '@tk/tar';
import { FIXTURES, tk } from './helpers.ts';

/** A working directory laid out like apko's internal/cli (testdata/packages, testdata/melange.rsa.pub, apko.yaml). */
export function testrepoWorkdir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tk-apko-'));
  mkdirSync(join(dir, 'testdata/packages'), { recursive: true });
  for (const arch of ['x86_64', 'aarch64'])
    cpSync(join(FIXTURES, 'apko-testrepo', arch), join(dir, 'testdata/packages', arch), { recursive: true });
  cpSync(join(FIXTURES, 'apko-testrepo/melange.rsa.pub'), join(dir, 'testdata/melange.rsa.pub'));
  cpSync(join(FIXTURES, 'apko-testrepo/apko.yaml'), join(dir, 'apko.yaml'));
  return dir;
}

/** The golden build's annotations, as apko's test passes them. */
export const GOLDEN_ANNOTATIONS = [
  '--annotations',
  'org.opencontainers.image.vendor:Vendor',
  '--annotations',
  'org.opencontainers.image.title:Title',
];

/** Run the apko-testrepo build in `dir`; returns what tk printed and its exit code. */
export function runTestrepoBuild(
  dir: string,
  ...extra: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return tk(
    dir,
    'apko',
    'build',
    'apko.yaml',
    'golden:latest',
    'out.tar',
    ...GOLDEN_ANNOTATIONS,
    '--cache-dir',
    join(dir, 'cache'),
    ...extra,
  );
}

/** Build the apko-testrepo image; returns the workdir. */
export async function buildTestrepo(dir = testrepoWorkdir(), ...extra: string[]): Promise<string> {
  const r = await runTestrepoBuild(dir, ...extra);
  if (r.code !== 0) throw new Error(`build failed: ${r.stderr}`);
  return dir;
}

/** Files of a docker-archive tarball by name. */
export function tarballFiles(path: string): Map<string, Uint8Array> {
  return new Map(readTar(new Uint8Array(readFileSync(path))).entries.map((e) => [e.name, e.data]));
}

/** The entries of a gzip'd layer. */
export function layerEntries(gz: Uint8Array): TarEntry[] {
  return readTar(new Uint8Array(gunzipSync(gz))).entries;
}

/** apko's golden OCI output. */
export const GOLDEN = join(FIXTURES, 'apko-testrepo/golden');
export const goldenBlob = (digest: string): Uint8Array =>
  new Uint8Array(readFileSync(join(GOLDEN, 'blobs/sha256', digest.replace('sha256:', ''))));
