#!/usr/bin/env node
// Unit tests of the bootstrap repository's conversion logic (node:test; no network, ~2 s).
//
//   node test-fixtures/bootstrap/selftest.mjs
//
// Needs `pnpm build` (it uses the built packages), dpkg/dpkg-deb, and root or fakeroot (to give files in
// the test .deb odd owners).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import {
  buildApk,
  compareVersions,
  createKeyring,
  isValidVersion,
  readApk,
  readPrivateKey,
  readPublicKey,
  verifyApk,
  versionMatches,
} from './lib/tk.mjs';
import {
  compareDebianVersions,
  debianToApkVersion,
  debianVersionSatisfies,
  encodeRevision,
  parseDebianVersion,
} from './lib/debver.mjs';
import { indexPackages, parseRelations, readDebControl, readDebData } from './lib/deb.mjs';
import { readElf } from './lib/elf.mjs';
import { resolveClosure } from './lib/resolve.mjs';
import {
  analyseFiles,
  baselayoutFiles,
  caBundle,
  debPkgInfo,
  dependencyToken,
  filesFromTar,
  installedSize,
  keepPath,
  licenseFromCopyright,
  packageProvides,
  soDepends,
} from './lib/convert.mjs';
import {
  alternativeLinks,
  apkNameOf,
  appletLinks,
  CARGO_AUDITABLE_SHIM,
  cargoAuditableShimPackage,
  compilerAliasPackage,
  handmadePkgInfo,
  isBundleOnly,
  linkCommands,
  metaPackage,
  noteFiles,
  relativeLink,
  specialProvides,
  toolchainAliasPackage,
  versionSourceOf,
} from './lib/special.mjs';
import { findSourceParagraphs, origTarball, pickVersion, sourceFiles } from './lib/sources.mjs';
import {
  LANGUAGE_CHECKS,
  LANGUAGE_PROJECT,
  REAL_PROGRAMS,
  TOOLS_PROJECT,
  VERSION_CHECKS,
  checkLanguagesOutput,
  checkToolsOutput,
  installClosure,
  languagesScript,
  toolsScript,
} from './lib/smoke.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const KEY = join(HERE, 'keys/tk-bootstrap.rsa');
const work = mkdtempSync(join(tmpdir(), 'tk-bootstrap-selftest-'));
after(() => rmSync(work, { recursive: true, force: true }));

function dpkgCompare(a, op, b) {
  const r = spawnSync('dpkg', ['--compare-versions', a, op, b]);
  if (r.error !== undefined) throw new Error(`dpkg is needed: ${r.error.message}`);
  return r.status === 0;
}

// --- versions -------------------------------------------------------------------------------------------

/** Pairs in increasing Debian order (each pair is a < b), real shapes from bookworm. */
const ORDERED_PAIRS = [
  ['2.36-9', '2.36-9+deb12u4'],
  ['2.36-9+deb12u4', '2.36-9+deb12u13'],
  ['2.36-9+deb12u13', '2.36-10'],
  ['2.36-9+deb12u13', '2.37-1'],
  ['2.36-9+b1', '2.36-9+deb12u1'],
  ['2.36-9+deb12u1', '2.36-9+deb12u1+b1'],
  ['2.36-9+deb12u1+b1', '2.36-9+deb12u2'],
  ['2.36-9', '2.36-9.1'],
  ['2.36-9+deb12u9', '2.36-9.1'],
  ['2.36-9.1', '2.36-9.2'],
  ['2.36-9.1', '2.36-10~deb12u1'],
  ['2.36-9+deb11u3', '2.36-9+deb12u1'],
  ['3.0.22-1~deb12u1', '3.0.22-1~deb12u2'],
  ['3.0.22-1~deb12u2', '3.0.22-1'],
  ['3.0.22-0.5', '3.0.22-1~deb12u1'],
  ['5.7-0.5~deb12u1', '5.7-0.5'],
  ['12.2.0-14', '12.2.0-14+deb12u1'],
  ['1.0~rc1-1', '1.0-1'],
  ['1.0~alpha1-1', '1.0~beta1-1'],
  ['1.0~beta2-1', '1.0~pre1-1'],
  ['1.0~pre1-1', '1.0~rc1-1'],
  ['1.0~rc1-1', '1.0~rc2-1'],
  ['1.0~rc2-3', '1.0~rc10-1'],
  ['1.0-1', '1.0+dfsg-1'],
  ['1.0+dfsg-1', '1.0.1-1'],
  ['1.2.13.dfsg-1', '1.2.14-1'],
  ['1.34+dfsg-1.2', '1.34+dfsg-1.2+deb12u1'],
  ['6.2.1+dfsg1-1', '6.2.1+dfsg1-1.1'],
  ['1.5.4+dfsg2-5', '1.5.5+dfsg-1'],
  ['20230311', '20230311+deb12u1'],
  ['20250419~deb12u1', '20250419~deb12u2'],
  ['20250419~deb12u2', '20250419'],
  ['20230311+deb12u1', '20250419~deb12u2'],
  ['1.2', '1.2a'],
  ['1.2a', '1.2.1'],
  ['1.9', '1.10'],
  ['1.0', '1.0.0'],
  ['1.01', '1.1.1'],
  ['1.0+git20230101-1', '1.0+git20240101-1'],
  ['1:1.35.0-4', '1:1.35.0-4+b1'],
  ['1:1.35.0-4+deb12u1+b1', '1:1.35.0-5'],
  ['2:6.2.1+dfsg1-1.1', '2:6.3.0+dfsg-2'],
];

/** Pairs Debian orders one way and the mapping the other: the documented limits (README). */
const KNOWN_INVERSIONS = [
  ['2.0-1', '1:0.9-1', 'epochs are dropped'],
  ['1.0+dfsg1-1', '1.0+ds-1', 'repack words all become _p; dfsg1 vs ds compares the number'],
  ['1.0a-1', '1.0+1-1', 'apk orders a letter above a post-release suffix, Debian below "+"'],
  ['1.0.5-1', '1.0.dfsg-1', 'Debian orders ".word" above ".number", apk the other way'],
];

