import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readTar, writeTar, type TarWriteEntry } from '@tk/tar';
import { LayerFs, normalizeLayerPath } from './layer-fs.ts';

const file = (name: string, text = name, mode = 0o644): TarWriteEntry => ({
  name,
  type: 'file',
  mode,
  mtime: 0,
  data: new TextEncoder().encode(text),
});
const dir = (name: string, mode = 0o755): TarWriteEntry => ({ name, type: 'directory', mode, mtime: 0 });
const link = (name: string, target: string): TarWriteEntry => ({
  name,
  type: 'symlink',
  linkname: target,
  mtime: 0,
});

function layers(...list: TarWriteEntry[][]): LayerFs {
  const fs = new LayerFs();
  for (const entries of list) fs.applyLayer(readTar(writeTar(entries)).entries);
  return fs;
}

describe('normalizeLayerPath', () => {
  it.each([
    ['./usr/bin/', 'usr/bin'],
    ['/etc//passwd', 'etc/passwd'],
    ['./', ''],
    ['a/./b', 'a/b'],
    ['../etc/passwd', undefined],
    ['usr/../../x', undefined],
    ['a\0b', undefined],
  ])('%j → %j', (name, expected) => {
    expect(normalizeLayerPath(name)).toBe(expected);
  });
});

describe('LayerFs', () => {
  it('flattens one layer, dropping the root entry', () => {
    const fs = layers([
      dir('./'),
      dir('./etc'),
      file('./etc/hosts', 'localhost\n'),
      link('etc/alias', 'hosts'),
    ]);
    expect([...fs.entries.keys()]).toEqual(['etc', 'etc/hosts', 'etc/alias']);
    expect(fs.entries.get('etc/hosts')).toMatchObject({ type: 'file', size: 10, mode: 0o644, layer: 0 });
    expect(fs.digest(fs.entries.get('etc/hosts')!, 'sha1')).toBe(sha1('localhost\n'));
    expect(fs.digest(fs.entries.get('etc/hosts')!, 'sha256')).toBe(
      createHash('sha256').update('localhost\n').digest('hex'),
    );
  });

  it('applies whiteouts and opaque directories to the layers below only', () => {
    const fs = layers(
      [dir('etc'), file('etc/a'), file('etc/b'), dir('opt'), dir('opt/x'), file('opt/x/1'), file('opt/keep')],
      [
        file('etc/.wh.a'),
        dir('opt'),
        file('opt/.wh..wh..opq'),
        file('opt/new'),
        file('etc/c'),
        file('etc/.wh.c'),
      ],
    );
    expect([...fs.entries.keys()].sort()).toEqual(['etc', 'etc/b', 'etc/c', 'opt', 'opt/new']);
    expect(fs.entries.get('opt/new')!.layer).toBe(1);
  });

  it('a whiteout removes a whole directory; a file over a directory hides what was below', () => {
    const fs = layers(
      [dir('a'), file('a/1'), dir('b'), file('b/2')],
      [file('.wh.a'), file('b', 'now a file')],
    );
    expect([...fs.entries.keys()].sort()).toEqual(['b']);
    expect(fs.entries.get('b')!.type).toBe('file');
  });

  it('does not apply unsafe names or hard links to unsafe targets, and says so', () => {
    const fs = layers([
      file('../escape'),
      file('ok'),
      { name: 'hard', type: 'hardlink', linkname: '../../etc/shadow', mtime: 0 },
    ]);
    expect([...fs.entries.keys()]).toEqual(['ok']);
    expect(fs.issues.map((i) => `${i.name}: ${i.message}`)).toEqual([
      '../escape: the name is not a safe relative path',
      'hard: hard link to unsafe path "../../etc/shadow"',
    ]);
  });

  it('resolves parents through symlinks with chroot semantics', () => {
    const fs = layers([
      dir('usr'),
      dir('usr/bin'),
      file('usr/bin/sh'),
      link('bin', 'usr/bin'),
      link('abs', '/usr/bin'),
      link('up', '../../../usr'),
      link('loop1', 'loop2'),
      link('loop2', 'loop1'),
      link('usr/bin/alias', 'sh'),
    ]);
    expect(fs.resolve('bin/sh', false)).toBe('usr/bin/sh');
    expect(fs.resolve('abs/sh', false)).toBe('usr/bin/sh');
    expect(fs.resolve('up/bin/sh', false)).toBe('usr/bin/sh');
    expect(fs.resolve('bin', false)).toBe('bin');
    expect(fs.resolve('bin', true)).toBe('usr/bin');
    expect(fs.resolve('bin/alias', false)).toBe('usr/bin/alias');
    expect(fs.resolve('bin/alias', true)).toBe('usr/bin/sh');
    expect(fs.resolve('missing/dir/x', false)).toBe('missing/dir/x');
    expect(fs.resolve('loop1/x', false)).toBeUndefined();
    expect(fs.lstat('bin/sh')?.path).toBe('usr/bin/sh');
  });

  it('reads hard-link content from the target, and gives none for a dangling link', () => {
    const fs = layers([
      file('a', 'content'),
      { name: 'b', type: 'hardlink', linkname: 'a', mtime: 0 },
      { name: 'c', type: 'hardlink', linkname: 'gone', mtime: 0 },
    ]);
    expect(new TextDecoder().decode(fs.content(fs.entries.get('b')!))).toBe('content');
    expect(fs.content(fs.entries.get('c')!)).toBeUndefined();
    expect(fs.digest(fs.entries.get('b')!, 'sha1')).toBe(fs.digest(fs.entries.get('a')!, 'sha1'));
    expect(fs.digest(fs.entries.get('c')!, 'sha256')).toBeUndefined();
  });

  it('digests a symlink by its target text, as apk does', () => {
    const fs = layers([link('l', 'target')]);
    expect(fs.digest(fs.entries.get('l')!, 'sha1')).toBe(sha1('target'));
  });
});

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

describe('LayerFs with many whiteouts (hostile input)', () => {
  it('applies thousands of opaque whiteouts in one pass', () => {
    const lower: TarWriteEntry[] = [];
    const upper: TarWriteEntry[] = [];
    for (let i = 0; i < 5000; i++) {
      lower.push(dir(`d${i}`), file(`d${i}/f`), file(`d${i}/g`));
      upper.push(file(`d${i}/.wh..wh..opq`, ''));
    }
    upper.push(file('d0/kept'));
    const fs = layers(lower, upper);
    expect(fs.entries.size).toBe(5001);
    expect([...fs.entries.keys()].filter((p) => p.includes('/'))).toEqual(['d0/kept']);
  });

  it('an opaque whiteout at the root empties every layer below', () => {
    const fs = layers([dir('etc'), file('etc/a')], [file('.wh..wh..opq', ''), file('new')]);
    expect([...fs.entries.keys()]).toEqual(['new']);
  });
});
