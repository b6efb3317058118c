import { describe, expect, it } from 'vitest';
import { EM } from './elf-sections.ts';
import { LINTERS } from './linters.ts';
import { humanizeBytes, isLicenseFile } from './rules-duplicate.ts';
import { unsupportedArchOf } from './rules-arch.ts';
import { lintPackageTree } from './run.ts';
import { buildSectionElf } from './testdata/elf.ts';
import type { LintFile, LintFinding, LintPackage } from './types.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const file = (path: string, mode = 0o644, data: Uint8Array = text('x')): LintFile => ({
  path,
  type: 'file',
  mode,
  data,
});
const dir = (path: string): LintFile => ({ path, type: 'directory', mode: 0o755 });
const link = (path: string, target: string): LintFile => ({ path, type: 'symlink', linkname: target });

/** Run one linter, required; its finding or undefined. */
function run(name: string, files: LintFile[], pkg: Partial<LintPackage> = {}): LintFinding | undefined {
  const result = lintPackageTree(files, { name: 'pkg', testUses: [], ...pkg }, { require: [name], warn: [] });
  expect(result.findings.length).toBeLessThanOrEqual(1);
  return result.findings[0];
}

const paths = (f: LintFinding | undefined): unknown =>
  (f?.details as { paths?: string[] } | undefined)?.paths;

describe('the linter table', () => {
  it('has melange 30 linters, sorted, with their default levels', () => {
    expect(LINTERS).toHaveLength(30);
    const names = LINTERS.map((l) => l.name);
    expect(names).toEqual([...names].sort());
    expect(LINTERS.filter((l) => l.defaultLevel === 'require').map((l) => l.name)).toEqual([
      'dev',
      'infodir',
      'libtool/la-files',
      'setuidgid',
      'tempdir',
      'usrmerge',
      'varempty',
      'worldwrite',
    ]);
    expect(LINTERS.filter((l) => l.defaultLevel === 'off').map((l) => l.name)).toEqual([
      'documentation',
      'empty',
    ]);
    for (const l of LINTERS) expect(l.explain).not.toBe('');
  });
});