describe('Debian versions', () => {
  test('compareDebianVersions agrees with dpkg --compare-versions', () => {
    for (const [a, b] of [...ORDERED_PAIRS, ...KNOWN_INVERSIONS]) {
      for (const [x, y] of [
        [a, b],
        [b, a],
        [a, a],
      ]) {
        const ours = compareDebianVersions(x, y);
        const dpkg = dpkgCompare(x, 'lt', y) ? -1 : dpkgCompare(x, 'eq', y) ? 0 : 1;
        assert.equal(ours, dpkg, `${x} vs ${y}`);
      }
    }
    assert.equal(compareDebianVersions('1.01-1', '1.1-1'), 0);
    assert.equal(compareDebianVersions('1.0~~a', '1.0~'), -1);
  });

  test('the apk mapping keeps the order of every ordered pair', () => {
    for (const [a, b] of ORDERED_PAIRS) {
      assert.equal(compareDebianVersions(a, b), -1, `Debian: ${a} < ${b}`);
      const ma = debianToApkVersion(a).version;
      const mb = debianToApkVersion(b).version;
      assert.ok(isValidVersion(ma), `${ma} is a valid apk version`);
      assert.ok(isValidVersion(mb), `${mb} is a valid apk version`);
      assert.equal(compareVersions(ma, mb), -1, `apk: ${ma} < ${mb} (from ${a} < ${b})`);
      assert.equal(compareVersions(mb, ma), 1, `apk: ${mb} > ${ma}`);
    }
    assert.equal(
      compareVersions(debianToApkVersion('1.01-1').version, debianToApkVersion('1.1-1').version),
      0,
    );
  });

  test('the documented inversions are exactly that', () => {
    for (const [a, b, why] of KNOWN_INVERSIONS) {
      assert.equal(compareDebianVersions(a, b), -1, `Debian: ${a} < ${b}`);
      assert.equal(compareVersions(debianToApkVersion(a).version, debianToApkVersion(b).version), 1, why);
    }
  });

  test('mapped versions read as documented', () => {
    const table = {
      '2.36-9+deb12u14': '2.36-r9002121400',
      '2.10-3': '2.10-r3001000000',
      '1:1.35.0-4+deb12u1+b1': '1.35.0-r4002120101',
      '20250419~deb12u2': '20250419_pre1202',
      '1.34+dfsg-1.2+deb12u1': '1.34_p-r1032120100',
      '3.0.22-1~deb12u2': '3.0.22-r1000120200',
      '1.0~rc1-1': '1.0_rc1-r1001000000',
      '2:6.2.1+dfsg1-1.1': '6.2.1_p1-r1021000000',
      '1.0+git20230101-1': '1.0_git20230101-r1001000000',
      '4.3-4.1': '4.3-r4021000000',
      2.36: '2.36',
      '2.37~': '2.37_pre',
    };
    for (const [deb, apk] of Object.entries(table)) assert.equal(debianToApkVersion(deb).version, apk, deb);
    assert.deepEqual(debianToApkVersion('1:1.2-1').notes, ['epoch 1 dropped']);
    assert.equal(encodeRevision('9+deb12u4', []), 9_002_120_400n);
    const notes = [];
    encodeRevision('1+nmu2', notes);
    assert.match(notes[0], /outside the/);
  });

  test('invalid Debian versions are refused', () => {
    for (const bad of ['', 'a1.0', '1.0-', '1.0-r$', 'x:1.0', '1.0 1', '-1'])
      assert.throws(() => parseDebianVersion(bad), bad);
    assert.deepEqual(parseDebianVersion('1:2.0-1-2'), { epoch: 1, upstream: '2.0-1', revision: '2' });
  });

  test('relations: dpkg semantics', () => {
    assert.ok(debianVersionSatisfies('2.36-9+deb12u14', '>=', '2.34'));
    assert.ok(debianVersionSatisfies('2.36-9', '<<', '2.37~'));
    assert.ok(!debianVersionSatisfies('2.37-1', '<<', '2.37~'));
    assert.ok(debianVersionSatisfies('1:1.0-1', '>>', '9.9'));
    assert.ok(debianVersionSatisfies('1.0', '<', '1.0'));
  });
});

// --- control data, relations, closure ---------------------------------------------------------------------

describe('Debian metadata', () => {
  test('relations parse with alternatives, versions and qualifiers', () => {
    assert.deepEqual(
      parseRelations('libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, python3:any, foo:amd64 (<< 2)'),
      [
        [{ name: 'libc6', op: '>=', version: '2.34' }],
        [{ name: 'debconf', op: '>=', version: '0.5' }, { name: 'debconf-2.0' }],
        [{ name: 'python3' }],
        [{ name: 'foo', op: '<<', version: '2' }],
      ],
    );
    assert.deepEqual(parseRelations(undefined), []);
    assert.throws(() => parseRelations('libc6 (>= 2.34'));
  });

  const packagesText = `Package: app
Version: 1.0-1
Pre-Depends: libpre1
Depends: excluded-thing | libalt1 (>= 2), virt, gone-too

Package: libpre1
Version: 1.0-1
Depends: libc

Package: libalt1
Version: 1.0-1

Package: libalt1
Version: 2.0-1
Depends: libc (>= 2.30)

Package: libc
Version: 2.36-9

Package: provider-b
Version: 1
Provides: virt

Package: provider-a
Version: 1
Provides: virt (= 3)

Package: debconf
Version: 1.5
`;

  test('closure: Pre-Depends followed, first satisfiable alternative, highest version, excluded names dropped', () => {
    const index = indexPackages([packagesText]);
    assert.equal(index.packages.get('libalt1').get('version'), '2.0-1');
    assert.deepEqual(index.providers.get('virt'), ['provider-a', 'provider-b']);
    const exclude = { 'excluded-thing': 'test', 'gone-too': 'test' };
    const r = resolveClosure(index, ['app'], exclude);
    assert.deepEqual(r.names, ['app', 'libalt1', 'libc', 'libpre1', 'provider-a']);
    assert.deepEqual(
      r.edges.get('app').map((e) => e.target),
      ['libpre1', 'libalt1', 'provider-a'],
    );
    assert.deepEqual(r.dropped, [{ from: 'app', group: 'gone-too', reason: 'gone-too: test' }]);
    assert.equal(r.choices.length, 1);
    assert.throws(
      () => resolveClosure(index, ['app'], {}),
      /cannot satisfy "excluded-thing \| libalt1|gone-too/,
    );
    assert.throws(() => resolveClosure(index, ['nope'], {}), /not in the Packages index/);
  });

  test('dependency tokens: mapped constraints, checked both ways', () => {
    const notes = [];
    assert.equal(
      dependencyToken(
        { name: 'libc6', op: '>=', version: '2.34' },
        'libc6',
        '2.36-9+deb12u14',
        '2.36-r9002121400',
        versionMatches,
        notes,
      ),
      'libc6>=2.34',
    );
    assert.equal(
      dependencyToken(
        { name: 'x', op: '=', version: '1.2-3' },
        'x',
        '1.2-3',
        debianToApkVersion('1.2-3').version,
        versionMatches,
        notes,
      ),
      'x=1.2-r3001000000',
    );
    assert.equal(
      dependencyToken(
        { name: 'y', op: '<<', version: '2.0~' },
        'y',
        '1.9-1',
        '1.9-r1001000000',
        versionMatches,
        notes,
      ),
      'y<2.0_pre',
    );
    // Epoch 2 satisfies ">= 1:2.0" in dpkg, but without epochs 1.0 < 2.0: the constraint is dropped, with a note.
    assert.equal(
      dependencyToken(
        { name: 'z', op: '>=', version: '1:2.0' },
        'z',
        '2:1.0-1',
        '1.0-r1001000000',
        versionMatches,
        notes,
      ),
      'z',
    );
    assert.equal(notes.length, 1);
    assert.throws(
      () =>
        dependencyToken(
          { name: 'w', op: '>=', version: '3' },
          'w',
          '2-1',
          '2-r1001000000',
          versionMatches,
          [],
        ),
      /does not satisfy/,
    );
    assert.equal(
      dependencyToken(
        { name: 'ca-certificates', op: '>=', version: '1' },
        'ca-certificates-bundle',
        '2',
        '2',
        versionMatches,
        [],
      ),
      'ca-certificates-bundle',
    );
  });

  test('licences from DEP-5 copyright files', () => {
    const dep5 = (license) =>
      `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: x\n\nFiles: debian/*\nLicense: MIT\n\nFiles: *\nCopyright: someone\nLicense: ${license}\n long text\n`;
    assert.equal(licenseFromCopyright(dep5('GPL-2+')), 'GPL-2.0-or-later');
    assert.equal(licenseFromCopyright(dep5('GPL-2+ or LGPL-3+')), 'GPL-2.0-or-later OR LGPL-3.0-or-later');
    assert.equal(licenseFromCopyright(dep5('BSD-3-clause and Expat')), 'BSD-3-Clause AND MIT');
    assert.equal(
      licenseFromCopyright(dep5('GPL-3+ with GCC-exception-3.1 exception')),
      'GPL-3.0-or-later WITH GCC-exception-3.1',
    );
    assert.equal(
      licenseFromCopyright(dep5('Frobnicate License v2')),
      'LicenseRef-Debian-Frobnicate-License-v2',
    );
    assert.equal(licenseFromCopyright('This is GNU hello, written by...\nGPL version 3'), 'NOASSERTION');
    assert.equal(licenseFromCopyright(undefined), 'NOASSERTION');
  });

  test('kept and skipped paths', () => {
    for (const p of [
      'usr/bin/x',
      'usr/share/doc',
      'usr/share/doc/x',
      'usr/share/doc/x/copyright',
      'usr/share/ca-certificates/a.crt',
      'usr/share/mandoc',
    ])
      assert.ok(keepPath(p), p);
    for (const p of [
      'usr/share/doc/x/changelog.gz',
      'usr/share/man',
      'usr/share/man/man1/x.1.gz',
      'usr/share/locale/de/LC_MESSAGES/x.mo',
      'usr/share/info/x.info.gz',
      'usr/share/lintian/overrides/x',
    ])
      assert.ok(!keepPath(p), p);
  });

  test('CA bundle: C-locale path order, a newline after each certificate', () => {
    const f = (path, text) => ({ path, type: 'file', mode: 0o644, data: new TextEncoder().encode(text) });
    const bundle = caBundle([
      f('usr/share/ca-certificates/mozilla/b.crt', 'B\n'),
      f('usr/share/ca-certificates/mozilla/a_Ä.crt', 'AUML'),
      f('usr/share/ca-certificates/mozilla/a_Z.crt', 'AZ\n'),
      f('usr/share/ca-certificates/mozilla/B.crt', 'upper'),
      f('usr/share/ca-certificates/mozilla/c.txt', 'not a cert'),
      f('usr/share/doc/ca-certificates/copyright', 'x'),
    ]);
    assert.equal(new TextDecoder().decode(bundle), 'upper\nAZ\nAUML\nB\n');
    assert.throws(() => caBundle([]), /no certificates/);
  });

  test('tk-baselayout: accounts, permissions, real top-level directories', () => {
    const files = baselayoutFiles('amd64');
    const by = new Map(files.map((f) => [f.path, f]));
    assert.equal(by.get('tmp').mode, 0o1777);
    assert.equal(by.get('root').mode, 0o700);
    assert.deepEqual([by.get('home/build').uid, by.get('home/build').gid], [1000, 1000]);
    for (const d of ['bin', 'lib', 'lib64', 'sbin', 'usr/bin']) assert.equal(by.get(d).type, 'directory', d);
    assert.ok(!baselayoutFiles('arm64').some((f) => f.path === 'lib64'));
    const passwd = new TextDecoder().decode(by.get('etc/passwd').data);
    assert.match(passwd, /^root:x:0:0:root:\/root:\/bin\/sh$/m);
    assert.match(passwd, /^build:x:1000:1000:[^:]*:\/home\/build:\/bin\/sh$/m);
    assert.match(new TextDecoder().decode(by.get('etc/os-release').data), /^ID=tk$/m);
    assert.equal(by.get('etc/shadow').mode, 0o640);
  });
});

