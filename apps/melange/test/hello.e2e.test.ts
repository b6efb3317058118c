/**
 * GNU hello 2.10 built from its real source tarball (Debian's hello_2.10.orig.tar.gz, byte-identical to
 * GNU's hello-2.10.tar.gz), offline, in the bubblewrap sandbox, from the bootstrap repository: once
 * fetched from a local HTTP server on 127.0.0.1, twice from a seeded --cache-dir (the recipe unchanged,
 * --offline) to prove the bytes are reproducible; then checked by openssl, tk's reader and verifier, the
 * SPDX schema, and by running the installed program.
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readApk, verifyApk } from '@tk/apk';
import { fromUtf8 } from '@tk/core';
import { loadKeyring } from '@tk/keys';
import { readIndexArchive } from '@tk/repo';
import { testPackages } from '../src/build/test.ts';
import { parseElf } from '../src/package/elf.ts';
import {
  BOOTSTRAP,
  BOOTSTRAP_KEY,
  HELLO_SHA256,
  ROOT,
  SOURCES,
  build,
  buildBench,
  makeKey,
  spdxValidator,
  tempDir,
  testBuilt,
} from './helpers.ts';

const bench = buildBench({ sources: true });
/** apk-tools, when built and installed by hand (TK_APK_TOOLS, else /usr/local/bin/apk). */
const APK_TOOLS = [process.env['TK_APK_TOOLS'], '/usr/local/bin/apk'].find(
  (p) => p !== undefined && existsSync(p),
);
const RECIPE = join(ROOT, 'test-fixtures/melange/hello/melange.yaml');
const TARBALL = join(SOURCES, 'hello_2.10.orig.tar.gz');

