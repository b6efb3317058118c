import { describe, expect, it } from 'vitest';
import type { ApkInputFile } from '@tk/apk';
import { createRecordingLogger, utf8 } from '@tk/core';
import { analyze, shebangInterpreter, sonameLibver, type ScaContext } from './sca.ts';
import { buildElf } from './testdata/elf-builder.ts';

const V = '1.2.3-r4';
const ctx = (extra: Partial<ScaContext> = {}): ScaContext => ({ packageName: 'pkg', version: V, ...extra });
const file = (path: string, data: Uint8Array | string, mode = 0o644): ApkInputFile => ({
  path,
  type: 'file',
  mode,
  data: typeof data === 'string' ? utf8(data) : data,
});
const link = (path: string, linkname: string): ApkInputFile => ({ path, type: 'symlink', linkname });
const dir = (path: string): ApkInputFile => ({ path, type: 'directory', mode: 0o755 });

const program = buildElf({
  type: 3,
  interpreter: '/lib64/ld-linux-x86-64.so.2',
  needed: ['libfoo.so.1', 'libc.so.6'],
}).bytes;
const libfoo = buildElf({ soname: 'libfoo.so.1', needed: ['libc.so.6'] }).bytes;

describe('ELF dependencies and provides', () => {
  it('interpreter and DT_NEEDED become so: dependencies; a library in usr/lib provides its SONAME', () => {
    const r = analyze(
      [file('usr/bin/prog', program, 0o755), file('usr/lib/libfoo.so.1.0.0', libfoo, 0o755)],
      ctx(),
    );
    expect(r.generated.depends).toEqual(['so:ld-linux-x86-64.so.2', 'so:libc.so.6', 'so:libfoo.so.1']);
    expect(r.provides).toEqual(['cmd:prog=1.2.3-r4', 'so-ver:libfoo.so.1=1.2.3-r4', 'so:libfoo.so.1=1']);
    // libfoo is provided by the package itself: not a dependency.
    expect(r.depends).toEqual(['so:ld-linux-x86-64.so.2', 'so:libc.so.6']);
  });

  it('musl interpreter maps to libc.musl; DT_NEEDED without .so. is ignored', () => {
    const elf = buildElf({
      interpreter: '/lib/ld-musl-aarch64.so.1',
      needed: ['libplain.so', 'libz.so.1'],
      machine: 183,
    }).bytes;
    expect(analyze([file('usr/bin/x', elf, 0o755)], ctx()).depends).toEqual([
      'so:libc.musl-aarch64.so.1',
      'so:libz.so.1',
    ]);
  });

  it('a library outside the library directories is vendored: recorded, not provided, and satisfies its own deps', () => {
    const app = buildElf({ interpreter: '/lib/ld.so.1', needed: ['libfoo.so.1'] }).bytes;
    const r = analyze([file('opt/app/bin/app', app, 0o755), file('opt/app/lib/libfoo.so.1', libfoo)], ctx());
    expect(r.vendored).toEqual(['so-ver:libfoo.so.1=1.2.3-r4', 'so:libfoo.so.1=1']);
    expect(r.provides).toEqual([]);
    expect(r.depends).toEqual(['so:ld.so.1', 'so:libc.so.6']);
  });

  it('a declared dependency on a vendored library stays (the escape hatch)', () => {
    const app = buildElf({ interpreter: '/lib/ld.so.1', needed: ['libfoo.so.1'] }).bytes;
    const r = analyze(
      [file('opt/app/app', app, 0o755), file('opt/app/libfoo.so.1', libfoo)],
      ctx({ declared: { runtime: ['so:libfoo.so.1'] } }),
    );
    expect(r.depends).toContain('so:libfoo.so.1');
  });

  it('Debian multiarch and ld.so.conf.d directories are library directories', () => {
    const files = [
      file('usr/lib/x86_64-linux-gnu/libfoo.so.1', libfoo),
      file('etc/ld.so.conf.d/extra.conf', '# comment\n/opt/extra/lib\nrelative/ignored\n'),
      file('opt/extra/lib/libbar.so.2.1', buildElf({ soname: 'libbar.so.2.1' }).bytes),
    ];
    expect(analyze(files, ctx()).provides).toEqual([
      'so-ver:libbar.so.2.1=1.2.3-r4',
      'so-ver:libfoo.so.1=1.2.3-r4',
      'so:libbar.so.2.1=2.1',
      'so:libfoo.so.1=1',
    ]);
    expect(analyze(files.slice(0, 1), ctx({ multiarch: false })).vendored).toContain('so:libfoo.so.1=1');
  });

  it('an executable with an interpreter provides no SONAME unless its name says it is a library', () => {
    const exe = buildElf({ interpreter: '/lib/ld.so', soname: 'weird.so.1' }).bytes;
    expect(analyze([file('usr/lib/tool', exe)], ctx()).provides).toEqual([]);
    expect(analyze([file('usr/lib/libc.so.6', exe)], ctx()).provides).toContain('so:weird.so.1=1');
  });

  it('a -dev package symlink libfoo.so depends on the SONAME of the library in the main package', () => {
    const main = [file('usr/lib/libfoo.so.1.0.0', libfoo), link('usr/lib/libfoo.so.1', 'libfoo.so.1.0.0')];
    const dev = [link('usr/lib/libfoo.so', 'libfoo.so.1.0.0')];
    const relatives = new Map([
      ['foo', main],
      ['foo-dev', dev],
    ]);
    expect(analyze(dev, ctx({ packageName: 'foo-dev', relatives })).depends).toEqual(['so:libfoo.so.1']);
    // In the main package, the symlink resolves to its own library: self-provided, dropped.
    expect(analyze(main, ctx({ packageName: 'foo', relatives })).depends).toEqual(['so:libc.so.6']);
  });

  it('host-provided NVIDIA libraries are neither dependencies nor provides', () => {
    const elf = buildElf({ interpreter: '/lib/ld.so', needed: ['libcuda.so.1'] }).bytes;
    const lib = buildElf({ soname: 'libcuda.so.1' }).bytes;
    const r = analyze([file('usr/bin/x', elf, 0o755), file('usr/lib/libcuda.so.1', lib)], ctx());
    expect(r.depends).toEqual(['so:ld.so']);
    expect(r.provides).toEqual(['cmd:x=1.2.3-r4']);
  });

  it('a damaged ELF is skipped with a warning, a hostile name is ignored with a warning', () => {
    const logger = createRecordingLogger();
    const broken = program.slice(0, 100);
    const evil = buildElf({ interpreter: '/lib/ld.so', needed: ['lib evil=1.so.1'] }).bytes;
    const r = analyze([file('usr/bin/a', broken, 0o755), file('usr/bin/b', evil, 0o755)], ctx({ logger }));
    expect(r.depends).toEqual(['so:ld.so']);
    expect(logger.messages.filter((m) => m.level === 'warn').length).toBe(2);
  });
});