// --- ELF ------------------------------------------------------------------------------------------------

/** A minimal ELF64 little-endian shared object with .dynstr, .dynamic and .shstrtab sections. */
function makeElf({ soname, needed = [], type = 3 }) {
  const enc = new TextEncoder();
  const strs = ['', ...(soname ? [soname] : []), ...needed];
  const offsets = [];
  let dynstr = new Uint8Array(0);
  for (const s of strs) {
    offsets.push(dynstr.length);
    dynstr = new Uint8Array([...dynstr, ...enc.encode(s), 0]);
  }
  const entries = [];
  let k = 1;
  if (soname) entries.push([14, offsets[k++]]);
  for (let i = 0; i < needed.length; i++) entries.push([1, offsets[k++]]);
  entries.push([0, 0]);
  const shstr = enc.encode('\0.dynstr\0.dynamic\0.shstrtab\0');
  const dynstrOff = 64;
  const dynamicOff = Math.ceil((dynstrOff + dynstr.length) / 8) * 8;
  const shstrOff = dynamicOff + entries.length * 16;
  const shoff = Math.ceil((shstrOff + shstr.length) / 8) * 8;
  const buf = new Uint8Array(shoff + 4 * 64);
  const v = new DataView(buf.buffer);
  buf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(16, type, true);
  v.setUint16(18, 62, true);
  v.setUint32(20, 1, true);
  v.setBigUint64(40, BigInt(shoff), true);
  v.setUint16(52, 64, true);
  v.setUint16(58, 64, true);
  v.setUint16(60, 4, true);
  v.setUint16(62, 3, true);
  buf.set(dynstr, dynstrOff);
  entries.forEach(([tag, val], i) => {
    v.setBigInt64(dynamicOff + i * 16, BigInt(tag), true);
    v.setBigUint64(dynamicOff + i * 16 + 8, BigInt(val), true);
  });
  buf.set(shstr, shstrOff);
  const sh = (i, name, stype, off, size, link) => {
    const b = shoff + i * 64;
    v.setUint32(b, name, true);
    v.setUint32(b + 4, stype, true);
    v.setBigUint64(b + 24, BigInt(off), true);
    v.setBigUint64(b + 32, BigInt(size), true);
    v.setUint32(b + 40, link, true);
  };
  sh(1, 1, 3, dynstrOff, dynstr.length, 0);
  sh(2, 9, 6, dynamicOff, entries.length * 16, 1);
  sh(3, 18, 3, shstrOff, shstr.length, 0);
  return buf;
}

describe('ELF reader', () => {
  test('reads SONAME and DT_NEEDED', () => {
    const elf = readElf(makeElf({ soname: 'libtkself.so.1', needed: ['libc.so.6', 'libm.so.6'] }));
    assert.deepEqual(elf, {
      bits: 64,
      type: 'dyn',
      machine: 62,
      needed: ['libc.so.6', 'libm.so.6'],
      soname: 'libtkself.so.1',
    });
    assert.equal(
      readElf(new TextEncoder().encode('#!/bin/sh\necho not an elf file, but long enough to be read\n')),
      undefined,
    );
  });

  test('reads a real executable', () => {
    const elf = readElf(new Uint8Array(spawnSync('cat', ['/bin/true']).stdout));
    assert.ok(elf !== undefined && elf.needed.includes('libc.so.6') && elf.interp?.startsWith('/lib'));
  });

  test('hostile input: truncations and corrupted headers never throw or read out of range', () => {
    const good = makeElf({ soname: 'libx.so.1', needed: ['liby.so.2'] });
    for (let n = 0; n < good.length; n++) readElf(good.subarray(0, n));
    let seed = 7;
    for (let i = 0; i < 3000; i++) {
      const bad = new Uint8Array(good);
      for (let j = 0; j < 4; j++) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        const pos = 16 + (seed % (bad.length - 16));
        bad[pos] = (seed >> 8) & 0xff;
      }
      const r = readElf(bad);
      if (r !== undefined) for (const s of r.needed) assert.ok(s.length <= 4096);
    }
    // String table offset far beyond the file; section count huge.
    const far = new Uint8Array(good);
    new DataView(far.buffer).setBigUint64(
      new DataView(good.buffer).getUint32(40, true) + 1 * 64 + 24,
      1n << 40n,
      true,
    );
    assert.equal(readElf(far), undefined);
    const many = new Uint8Array(good);
    new DataView(many.buffer).setUint16(60, 0xffff, true);
    assert.equal(readElf(many)?.soname, undefined);
  });
});

// --- a real .deb, built with dpkg-deb, converted --------------------------------------------------------

function rootOr(command) {
  if (process.getuid?.() === 0) return ['sh', ['-c', command]];
  if (spawnSync('sh', ['-c', 'command -v fakeroot']).status === 0) return ['fakeroot', ['sh', '-c', command]];
  throw new Error('the .deb test gives files odd owners: run it as root or install fakeroot');
}

