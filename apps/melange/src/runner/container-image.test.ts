import { execFileSync } from 'node:child_process';
import { chmod, link, mkdir, mkdtemp, rm, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Digest, writeLayerTar, type LayerEntry } from '@tk/oci';
import { encodeHeader, readTar } from '@tk/tar';
import {
  ARCHIVE_CONFIG,
  ARCHIVE_LAYER,
  ARCHIVE_MANIFEST,
  archiveFileHeader,
  layerSizeOf,
  planGuestLayer,
  writeGuestArchive,
} from './container-image.ts';

let dir: string;
let guest: string;

async function archiveOf(
  root: string,
  arch = 'x86_64',
  tag: string | ((id: string) => string) = 'localhost/g:t',
) {
  const chunks: Uint8Array[] = [];
  const image = await writeGuestArchive(
    root,
    { write: async (c) => void chunks.push(Uint8Array.from(c)) },
    {
      arch,
      tag,
    },
  );
  return { image, bytes: Buffer.concat(chunks) };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tk-container-image-'));
  guest = join(dir, 'guest');
  await mkdir(join(guest, 'bin'), { recursive: true });
  await mkdir(join(guest, 'usr/lib/deep/er'), { recursive: true });
  await writeFile(join(guest, 'bin/busybox'), 'pretend ELF\n');
  await chmod(join(guest, 'bin/busybox'), 0o4755);
  await symlink('busybox', join(guest, 'bin/sh'));
  await link(join(guest, 'bin/busybox'), join(guest, 'bin/a-hardlink'));
  await writeFile(join(guest, 'usr/lib/deep/er/data'), Buffer.alloc(70_000, 7));
  await writeFile(join(guest, 'usr/lib/empty'), '');
  await writeFile(join(guest, `usr/lib/${'long-name-'.repeat(12)}`), 'long');
  for (const p of [
    'bin',
    'bin/busybox',
    'usr',
    'usr/lib',
    'usr/lib/deep',
    'usr/lib/deep/er',
    'usr/lib/deep/er/data',
    'usr/lib/empty',
    `usr/lib/${'long-name-'.repeat(12)}`,
  ])
    await utimes(join(guest, p), 1_700_000_000, 1_700_000_000);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('archiveFileHeader', () => {
  it('is byte for byte the header @tk/tar (Go) writes, for sizes that fit', () => {
    for (const size of [0, 1, 511, 512, 123_456_789]) {
      expect(archiveFileHeader('layer.tar', size)).toEqual(
        encodeHeader({ name: 'layer.tar', type: 'file', mode: 0o644, data: new Uint8Array(size) }),
      );
    }
  });

  it('writes a size of 8 GiB or more as a base-256 number, with a valid checksum', () => {
    const size = 9 * 2 ** 30 + 5;
    const h = archiveFileHeader('layer.tar', size);
    expect(h[124]).toBe(0x80);
    let n = 0n;
    for (let i = 125; i < 136; i++) n = (n << 8n) | BigInt(h[i]!);
    expect(Number(n)).toBe(size);
    const stored = parseInt(Buffer.from(h.subarray(148, 154)).toString('latin1'), 8);
    const copy = Uint8Array.from(h);
    copy.fill(0x20, 148, 156);
    expect(stored).toBe(copy.reduce((a, b) => a + b, 0));
  });

  it('refuses names the archive never uses', () => {
    expect(() => archiveFileHeader('x'.repeat(100), 1)).toThrow(RangeError);
    expect(() => archiveFileHeader('näme', 1)).toThrow(RangeError);
  });
});

describe('writeGuestArchive', () => {
  it('writes a docker-archive whose layer is exactly the layer @tk/oci writes from the same entries', async () => {
    const { image, bytes } = await archiveOf(guest);
    const archive = readTar(bytes);
    expect(archive.entries.map((e) => e.name)).toEqual([ARCHIVE_LAYER, ARCHIVE_CONFIG, ARCHIVE_MANIFEST]);
    const layer = archive.entries[0]!.data;
    expect(layer.length).toBe(image.layerSize);
    expect(sha256Digest(layer)).toBe(image.diffId);

    // The same entries with their contents, through writeLayerTar: the same bytes.
    const plan = await planGuestLayer(guest);
    const withData: LayerEntry[] = plan.map((p) =>
      p.abs === undefined ? p.entry : { ...p.entry, data: new Uint8Array(execFileSync('cat', [p.abs])) },
    );
    const reference = writeLayerTar(withData);
    expect(reference.diffId).toBe(image.diffId);
    expect(layerSizeOf(plan)).toBe(reference.size);

    const inLayer = readTar(layer).entries;
    const byName = new Map(inLayer.map((e) => [e.name, e]));
    // Two names of one file: the first in walk order holds the content, the other links to it.
    expect(byName.get('bin/a-hardlink')).toMatchObject({ type: 'file', mode: 0o4755, mtime: 1_700_000_000 });
    expect(byName.get('bin/busybox')).toMatchObject({ type: 'hardlink', linkname: 'bin/a-hardlink' });
    expect(byName.get('bin/sh')).toMatchObject({ type: 'symlink', linkname: 'busybox' });
    expect(byName.get(`usr/lib/${'long-name-'.repeat(12)}`)?.type).toBe('file');
    expect(byName.get('usr/lib/deep/er/data')?.data?.length).toBe(70_000);
    // Parents come before their children.
    const names = inLayer.map((e) => e.name);
    expect(names.indexOf('usr/lib')).toBeLessThan(names.indexOf('usr/lib/deep/er/data'));

    const config = JSON.parse(Buffer.from(archive.entries[1]!.data).toString('utf8')) as Record<
      string,
      unknown
    >;
    expect(config).toMatchObject({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [image.diffId] },
    });
    expect(sha256Digest(archive.entries[1]!.data)).toBe(image.id);
    const manifest = JSON.parse(Buffer.from(archive.entries[2]!.data).toString('utf8')) as unknown;
    expect(manifest).toEqual([
      { Config: ARCHIVE_CONFIG, RepoTags: ['localhost/g:t'], Layers: [ARCHIVE_LAYER] },
    ]);
  });

  it('gives the same image ID for the same folder, and the arch as the platform', async () => {
    const a = await archiveOf(guest, 'aarch64', (id) => `localhost/g:${id.slice(7, 19)}`);
    const b = await archiveOf(guest, 'aarch64', (id) => `localhost/g:${id.slice(7, 19)}`);
    expect(a.bytes.equals(b.bytes)).toBe(true);
    expect(a.image.tag).toBe(`localhost/g:${a.image.id.slice(7, 19)}`);
    const config = JSON.parse(Buffer.from(readTar(a.bytes).entries[1]!.data).toString('utf8')) as Record<
      string,
      unknown
    >;
    expect(config['architecture']).toBe('arm64');
    const v7 = await archiveOf(guest, 'armv7');
    expect(JSON.parse(Buffer.from(readTar(v7.bytes).entries[1]!.data).toString('utf8'))).toMatchObject({
      architecture: 'arm',
      variant: 'v7',
    });
  });

  it('leaves sockets out and says so', async () => {
    const root = join(dir, 'with-socket');
    await mkdir(root);
    await writeFile(join(root, 'f'), 'x');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(root, 'sock'), resolve));
    try {
      const skipped: string[] = [];
      const chunks: Uint8Array[] = [];
      await writeGuestArchive(
        root,
        { write: async (c) => void chunks.push(Uint8Array.from(c)) },
        {
          arch: 'x86_64',
          tag: 'localhost/s:1',
          onSkip: (p) => skipped.push(p),
        },
      );
      expect(skipped).toEqual(['sock']);
      const layer = readTar(Buffer.concat(chunks)).entries[0]!.data;
      expect(readTar(layer).entries.map((e) => e.name)).toEqual(['f']);
    } finally {
      server.close();
    }
  });

  it('refuses a file of 2 GiB or more before writing anything', async () => {
    const root = join(dir, 'huge');
    await mkdir(root);
    await writeFile(join(root, 'big'), '');
    await truncate(join(root, 'big'), 3 * 2 ** 30); // sparse: no disk used
    let written = 0;
    await expect(
      writeGuestArchive(
        root,
        { write: async (c) => void (written += c.length) },
        { arch: 'x86_64', tag: 'localhost/h:1' },
      ),
    ).rejects.toMatchObject({ code: 'MELANGE_RUNNER_FAILED', data: { size: 3 * 2 ** 30 } });
    expect(written).toBe(0);
  });

  it('reports a guest folder that cannot be read as a runner failure naming it', async () => {
    const missing = join(dir, 'missing');
    await expect(
      writeGuestArchive(missing, { write: async () => undefined }, { arch: 'x86_64', tag: 'localhost/u:1' }),
    ).rejects.toMatchObject({ code: 'MELANGE_RUNNER_FAILED', data: { path: missing } });
  });

  it('stops when the sink fails (the engine died)', async () => {
    await expect(
      writeGuestArchive(
        guest,
        { write: async () => Promise.reject(new Error('EPIPE')) },
        { arch: 'x86_64', tag: 'localhost/e:1' },
      ),
    ).rejects.toThrow('EPIPE');
  });
});