describe('commands and shebangs', () => {
  it('only r-x-for-all regular files directly in bin directories are commands', () => {
    const r = analyze(
      [
        file('usr/bin/a', 'x', 0o755),
        file('usr/bin/b', 'x', 0o750),
        file('usr/bin/sub/c', 'x', 0o755),
        file('sbin/d', 'x', 0o555),
        file('usr/libexec/e', 'x', 0o755),
        { path: 'usr/bin/f', type: 'hardlink', linkname: 'usr/bin/a', mode: 0o755 },
        link('usr/bin/g', 'a'),
      ],
      ctx(),
    );
    expect(r.provides).toEqual(['cmd:a=1.2.3-r4', 'cmd:d=1.2.3-r4', 'cmd:f=1.2.3-r4']);
  });

  it('shebangs in usr/bin give cmd: dependencies, env forms included, ignored interpreters left out', () => {
    const r = analyze(
      [
        file('usr/bin/p', '#!/usr/bin/env perl\nprint 1;\n', 0o755),
        file('usr/bin/b', '#!/bin/bash -e\n', 0o755),
        file('usr/local/bin/r', '#!/usr/bin/env -S ruby -w\n', 0o755),
        file('usr/bin/py', '#!/usr/bin/python3\n', 0o755),
        file('usr/bin/s', '#!/bin/sh\n', 0o755),
        file('usr/share/x', '#!/usr/bin/env node\n'),
      ],
      ctx({ options: { 'no-commands': false } }),
    );
    expect(r.depends).toEqual(['cmd:bash', 'cmd:perl', 'cmd:ruby']);
  });

  it('shebang parsing matches melange', () => {
    const s = (t: string): string | undefined => shebangInterpreter(utf8(t));
    expect(s('#!/usr/bin/env perl')).toBe('perl');
    expect(s('#!  /bin/zsh  -f\n')).toBe('/bin/zsh');
    expect(s('#!\n')).toBeUndefined();
    expect(s('no shebang')).toBeUndefined();
    expect(s('#!/usr/bin/awk -f')).toBeUndefined();
    expect(() => s('#!/usr/bin/env')).toThrow();
    expect(() => s('#!/usr/bin/env -i perl')).toThrow();
    // Only the first 80 bytes count: a very long line is cut there.
    expect(s(`#!/usr/bin/${'x'.repeat(100)}`)).toBe(`/usr/bin/${'x'.repeat(69)}`);
  });

  it('no-commands drops cmd: provides and dependencies', () => {
    const r = analyze(
      [file('usr/bin/p', '#!/usr/bin/env perl\n', 0o755)],
      ctx({ options: { 'no-commands': true } }),
    );
    expect(r.depends).toEqual([]);
    expect(r.provides).toEqual([]);
  });
});