function buildTestDeb() {
  const tree = join(work, 'pkg');
  const w = (path, data, mode = 0o644) => {
    mkdirSync(dirname(join(tree, path)), { recursive: true });
    writeFileSync(join(tree, path), data);
    chmodSync(join(tree, path), mode);
  };
  w(
    'DEBIAN/control',
    'Package: tk-selftest\nVersion: 1:1.2.3+dfsg-4+deb12u1\nArchitecture: amd64\nMaintainer: tk <tk@example.invalid>\n' +
      'Source: tk-src (1.2.3+dfsg-4)\nDepends: libc6 (>= 2.34)\nProvides: tk-virtual, tk-versioned (= 1.0-2), libc6\n' +
      'Homepage: https://example.invalid/tk\nDescription: selftest package\n longer text\n',
  );
  w('DEBIAN/postinst', '#!/bin/sh\nldconfig\n', 0o755);
  mkdirSync(join(tree, 'usr/bin'), { recursive: true });
  copyFileSync('/bin/true', join(tree, 'usr/bin/tk-hello'));
  chmodSync(join(tree, 'usr/bin/tk-hello'), 0o755);
  symlinkSync('tk-hello', join(tree, 'usr/bin/tk-link'));
  w('usr/bin/tk-suid', '#!/bin/sh\nexit 0\n', 0o755);
  w('usr/bin/not-a-command', 'data', 0o644);
  w(
    'usr/lib/x86_64-linux-gnu/libtkself.so.1.0.0',
    makeElf({ soname: 'libtkself.so.1', needed: ['libc.so.6', 'libtkprivate.so'] }),
    0o644,
  );
  symlinkSync('libtkself.so.1.0.0', join(tree, 'usr/lib/x86_64-linux-gnu/libtkself.so.1'));
  w('usr/lib/tk/plugin.so', makeElf({ soname: 'plugin.so', needed: ['libnowhere.so.9'] }), 0o644);
  w('usr/lib/tk/libtkprivate.so', makeElf({ soname: 'libtkprivate.so' }), 0o644);
  // A hard-link set whose first tar member sorts after its link in apk order, and one into a skipped tree.
  w('usr/share/tk/zz-original', 'shared data\n');
  linkSync(join(tree, 'usr/share/tk/zz-original'), join(tree, 'usr/share/tk/aa-link'));
  w('usr/share/doc/tk-selftest/README', 'doc\n');
  linkSync(join(tree, 'usr/share/doc/tk-selftest/README'), join(tree, 'usr/share/tk/readme-link'));
  w('usr/share/tk/owned', 'odd owner\n', 0o640);
  mkdirSync(join(tree, 'var/lib/tk'), { recursive: true });
  w(
    'usr/share/doc/tk-selftest/copyright',
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: tk\nLicense: GPL-2+ or Expat\n',
  );
  w('usr/share/doc/tk-selftest/changelog.Debian.gz', 'x');
  w('usr/share/man/man1/tk-hello.1.gz', 'x');
  w('usr/share/locale/de/LC_MESSAGES/tk.mo', 'x');
  const deb = join(work, 'tk-selftest.deb');
  const [cmd, args] = rootOr(
    `chown 1234:5678 '${tree}/usr/share/tk/owned' && chown 42:43 '${tree}/var/lib/tk' && chmod 2775 '${tree}/var/lib/tk' && ` +
      `chmod 4755 '${tree}/usr/bin/tk-suid' && SOURCE_DATE_EPOCH=1700000000 dpkg-deb --build '${tree}' '${deb}' >/dev/null`,
  );
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `dpkg-deb --build failed: ${r.stderr}`);
  return deb;
}

async function convert(deb) {
  const { control, mtime, scripts } = readDebControl(deb);
  const files = filesFromTar(readDebData(deb));
  const facts = analyseFiles(files, 'amd64');
  const version = debianToApkVersion(control.get('version')).version;
  const notes = [];
  const depends = [
    dependencyToken(
      { name: 'libc6', op: '>=', version: '2.34' },
      'libc6',
      '2.36-9',
      '2.36-r9001000000',
      versionMatches,
      notes,
    ),
    ...soDepends(
      facts,
      files.filter((f) => f.type !== 'directory').map((f) => f.path),
      new Map([['libc.so.6', ['libc6']]]),
      notes,
      'tk-selftest',
    ),
  ];
  const pkginfo = debPkgInfo({
    control,
    apkName: 'tk-selftest',
    apkVersion: version,
    apkArch: 'x86_64',
    sourceDateEpoch: mtime,
    license: licenseFromCopyright(facts.copyright['tk-selftest']),
    depends,
    provides: packageProvides(facts, version, control, new Set(['libc6'])),
  });
  const key = await readPrivateKey(KEY);
  const result = await buildApk({
    pkginfo: { ...pkginfo, size: installedSize(files) },
    files,
    sourceDateEpoch: mtime,
    signer: { key, keyName: 'tk-bootstrap.rsa.pub' },
  });
  return { result, scripts, notes, mtime };
}

describe('a .deb made by dpkg-deb, converted to an apk', async () => {
  const deb = buildTestDeb();
  const first = await convert(deb);
  const pkg = readApk(first.result.bytes);
  const by = new Map(pkg.files.map((f) => [f.path, f]));

  test('control data: version mapping, origin, SOURCE_DATE_EPOCH, licence, scripts recorded', () => {
    assert.equal(first.mtime, 1700000000);
    const info = pkg.pkginfo;
    assert.equal(info.pkgname, 'tk-selftest');
    assert.equal(info.pkgver, '1.2.3_p-r4002120100');
    assert.equal(info.origin, 'tk-src');
    assert.equal(info.arch, 'x86_64');
    assert.equal(info.builddate, 1700000000);
    assert.equal(info.url, 'https://example.invalid/tk');
    assert.equal(info.pkgdesc, 'selftest package (Debian tk-selftest 1:1.2.3+dfsg-4+deb12u1)');
    assert.equal(info.license, 'GPL-2.0-or-later OR MIT');
    assert.deepEqual(Object.keys(first.scripts), ['postinst']);
    assert.ok(pkg.files.every((f) => f.mtime === 1700000000));
  });

  test('files: skipped trees gone, copyright kept, directories, symlinks', () => {
    const paths = pkg.files.map((f) => f.path);
    for (const gone of [
      'usr/share/man',
      'usr/share/locale',
      'usr/share/doc/tk-selftest/changelog.Debian.gz',
      'usr/share/doc/tk-selftest/README',
    ])
      assert.ok(!paths.includes(gone), gone);
    assert.ok(paths.includes('usr/share/doc/tk-selftest/copyright'));
    assert.equal(by.get('usr/bin/tk-link').type, 'symlink');
    assert.equal(by.get('usr/bin/tk-link').linkname, 'tk-hello');
    assert.equal(by.get('usr/lib/x86_64-linux-gnu/libtkself.so.1').linkname, 'libtkself.so.1.0.0');
    assert.equal(by.get('usr/bin/tk-hello').mode, 0o755);
  });

  test('modes and owners: setuid, setgid directory, numeric owners', () => {
    assert.equal(by.get('usr/bin/tk-suid').mode, 0o4755);
    assert.deepEqual(
      [
        by.get('var/lib/tk').type,
        by.get('var/lib/tk').mode,
        by.get('var/lib/tk').uid,
        by.get('var/lib/tk').gid,
      ],
      ['directory', 0o2775, 42, 43],
    );
    assert.deepEqual(
      [by.get('usr/share/tk/owned').mode, by.get('usr/share/tk/owned').uid, by.get('usr/share/tk/owned').gid],
      [0o640, 1234, 5678],
    );
    assert.deepEqual(
      [by.get('usr/bin/tk-hello').uid, by.get('usr/bin/tk-hello').gid, by.get('usr/bin/tk-hello').uname],
      [0, 0, 'root'],
    );
  });

  test('hard links: the first path in apk order carries the data, also when the target was skipped', () => {
    const aa = by.get('usr/share/tk/aa-link');
    const zz = by.get('usr/share/tk/zz-original');
    assert.equal(aa.type, 'file');
    assert.equal(new TextDecoder().decode(aa.data), 'shared data\n');
    assert.deepEqual([zz.type, zz.linkname], ['hardlink', 'usr/share/tk/aa-link']);
    const readme = by.get('usr/share/tk/readme-link');
    assert.equal(readme.type, 'file');
    assert.equal(new TextDecoder().decode(readme.data), 'doc\n');
  });

  test('provides and depends: so:, cmd:, Debian Provides; so: depends from DT_NEEDED', () => {
    const v = '1.2.3_p-r4002120100';
    // Not cmd:not-a-command (not executable), not so:plugin.so (not in a library directory), not libc6
    // (a real package name).
    assert.deepEqual(pkg.pkginfo.provides, [
      'so:libtkself.so.1=1',
      `cmd:tk-hello=${v}`,
      `cmd:tk-link=${v}`,
      `cmd:tk-suid=${v}`,
      'tk-virtual',
      'tk-versioned=1.0-r2001000000',
    ]);
    assert.deepEqual(pkg.pkginfo.depend, ['libc6>=2.34', 'so:libc.so.6']);
    assert.deepEqual(first.notes, [
      'tk-selftest: needs libnowhere.so.9, which no package in the repository provides',
    ]);
    assert.ok(pkg.pkginfo.size > 0);
  });

  test('signed with the test key, and byte-for-byte reproducible', async () => {
    const keyring = createKeyring();
    keyring.add('tk-bootstrap.rsa.pub', await readPublicKey(`${KEY}.pub`));
    assert.equal(verifyApk(first.result.bytes, keyring).status, 'OK');
    const second = await convert(deb);
    assert.ok(Buffer.from(first.result.bytes).equals(Buffer.from(second.result.bytes)));
  });
});

