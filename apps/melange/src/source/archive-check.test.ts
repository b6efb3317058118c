import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, linkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTar, type TarWriteEntry } from '@tk/tar';
import { MelangeError } from '../errors.ts';
import { checkArchive, type ArchiveCheckOptions } from './archive-check.ts';

let dir: string;
let counter = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tk-archive-check-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function save(bytes: Uint8Array, name = `a${counter++}`): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const file = (name: string, text = 'x'): TarWriteEntry => ({
  name,
  type: 'file',
  data: new TextEncoder().encode(text),
});
const tgz = (entries: TarWriteEntry[]): string => save(gzipSync(writeTar(entries)));

/** A raw header block, for what the writer refuses to make (typeflags L/g, sizes on links, bad checksums). */
function rawHeader(fields: {
  name: string;
  typeflag: string;
  size?: number;
  linkname?: string;
  magic?: 'ustar' | 'v7';
}): Uint8Array {
  const block = new Uint8Array(512);
  const put = (offset: number, text: string): void => void block.set(new TextEncoder().encode(text), offset);
  put(0, fields.name);
  put(100, '0000644\0');
  put(108, '0000000\0');
  put(116, '0000000\0');
  put(124, `${(fields.size ?? 0).toString(8).padStart(11, '0')}\0`);
  put(136, '00000000000\0');
  put(156, fields.typeflag);
  put(157, fields.linkname ?? '');
  if (fields.magic !== 'v7') put(257, 'ustar\u000000');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  put(148, `${sum.toString(8).padStart(6, '0')}\0 `);
  return block;
}

function padded(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / 512) * 512);
  out.set(data);
  return out;
}

const END = new Uint8Array(1024);

function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

async function refused(path: string, options?: ArchiveCheckOptions): Promise<MelangeError> {
  try {
    await checkArchive(path, options);
  } catch (error) {
    expect(error).toBeInstanceOf(MelangeError);
    expect((error as MelangeError).code).toBe('MELANGE_SOURCE_UNSAFE');
    return error as MelangeError;
  }
  throw new Error(`${path} was accepted`);
}

describe('checkArchive accepts honest archives', () => {
  it('a GNU tar .tar.gz with directories, files, inner symlinks and hard links', async () => {
    const src = join(dir, 'src');
    mkdirSync(join(src, 'hello-1.0', 'lib'), { recursive: true });
    writeFileSync(join(src, 'hello-1.0', 'README'), 'hi\n');
    writeFileSync(join(src, 'hello-1.0', 'lib', 'a.c'), 'int a;\n');
    symlinkSync('lib/a.c', join(src, 'hello-1.0', 'a-link.c'));
    symlinkSync('../README', join(src, 'hello-1.0', 'lib', 'README'));
    symlinkSync('/usr/share/automake-1.16/COPYING', join(src, 'hello-1.0', 'COPYING'));
    linkSync(join(src, 'hello-1.0', 'README'), join(src, 'hello-1.0', 'README.hard'));
    for (const format of ['gnu', 'v7', 'posix']) {
      const out = join(dir, `hello-${format}.tar.gz`);
      const r = spawnSync('tar', [`--format=${format}`, '-czf', out, '-C', src, 'hello-1.0'], {
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
      const verdict = await checkArchive(out, { stripComponents: 1 });
      expect(verdict).toMatchObject({ checked: true, format: 'tar+gzip', entries: 8 });
    }
    const plain = join(dir, 'hello.tar');
    spawnSync('tar', ['-cf', plain, '-C', src, '.']);
    expect(await checkArchive(plain, { stripComponents: 1 })).toMatchObject({ checked: true, format: 'tar' });
  });

  it('an empty archive, long names (PAX and GNU), and garbage after the end-of-archive marker', async () => {
    expect(await checkArchive(save(END))).toEqual({
      checked: true,
      format: 'tar',
      entries: 0,
      unpackedSize: 1024,
    });
    const long = `pkg/${'d/'.repeat(80)}file.txt`;
    expect(await checkArchive(tgz([file(long)]))).toMatchObject({ checked: true, entries: 1 });
    const gnuLong = concat(
      rawHeader({ name: '././@LongLink', typeflag: 'L', size: long.length + 1 }),
      padded(new TextEncoder().encode(`${long}\0`)),
      rawHeader({ name: 'short', typeflag: '0' }),
    );
    expect(await checkArchive(save(concat(gnuLong, END)))).toMatchObject({ checked: true, entries: 1 });
    expect(
      await checkArchive(save(concat(writeTar([file('pkg/a')]), new TextEncoder().encode('trailing junk')))),
    ).toMatchObject({ checked: true, entries: 1 });
  });

  it('judges names after strip-components, as GNU tar applies it', async () => {
    // a/b/c -> ../.. stays inside with nothing stripped (it resolves to the root), climbs out with 1 stripped.
    const path = tgz([{ name: 'a/b/c', type: 'symlink', linkname: '../..' }]);
    expect(await checkArchive(path, { stripComponents: 0 })).toMatchObject({ checked: true });
    await refused(path, { stripComponents: 1 });
    // Hard link targets are stripped too.
    expect(
      await checkArchive(tgz([file('pkg/f'), { name: 'pkg/g', type: 'hardlink', linkname: 'pkg/f' }])),
    ).toMatchObject({ checked: true });
    // `./` counts as a component; entries with too few components are not extracted at all.
    expect(
      await checkArchive(tgz([{ name: './', type: 'directory' }, file('./pkg/f')]), { stripComponents: 2 }),
    ).toMatchObject({ checked: true, entries: 2 });
  });

  it('leaves xz, bzip2, zstd and non-archives to GNU tar', async () => {
    const cases: [string, number[]][] = [
      ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2]],
      ['bzip2', [0x42, 0x5a, 0x68, 0x39, 1, 2]],
      ['zstd', [0x28, 0xb5, 0x2f, 0xfd, 1, 2]],
      ['unknown', [0x50, 0x4b, 0x03, 0x04, 1, 2]],
    ];
    for (const [format, bytes] of cases) {
      const verdict = await checkArchive(save(new Uint8Array(bytes)));
      expect(verdict).toMatchObject({ checked: false, format });
      if (!verdict.checked) expect(verdict.reason).not.toBe('');
    }
  });
});

