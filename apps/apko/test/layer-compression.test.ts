/**
 * `--layer-compression`: libdeflate (the default, a gzip member per block) or zlib (one member, reference
 * zlib's level-6 bytes). Both are the same layer (same diff_id) and reproducible; the layer cache keeps them
 * apart.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromUtf8 } from '@tk/core';
import { gunzip, gzip, splitGzipMembers } from '@tk/gzip';
import { readTar } from '@tk/tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');
const REPO = join(ROOT, '.cache/bootstrap/repo');

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tk-layer-compression-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const MAIN = join(ROOT, 'apps/tk/dist/main.js');

/** Run the built tk (`pnpm build` makes it; the test command does). */
function tk(...args: string[]) {
  return spawnSync(process.execPath, [MAIN, 'apko', ...args], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'], HOME: work, SOURCE_DATE_EPOCH: '0' },
    encoding: 'utf8',
  });
}

/** Build the hello example for amd64; returns the tarball's bytes, its one layer and the image's diff_ids. */
function build(name: string, ...flags: string[]) {
  const out = join(work, `${name}.tar`);
  const r = tk(
    'build',
    'examples/apko/hello.yaml',
    'hello:latest',
    out,
    '--arch',
    'amd64',
    '--no-sbom',
    '--cache-dir',
    join(work, 'cache'),
    ...flags,
  );
  expect(r.status, r.stderr).toBe(0);
  const tarball = new Uint8Array(readFileSync(out));
  const files = new Map(readTar(tarball).entries.map((e) => [e.name, e.data]));
  const manifest = JSON.parse(fromUtf8(files.get('manifest.json')!)) as {
    Config: string;
    Layers: string[];
  }[];
  const config = JSON.parse(fromUtf8(files.get(manifest[0]!.Config)!)) as { rootfs: { diff_ids: string[] } };
  return { tarball, layer: files.get(manifest[0]!.Layers[0]!)!, diffIds: config.rootfs.diff_ids };
}

describe.skipIf(!existsSync(join(REPO, 'x86_64/APKINDEX.tar.gz')))('--layer-compression', () => {
  it('zlib writes one gzip member with reference zlib’s bytes, for the same layer as libdeflate', async () => {
    const libdeflate = build('default');
    const zlib = build('zlib', '--layer-compression', 'zlib');
    const tar = gunzip(libdeflate.layer);
    expect(Buffer.from(gunzip(zlib.layer)).equals(Buffer.from(tar))).toBe(true);
    expect(zlib.diffIds).toEqual(libdeflate.diffIds);
    expect(Buffer.from(zlib.layer).equals(Buffer.from(libdeflate.layer))).toBe(false);
    expect(splitGzipMembers(zlib.layer)).toHaveLength(1);
    expect(splitGzipMembers(libdeflate.layer).length).toBeGreaterThan(1);
    expect(Buffer.from(zlib.layer).equals(Buffer.from(await gzip(tar, { engine: 'zlib' })))).toBe(true);
    // The explicit default, and a rebuild from the layer cache, give the same bytes.
    const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));
    expect(same(build('libdeflate', '--layer-compression', 'libdeflate').tarball, libdeflate.tarball)).toBe(
      true,
    );
    expect(same(build('zlib-again', '--layer-compression', 'zlib').tarball, zlib.tarball)).toBe(true);
  }, 60_000);

  it('rejects an engine it does not know', () => {
    const out = join(work, 'x.tar');
    const r = tk('build', 'examples/apko/hello.yaml', 'hello:latest', out, '--layer-compression', 'zstd');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--layer-compression.*zstd.*libdeflate, zlib/s);
    expect(existsSync(out)).toBe(false);
  });
});