describe('installed size', () => {
  test('symlink-only packages are not size 0 (apk-tools would not unpack them)', () => {
    assert.equal(
      installedSize([
        { path: 'bin/sh', type: 'symlink', linkname: 'busybox' },
        { path: 'bin', type: 'directory' },
      ]),
      7,
    );
    assert.equal(
      installedSize([
        { path: 'a', type: 'file', data: new Uint8Array(5) },
        { path: 'b', type: 'hardlink', linkname: 'a' },
      ]),
      5,
    );
  });
});

// --- Wolfi's names, alternatives, busybox applets, hand-made packages ------------------------------------

describe('special packages: renaming and extra provides', () => {
  const special = {
    'ca-certificates': { apkName: 'ca-certificates-bundle', caBundle: true },
    'ninja-build': { apkName: 'ninja' },
    'xz-utils': { apkName: 'xz' },
    'pax-utils': { provides: ['scanelf'] },
  };

  test('apk names: Wolfi names for renamed packages, Debian names otherwise', () => {
    assert.equal(apkNameOf(special, 'ninja-build'), 'ninja');
    assert.equal(apkNameOf(special, 'xz-utils'), 'xz');
    assert.equal(apkNameOf(special, 'ca-certificates'), 'ca-certificates-bundle');
    assert.equal(apkNameOf(special, 'pax-utils'), 'pax-utils');
    assert.equal(apkNameOf(special, 'make'), 'make');
    assert.ok(isBundleOnly(special, 'ca-certificates'));
    assert.ok(!isBundleOnly(special, 'ninja-build'));
    assert.ok(!isBundleOnly(special, 'make'));
  });

  test('a renamed package provides its Debian name at its own version; pax-utils provides scanelf', () => {
    const real = new Set(['ninja', 'xz', 'pax-utils', 'meson']);
    assert.deepEqual(specialProvides(special, 'ninja-build', '1.11.1-r2000120100', real), [
      'ninja-build=1.11.1-r2000120100',
    ]);
    assert.deepEqual(specialProvides(special, 'pax-utils', '1.3.7-r1001000000', real), [
      'scanelf=1.3.7-r1001000000',
    ]);
    // The bundle is not Debian's ca-certificates: it does not claim the name.
    assert.deepEqual(specialProvides(special, 'ca-certificates', '20250419', real), []);
    assert.deepEqual(specialProvides(special, 'make', '4.3-r4021000000', real), []);
    // A provide must never shadow a real package of the same name.
    assert.throws(
      () => specialProvides({ a: { provides: ['meson'] } }, 'a', '1', real),
      /cannot provide meson/,
    );
  });

  test("Wolfi's language names: go takes the version of the Go it installs, py3-* provide python3-*", () => {
    const config = JSON.parse(readFileSync(join(HERE, 'packages.json'), 'utf8'));
    const sp = config.special;
    assert.equal(apkNameOf(sp, 'golang-go'), 'go');
    assert.equal(apkNameOf(sp, 'golang-1.19-go'), 'go-1.19');
    for (const name of ['pip', 'build', 'installer', 'wheel', 'setuptools'])
      assert.equal(apkNameOf(sp, `python3-${name}`), `py3-${name}`);
    // Debian's golang-go is 2:1.19~1, which maps to a pre-release below 1.19: `go` takes golang-1.19-go's.
    assert.equal(debianToApkVersion('2:1.19~1').version, '1.19_pre1');
    assert.equal(versionSourceOf(sp, 'golang-go'), 'golang-1.19-go');
    assert.equal(versionSourceOf(sp, 'make'), 'make');
    const go = debianToApkVersion('1.19.8-2').version;
    assert.ok(versionMatches(go, '>=', '1.19'));
    assert.deepEqual(specialProvides(sp, 'golang-go', go, new Set(['go'])), [`golang-go=${go}`]);
    assert.deepEqual(specialProvides(sp, 'python3-setuptools', '66.1.1-r1', new Set()), [
      'python3-setuptools=66.1.1-r1',
    ]);
    assert.deepEqual(specialProvides(sp, 'python3.11', '3.11.2-r6', new Set()), [
      'python-3.11=3.11.2-r6',
      'python-3.11-base=3.11.2-r6',
    ]);
    // /usr/bin/python for melange's python/build and python/install, next to python3-minimal's python3.
    assert.deepEqual(
      alternativeLinks(sp['python3-minimal'].alternatives, ['usr/bin/python3', 'usr/bin/python3.11'], 'x'),
      [{ path: 'usr/bin/python', type: 'symlink', linkname: 'python3' }],
    );
    // Every top-level language package is one a purpose lists, and every rename is unique.
    assert.ok(config.purposes.languages.packages.includes('golang-go'));
    const apkNames = Object.keys(sp).map((n) => apkNameOf(sp, n));
    assert.equal(new Set(apkNames).size, apkNames.length);
  });

  test('a dependency on a renamed package keeps its constraint under the apk name', () => {
    // build-repo passes { ...edge.alt, name: <apk name> } for a real (not virtual) target.
    const token = dependencyToken(
      { name: 'ninja', op: '>=', version: '1.6' },
      'ninja',
      '1.11.1-2~deb12u1',
      debianToApkVersion('1.11.1-2~deb12u1').version,
      versionMatches,
      [],
    );
    assert.equal(token, 'ninja>=1.6');
  });
});