describe('path linters', () => {
  it('dev: files under dev/', () => {
    const f = run('dev', [dir('dev'), file('dev/null'), file('usr/bin/x')]);
    expect(f?.message).toBe('pkg writes to /dev');
    expect(paths(f)).toEqual(['dev/null']);
    expect(run('dev', [dir('dev')])).toBeUndefined();
  });

  it('varempty: files under var/empty/', () => {
    expect(paths(run('varempty', [dir('var/empty'), file('var/empty/.keep')]))).toEqual(['var/empty/.keep']);
    expect(run('varempty', [dir('var/empty')])).toBeUndefined();
  });

  it('infodir: usr/share/info/dir', () => {
    const f = run('infodir', [file('usr/share/info/dir'), file('usr/share/info/hello.info')]);
    expect(paths(f)).toEqual(['usr/share/info/dir']);
    expect(run('infodir', [file('usr/share/info/hello.info')])).toBeUndefined();
  });

  it('tempdir: tmp, var/tmp, var/run, files in run, dirs in run without tmpfiles.d', () => {
    const f = run('tempdir', [
      dir('tmp'),
      file('tmp/a'),
      file('var/tmp/b'),
      dir('var/run/x'),
      dir('run/foo'),
      file('run/foo/pid'),
    ]);
    expect(f?.message).toBe('pkg writes to a temp dir');
    expect(paths(f)).toEqual(['run/foo', 'run/foo/pid', 'tmp/a', 'var/run/x', 'var/tmp/b']);
    const withSnippet = run('tempdir', [dir('run/foo'), file('usr/lib/tmpfiles.d/foo.conf')]);
    expect(withSnippet).toBeUndefined();
    expect(
      paths(run('tempdir', [dir('run/foo'), file('run/foo/x'), file('usr/lib/tmpfiles.d/foo.conf')])),
    ).toEqual(['run/foo/x']);
  });

  it('usrmerge: anything at or under bin, sbin, lib, lib64, usr/sbin; the message lists them', () => {
    const f = run('usrmerge', [
      file('README'),
      link('bin', 'usr/bin'),
      dir('sbin'),
      file('sbin/init'),
      file('lib64/ld.so'),
      file('usr/sbin/daemon'),
      file('usr/bin/ok'),
      file('usr/lib/ok.so'),
      file('libexec/fine'),
    ]);
    expect(f?.message).toBe('Package contains paths in violation of usrmerge:');
    expect(f?.lines).toEqual(['bin', 'lib64/ld.so', 'sbin', 'sbin/init', 'usr/sbin/daemon']);
    expect(paths(f)).toEqual(f?.lines);
    expect(run('usrmerge', [file('usr/bin/x'), file('var/lib/db/sbom/x.spdx.json')])).toBeUndefined();
  });

  it('libtool/la-files, object, staticarchive', () => {
    expect(run('libtool/la-files', [file('usr/lib/libfoo.la'), file('usr/lib/libbar.la')])?.message).toMatch(
      /^pkg contains 2 libtool archive \(\.la\) files\. Remove them/,
    );
    expect(run('object', [file('usr/lib/x.o')])?.message).toMatch(
      /^pkg contains 1 intermediate object file\./,
    );
    expect(run('staticarchive', [file('usr/lib/libfoo.a')])?.message).toMatch(
      /^pkg contains 1 static archive\./,
    );
    expect(run('staticarchive', [file('usr/lib/libfoo.a')], { name: 'foo-dev' })).toBeUndefined();
    expect(run('staticarchive', [file('usr/lib/libfoo.a')], { name: 'foo-static' })).toBeUndefined();
  });

  it('opt, srv, usrlocal: allowed in -compat packages', () => {
    expect(run('opt', [file('opt/x/y')])?.message).toBe('pkg writes to /opt');
    expect(run('srv', [file('srv/www/index.html')])?.message).toBe('pkg writes to /srv');
    expect(run('usrlocal', [file('usr/local/bin/x')])?.message).toBe(
      'pkg contains /usr/local path in non-compat package',
    );
    for (const [name, path] of [
      ['opt', 'opt/x'],
      ['srv', 'srv/x'],
      ['usrlocal', 'usr/local/x'],
    ] as const)
      expect(run(name, [file(path)], { name: 'pkg-compat' })).toBeUndefined();
  });

  it('maninfo and documentation: allowed in -doc packages', () => {
    const files = [
      file('usr/share/man/man1/x.1.gz'),
      file('usr/share/info/x.info'),
      file('usr/share/doc/x/README.md'),
    ];
    expect(paths(run('maninfo', files))).toEqual(['usr/share/info/x.info', 'usr/share/man/man1/x.1.gz']);
    expect(run('maninfo', files, { name: 'pkg-doc' })).toBeUndefined();
    // Compressed man pages do not match melange's documentation names; README.md does.
    expect(paths(run('documentation', files))).toEqual(['usr/share/doc/x/README.md']);
    expect(paths(run('documentation', [file('usr/share/man/man3/x.3p'), file('TODO')]))).toEqual([
      'TODO',
      'usr/share/man/man3/x.3p',
    ]);
    expect(run('documentation', files, { name: 'pkg-doc' })).toBeUndefined();
  });

  it('sbom: only non-SPDX files directly in var/lib/db/sbom', () => {
    const f = run('sbom', [file('var/lib/db/sbom/pkg-1.0-r0.spdx.json'), file('var/lib/db/sbom/notes.txt')]);
    expect(paths(f)).toEqual(['var/lib/db/sbom/notes.txt']);
    expect(run('sbom', [file('var/lib/db/sbom/pkg-1.0-r0.spdx.json')])).toBeUndefined();
  });

  it('cudaruntimelib, dll, dylib', () => {
    expect(
      paths(run('cudaruntimelib', [file('usr/lib/libcuda.so.1'), file('usr/lib/libcudart.so')])),
    ).toEqual(['usr/lib/libcuda.so.1']);
    expect(run('dll', [file('usr/lib/x.dll'), file('usr/lib/y.dll')])?.message).toBe(
      'pkg contains 2 DLL files',
    );
    expect(run('dll', [file('usr/lib/x.dll')], { name: 'pkg-dev' })).toBeUndefined();
    expect(run('dylib', [file('usr/lib/x.dylib')])?.message).toBe('pkg contains 1 dylib file');
  });

  it('pkgconf and lddcheck: files without the test that checks them', () => {
    const pc = [file('usr/lib/pkgconfig/foo.pc')];
    expect(run('pkgconf', pc)?.message).toBe(
      'pkg contains pkgconfig files but test/pkgconf is not configured',
    );
    expect(run('pkgconf', pc, { testUses: ['test/pkgconf'] })).toBeUndefined();
    expect(run('pkgconf', pc, { testUses: undefined })?.message).toBe(
      'pkg contains pkgconfig files but missing .melange.yaml',
    );
    const so = [
      file('usr/lib/libfoo.so.1.2'),
      link('usr/lib/libfoo.so.1', 'libfoo.so.1.2'),
      file('usr/lib/libfoo.so.1.2.py'),
    ];
    expect(paths(run('lddcheck', so))).toEqual(['usr/lib/libfoo.so.1', 'usr/lib/libfoo.so.1.2']);
    expect(run('lddcheck', so, { testUses: ['test/tw/ldd-check'] })).toBeUndefined();
    expect(run('lddcheck', so, { testUses: ['test/ldd-check'] })).toBeUndefined();
  });

  it('empty: nothing but folders and the SBOM, unless no-provides', () => {
    const tree = [dir('usr'), file('var/lib/db/sbom/pkg.spdx.json')];
    expect(run('empty', tree)?.message).toBe('package is empty but no-provides is not set');
    expect(run('empty', tree, { noProvides: true })).toBeUndefined();
    expect(run('empty', [...tree, file('usr/x')])).toBeUndefined();
  });
});

