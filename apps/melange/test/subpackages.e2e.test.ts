/**
 * A recipe with subpackages (split/dev, split/manpages, a `range` over a data table, a `runs` split, a
 * subpackage `if`) and var-transforms, built in the sandbox from the C sources beside it; then failure,
 * concurrency and hostile-input behaviour of the build as a whole.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readApk, verifyApk, type ApkPackage } from '@tk/apk';
import { fromUtf8 } from '@tk/core';
import { loadKeyring } from '@tk/keys';
import { readIndexArchive } from '@tk/repo';
import { ROOT, build, buildBench, makeKey, tempDir } from './helpers.ts';

const bench = buildBench();
const LIBGREET = join(ROOT, 'test-fixtures/melange/libgreet');

function readPackage(path: string): ApkPackage {
  return readApk(new Uint8Array(readFileSync(path)));
}

function trivialRecipe(name: string, runs: string, extra = ''): string {
  return [
    'package:',
    `  name: ${name}`,
    '  version: 1.0.0',
    '  epoch: 0',
    '  description: a test package',
    '  copyright:',
    '    - license: MIT',
    'environment:',
    '  contents:',
    '    packages: [busybox, busybox-binsh, tk-baselayout]',
    'pipeline:',
    '  - runs: |',
    ...runs.split('\n').map((l) => `      ${l}`),
    extra,
    '',
  ].join('\n');
}

describe.skipIf(!bench.ready)(
  `melange build in the sandbox${bench.ready ? '' : ` (skipped: ${bench.reason})`}`,
  () => {
    let work: string;
    let key: string;

    beforeAll(async () => {
      work = tempDir('subpackages');
      key = await makeKey(work);
    });
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    it('splits one build into the main package and five subpackages with their own metadata', async () => {
      const out = join(work, 'libgreet-packages');
      const result = await build(join(LIBGREET, 'melange.yaml'), {
        outDir: out,
        cacheDir: join(work, 'cache'),
        signingKey: key,
      });
      const names = result.archs[0]!.packages.map((p) => p.name);
      expect(names).toEqual([
        'libgreet',
        'libgreet-dev',
        'libgreet-doc',
        'greet-bye',
        'greet-hi',
        'libgreet-extra',
      ]);
      const keyring = await loadKeyring([`${key}.pub`]);
      const pkgs = new Map<string, ApkPackage>();
      for (const name of names) {
        const path = join(out, 'x86_64', `${name}-1.2.3-r1.apk`);
        expect(verifyApk(new Uint8Array(readFileSync(path)), keyring).status).toBe('OK');
        pkgs.set(name, readPackage(path));
      }
      const files = (name: string): string[] =>
        pkgs
          .get(name)!
          .files.filter((f) => f.type !== 'directory' && !f.path.startsWith('var/lib/db/sbom/'))
          .map((f) => f.path);

      expect(files('libgreet')).toEqual(['usr/lib/libgreet.so.1', 'usr/lib/libgreet.so.1.2.3']);
      expect(files('libgreet-dev')).toEqual([
        'usr/include/greet.h',
        'usr/lib/libgreet.a',
        'usr/lib/libgreet.so',
        'usr/lib/pkgconfig/libgreet.pc',
      ]);
      expect(files('libgreet-doc')).toEqual(['usr/share/man/man3/greet.3']);
      expect(files('greet-hi')).toEqual(['usr/bin/greet-hi']);
      expect(files('greet-bye')).toEqual(['usr/bin/greet-bye']);
      expect(files('libgreet-extra')).toEqual(['usr/share/libgreet/short-version']);

      const info = (name: string) => pkgs.get(name)!.pkginfo;
      // SCA: the library provides its soname, the greeters depend on it, the -dev package provides pc:.
      expect(info('libgreet').provides).toContain('so:libgreet.so.1=1');
      expect(info('libgreet').depend).toEqual(expect.arrayContaining(['busybox', 'so:libc.so.6']));
      expect(info('greet-hi').depend).toEqual(expect.arrayContaining(['so:libgreet.so.1', 'so:libc.so.6']));
      expect(info('greet-hi').provides).toContain('cmd:greet-hi=1.2.3-r1');
      expect(info('libgreet-dev').provides).toContain('pc:libgreet=1.2.3-r1');
      expect(info('libgreet-dev').depend).toContain('so:libgreet.so.1');
      // Subpackages: their own descriptions (range values substituted), the main package as origin.
      expect(info('greet-hi').pkgdesc).toBe('the greeter that says hi');
      expect(info('greet-bye').origin).toBe('libgreet');
      // var-transforms reached the build (1.2.3 → 1.2) and the subpackage `if` kept libgreet-extra.
      const marker = pkgs
        .get('libgreet-extra')!
        .files.find((f) => f.path === 'usr/share/libgreet/short-version')!;
      expect(fromUtf8(marker.data)).toBe('1.2\n');
      const man = pkgs.get('libgreet-doc')!.files.find((f) => f.path === 'usr/share/man/man3/greet.3')!;
      expect(fromUtf8(man.data)).toContain('(1.2)');
      // Every subpackage has its own SBOM.
      for (const name of names) {
        expect(pkgs.get(name)!.files.map((f) => f.path)).toContain(
          `var/lib/db/sbom/${name}-1.2.3-r1.spdx.json`,
        );
      }
      const index = readIndexArchive(new Uint8Array(readFileSync(join(out, 'x86_64', 'APKINDEX.tar.gz'))));
      expect(index.entries.map((e) => e.name).sort()).toEqual([...names].sort());
    }, 240_000);

    it('a failing step leaves no package and the index unchanged, naming the step and its output', async () => {
      const dir = join(work, 'failing');
      mkdirSync(dir, { recursive: true });
      const out = join(work, 'shared-out');
      writeFileSync(
        join(dir, 'good.yaml'),
        trivialRecipe(
          'good',
          'mkdir -p ${{targets.destdir}}/usr/share/good\necho ok > ${{targets.destdir}}/usr/share/good/ok',
        ),
      );
      await build(join(dir, 'good.yaml'), { outDir: out, cacheDir: join(dir, 'cache'), signingKey: key });
      // It stored no source, so it made no cache folder (melange mounts one only when it exists).
      expect(existsSync(join(dir, 'cache'))).toBe(false);
      const before = readFileSync(join(out, 'x86_64', 'APKINDEX.tar.gz'));
      writeFileSync(
        join(dir, 'bad.yaml'),
        trivialRecipe(
          'bad',
          'mkdir -p ${{targets.destdir}}/usr/share/bad\necho partial > ${{targets.destdir}}/usr/share/bad/x\necho "about to fail"\nfalse\necho never',
        ),
      );
      const error = await build(join(dir, 'bad.yaml'), {
        outDir: out,
        cacheDir: join(dir, 'cache'),
        signingKey: key,
      }).then(
        () => undefined,
        (e: unknown) => e as { code: string; message: string },
      );
      expect(error?.code).toBe('MELANGE_STEP_FAILED');
      expect(error?.message).toContain('about to fail');
      expect(error?.message).toContain('package bad');
      expect(readdirSync(join(out, 'x86_64')).sort()).toEqual(['APKINDEX.tar.gz', 'good-1.0.0-r0.apk']);
      expect(Buffer.compare(readFileSync(join(out, 'x86_64', 'APKINDEX.tar.gz')), before)).toBe(0);
    }, 120_000);

    it('two builds into the same out-dir at once both land in one signed index', async () => {
      const dir = join(work, 'concurrent');
      mkdirSync(dir, { recursive: true });
      const out = join(dir, 'packages');
      for (const name of ['alpha', 'beta', 'gamma']) {
        writeFileSync(
          join(dir, `${name}.yaml`),
          trivialRecipe(
            name,
            `mkdir -p \${{targets.destdir}}/usr/share/${name}\necho ${name} > \${{targets.destdir}}/usr/share/${name}/name`,
          ),
        );
      }
      await Promise.all(
        ['alpha', 'beta', 'gamma'].map((name) =>
          build(join(dir, `${name}.yaml`), { outDir: out, cacheDir: join(dir, 'cache'), signingKey: key }),
        ),
      );
      const index = readIndexArchive(new Uint8Array(readFileSync(join(out, 'x86_64', 'APKINDEX.tar.gz'))));
      expect(index.entries.map((e) => e.name).sort()).toEqual(['alpha', 'beta', 'gamma']);
      expect(index.signatures).toHaveLength(1);
      expect(existsSync(join(out, 'x86_64', '.APKINDEX.lock'))).toBe(false);
    }, 180_000);

    it('kill -9 of a process updating the index leaves the old index intact, and the next build takes over the lock', async () => {
      const dir = join(work, 'killed');
      mkdirSync(dir, { recursive: true });
      const out = join(dir, 'packages');
      writeFileSync(
        join(dir, 'one.yaml'),
        trivialRecipe('one', 'mkdir -p ${{targets.destdir}}/etc\necho 1 > ${{targets.destdir}}/etc/one'),
      );
      await build(join(dir, 'one.yaml'), { outDir: out, cacheDir: join(dir, 'cache'), signingKey: key });
      const archDir = join(out, 'x86_64');
      const before = readFileSync(join(archDir, 'APKINDEX.tar.gz'));
      // A child process takes the index lock, starts writing a new index, and is killed with SIGKILL.
      const script = `
      import { updateIndex } from ${JSON.stringify(join(ROOT, 'apps/melange/dist/package/index-update.js'))};
      await updateIndex({
        archDir: ${JSON.stringify(archDir)},
        packages: [${JSON.stringify(join(archDir, 'one-1.0.0-r0.apk'))}],
        arch: 'x86_64',
        // What writeFileAtomic does, stopped half-way: a temporary file next to the index, not yet renamed.
        writeIndex: async (path, bytes) => {
          const { writeFile } = await import('node:fs/promises');
          await writeFile(path + '.partial', bytes.subarray(0, 10));
          process.stdout.write('writing\\n');
          await new Promise(() => {});
        },
      });
    `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((done, fail) => {
        child.stdout.on('data', (d: Buffer) => {
          if (d.toString().includes('writing')) done();
        });
        child.on('exit', (code) => fail(new Error(`child exited early with ${code}`)));
      });
      child.kill('SIGKILL');
      await new Promise((done) => child.on('close', done));
      expect(Buffer.compare(readFileSync(join(archDir, 'APKINDEX.tar.gz')), before)).toBe(0);
      expect(existsSync(join(archDir, '.APKINDEX.lock'))).toBe(true);
      // The next build finds the lock of a dead process, takes it over, and lands.
      writeFileSync(
        join(dir, 'two.yaml'),
        trivialRecipe('two', 'mkdir -p ${{targets.destdir}}/etc\necho 2 > ${{targets.destdir}}/etc/two'),
      );
      await build(join(dir, 'two.yaml'), { outDir: out, cacheDir: join(dir, 'cache'), signingKey: key });
      const index = readIndexArchive(new Uint8Array(readFileSync(join(archDir, 'APKINDEX.tar.gz'))));
      expect(index.entries.map((e) => e.name).sort()).toEqual(['one', 'two']);
    }, 180_000);

    it('what a step writes outside the workspace stays in the sandbox; symlinks are packaged as links', async () => {
      const dir = join(work, 'escape');
      mkdirSync(dir, { recursive: true });
      const marker = `tk-escape-${process.pid}`;
      writeFileSync(
        join(dir, 'escape.yaml'),
        trivialRecipe(
          'escape',
          [
            `echo pwned > /etc/${marker} || true`,
            `echo pwned > /home/build/../../tmp/${marker} || true`,
            `echo pwned > /${marker} || true`,
            'mkdir -p ${{targets.destdir}}/usr/share/escape',
            'ln -s /etc/passwd ${{targets.destdir}}/usr/share/escape/passwd',
            'ln -s ../../../etc ${{targets.destdir}}/usr/share/escape/etc',
          ].join('\n'),
        ),
      );
      const out = join(dir, 'packages');
      await build(join(dir, 'escape.yaml'), { outDir: out, cacheDir: join(dir, 'cache'), signingKey: key });
      expect(existsSync(`/etc/${marker}`)).toBe(false);
      expect(existsSync(`/tmp/${marker}`)).toBe(false);
      expect(existsSync(`/${marker}`)).toBe(false);
      const pkg = readPackage(join(out, 'x86_64', 'escape-1.0.0-r0.apk'));
      const link = pkg.files.find((f) => f.path === 'usr/share/escape/passwd')!;
      expect([link.type, link.linkname, link.data.length]).toEqual(['symlink', '/etc/passwd', 0]);
      expect(pkg.files.find((f) => f.path === 'usr/share/escape/etc')?.type).toBe('symlink');
      expect(pkg.files.some((f) => f.path.startsWith('usr/share/escape/etc/'))).toBe(false);

      // A relative link that climbs above the package root is refused at build time (apk-tools and tk's
      // installer would refuse the package), and nothing is written.
      writeFileSync(
        join(dir, 'climb.yaml'),
        trivialRecipe(
          'climb',
          'mkdir -p ${{targets.destdir}}/usr/share\nln -s ../../../../etc ${{targets.destdir}}/usr/share/etc',
        ),
      );
      await expect(
        build(join(dir, 'climb.yaml'), { outDir: out, cacheDir: join(dir, 'cache'), signingKey: key }),
      ).rejects.toMatchObject({ code: 'MELANGE_PACKAGE_UNSUPPORTED_FILE' });
      expect(readdirSync(join(out, 'x86_64')).sort()).toEqual(['APKINDEX.tar.gz', 'escape-1.0.0-r0.apk']);
    }, 120_000);

    it('refuses a source archive with ../ entries before extracting it, and writes no package', async () => {
      const dir = join(work, 'hostile-tar');
      mkdirSync(dir, { recursive: true });
      // Python's tarfile writes member names as given: one honest file, then one that climbs out.
      execFileSync('python3', [
        '-c',
        [
          'import io, sys, tarfile',
          'with tarfile.open(sys.argv[1], "w:gz") as t:',
          '    for name in ("pkg/README", "pkg/../../evil"):',
          '        info = tarfile.TarInfo(name); data = b"x\\n"; info.size = len(data)',
          '        t.addfile(info, io.BytesIO(data))',
        ].join('\n'),
        join(dir, 'evil.tar.gz'),
      ]);
      const sha = execFileSync('sha256sum', [join(dir, 'evil.tar.gz')], { encoding: 'utf8' }).split(' ')[0]!;
      mkdirSync(join(dir, 'cache'), { recursive: true });
      cpSync(join(dir, 'evil.tar.gz'), join(dir, 'cache', `sha256:${sha}`));
      writeFileSync(
        join(dir, 'evil.yaml'),
        trivialRecipe(
          'evil',
          'true',
          `  - uses: fetch\n    with:\n      uri: https://example.invalid/evil.tar.gz\n      expected-sha256: ${sha}\n`,
        ).replace('pipeline:\n', 'pipeline:\n'),
      );
      const out = join(dir, 'packages');
      await expect(
        build(join(dir, 'evil.yaml'), {
          outDir: out,
          cacheDir: join(dir, 'cache'),
          offline: true,
          signingKey: key,
        }),
      ).rejects.toMatchObject({ code: 'MELANGE_SOURCE_UNSAFE' });
      expect(existsSync(out)).toBe(false);
    }, 60_000);

    it('runs the linters on every package: a required linter fails the build, --lint-require can lower it', async () => {
      const dir = join(work, 'lint');
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, 'setuid.yaml'),
        trivialRecipe(
          'setuid',
          'mkdir -p ${{targets.destdir}}/usr/bin\nprintf "#!/bin/sh\\n" > ${{targets.destdir}}/usr/bin/s\nchmod 4755 ${{targets.destdir}}/usr/bin/s',
        ),
      );
      const out = join(dir, 'packages');
      await expect(
        build(join(dir, 'setuid.yaml'), { outDir: out, cacheDir: join(dir, 'cache') }),
      ).rejects.toMatchObject({ code: 'MELANGE_LINT_FAILED' });
      expect(existsSync(out)).toBe(false);
      await build(join(dir, 'setuid.yaml'), {
        outDir: out,
        cacheDir: join(dir, 'cache'),
        lintRequire: ['dev'],
        lintWarn: ['setuidgid'],
        persistLintResults: true,
      });
      const pkg = readPackage(join(out, 'x86_64', 'setuid-1.0.0-r0.apk'));
      expect((pkg.files.find((f) => f.path === 'usr/bin/s')!.mode & 0o7777).toString(8)).toBe('4755');
      expect(readdirSync(join(out, 'x86_64'))).toContain('lint-setuid-1.0.0-r0.json');
    }, 120_000);

    it('rejects recipes that cannot be compiled with coded errors before any sandbox starts', async () => {
      const dir = join(work, 'invalid');
      mkdirSync(join(dir, 'pipes'), { recursive: true });
      const base = trivialRecipe('invalid', 'true');
      const cases: [string, string, string][] = [
        ['unknown key', base.replace('package:\n', 'package:\n  colour: blue\n'), 'MELANGE_RECIPE_INVALID'],
        [
          'unknown substitution',
          base.replace('      true', '      echo ${{package.colour}}'),
          'MELANGE_UNKNOWN_VARIABLE',
        ],
        [
          'missing required input',
          base + '  - uses: fetch\n    with:\n      expected-sha256: ' + 'a'.repeat(64) + '\n',
          'MELANGE_MISSING_INPUT',
        ],
        ['pipeline cycle', base + '  - uses: loop-a\n', 'MELANGE_PIPELINE_CYCLE'],
      ];
      writeFileSync(join(dir, 'pipes', 'loop-a.yaml'), 'name: a\npipeline:\n  - uses: loop-b\n');
      writeFileSync(join(dir, 'pipes', 'loop-b.yaml'), 'name: b\npipeline:\n  - uses: loop-a\n');
      for (const [label, text, code] of cases) {
        const file = join(dir, `${label.replace(/ /g, '-')}.yaml`);
        writeFileSync(file, text);
        await expect(
          build(file, {
            outDir: join(dir, 'packages'),
            cacheDir: join(dir, 'cache'),
            pipelineDirs: [join(dir, 'pipes')],
          }),
          label,
        ).rejects.toMatchObject({ code });
      }
      expect(existsSync(join(dir, 'packages'))).toBe(false);
    }, 60_000);
  },
);