describe('links: alternatives and real programs over busybox applets', () => {
  test('relative link targets', () => {
    assert.equal(relativeLink('usr/bin/bzip2', 'bin/bzip2'), '../../bin/bzip2');
    assert.equal(relativeLink('bin/watch', 'usr/bin/watch'), '../usr/bin/watch');
    assert.equal(relativeLink('usr/bin/cc', 'usr/bin/gcc'), 'gcc');
    assert.equal(relativeLink('lib/cpp', 'usr/bin/cpp'), '../usr/bin/cpp');
    assert.equal(relativeLink('usr/sbin/rmt', 'usr/sbin/rmt-tar'), 'rmt-tar');
  });

  test("update-alternatives links: what automake's postinst would create", () => {
    const links = alternativeLinks(
      { '/usr/bin/automake': '/usr/bin/automake-1.16', '/usr/bin/aclocal': '/usr/bin/aclocal-1.16' },
      ['usr/bin/automake-1.16', 'usr/bin/aclocal-1.16', 'usr/share/automake-1.16/am/x.am'],
      'automake',
    );
    assert.deepEqual(links, [
      { path: 'usr/bin/aclocal', type: 'symlink', linkname: 'aclocal-1.16' },
      { path: 'usr/bin/automake', type: 'symlink', linkname: 'automake-1.16' },
    ]);
    assert.deepEqual(linkCommands(links), ['aclocal', 'automake']);
    assert.deepEqual(linkCommands([{ path: 'lib/cpp' }, { path: 'usr/bin/cc' }]), ['cc']);
    assert.deepEqual(alternativeLinks(undefined, [], 'x'), []);
  });

  test('alternatives: hostile or wrong configuration is refused', () => {
    const paths = ['usr/bin/xz', 'usr/bin/lzma'];
    assert.throws(() => alternativeLinks({ '/usr/bin/lzcat': '/usr/bin/xzcat' }, paths, 'xz-utils'), /does not ship/);
    assert.throws(() => alternativeLinks({ '/usr/bin/lzma': '/usr/bin/xz' }, paths, 'xz-utils'), /already ships/);
    assert.throws(() => alternativeLinks({ '/usr/../etc/x': '/usr/bin/xz' }, paths, 'x'), /plain absolute/);
    assert.throws(() => alternativeLinks({ '/usr/bin/y': '/usr/bin/../bin/xz' }, paths, 'x'), /plain absolute/);
    assert.throws(() => alternativeLinks({ '/': '/usr/bin/xz' }, paths, 'x'), /plain absolute/);
  });

  test('applet links: a program in another directory than its busybox applet takes the applet path', () => {
    const applets = ['/bin/sh', '/bin/tar', '/usr/bin/bzip2', '/usr/bin/bzcat', '/bin/watch', '/usr/bin/xz'];
    const taken = new Set(['bin/sh', 'bin/busybox', 'bin/tar', 'usr/bin/xz']);
    // Debian's bzip2 is in /bin, busybox's applet in /usr/bin (first in melange's PATH).
    assert.deepEqual(
      appletLinks(['bin/bzip2', 'bin/bzcat', 'bin/bzless-not-cmd'], ['bzip2', 'bzcat'], applets, taken),
      [
        { path: 'usr/bin/bzcat', type: 'symlink', linkname: '../../bin/bzcat' },
        { path: 'usr/bin/bzip2', type: 'symlink', linkname: '../../bin/bzip2' },
      ],
    );
    assert.ok(taken.has('usr/bin/bzip2'));
    // The other way round (procps' watch is /usr/bin/watch, the applet /bin/watch).
    assert.deepEqual(appletLinks(['usr/bin/watch'], ['watch'], applets, taken), [
      { path: 'bin/watch', type: 'symlink', linkname: '../usr/bin/watch' },
    ]);
    // Same path as the applet (GNU tar, xz): nothing to add; a path already taken is never claimed twice.
    assert.deepEqual(appletLinks(['bin/tar'], ['tar'], applets, taken), []);
    assert.deepEqual(appletLinks(['sbin/bzip2'], ['bzip2'], applets, taken), []);
    // Not a command of the package (not executable, not in a bin directory): nothing.
    assert.deepEqual(appletLinks(['usr/share/bzip2'], [], applets, new Set()), []);
    // Applet paths outside the bin directories are ignored.
    assert.deepEqual(appletLinks(['usr/bin/x'], ['x'], ['/usr/libexec/x', '/etc/x'], new Set()), []);
  });
});