describe('permission linters', () => {
  it('setuidgid: setuid, setgid and sticky regular files, with octal modes', () => {
    const f = run('setuidgid', [
      file('usr/bin/su', 0o4755),
      file('usr/bin/wall', 0o2755),
      file('usr/bin/x', 0o755),
      dir('tmp'),
    ]);
    expect(f?.message).toBe('pkg contains 2 files with special permissions (setuid/setgid)');
    expect(f?.details).toEqual({
      files: [
        { path: 'usr/bin/su', mode: '4755', permissions: ['setuid'] },
        { path: 'usr/bin/wall', mode: '2755', permissions: ['setgid'] },
      ],
    });
  });

  it('worldwrite: world-writable regular files (not folders or links)', () => {
    const f = run('worldwrite', [
      file('etc/x', 0o666),
      file('usr/bin/y', 0o777),
      { ...dir('tmp'), mode: 0o1777 },
      link('a', 'b'),
    ]);
    expect(f?.message).toBe('pkg contains 2 world-writeable files');
    expect(f?.details).toEqual({
      files: [
        { path: 'etc/x', mode: '666', permissions: ['world-writable'] },
        { path: 'usr/bin/y', mode: '777', permissions: ['world-writable', 'executable'] },
      ],
    });
  });
});

describe('ELF linters', () => {
  const elf = (sections: string[], machine: number = EM.X86_64): Uint8Array =>
    buildSectionElf({ sections, machine }).bytes;

  it('strip: ELF files with debug sections, executable or named like libraries', () => {
    const f = run('strip', [
      file('usr/bin/debug', 0o755, elf(['.text', '.debug_info'])),
      file('usr/bin/clean', 0o755, elf(['.text', '.gnu_debuglink'])),
      file('usr/lib/libz.so', 0o644, elf(['.zdebug'])),
      file('usr/share/data.bin', 0o644, elf(['.debug'])),
      file('usr/bin/script', 0o755, text('#!/bin/sh\n')),
      file('var/lib/db/sbom/x', 0o755, elf(['.debug'])),
    ]);
    expect(f?.message).toBe('pkg contains 2 unstripped binaries');
    expect(f?.details).toEqual({ binaries: ['usr/bin/debug', 'usr/lib/libz.so'] });
  });

  it('binaryarch: ELF files for other arches than x86_64 and aarch64', () => {
    const f = run('binaryarch', [
      file('usr/bin/a', 0o755, elf([], EM.X86_64)),
      file('usr/bin/b', 0o755, elf([], EM.AARCH64)),
      file('usr/bin/c', 0o755, elf([], EM.RISCV)),
      file('usr/lib/d.so', 0o644, elf([], EM.S390)),
      file('usr/bin/e', 0o755, elf([], 258)),
    ]);
    expect(f?.message).toBe('pkg contains 3 binaries compiled for unsupported architecture(s)');
    expect(f?.details).toEqual({
      binaries: [
        { path: 'usr/bin/c', arch: 'riscv' },
        { path: 'usr/bin/e', arch: 'unknown (258)' },
        { path: 'usr/lib/d.so', arch: 's390' },
      ],
    });
  });

  it('damaged ELF files are skipped, not fatal', () => {
    const bytes = elf(['.debug_info']);
    expect(run('strip', [file('usr/bin/x', 0o755, bytes.subarray(0, 70))])).toBeUndefined();
  });
});