describe.skipIf(!bench.ready)(
  `GNU hello 2.10 from source${bench.ready ? '' : ` (skipped: ${bench.reason})`}`,
  () => {
    let work: string;
    let key: string;
    let server: Server;
    let port: number;
    let requests = 0;

    beforeAll(async () => {
      work = tempDir('hello');
      key = await makeKey(work);
      server = createServer((req, res) => {
        requests++;
        if (req.url === '/gnu/hello/hello-2.10.tar.gz') {
          res.writeHead(200, { 'content-type': 'application/gzip' });
          res.end(readFileSync(TARBALL));
        } else {
          res.writeHead(404);
          res.end();
        }
      });
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(async () => {
      await new Promise<void>((done) => server.close(() => done()));
      rmSync(work, { recursive: true, force: true });
    });

    it('builds from a local HTTP server into a signed package and index that real tools accept', async () => {
      const dir = join(work, 'http');
      mkdirSync(dir, { recursive: true });
      // The only change to the recipe: the source URI points at the local server instead of GNU's.
      const text = readFileSync(RECIPE, 'utf8').replace(
        'https://ftp.gnu.org/gnu/hello/',
        `http://127.0.0.1:${port}/gnu/hello/`,
      );
      writeFileSync(join(dir, 'melange.yaml'), text);
      const out = join(dir, 'packages');
      const result = await build(join(dir, 'melange.yaml'), {
        outDir: out,
        cacheDir: join(dir, 'cache'),
        signingKey: key,
      });
      expect(requests).toBe(1);
      const [arch] = result.archs;
      expect(arch?.packages.map((p) => p.name)).toEqual(['hello']);
      const apkPath = join(out, 'x86_64', 'hello-2.10-r0.apk');
      const bytes = new Uint8Array(readFileSync(apkPath));

      // tk's reader and verifier, with the signing key as the only trusted key.
      const keyring = await loadKeyring([`${key}.pub`]);
      const verdict = verifyApk(bytes, keyring);
      expect(verdict.status).toBe('OK');
      const pkg = readApk(bytes);
      expect(pkg.pkginfo.pkgname).toBe('hello');
      expect(pkg.pkginfo.pkgver).toBe('2.10-r0');
      expect(pkg.pkginfo.arch).toBe('x86_64');
      expect(pkg.pkginfo.license).toBe('GPL-3.0-or-later');
      expect(pkg.pkginfo.builddate).toBe(1700000000);
      expect(pkg.pkginfo.depend).toContain('so:libc.so.6');
      expect(pkg.pkginfo.provides).toContain('cmd:hello=2.10-r0');
      const paths = pkg.files.map((f) => f.path);
      expect(paths).toContain('usr/bin/hello');
      expect(paths).toContain('var/lib/db/sbom/hello-2.10-r0.spdx.json');
      expect(paths.some((p) => p.endsWith('.la'))).toBe(false);
      const binary = pkg.files.find((f) => f.path === 'usr/bin/hello');
      expect((binary?.mode ?? 0) & 0o777).toBe(0o755);
      expect([binary?.uid, binary?.gid]).toEqual([0, 0]);
      expect(pkg.files.every((f) => f.mtime === 1700000000)).toBe(true);

      // openssl checks the signature over the control section on its own.
      const sig = pkg.signatures[0]!;
      expect(sig.entryName).toBe('.SIGN.RSA256.melange.rsa.pub');
      writeFileSync(join(dir, 'sig'), sig.signature);
      writeFileSync(
        join(dir, 'control.tar.gz'),
        bytes.subarray(pkg.sections.control.start, pkg.sections.control.end),
      );
      const openssl = execFileSync(
        'openssl',
        [
          'dgst',
          '-sha256',
          '-verify',
          `${key}.pub`,
          '-signature',
          join(dir, 'sig'),
          join(dir, 'control.tar.gz'),
        ],
        { encoding: 'utf8' },
      );
      expect(openssl.trim()).toBe('Verified OK');

      // The SBOM inside validates against the official SPDX 2.3 schema and names the source.
      const sbomFile = pkg.files.find((f) => f.path === 'var/lib/db/sbom/hello-2.10-r0.spdx.json');
      const sbom = JSON.parse(fromUtf8(sbomFile!.data)) as {
        packages: { name: string; downloadLocation: string }[];
      };
      const validate = await spdxValidator();
      expect(validate(sbom), JSON.stringify(validate.errors)).toBe(true);
      expect(sbom.packages.some((p) => p.downloadLocation.includes('hello-2.10.tar.gz'))).toBe(true);

      // The compiled recipe is embedded, with the locked build environment.
      const embedded = fromUtf8(pkg.control.find((c) => c.name === '.melange.yaml')!.data);
      expect(embedded).toMatch(/build-base=/);
      expect(embedded).toContain(HELLO_SHA256);

      // The index lists the package and is signed by the same key.
      const index = readIndexArchive(new Uint8Array(readFileSync(join(out, 'x86_64', 'APKINDEX.tar.gz'))));
      expect(index.entries.map((e) => `${e.name}-${e.version}`)).toEqual(['hello-2.10-r0']);
      expect(index.signatures.map((s) => s.entryName)).toEqual(['.SIGN.RSA256.melange.rsa.pub']);

      // tk melange test: a fresh guest with hello pinned to 2.10-r0 runs the recipe's test (hello | grep).
      const tested = await testPackages({
        configPath: join(dir, 'melange.yaml'),
        hostArch: 'x86_64',
        archs: ['x86_64'],
        outDir: out,
        cacheDir: join(dir, 'cache'),
        repositoryAppend: [BOOTSTRAP],
        keyringAppend: [BOOTSTRAP_KEY, `${key}.pub`],
        env: {},
        isRoot: process.getuid?.() === 0,
        uid: process.getuid?.() ?? 0,
        gid: process.getgid?.() ?? 0,
        toolVersion: '0.1.0',
        tempDir: work,
      });
      expect(tested.results.map((r) => [r.package, r.kind])).toEqual([['hello', 'test']]);
      expect(tested.results[0]?.environment).toContain('hello=2.10-r0');

      // apk-tools 2.14.10, when it is installed (built from source outside the repository; see
      // docs/testing.md): `apk verify` accepts the package and the index, `apk add --initdb` installs the
      // package pinned to tk's version, and the installed program runs.
      if (APK_TOOLS !== undefined) {
        const keys = join(dir, 'apk-keys');
        mkdirSync(keys);
        copyFileSync(`${key}.pub`, join(keys, 'melange.rsa.pub'));
        copyFileSync(BOOTSTRAP_KEY, join(keys, 'tk-bootstrap.rsa.pub'));
        const verified = execFileSync(
          APK_TOOLS,
          ['verify', '--keys-dir', keys, apkPath, join(out, 'x86_64', 'APKINDEX.tar.gz')],
          { encoding: 'utf8' },
        );
        expect(
          verified
            .trim()
            .split('\n')
            .map((l) => l.replace(/^.*: /, '')),
        ).toEqual(['0 - OK', '0 - OK']);
        const rootfs = join(dir, 'apk-root');
        const added = execFileSync(
          APK_TOOLS,
          [
            'add',
            '--root',
            rootfs,
            '--initdb',
            '--keys-dir',
            keys,
            '--repository',
            out,
            '--repository',
            BOOTSTRAP,
            '--arch',
            'x86_64',
            '--no-scripts',
            '--no-cache',
            'tk-baselayout',
            'busybox',
            'busybox-binsh',
            'hello=2.10-r0',
          ],
          { encoding: 'utf8' },
        );
        expect(added).toContain('Installing hello (2.10-r0)');
        const hello = execFileSync(
          'bwrap',
          ['--bind', rootfs, '/', '--proc', '/proc', '--dev', '/dev', '--clearenv', '/usr/bin/hello'],
          { encoding: 'utf8' },
        );
        expect(hello).toBe('Hello, world!\n');
      }
    }, 300_000);

    it('builds offline from a seeded cache with the recipe unchanged, byte for byte the same twice', async () => {
      const builds: Uint8Array[] = [];
      for (const round of [1, 2]) {
        const dir = join(work, `cache-${round}`);
        mkdirSync(join(dir, 'cache'), { recursive: true });
        copyFileSync(RECIPE, join(dir, 'melange.yaml'));
        copyFileSync(TARBALL, join(dir, 'cache', `sha256:${HELLO_SHA256}`));
        const out = join(dir, 'packages');
        await build(join(dir, 'melange.yaml'), {
          outDir: out,
          cacheDir: join(dir, 'cache'),
          offline: true,
          signingKey: key,
        });
        builds.push(new Uint8Array(readFileSync(join(out, 'x86_64', 'hello-2.10-r0.apk'))));
        expect(readdirSync(join(out, 'x86_64')).sort()).toEqual(['APKINDEX.tar.gz', 'hello-2.10-r0.apk']);
      }
      expect(builds[0]!.length).toBeGreaterThan(10_000);
      expect(Buffer.compare(builds[0]!, builds[1]!)).toBe(0);
    }, 300_000);

    // The slow one: GNU hello's whole autotools build under qemu-user (about 5 minutes on 2 cores), once.
    it.skipIf(!existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64'))(
      'builds for aarch64 under qemu-user, and the aarch64 package passes its test there',
      async () => {
        const dir = join(work, 'aarch64');
        mkdirSync(join(dir, 'cache'), { recursive: true });
        copyFileSync(RECIPE, join(dir, 'melange.yaml'));
        copyFileSync(TARBALL, join(dir, 'cache', `sha256:${HELLO_SHA256}`));
        const out = join(dir, 'packages');
        await build(join(dir, 'melange.yaml'), {
          outDir: out,
          cacheDir: join(dir, 'cache'),
          offline: true,
          archs: ['arm64'],
          signingKey: key,
        });
        const pkg = readApk(new Uint8Array(readFileSync(join(out, 'aarch64', 'hello-2.10-r0.apk'))));
        expect(pkg.pkginfo.arch).toBe('aarch64');
        expect(pkg.pkginfo.depend).toContain('so:libc.so.6');
        expect(parseElf(pkg.files.find((f) => f.path === 'usr/bin/hello')!.data)?.machine).toBe(183);
        const tested = await testBuilt(join(dir, 'melange.yaml'), {
          outDir: out,
          cacheDir: join(dir, 'cache'),
          publicKey: `${key}.pub`,
          archs: ['aarch64'],
          tempDir: work,
        });
        expect(tested.results.map((r) => [r.arch, r.package, r.kind])).toEqual([
          ['aarch64', 'hello', 'test'],
        ]);
      },
      1_200_000,
    );

    it('refuses a wrong expected-sha256 before anything runs, and writes nothing', async () => {
      const dir = join(work, 'bad-sha');
      cpSync(join(ROOT, 'test-fixtures/melange/hello'), dir, { recursive: true });
      const text = readFileSync(join(dir, 'melange.yaml'), 'utf8')
        .replace(HELLO_SHA256, '0'.repeat(64))
        .replace('https://ftp.gnu.org/gnu/hello/', `http://127.0.0.1:${port}/gnu/hello/`);
      writeFileSync(join(dir, 'melange.yaml'), text);
      const out = join(dir, 'packages');
      await expect(
        build(join(dir, 'melange.yaml'), { outDir: out, cacheDir: join(dir, 'cache'), signingKey: key }),
      ).rejects.toMatchObject({ code: 'MELANGE_SOURCE_CHECKSUM' });
      expect(() => readdirSync(out)).toThrow();
      expect(readdirSync(join(dir, 'cache'))).toEqual([]);
    }, 120_000);
  },
);