describe('hand-made packages: build-base, gcc-14-default, rust, cargo-auditable, wolfi-base', () => {
  const gcc = { pkgver: '12.2.0-r14002120100', builddate: 1700000000, license: 'NOASSERTION' };

  test('gcc-14-default is gcc 12 under Wolfi’s name: depends on build-base, says so, is not empty', async () => {
    const { files, pkginfo } = compilerAliasPackage({
      name: 'gcc-14-default',
      depends: ['build-base'],
      gcc,
      apkArch: 'aarch64',
    });
    assert.equal(pkginfo.pkgname, 'gcc-14-default');
    assert.equal(pkginfo.pkgver, gcc.pkgver);
    assert.equal(pkginfo.arch, 'aarch64');
    assert.equal(pkginfo.origin, 'gcc-12');
    assert.deepEqual(pkginfo.depend, ['build-base']);
    assert.deepEqual(pkginfo.provides, []);
    assert.match(pkginfo.pkgdesc, /gcc 12 under Wolfi's name gcc-14-default/);
    const readme = files.find((f) => f.path === 'usr/share/doc/gcc-14-default/README.tk');
    assert.match(new TextDecoder().decode(readme.data), /is gcc 12 .* not gcc 14/);
    assert.ok(installedSize(files) > 0);
    const key = await readPrivateKey(KEY);
    const built = await buildApk({
      pkginfo: { ...pkginfo, size: installedSize(files) },
      files,
      sourceDateEpoch: pkginfo.builddate,
      signer: { key, keyName: 'tk-bootstrap.rsa.pub' },
    });
    const pkg = readApk(built.bytes);
    assert.equal(pkg.pkginfo.pkgname, 'gcc-14-default');
    assert.deepEqual(pkg.pkginfo.depend, ['build-base']);
    assert.ok(pkg.files.some((f) => f.path === 'usr/share/doc/gcc-14-default/README.tk'));
  });

  test('rust is rustc and cargo under Wolfi’s name, at rustc’s version', () => {
    const rustc = { pkgver: '1.63.0_p1-r2001000000', builddate: 1700000000, license: 'MIT OR Apache-2.0' };
    const { files, pkginfo } = toolchainAliasPackage({
      name: 'rust',
      depends: ['rustc', 'cargo'],
      rustc,
      apkArch: 'x86_64',
    });
    assert.deepEqual(
      [pkginfo.pkgname, pkginfo.pkgver, pkginfo.origin, pkginfo.license, pkginfo.builddate],
      ['rust', rustc.pkgver, 'rustc', rustc.license, rustc.builddate],
    );
    assert.deepEqual(pkginfo.depend, ['rustc', 'cargo']);
    const readme = files.find((f) => f.path === 'usr/share/doc/rust/README.tk');
    assert.match(new TextDecoder().decode(readme.data), /Wolfi's rust holds rustc and cargo/);
    assert.ok(installedSize(files) > 0);
  });

  test('cargo-auditable is a shim that says so and runs plain cargo with the same arguments', async () => {
    const { files, pkginfo } = cargoAuditableShimPackage({
      name: 'cargo-auditable',
      pkgver: '0-r0',
      depends: ['cargo', 'busybox-binsh'],
      builddate: 1704067200,
      apkArch: 'aarch64',
    });
    assert.deepEqual(pkginfo.depend, ['cargo', 'busybox-binsh']);
    assert.deepEqual(pkginfo.provides, ['cmd:cargo-auditable=0-r0']);
    assert.match(pkginfo.pkgdesc, /shim/);
    const script = files.find((f) => f.path === 'usr/bin/cargo-auditable');
    assert.equal(script.mode, 0o755);
    assert.equal(new TextDecoder().decode(script.data), CARGO_AUDITABLE_SHIM);
    const key = await readPrivateKey(KEY);
    const built = readApk(
      (
        await buildApk({
          pkginfo: { ...pkginfo, size: installedSize(files) },
          files,
          sourceDateEpoch: 1704067200,
          signer: { key, keyName: 'tk-bootstrap.rsa.pub' },
        })
      ).bytes,
    );
    assert.deepEqual(built.pkginfo.provides, ['cmd:cargo-auditable=0-r0']);

    // Run it the way cargo does (`cargo-auditable auditable build …`) with a fake cargo first in PATH.
    const dir = join(work, 'shim');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cargo-auditable'), CARGO_AUDITABLE_SHIM, { mode: 0o755 });
    writeFileSync(join(dir, 'cargo'), '#!/bin/sh\nprintf "cargo got:"; printf " [%s]" "$@"; echo\n', {
      mode: 0o755,
    });
    const env = { PATH: `${dir}:/usr/bin:/bin` };
    const run = spawnSync(join(dir, 'cargo-auditable'), ['auditable', 'build', '--release', 'a b', '$HOME'], {
      encoding: 'utf8',
      env,
    });
    assert.equal(run.status, 0);
    assert.equal(run.stdout, 'cargo got: [build] [--release] [a b] [$HOME]\n');
    assert.match(run.stderr, /shim.*no dependency list is embedded/);
    const version = spawnSync(join(dir, 'cargo-auditable'), ['auditable', '--version'], {
      encoding: 'utf8',
      env,
    });
    assert.equal(version.status, 0);
    assert.match(version.stdout, /^cargo-auditable .*shim/);
    // Called directly, without the subcommand word, it passes everything on too.
    const direct = spawnSync(join(dir, 'cargo-auditable'), ['build'], { encoding: 'utf8', env });
    assert.equal(direct.stdout, 'cargo got: [build]\n');
  });

  test('wolfi-base is a metapackage with a note', () => {
    const { files, pkginfo } = metaPackage({
      name: 'wolfi-base',
      pkgver: '1-r0',
      depends: ['tk-baselayout', 'busybox', 'busybox-binsh', 'ca-certificates-bundle'],
      pkgdesc: 'base',
      note: 'a metapackage',
      builddate: 1704067200,
      apkArch: 'x86_64',
    });
    assert.deepEqual(pkginfo.depend, ['tk-baselayout', 'busybox', 'busybox-binsh', 'ca-certificates-bundle']);
    assert.deepEqual(
      files.map((f) => f.path),
      ['usr/share/doc/wolfi-base', 'usr/share/doc/wolfi-base/README.tk'],
    );
  });

  test('metapackage notes and hand-made .PKGINFO defaults', () => {
    const files = noteFiles('build-base', 'a metapackage');
    assert.deepEqual(
      files.map((f) => [f.path, f.type]),
      [
        ['usr/share/doc/build-base', 'directory'],
        ['usr/share/doc/build-base/README.tk', 'file'],
      ],
    );
    assert.equal(new TextDecoder().decode(files[1].data), 'a metapackage\n');
    const info = handmadePkgInfo({ pkgname: 'x', pkgver: '1-r0', pkgdesc: 'd', apkArch: 'x86_64', builddate: 1 });
    assert.deepEqual(
      [info.arch, info.origin, info.license, info.maintainer, info.depend, 'apkArch' in info],
      ['x86_64', 'x', 'NOASSERTION', 'tk bootstrap', [], false],
    );
  });
});

// --- source tarballs ------------------------------------------------------------------------------------

describe('Debian source packages', () => {
  const sha = (c) => c.repeat(64);
  const sourcesText = `Package: hello
Binary: hello
Version: 2.10-2
Checksums-Sha256:
 ${sha('a')} 1000 hello_2.10-2.dsc
 ${sha('b')} 725946 hello_2.10.orig.tar.gz

Package: hello-traditional
Version: 2.10-5
Checksums-Sha256:
 ${sha('c')} 1 hello-traditional_2.10.orig.tar.gz

Package: hello
Binary: hello
Version: 2.10-3
Checksums-Sha256:
 ${sha('d')} 1721 hello_2.10-3.dsc
 ${sha('b')} 725946 hello_2.10.orig.tar.gz
 ${sha('e')} 819 hello_2.10.orig.tar.gz.asc
 ${sha('f')} 12684 hello_2.10-3.debian.tar.xz
`;

  test('finds every version of the wanted names, picks the pinned one, lists its files', () => {
    const found = findSourceParagraphs([sourcesText, 'Package: glpk\nVersion: 5.0-1\n'], ['hello', 'glpk', 'none']);
    assert.deepEqual(
      found.get('hello').map((p) => p.get('version')),
      ['2.10-2', '2.10-3'],
    );
    assert.equal(found.get('glpk').length, 1);
    assert.deepEqual(found.get('none'), []);
    const p = pickVersion(found.get('hello'), 'hello', '2.10-3');
    const files = sourceFiles(p);
    assert.equal(files.length, 4);
    assert.deepEqual(origTarball(files, 'hello', '2.10-3'), {
      file: 'hello_2.10.orig.tar.gz',
      sha256: sha('b'),
      size: 725946,
    });
    assert.throws(() => pickVersion(found.get('hello'), 'hello', '2.10-9'), /versions there: 2\.10-2, 2\.10-3/);
    assert.throws(() => pickVersion([], 'x', '1-1'), /versions there: none/);
  });

  test('orig tarballs: epochs and revisions are not in the name; component tarballs and signatures are not it', () => {
    const files = [
      { file: 'x_1.0.orig-docs.tar.xz' },
      { file: 'x_1.0.orig.tar.xz.asc' },
      { file: 'x_1.0.orig.tar.xz' },
      { file: 'x_1.0-2.debian.tar.xz' },
    ];
    assert.equal(origTarball(files, 'x', '3:1.0-2').file, 'x_1.0.orig.tar.xz');
    assert.throws(() => origTarball([{ file: 'n_1.0.tar.xz' }], 'n', '1.0'), /native/);
    assert.throws(
      () => origTarball([{ file: 'x_1.0.orig.tar.gz' }, { file: 'x_1.0.orig.tar.xz' }], 'x', '1.0-1'),
      /found 2/,
    );
    assert.throws(() => origTarball([{ file: 'x_1.1.orig.tar.gz' }], 'x', '1.0-1'), /found 0/);
  });

  test('hostile Sources data: unsafe names, malformed lines, missing fields', () => {
    const para = (lines) => new Map([['package', 'x'], ['version', '1-1'], ['checksums-sha256', lines]]);
    for (const name of ['../x_1.orig.tar.gz', 'a/b', '.hidden', '..'])
      assert.throws(() => sourceFiles(para(`\n ${sha('a')} 1 ${name}`)), /unsafe file name/, name);
    for (const line of [`${sha('a')} x file`, 'abc 1 file', `${sha('g')} 1 file`, `${sha('a')} 1`, `${sha('a')} 1 a b`])
      assert.throws(() => sourceFiles(para(`\n ${line}`)), /malformed/, line);
    assert.throws(() => sourceFiles(para('\n')), /lists no files/);
    assert.throws(() => sourceFiles(new Map([['package', 'x']])), /no Checksums-Sha256/);
    // Garbage around the wanted paragraph: only paragraphs starting with its Package line are parsed.
    const found = findSourceParagraphs(['\u0000\u0001garbage: \n\nnot a field\n\n', sourcesText], ['hello']);
    assert.equal(found.get('hello').length, 2);
    assert.throws(() => findSourceParagraphs(['Package: hello\n bad continuation\nnot a field'], ['hello']));
  });
});

// --- smoke-test helpers ---------------------------------------------------------------------------------

describe('smoke tests: install closure and the tools check', () => {
  test('install closure follows depends by name and by provides (so:, renamed Debian names)', () => {
    const entries = [
      { name: 'meson', version: '1', depends: ['ninja-build>=1.6', 'python3'], provides: [] },
      { name: 'ninja', version: '1', depends: ['so:libc.so.6'], provides: ['ninja-build=1.11'] },
      { name: 'python3', version: '1', depends: [], provides: ['cmd:python3=1'] },
      { name: 'libc6', version: '1', depends: [], provides: ['so:libc.so.6=6'] },
    ];
    assert.deepEqual(
      installClosure(entries, ['meson']).map((e) => e.name),
      ['libc6', 'ninja', 'python3', 'meson'],
    );
    assert.throws(() => installClosure(entries, ['nope']), /nothing provides nope/);
  });

  const good = [
    'uid: 1000',
    'version autoreconf: autoreconf (GNU Autoconf) 2.71',
    'version automake: automake (GNU automake) 1.16.5',
    'version libtoolize: libtoolize (GNU libtool) 2.4.7',
    'version cmake: cmake version 3.25.1',
    'version meson: 1.0.1',
    'version ninja: 1.11.1',
    'version pkgconf: 1.8.1',
    'version pkg-config: 1.8.1',
    'version xz: xz (XZ Utils) 5.4.1',
    'version tar: tar (GNU tar) 1.34',
    'version gzip: gzip 1.12',
    'version bzip2: bzip2, a block-sorting file compressor.  Version 1.0.8, 13-Jul-2019.',
    'version patch: GNU patch 2.7.6',
    'version make: GNU Make 4.3',
    'version perl: perl v5.36.0',
    'version wget: GNU Wget 1.21.3 built on linux-gnu.',
    'version scanelf: pax-utils-1.3.7: 1.3.7',
    'version cc: cc (Debian 12.2.0-14+deb12u1) 12.2.0',
    ...REAL_PROGRAMS.map((n) => `real ${n}: /usr/bin/${n} -> /usr/bin/${n}`),
    'run autotools: hello from autotools',
    'dist autotools: 16 files',
    'run cmake: hello from cmake and ninja',
    'run meson: hello from meson',
    'tools smoke: done',
    '',
  ].join('\n');

  test('the tools check accepts a good run and names each problem of a bad one', () => {
    assert.deepEqual(checkToolsOutput(good, { uid: 1000, builds: true }), []);
    const busyboxTar = good.replace('real tar: /usr/bin/tar -> /usr/bin/tar', 'real tar: /bin/tar -> /bin/busybox');
    assert.deepEqual(checkToolsOutput(busyboxTar, { uid: 1000, builds: true }), [
      "tar: /bin/tar is busybox's applet, not the real program",
    ]);
    const bad = good
      .replace('uid: 1000', 'uid: 0')
      .replace('tar (GNU tar) 1.34', 'tar: unrecognized option --version')
      .replace('version gzip: gzip 1.12\n', '')
      .replace('real wget: /usr/bin/wget -> /usr/bin/wget', 'real wget:  -> ')
      .replace('hello from meson', 'Segmentation fault')
      .replace('tools smoke: done', '');
    const problems = checkToolsOutput(bad, { uid: 1000, builds: true });
    assert.equal(problems.length, 6, problems.join('\n'));
    assert.match(problems.join('\n'), /expected uid 1000/);
    assert.match(problems.join('\n'), /tar: version line/);
    assert.match(problems.join('\n'), /gzip: version line undefined/);
    assert.match(problems.join('\n'), /wget: not found in PATH/);
    assert.match(problems.join('\n'), /run meson/);
    assert.match(problems.join('\n'), /did not finish/);
    // Without builds, the build lines are not required.
    const noBuilds = good.split('\n').filter((l) => !/^(run|dist) /.test(l)).join('\n');
    assert.deepEqual(checkToolsOutput(noBuilds, { uid: 1000, builds: false }), []);
    assert.equal(checkToolsOutput('', { uid: 1000, builds: false }).length, VERSION_CHECKS.length + REAL_PROGRAMS.length + 2);
  });

  test('the tools script runs every check and the three builds, and its project is complete', () => {
    const script = toolsScript('/home/build/smoke', { builds: true });
    for (const [name, command] of VERSION_CHECKS) assert.ok(script.includes(command), name);
    assert.match(script, /autoreconf -fi && \.\/configure && make && make dist/);
    assert.match(script, /cmake -G Ninja/);
    assert.match(script, /meson setup out && meson compile -C out/);
    assert.ok(!toolsScript('/x', { builds: false }).includes('autoreconf -fi'));
    for (const f of ['autotools/configure.ac', 'autotools/Makefile.am', 'cmake/CMakeLists.txt', 'meson/meson.build'])
      assert.ok(TOOLS_PROJECT[f] !== undefined, f);
    assert.match(TOOLS_PROJECT['autotools/configure.ac'], /LT_INIT/);
  });

  test('the languages check wants the arch in go and rustc, and names each problem', () => {
    const good = [
      'uid: 1000',
      'version go: go version go1.19.8 linux/arm64',
      'version rustc: rustc 1.63.0',
      'version rustc host: host: aarch64-unknown-linux-gnu',
      'version cargo: cargo 1.65.0',
      'version cargo auditable: cargo-auditable 0 (tk bootstrap shim: runs plain cargo, embeds no dependency list)',
      'version python: Python 3.11.2',
      'version build: build 0.9.0 (/usr/lib/python3/dist-packages/build)',
      'version installer: usage: python -m installer [-h] [--destdir path]',
      'version pip: pip 23.0.1 from /usr/lib/python3/dist-packages/pip (python 3.11)',
      'version setuptools wheel: 66.1.1 0.38.4',
      'version ruby: ruby 3.1.2p20 (2022-04-12 revision 4491bb740a) [aarch64-linux-gnu]',
      'version gem: 3.3.15',
      'version git: git version 2.39.5',
      'run go: hello from go',
      'run cargo: hello from cargo',
      'run wheel: hello from a wheel',
      'languages smoke: done',
      '',
    ].join('\n');
    assert.deepEqual(checkLanguagesOutput(good, { uid: 1000, builds: true, arch: 'arm64' }), []);
    // The amd64 check refuses arm64 toolchains.
    const wrongArch = checkLanguagesOutput(good, { uid: 1000, builds: true, arch: 'amd64' });
    assert.equal(wrongArch.length, 2, wrongArch.join('\n'));
    assert.match(
      wrongArch.join('\n'),
      /go: version line "go version go1.19.8 linux\/arm64" does not match .*amd64/,
    );
    assert.match(wrongArch.join('\n'), /rustc host: version line/);
    const bad = good
      .replace('Python 3.11.2', 'python: not found')
      .replace('hello from cargo', '')
      .replace('languages smoke: done', '');
    const problems = checkLanguagesOutput(bad, { uid: 1000, builds: true, arch: 'arm64' });
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems.join('\n'), /python: version line/);
    assert.match(problems.join('\n'), /run cargo/);
    assert.match(problems.join('\n'), /did not finish/);
    const noBuilds = good
      .split('\n')
      .filter((l) => !/^run /.test(l))
      .join('\n');
    assert.deepEqual(checkLanguagesOutput(noBuilds, { uid: 1000, builds: false, arch: 'arm64' }), []);
    assert.equal(
      checkLanguagesOutput('', { uid: 1000, builds: false, arch: 'amd64' }).length,
      LANGUAGE_CHECKS.length + 2,
    );
  });

  test('the languages script builds offline, and its projects are complete', () => {
    const script = languagesScript('/home/build/smoke', { builds: true });
    for (const [name, command] of LANGUAGE_CHECKS) assert.ok(script.includes(command), name);
    assert.match(script, /CARGO_NET_OFFLINE=true/);
    assert.match(script, /GOTOOLCHAIN=local/);
    assert.match(script, /CGO_ENABLED=0 go build/);
    assert.match(script, /cargo auditable build --release/);
    assert.match(script, /python3 -m build --no-isolation/);
    assert.ok(!languagesScript('/x', { builds: false }).includes('go build'));
    for (const f of [
      'go/go.mod',
      'go/main.go',
      'rust/Cargo.toml',
      'rust/Cargo.lock',
      'rust/src/main.rs',
      'python/pyproject.toml',
    ])
      assert.ok(LANGUAGE_PROJECT[f] !== undefined, f);
  });
});