describe('python linters', () => {
  const site = 'usr/lib/python3.12/site-packages';
  it('python/docs and python/test: doc and test folders in site-packages', () => {
    expect(run('python/docs', [file(`${site}/docs/index.rst`)])?.message).toBe(
      'docs directory encountered in Python site-packages directory',
    );
    expect(run('python/test', [file(`${site}/tests/test_x.py`)])?.message).toBe(
      'tests directory encountered in Python site-packages directory',
    );
    expect(run('python/test', [file(`${site}/yaml/tests.py`)])).toBeUndefined();
  });

  it('python/multiple: more than one top-level module (metadata, private and test entries aside)', () => {
    const tree = [
      file(`${site}/yaml/__init__.py`),
      file(`${site}/_yaml/__init__.py`),
      file(`${site}/PyYAML-6.0.3.dist-info/METADATA`),
      file(`${site}/typing_extensions.py`),
      file(`${site}/six.cpython-312-x86_64-linux-gnu.so`),
      file(`${site}/foo.pth`),
    ];
    const f = run('python/multiple', tree);
    expect(f?.message).toBe(
      'multiple Python packages detected: 3 found ("six", "typing_extensions", "yaml")',
    );
    expect(f?.details).toEqual({ count: 3, packages: ['"six"', '"typing_extensions"', '"yaml"'] });
    expect(run('python/multiple', tree.slice(0, 3))).toBeUndefined();
  });

  it('more than one python3.X folder fails all three', () => {
    const tree = [
      file('usr/lib/python3.11/site-packages/a.py'),
      file('usr/lib/python3.12/site-packages/b.py'),
    ];
    for (const name of ['python/docs', 'python/test', 'python/multiple'])
      expect(run(name, tree)?.message).toBe('more than one Python version detected: 2 found');
  });
});

