import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readApk, verifyApk, type ApkPackage } from '@tk/apk';
import { fromUtf8 } from '@tk/core';
import { generateKeyPair, loadKeyring, writeKeyPair, type Keyring } from '@tk/keys';
import { CAPABILITY_XATTR } from './capability.ts';
import { emitPackages, type EmitPackagesInput } from './emit.ts';
import { compileFixtures, findCompiler, NO_COMPILER } from './testdata/compile.ts';
import { buildElf } from './testdata/elf-builder.ts';
import { helloRecipe } from './testdata/recipe.ts';

const ROOT = join(import.meta.dirname, '../../../..');
const uid = process.getuid?.() ?? 0;
const gid = process.getgid?.() ?? 0;
const isRoot = uid === 0;
const cc = findCompiler();
const EMBEDDED = 'package:\n  name: hello\n  version: "2.12"\n  epoch: 3\n';

let keys: string;
let keyPath: string;
let keyring: Keyring;
let validateSpdx: ValidateFunction;
let work: string;

beforeAll(async () => {
  keys = mkdtempSync(join(tmpdir(), 'tk-emit-keys-'));
  keyPath = join(keys, 'tk-test.rsa');
  await writeKeyPair(keyPath, await generateKeyPair({ bits: 2048 }));
  keyring = await loadKeyring([`${keyPath}.pub`]);
  // ajv-formats is CommonJS with `exports.default`; reach the function whatever the interop gives.
  const formats = (await import('ajv-formats')) as unknown as {
    default: ((ajv: Ajv) => Ajv) | { default: (ajv: Ajv) => Ajv };
  };
  const addFormats = typeof formats.default === 'function' ? formats.default : formats.default.default;
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  validateSpdx = ajv.compile(
    JSON.parse(
      readFileSync(join(ROOT, 'test-fixtures/schemas/spdx-2.3/spdx-schema-v2.3.json'), 'utf8'),
    ) as object,
  );
});
afterAll(() => rmSync(keys, { recursive: true, force: true }));
beforeEach((ctx) => {
  work = mkdtempSync(join(tmpdir(), 'tk-emit-'));
  ctx.onTestFinished(() => rmSync(work, { recursive: true, force: true }));
});

/** Write a deterministic output tree (crafted ELF files, no compiler) for `hello` and `hello-dev`. */
function writeTree(outputRoot: string): void {
  const main = join(outputRoot, 'hello');
  const dev = join(outputRoot, 'hello-dev');
  for (const d of ['usr/bin', 'usr/lib', 'usr/share/hello', 'etc'])
    mkdirSync(join(main, d), { recursive: true });
  for (const d of ['usr/lib/pkgconfig', 'usr/include']) mkdirSync(join(dev, d), { recursive: true });
  const put = (path: string, data: string | Uint8Array, mode: number): void => {
    writeFileSync(path, data);
    chmodSync(path, mode);
  };
  put(
    join(main, 'usr/bin/hello'),
    buildElf({ type: 3, interpreter: '/lib64/ld-linux-x86-64.so.2', needed: ['libfoo.so.1', 'libc.so.6'] })
      .bytes,
    0o755,
  );
  linkSync(join(main, 'usr/bin/hello'), join(main, 'usr/bin/hello-again'));
  put(join(main, 'usr/bin/hello-perl'), '#!/usr/bin/env perl\nprint "hello\\n";\n', 0o755);
  put(join(main, 'usr/bin/helper'), 'setuid helper\n', 0o4755);
  put(
    join(main, 'usr/lib/libfoo.so.1.2.3'),
    buildElf({ soname: 'libfoo.so.1', needed: ['libc.so.6'] }).bytes,
    0o755,
  );
  symlinkSync('libfoo.so.1.2.3', join(main, 'usr/lib/libfoo.so.1'));
  put(join(main, 'usr/share/hello/greeting.txt'), 'Hello, world!\n', 0o644);
  symlinkSync('hello', join(main, 'usr/share/hello-data')); // a symlink to a directory
  symlinkSync('/usr/bin/hello', join(main, 'etc/hello-abs')); // an absolute symlink
  put(join(dev, 'usr/include/hello.h'), 'int hello(void);\n', 0o644);
  put(
    join(dev, 'usr/lib/pkgconfig/hello.pc'),
    'prefix=/usr\nlibdir=${prefix}/lib\nName: hello\nVersion: 2.12\nRequires: glib-2.0 >= 2.50\nRequires.private: zlib\nLibs: -L${libdir} -lfoo\n',
    0o644,
  );
  symlinkSync('libfoo.so.1.2.3', join(dev, 'usr/lib/libfoo.so'));
  for (const root of [main, dev]) {
    execFileSync('find', [root, '-type', 'd', '-exec', 'chmod', '0755', '{}', '+']);
  }
}