describe('pkg-config', () => {
  const pc = 'prefix=/usr\nName: foo\nVersion: 9\nRequires: glib-2.0 >= 2.0\nRequires.private: zlib\n';

  it('provides pc:<name> and depends on its requirements', () => {
    const r = analyze([file('usr/lib/pkgconfig/foo.pc', pc)], ctx());
    expect(r.provides).toEqual(['pc:foo=1.2.3-r4']);
    expect(r.depends).toEqual(['pc:glib-2.0', 'pc:zlib']);
  });

  it('outside the pkg-config directories it is vendored; symlinked .pc files are skipped', () => {
    const r = analyze([file('opt/foo.pc', pc), link('usr/lib/pkgconfig/bar.pc', 'foo.pc')], ctx());
    expect(r.vendored).toEqual(['pc:foo=1.2.3-r4']);
    expect(r.provides).toEqual([]);
    expect(r.depends).toEqual([]);
  });

  it('a binary .pc file is skipped with a warning', () => {
    const logger = createRecordingLogger();
    analyze([file('usr/lib/pkgconfig/x.pc', new Uint8Array([0xff, 0xfe, 0]))], ctx({ logger }));
    expect(logger.messages.some((m) => m.level === 'warn')).toBe(true);
  });
});

describe('language runtimes and docs', () => {
  it('perl, python and ruby modules add their runtime', () => {
    const r = analyze(
      [
        dir('usr/lib/perl5/vendor_perl'),
        dir('usr/lib/python3.12/site-packages'),
        dir('usr/lib/ruby/gems/3.2.0/gems'),
      ],
      ctx(),
    );
    expect(r.depends).toEqual(['perl~5', 'python-3.12-base', 'ruby-3.2']);
  });

  it('a declared runtime of the same kind suppresses them', () => {
    const r = analyze(
      [
        dir('usr/lib/perl5/vendor_perl'),
        dir('usr/lib/python3.12/site-packages'),
        dir('usr/lib/ruby/gems/3.2.0/gems'),
      ],
      ctx({ declared: { runtime: ['perl', 'python3', 'ruby'] } }),
    );
    expect(r.depends).toEqual(['perl', 'python3', 'ruby']);
  });

  it('a -doc package with man or info pages depends on man-db / texinfo', () => {
    const files = [dir('usr/share/man/man1'), file('usr/share/info/x.info', 'i')];
    expect(analyze(files, ctx({ packageName: 'x-doc' })).depends).toEqual(['man-db', 'texinfo']);
    expect(analyze(files, ctx({ packageName: 'x' })).depends).toEqual([]);
  });
});

describe('merging', () => {
  it('merges with the declared lists, sorts, dedupes, drops self-provided dependencies', () => {
    const r = analyze(
      [file('usr/bin/prog', program, 0o755)],
      ctx({
        declared: {
          runtime: ['zzz', 'so:libc.so.6', 'cmd:prog', 'so:libfoo.so.1'],
          provides: ['so:libfoo.so.1=1', 'aaa'],
        },
      }),
    );
    expect(r.depends).toEqual(['so:ld-linux-x86-64.so.2', 'so:libc.so.6', 'zzz']);
    expect(r.provides).toEqual(['aaa', 'cmd:prog=1.2.3-r4', 'so:libfoo.so.1=1']);
  });

  it('no-depends and no-provides drop generated entries but keep declared ones', () => {
    const r = analyze(
      [file('usr/bin/prog', program, 0o755)],
      ctx({
        options: { 'no-depends': true, 'no-provides': true },
        declared: { runtime: ['x'], provides: ['y'] },
      }),
    );
    expect(r.depends).toEqual(['x']);
    expect(r.provides).toEqual(['y']);
  });
});

describe('sonameLibver', () => {
  it.each([
    ['libfoo.so.1', '1'],
    ['libfoo.so.1.2.3', '1.2.3'],
    ['libfoo.so', '0'],
    ['libfoo.so.1a', '0'],
    ['libfoo.so.2.so.3', '2'],
  ])('%s → %s', (soname, libver) => expect(sonameLibver(soname)).toBe(libver));
});