describe('checkArchive refuses hostile archives (MELANGE_SOURCE_UNSAFE)', () => {
  it('path traversal: ../evil', async () => {
    const e = await refused(tgz([file('pkg/README'), file('../evil')]));
    expect(e.data?.entry).toBe('../evil');
  });

  it('an absolute name: /etc/evil', async () => {
    const e = await refused(tgz([file('/etc/evil')]));
    expect(e.data?.entry).toBe('/etc/evil');
  });

  it('a symlink out of the directory, then a file through it: x -> ../../.., x/evil', async () => {
    const e = await refused(
      tgz([{ name: 'pkg/x', type: 'symlink', linkname: '../../..' }, file('pkg/x/evil')]),
    );
    expect(e.data?.entry).toBe('pkg/x');
  });

  it('a file written through an absolute symlink: x -> /etc, x/passwd', async () => {
    const e = await refused(
      tgz([{ name: 'pkg/x', type: 'symlink', linkname: '/etc' }, file('pkg/x/passwd')]),
    );
    expect(e.data?.entry).toBe('pkg/x/passwd');
    expect(e.message).toContain('through the symlink');
  });

  it('a symlink that climbs out of another symlink, and a directory over a symlink', async () => {
    let e = await refused(
      tgz([
        { name: 'pkg/sub/up', type: 'symlink', linkname: '..' },
        { name: 'pkg/esc', type: 'symlink', linkname: 'sub/up/..' },
      ]),
    );
    expect(e.data?.entry).toBe('pkg/esc');
    e = await refused(
      tgz([
        { name: 'pkg/d', type: 'symlink', linkname: '/tmp' },
        { name: 'pkg/d', type: 'directory' },
      ]),
    );
    expect(e.data?.entry).toBe('pkg/d');
  });

  it('hard links to /etc/passwd, out of the directory, or through a symlink', async () => {
    let e = await refused(tgz([{ name: 'pkg/h', type: 'hardlink', linkname: '/etc/passwd' }]));
    expect(e.data?.entry).toBe('pkg/h');
    e = await refused(tgz([{ name: 'pkg/h', type: 'hardlink', linkname: 'pkg/../../etc/passwd' }]));
    expect(e.data?.entry).toBe('pkg/h');
    e = await refused(
      tgz([
        { name: 'pkg/x', type: 'symlink', linkname: '/etc' },
        { name: 'pkg/h', type: 'hardlink', linkname: 'pkg/x/passwd' },
      ]),
    );
    expect(e.data?.entry).toBe('pkg/h');
  });

  it('device nodes and FIFOs', async () => {
    for (const type of ['char', 'block', 'fifo'] as const) {
      const e = await refused(tgz([{ name: 'pkg/dev', type, devmajor: 1, devminor: 3 }]));
      expect(e.data?.entry).toBe('pkg/dev');
    }
  });

  it('renaming through PAX and GNU long-name headers', async () => {
    let e = await refused(tgz([{ ...file('pkg/innocent'), pax: { path: '../../evil' } }]));
    expect(e.data?.entry).toBe('../../evil');
    const name = '../../evil';
    const gnu = concat(
      rawHeader({ name: '././@LongLink', typeflag: 'L', size: name.length }),
      padded(new TextEncoder().encode(name)),
      rawHeader({ name: 'innocent', typeflag: '0' }),
      END,
    );
    e = await refused(save(gzipSync(gnu)));
    expect(e.data?.entry).toBe(name);
    const globalPath = concat(
      rawHeader({ name: 'g', typeflag: 'g', size: 20 }),
      padded(new TextEncoder().encode('20 path=../../evil\n')),
      writeTar([file('pkg/a')]),
    );
    await refused(save(globalPath));
  });

  it('a truncated gzip stream, and corrupt gzip data', async () => {
    const whole = gzipSync(
      writeTar([file('pkg/a', 'a'.repeat(100_000)), file('pkg/b', 'b'.repeat(100_000))]),
      { level: 0 },
    );
    const e = await refused(save(whole.subarray(0, Math.floor(whole.length / 2))));
    expect(e.message).toMatch(/gzip|ends inside/);
    const corrupt = Buffer.from(whole);
    corrupt[corrupt.length - 6] = corrupt[corrupt.length - 6]! ^ 0xff; // the CRC-32 trailer
    expect((await refused(save(corrupt))).message).toContain('corrupt gzip data');
  });

  it('a tar header with a bad checksum, and a truncated tar', async () => {
    const tar = Buffer.from(writeTar([file('pkg/a'), file('pkg/b')]));
    tar[512 * 2 + 1] = tar[512 * 2 + 1]! ^ 0x01; // a name byte of the second header
    const e = await refused(save(tar));
    expect(e.message).toContain('checksum');
    expect(e.data?.offset).toBe(1024);
    const v7 = Buffer.from(concat(rawHeader({ name: 'pkg/a', typeflag: '0', magic: 'v7' }), END));
    v7[0] = 0x71;
    await refused(save(gzipSync(v7)));
    const cut = writeTar([file('pkg/a', 'z'.repeat(5000))]).subarray(0, 2048);
    expect((await refused(save(cut))).message).toContain('ends inside the data');
  });

  it('absurd sizes, and data on a link header', async () => {
    await refused(tgz([file('pkg/big', 'x'.repeat(2000))]), { maxEntrySize: 1000 });
    await refused(tgz([file('pkg/a', 'x'.repeat(100_000))]), { maxUnpackedSize: 50_000 });
    await refused(tgz([file('pkg/a'), file('pkg/b'), file('pkg/c')]), { maxEntries: 2 });
    const hugeBase256 = rawHeader({ name: 'pkg/huge', typeflag: '0' });
    hugeBase256.set([0x80, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0], 124); // GNU base-256: 1 TiB
    hugeBase256.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of hugeBase256) sum += b;
    hugeBase256.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
    expect((await refused(save(concat(hugeBase256, END)))).message).toContain('limit');
    const linkWithData = concat(
      rawHeader({ name: 'pkg/l', typeflag: '2', linkname: 'a', size: 512 }),
      new Uint8Array(512),
      END,
    );
    expect((await refused(save(linkWithData))).message).toContain('claims 512 bytes');
  });

  it('reads a large archive as a stream', async () => {
    // 24 MiB of data in one entry: the check walks headers and skips data.
    const big = new Uint8Array(24 << 20);
    const path = save(
      gzipSync(
        writeTar([file('pkg/small'), { name: 'pkg/big', type: 'file', data: big }, file('pkg/after')]),
        { level: 1 },
      ),
    );
    expect(await checkArchive(path)).toMatchObject({ checked: true, entries: 3 });
    expect(readFileSync(path).length).toBeLessThan(1 << 20);
  });

  it('rejects a bad strip-components value', async () => {
    await expect(checkArchive(tgz([file('a')]), { stripComponents: -1 })).rejects.toMatchObject({
      code: 'MELANGE_SOURCE_BAD_INPUT',
    });
  });
});