function input(
  outputRoot: string,
  outDir: string,
  extra: Partial<EmitPackagesInput> = {},
): EmitPackagesInput {
  return {
    compiled: helloRecipe({
      main: {
        setcap: [{ path: '/usr/bin/helper', add: { cap_net_bind_service: '+ep' }, reason: 'port 80' }],
      },
    }),
    arch: 'x86_64',
    outputRoot,
    outDir,
    sourceDateEpoch: 1_700_000_000,
    embeddedConfig: EMBEDDED,
    namespace: 'tk-test',
    mapOwner: (u, g) => ({ uid: u === uid ? 0 : u, gid: g === gid ? 0 : g }),
    users: new Map([[0, 'root']]),
    groups: new Map([[0, 'root']]),
    config: { path: 'hello.yaml', repository: 'https://github.com/example/recipes', commit: 'c0ffee' },
    signingKey: keyPath,
    toolVersion: '0.1.0-test',
    ...extra,
  };
}

function read(path: string): { bytes: Uint8Array; pkg: ApkPackage } {
  const bytes = new Uint8Array(readFileSync(path));
  return { bytes, pkg: readApk(bytes, { strict: true }) };
}

const pkginfoText = (pkg: ApkPackage): string =>
  fromUtf8(pkg.control.find((e) => e.name === '.PKGINFO')!.data);