describe('arch and platform linters', () => {
  it('nonlinux: macOS and Windows names in paths', () => {
    const f = run('nonlinux', [
      file('usr/lib/darwin/x.h'),
      file('usr/share/win32-notes.txt'),
      file('usr/bin/ok'),
    ]);
    expect(f?.details).toEqual({
      references: [
        { path: 'usr/lib/darwin/x.h', platform: 'macos' },
        { path: 'usr/share/win32-notes.txt', platform: 'windows' },
      ],
    });
    expect(run('nonlinux', [file('var/lib/db/sbom/windows-exporter-1.0-r0.spdx.json')])).toBeUndefined();
  });

  it('unsupportedarch: arch names in folders and file names, unless a supported arch is named too', () => {
    expect(unsupportedArchOf('usr/lib/mips/libx.so')).toBe('mips');
    expect(unsupportedArchOf('usr/lib/foo-ppc64.so')).toBe('ppc64');
    expect(unsupportedArchOf('usr/lib/foo-ppc64le.so')).toBe('ppc64le');
    expect(unsupportedArchOf('usr/lib/foo_s390x')).toBe('s390x');
    expect(unsupportedArchOf('usr/lib/x86_64/foo-i386.so')).toBeUndefined();
    expect(unsupportedArchOf('usr/lib/libfoo.so')).toBeUndefined();
    expect(run('unsupportedarch', [file('usr/share/foo/riscv64/x')])?.message).toBe(
      'pkg contains 1 unsupported architecture reference(s)',
    );
  });
});

describe('duplicate', () => {
  const big = (seed: string, size: number): Uint8Array =>
    text(seed.repeat(Math.ceil(size / seed.length)).slice(0, size));

  it('reports same-name, same-content files of 1 KiB or more, largest waste first', () => {
    const f = run('duplicate', [
      file('usr/share/a/data.bin', 0o644, big('a', 2000)),
      file('usr/share/b/data.bin', 0o644, big('a', 2000)),
      file('usr/share/c/data.bin', 0o644, big('a', 2000)),
      file('usr/share/a/small.txt', 0o644, big('s', 1023)),
      file('usr/share/b/small.txt', 0o644, big('s', 1023)),
      file('usr/share/a/other.txt', 0o644, big('o', 1500)),
      file('usr/share/b/other.txt', 0o644, big('o', 1500)),
      file('usr/share/c/other.txt', 0o644, big('p', 1500)),
      file('usr/share/a/LICENSE', 0o644, big('l', 5000)),
      file('usr/share/b/LICENSE', 0o644, big('l', 5000)),
    ]);
    expect(f?.message).toBe(
      'pkg contains 2 duplicate file(s) with same name in different directories (wasting 5.5 kB total):',
    );
    expect(f?.lines).toEqual([
      "  3 copies of 'data.bin' (2.0 kB each, wasting 4.0 kB):",
      '    usr/share/a/data.bin',
      '    usr/share/b/data.bin',
      '    usr/share/c/data.bin',
      "  2 copies of 'other.txt' (1.5 kB each, wasting 1.5 kB):",
      '    usr/share/a/other.txt',
      '    usr/share/b/other.txt',
    ]);
    expect(f?.details).toMatchObject({
      total_duplicate_sets: 2,
      total_wasted_bytes: 5500,
      total_wasted_size: '5.5 kB',
    });
  });

  it('humanizes like go-humanize and knows licence file names', () => {
    expect([0, 9, 10, 999, 1000, 1500, 10_000, 999_999, 2_500_000].map(humanizeBytes)).toEqual([
      '0 B',
      '9 B',
      '10 B',
      '999 B',
      '1.0 kB',
      '1.5 kB',
      '10 kB',
      '1000 kB',
      '2.5 MB',
    ]);
    for (const name of [
      'LICENSE',
      'license.md',
      'COPYING',
      'LICENSE-MIT',
      'MIT-LICENSE',
      'UNLICENSE',
      'OFL.txt',
      'PATENTS',
    ])
      expect(isLicenseFile(`usr/share/x/${name}`)).toBe(true);
    for (const name of ['README', 'license.go', 'main.c']) expect(isLicenseFile(name)).toBe(false);
  });
});