describe('emitPackages: a deterministic build', () => {
  it('writes signed packages that verify, with melange metadata', async () => {
    const outputRoot = join(work, 'melange-out');
    writeTree(outputRoot);
    const emitted = await emitPackages(input(outputRoot, join(work, 'out', 'x86_64')));
    expect(emitted.map((e) => e.path)).toEqual([
      join(work, 'out/x86_64/hello-2.12-r3.apk'),
      join(work, 'out/x86_64/hello-dev-2.12-r3.apk'),
    ]);
    expect(readdirSync(join(work, 'out/x86_64')).sort()).toEqual([
      'hello-2.12-r3.apk',
      'hello-dev-2.12-r3.apk',
    ]);

    const { bytes, pkg } = read(emitted[0]!.path);
    expect(verifyApk(bytes, keyring)).toMatchObject({ status: 'OK', keyName: 'tk-test.rsa.pub' });
    expect(pkg.signatures.map((s) => s.entryName)).toEqual(['.SIGN.RSA256.tk-test.rsa.pub']);
    expect(emitted[0]).toMatchObject({
      name: 'hello',
      version: '2.12-r3',
      identity: pkg.identity,
      size: bytes.length,
    });

    // Control section: .PKGINFO first, the scripts, .melange.yaml.
    expect(pkg.control.map((e) => e.name)).toEqual([
      '.PKGINFO',
      '.post-install',
      '.trigger',
      '.melange.yaml',
    ]);
    expect(fromUtf8(pkg.control.find((e) => e.name === '.melange.yaml')!.data)).toBe(EMBEDDED);
    expect(pkg.control.find((e) => e.name === '.trigger')!.mode).toBe(0o755);

    const info = pkg.pkginfo;
    expect(info).toMatchObject({
      pkgname: 'hello',
      pkgver: '2.12-r3',
      arch: 'x86_64',
      origin: 'hello',
      maintainer: 'tk-test',
    });
    expect(info.builddate).toBe(1_700_000_000);
    expect(info.license).toBe('GPL-3.0-or-later');
    expect(info.triggers).toEqual(['/usr/share/hello /usr/lib/hello']);
    expect(info.depend).toEqual(['busybox', 'cmd:perl', 'so:ld-linux-x86-64.so.2', 'so:libc.so.6']);
    expect(info.provides).toEqual([
      'cmd:hello-again=2.12-r3',
      'cmd:hello-perl=2.12-r3',
      'cmd:hello=2.12-r3',
      'cmd:helper=2.12-r3',
      'so-ver:libfoo.so.1=2.12-r3',
      'so:libfoo.so.1=1',
    ]);
    await expect(pkginfoText(pkg)).toMatchFileSnapshot('./testdata/golden/hello.PKGINFO');

    const dev = read(emitted[1]!.path).pkg;
    expect(dev.pkginfo).toMatchObject({
      pkgname: 'hello-dev',
      origin: 'hello',
      provider_priority: 10,
      replaces: ['hello-old-dev'],
    });
    expect(dev.pkginfo.depend).toEqual(['hello', 'pc:glib-2.0', 'pc:zlib', 'so:libfoo.so.1']);
    expect(dev.pkginfo.provides).toEqual(['pc:hello=2.12-r3']);
    await expect(pkginfoText(dev)).toMatchFileSnapshot('./testdata/golden/hello-dev.PKGINFO');
  });

  it('keeps modes, links, owners and capabilities; every mtime is SOURCE_DATE_EPOCH', async () => {
    const outputRoot = join(work, 'melange-out');
    writeTree(outputRoot);
    const [main] = await emitPackages(input(outputRoot, join(work, 'out'), { sourceDateEpoch: 1234 }));
    const { pkg } = read(main!.path);
    const files = new Map(pkg.files.map((f) => [f.path, f]));
    expect(files.get('usr/bin/helper')).toMatchObject({ type: 'file', mode: 0o4755 });
    expect(files.get('usr/bin/helper')!.xattrs[CAPABILITY_XATTR]?.length).toBe(24);
    expect(files.get('usr/bin/hello')).toMatchObject({ type: 'file', mode: 0o755 });
    expect(files.get('usr/bin/hello-again')).toMatchObject({ type: 'hardlink', linkname: 'usr/bin/hello' });
    expect(files.get('usr/lib/libfoo.so.1')).toMatchObject({ type: 'symlink', linkname: 'libfoo.so.1.2.3' });
    expect(files.get('usr/share/hello-data')).toMatchObject({ type: 'symlink', linkname: 'hello' });
    expect(files.get('etc/hello-abs')).toMatchObject({ type: 'symlink', linkname: '/usr/bin/hello' });
    expect(files.get('usr/share/hello/greeting.txt')).toMatchObject({ mode: 0o644 });
    for (const f of pkg.files) {
      expect(f.mtime).toBe(1234);
      expect(f).toMatchObject({ uid: 0, gid: 0, uname: 'root', gname: 'root' });
    }
    for (const e of pkg.control) expect(e.mtime).toBe(1234);
    expect(pkg.pkginfo.builddate).toBe(1234);
  });

  it('embeds a valid SPDX 2.3 SBOM naming the sources and the recipe', async () => {
    const outputRoot = join(work, 'melange-out');
    writeTree(outputRoot);
    const emitted = await emitPackages(
      input(outputRoot, join(work, 'out'), {
        sources: [{ uri: 'https://example.org/extra.tar.gz', algorithm: 'sha256', hash: 'ab'.repeat(32) }],
      }),
    );
    for (const e of emitted) {
      const { pkg } = read(e.path);
      const sbomPath = `var/lib/db/sbom/${e.name}-2.12-r3.spdx.json`;
      const file = pkg.files.find((f) => f.path === sbomPath)!;
      expect(file).toMatchObject({ type: 'file', mode: 0o644, uid: 0, gid: 0 });
      for (const d of ['var', 'var/lib', 'var/lib/db', 'var/lib/db/sbom'])
        expect(pkg.files.find((f) => f.path === d)).toMatchObject({ type: 'directory', mode: 0o755 });
      const doc = JSON.parse(fromUtf8(file.data)) as {
        name: string;
        creationInfo: { created: string };
        packages: {
          name: string;
          licenseDeclared: string;
          primaryPackagePurpose: string;
          externalRefs?: { referenceLocator: string }[];
        }[];
      };
      expect(validateSpdx(doc), JSON.stringify(validateSpdx.errors)).toBe(true);
      expect(doc.name).toBe(`apk-${e.name}-2.12-r3`);
      expect(doc.creationInfo.created).toBe('2023-11-14T22:13:20Z');
      const apk = doc.packages.find((p) => p.primaryPackagePurpose === 'APPLICATION')!;
      expect(apk.licenseDeclared).toBe('GPL-3.0-or-later');
      expect(apk.externalRefs?.[0]?.referenceLocator).toBe(
        `pkg:apk/tk-test/${e.name}@2.12-r3?arch=x86_64&distro=tk-test`,
      );
      const sources = doc.packages
        .filter((p) => p.primaryPackagePurpose === 'SOURCE')
        .map((p) => p.externalRefs?.[0]?.referenceLocator);
      expect(sources).toEqual([
        'pkg:generic/hello@2.12?checksum=sha256%3Acf04af86dc085268c5f4470fbae49b18afbc221b78096aab842d934a76bad0ab&download_url=https%3A%2F%2Fftp.gnu.org%2Fgnu%2Fhello%2Fhello-2.12.tar.gz',
        `pkg:generic/hello@2.12?checksum=sha256%3A${'ab'.repeat(32)}&download_url=https%3A%2F%2Fexample.org%2Fextra.tar.gz`,
      ]);
      const config = doc.packages.find((p) => p.primaryPackagePurpose === 'INSTALL')!;
      expect(config.externalRefs?.[0]?.referenceLocator).toBe('pkg:github/example/recipes@c0ffee#hello.yaml');
    }
    const { pkg } = read(emitted[0]!.path);
    await expect(fromUtf8(pkg.files.find((f) => f.path.endsWith('.spdx.json'))!.data)).toMatchFileSnapshot(
      './testdata/golden/hello.spdx.json',
    );
  });

  it('is reproducible: the same input twice gives the same bytes', async () => {
    const outputRoot = join(work, 'melange-out');
    writeTree(outputRoot);
    const a = await emitPackages(input(outputRoot, join(work, 'a')));
    // A second copy of the tree, made at another time (other mtimes, other inodes).
    execFileSync('cp', ['-a', outputRoot, join(work, 'copy')]);
    const b = await emitPackages(input(join(work, 'copy'), join(work, 'b')));
    for (let i = 0; i < a.length; i++) {
      expect(readFileSync(b[i]!.path).equals(readFileSync(a[i]!.path))).toBe(true);
      expect(b[i]!.identity).toBe(a[i]!.identity);
    }
  });

  it('signs with RSA-SHA1 when asked, and the signature verifies with openssl', async () => {
    const outputRoot = join(work, 'melange-out');
    writeTree(outputRoot);
    for (const [algorithm, digest, scheme] of [
      ['sha256', '-sha256', 'RSA256'],
      ['sha1', '-sha1', 'RSA'],
    ] as const) {
      const [main] = await emitPackages(
        input(outputRoot, join(work, algorithm), {
          signatureAlgorithm: algorithm,
          compiled: helloRecipe({ mainOnly: true }),
        }),
      );
      const { bytes, pkg } = read(main!.path);
      expect(pkg.signatures[0]!.entryName).toBe(`.SIGN.${scheme}.tk-test.rsa.pub`);
      writeFileSync(
        join(work, 'control'),
        bytes.subarray(pkg.sections.control.start, pkg.sections.control.end),
      );
      writeFileSync(join(work, 'sig'), pkg.signatures[0]!.signature);
      const out = execFileSync('openssl', [
        'dgst',
        digest,
        '-verify',
        `${keyPath}.pub`,
        '-signature',
        join(work, 'sig'),
        join(work, 'control'),
      ]);
      expect(out.toString()).toMatch(/Verified OK/);
    }
  });

  it('SOURCE_DATE_EPOCH 0: no builddate; no namespace: no maintainer, SBOM namespace "unknown"', async () => {
    const outputRoot = join(work, 'melange-out');
    writeTree(outputRoot);
    const [main] = await emitPackages(
      input(outputRoot, join(work, 'out'), {
        sourceDateEpoch: 0,
        namespace: undefined,
        signingKey: undefined,
        compiled: helloRecipe({ mainOnly: true }),
      }),
    );
    const { bytes, pkg } = read(main!.path);
    expect(pkg.pkginfo.builddate).toBeUndefined();
    expect(pkg.pkginfo.maintainer).toBeUndefined();
    expect(pkg.signatures).toEqual([]);
    expect(verifyApk(bytes, keyring).status).toBe('UNTRUSTED');
    const sbom = JSON.parse(fromUtf8(pkg.files.find((f) => f.path.endsWith('.spdx.json'))!.data)) as {
      packages: { name: string }[];
    };
    expect(sbom.packages[0]!.name).toBe('unknown');
  });

  it('--strip-origin-name, several licences, a license-path and vendored libraries', async () => {
    const outputRoot = join(work, 'melange-out');
    writeTree(outputRoot);
    mkdirSync(join(outputRoot, 'hello/opt/vendor'), { recursive: true });
    writeFileSync(
      join(outputRoot, 'hello/opt/vendor/libbundled.so.7'),
      buildElf({ soname: 'libbundled.so.7' }).bytes,
    );
    writeFileSync(join(work, 'COPYING.custom'), 'Custom licence text\n');
    const compiled = helloRecipe({
      meta: {
        copyright: [
          { license: 'MIT' },
          { license: 'Apache-2.0 OR BSD-3-Clause' },
          { license: 'Custom Thing', 'license-path': 'COPYING.custom' },
        ],
      },
    });
    const emitted = await emitPackages(
      input(outputRoot, join(work, 'out'), { compiled, stripOriginName: true }),
    );
    const main = read(emitted[0]!.path).pkg;
    const dev = read(emitted[1]!.path).pkg;
    expect(dev.pkginfo.origin).toBe('hello-dev');
    expect(main.pkginfo.license).toBe('MIT AND (Apache-2.0 OR BSD-3-Clause) AND (Custom Thing)');
    expect(pkginfoText(main)).toContain('\n# vendored = so:libbundled.so.7=7\n');
    expect(main.pkginfo.provides.some((p) => p.includes('libbundled'))).toBe(false);
    const doc = JSON.parse(fromUtf8(dev.files.find((f) => f.path.endsWith('.spdx.json'))!.data)) as {
      packages: { licenseDeclared: string; primaryPackagePurpose: string }[];
      hasExtractedLicensingInfos: { licenseId: string; extractedText: string }[];
    };
    expect(validateSpdx(doc), JSON.stringify(validateSpdx.errors)).toBe(true);
    expect(doc.packages.find((p) => p.primaryPackagePurpose === 'APPLICATION')!.licenseDeclared).toBe(
      'MIT AND (Apache-2.0 OR BSD-3-Clause) AND LicenseRef-Custom-Thing',
    );
    expect(doc.hasExtractedLicensingInfos).toEqual([
      expect.objectContaining({
        licenseId: 'LicenseRef-Custom-Thing',
        extractedText: 'Custom licence text\n',
      }),
    ]);
  });

  it('a license-path that escapes the workspace (by .. or by symlink) is refused', async () => {
    const outputRoot = join(work, 'melange-out');
    writeTree(outputRoot);
    writeFileSync(join(keys, 'host-secret'), 'secret');
    symlinkSync(join(keys, 'host-secret'), join(work, 'LICENSE'));
    for (const licensePath of ['LICENSE', '../host-secret', '/etc/passwd']) {
      const compiled = helloRecipe({
        meta: { copyright: [{ license: 'Custom Thing', 'license-path': licensePath }] },
      });
      await expect(emitPackages(input(outputRoot, join(work, 'out'), { compiled }))).rejects.toMatchObject({
        code: 'MELANGE_PACKAGE_BUILD_FAILED',
      });
    }
    expect(() => readdirSync(join(work, 'out'))).toThrow();
  });

  it.skipIf(!isRoot)('maps the build user to root and keeps other owners (needs root to chown)', async () => {
    const outputRoot = join(work, 'melange-out');
    writeTree(outputRoot);
    execFileSync('chown', ['-R', '1000:1000', join(outputRoot, 'hello')]);
    chownSync(join(outputRoot, 'hello/usr/share/hello/greeting.txt'), 33, 33);
    const [main] = await emitPackages(
      input(outputRoot, join(work, 'out'), {
        compiled: helloRecipe({ mainOnly: true }),
        mapOwner: (u, g) => ({ uid: u === 1000 ? 0 : u, gid: g === 1000 ? 0 : g }),
        users: new Map([[33, 'www-data']]),
        groups: new Map([[33, 'www-data']]),
      }),
    );
    const files = new Map(read(main!.path).pkg.files.map((f) => [f.path, f]));
    expect(files.get('usr/bin/hello')).toMatchObject({ uid: 0, gid: 0, uname: 'root' });
    expect(files.get('usr/share/hello/greeting.txt')).toMatchObject({
      uid: 33,
      gid: 33,
      uname: 'www-data',
      gname: 'www-data',
    });
  });
});

describe('emitPackages: all or nothing', () => {
  it('a failure while building the second package leaves no package file behind', async () => {
    const outputRoot = join(work, 'melange-out');
    writeTree(outputRoot);
    const compiled = helloRecipe({
      dev: { setcap: [{ path: '/usr/bin/missing', add: { cap_net_raw: '+ep' }, reason: 'r' }] },
    });
    await expect(emitPackages(input(outputRoot, join(work, 'out'), { compiled }))).rejects.toMatchObject({
      code: 'MELANGE_SETCAP_INVALID',
    });
    expect(() => readdirSync(join(work, 'out'))).toThrow(); // not even created
    // A FIFO in the second package: refused, nothing written either, even into an existing directory.
    mkdirSync(join(work, 'out2'));
    execFileSync('mkfifo', [join(outputRoot, 'hello-dev/usr/fifo')]);
    await expect(emitPackages(input(outputRoot, join(work, 'out2')))).rejects.toMatchObject({
      code: 'MELANGE_PACKAGE_UNSUPPORTED_FILE',
    });
    expect(readdirSync(join(work, 'out2'))).toEqual([]);
  });

  it('an apk writer refusal is a coded build failure, and nothing is written', async () => {
    const outputRoot = join(work, 'melange-out');
    writeTree(outputRoot);
    // var is a file in hello-dev: the SBOM cannot go under var/lib/db/sbom.
    writeFileSync(join(outputRoot, 'hello-dev/var'), 'not a directory');
    await expect(emitPackages(input(outputRoot, join(work, 'out')))).rejects.toMatchObject({
      code: 'MELANGE_PACKAGE_BUILD_FAILED',
    });
    expect(() => readdirSync(join(work, 'out'))).toThrow();
  });

  it('a bad provider-priority is a coded build failure', async () => {
    const outputRoot = join(work, 'melange-out');
    writeTree(outputRoot);
    const compiled = helloRecipe({
      dev: { dependencies: { runtime: [], provides: [], replaces: [], 'provider-priority': 'high' } },
    });
    await expect(emitPackages(input(outputRoot, join(work, 'out'), { compiled }))).rejects.toMatchObject({
      code: 'MELANGE_PACKAGE_BUILD_FAILED',
    });
  });
});

describe.skipIf(cc === undefined)(
  `emitPackages with real ELF files${cc === undefined ? ` (${NO_COMPILER})` : ''}`,
  () => {
    it('depends on so:libc.so.6 and provides so:libfoo.so.1=1', async () => {
      const compiled = compileFixtures(cc!, work);
      const outputRoot = join(work, 'melange-out');
      writeTree(outputRoot);
      copyFileSync(compiled.usefoo, join(outputRoot, 'hello/usr/bin/hello'));
      copyFileSync(compiled.libfoo, join(outputRoot, 'hello/usr/lib/libfoo.so.1.2.3'));
      const [main, dev] = await emitPackages(input(outputRoot, join(work, 'out')));
      expect(main!.depends).toContain('so:libc.so.6');
      expect(main!.provides).toContain('so:libfoo.so.1=1');
      expect(main!.depends).not.toContain('so:libfoo.so.1');
      expect(main!.generated.depends).toContain('so:libfoo.so.1');
      expect(dev!.depends).toContain('so:libfoo.so.1');
      const { bytes } = read(main!.path);
      expect(verifyApk(bytes, keyring).status).toBe('OK');
    });
  },
);
