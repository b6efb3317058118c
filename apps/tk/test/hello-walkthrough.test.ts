/**
 * The walkthrough of README.md (examples/hello), as a test: tk builds GNU hello from source (x86_64) with
 * the recipe unchanged, signs it with a fresh key, and assembles a shell-less image from it through
 * `@local ./packages`. scripts/demo.sh runs the whole walkthrough (both arches, publish, trivy) in CI; this
 * test checks the claims about the image: exactly the packages hello needs, no shell, under 10 MB, every
 * byte owned by a package (verify-image), the same index digest and SBOMs when built again.
 *
 * The example folder is copied into a temporary tree where `../../.cache` and `../../test-fixtures` (the
 * bootstrap repository and its key, as the example's apko.yaml names them) are links to the checkout's.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_REPO, PODMAN_RUN, ROOT, tk } from './helpers.ts';

const SOURCES = join(ROOT, '.cache/bootstrap/melange-cache');
const TAG = `tk-test-walkthrough:${process.pid}`;
/** hello and what it needs: glibc (libc6 without its iconv modules), whose libgcc-s1 brings gcc-12-base. */
const EXPECTED = ['gcc-12-base', 'hello', 'libc6', 'libgcc-s1', 'tk-baselayout'];

const ready = existsSync(join(BOOTSTRAP_REPO, 'x86_64/APKINDEX.tar.gz')) && existsSync(SOURCES);

describe.skipIf(!ready && process.env['CI'] !== 'true')('the walkthrough (examples/hello), amd64', () => {
  const tree = mkdtempSync(join(tmpdir(), 'tk-walkthrough-'));
  const dir = join(tree, 'examples/hello');
  const run = (...argv: string[]) => tk(dir, ...argv);

  beforeAll(async () => {
    expect(ready, 'the bootstrap repository or sources are missing: run ./scripts/setup.sh').toBe(true);
    mkdirSync(dir, { recursive: true });
    for (const f of ['melange.yaml', 'apko.yaml']) cpSync(join(ROOT, 'examples/hello', f), join(dir, f));
    symlinkSync(join(ROOT, '.cache'), join(tree, '.cache'));
    symlinkSync(join(ROOT, 'test-fixtures'), join(tree, 'test-fixtures'));
    expect((await run('melange', 'keygen')).code).toBe(0);
    const built = await run(
      'melange',
      'build',
      'melange.yaml',
      '--arch',
      'x86_64',
      '--signing-key',
      'melange.rsa',
      '--repository-append',
      '../../.cache/bootstrap/repo',
      '--keyring-append',
      '../../test-fixtures/bootstrap/keys/tk-bootstrap.rsa.pub',
      '--cache-dir',
      '../../.cache/bootstrap/melange-cache',
      '--apk-cache-dir',
      join(tree, 'apk-cache'),
    );
    expect(built.code, built.stderr).toBe(0);
  }, 600_000);

  afterAll(() => {
    execFileSync('podman', ['rmi', '--ignore', `localhost/${TAG}-amd64`, `localhost/${TAG}`], {
      stdio: 'pipe',
    });
    rmSync(tree, { recursive: true, force: true });
  });

  const image = (out: string, sboms: string) =>
    run(
      'apko',
      'build',
      'apko.yaml',
      TAG,
      out,
      '--keyring-append',
      'melange.rsa.pub',
      '--arch',
      'amd64',
      '--sbom-path',
      sboms,
      '--cache-dir',
      join(tree, 'apko-cache'),
    );

  /** The single layer of the amd64 image in a tarball: path → size, with the installed database. */
  const layer = (tarball: string): { files: Map<string, number>; installed: string } => {
    const manifest = JSON.parse(
      execFileSync('tar', ['-xOf', tarball, 'manifest.json'], { encoding: 'utf8' }),
    ) as {
      Layers: string[];
    }[];
    const blob = execFileSync('tar', ['-xOf', tarball, manifest[0]!.Layers[0]!], { maxBuffer: 1 << 28 });
    const listing = execFileSync('tar', ['-tvz'], { input: blob, encoding: 'utf8', maxBuffer: 1 << 26 });
    const files = new Map<string, number>();
    for (const line of listing.split('\n')) {
      // -rw-r--r-- root/root 1234 2023-11-14 22:13 path[ -> target]; only regular files have a size here.
      const m = /^(\S)\S*\s+\S+\s+(\S+)\s+\S+\s+\S+\s+(.*?)(?: -> .*| link to .*)?$/.exec(line);
      if (m !== null) files.set(m[3]!, m[1] === '-' ? Number(m[2]) : 0);
    }
    const installed = execFileSync('tar', ['-xzO', 'lib/apk/db/installed'], {
      input: blob,
      encoding: 'utf8',
    });
    return { files, installed };
  };

  it('the package was built from source by tk, signed with the new key, with the test that the recipe names', async () => {
    const apk = join(dir, 'packages/x86_64/hello-2.10-r0.apk');
    expect(existsSync(apk)).toBe(true);
    const info = await run('apk', 'verify', apk, '--keyring', join(dir, 'melange.rsa.pub'));
    expect(info.code, info.stdout + info.stderr).toBe(0);
    expect(info.stdout).toContain('0 - OK');
    const tested = await run(
      'melange',
      'test',
      'melange.yaml',
      'hello',
      '--arch',
      'x86_64',
      '--repository-append',
      './packages',
      '--repository-append',
      '../../.cache/bootstrap/repo',
      '--keyring-append',
      'melange.rsa.pub',
      '--keyring-append',
      '../../test-fixtures/bootstrap/keys/tk-bootstrap.rsa.pub',
      '--apk-cache-dir',
      join(tree, 'apk-cache'),
    );
    expect(tested.code, tested.stderr).toBe(0);
    expect(tested.stderr + tested.stdout).toContain('hello (GNU Hello) 2.10');
  }, 300_000);

  it('the image holds hello and what it needs, no shell, under 10 MB, every byte owned by a package', async () => {
    const r = await image('hello.tar', 'sboms');
    expect(r.code, r.stderr).toBe(0);
    const { files, installed } = layer(join(dir, 'hello.tar'));
    const names = [...installed.matchAll(/^P:(.+)$/gm)].map((m) => m[1]).sort();
    expect(names).toEqual(EXPECTED);
    expect(installed).toMatch(/^P:hello\nV:2\.10-r0\n/m);
    expect(files.has('bin/sh')).toBe(false);
    expect(files.has('bin/busybox')).toBe(false);
    expect([...files.keys()].filter((f) => f.includes('/gconv/'))).toEqual([]);
    const bytes = [...files.values()].reduce((a, b) => a + b, 0);
    expect(bytes).toBeLessThan(10_000_000);

    const sbom = JSON.parse(readFileSync(join(dir, 'sboms/sbom-x86_64.spdx.json'), 'utf8')) as {
      packages: { name: string; externalRefs?: { referenceLocator: string }[] }[];
    };
    const apks = sbom.packages
      .filter((p) => (p.externalRefs ?? []).some((e) => e.referenceLocator.startsWith('pkg:apk/')))
      .map((p) => p.name)
      .sort();
    expect(apks).toEqual(EXPECTED);

    const verified = await run('apko', 'verify-image', 'hello.tar', '--sbom-path', 'sboms');
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  }, 300_000);

  it('runs in podman and prints Hello, world!; /bin/sh does not run', async () => {
    execFileSync('podman', ['load', '-i', join(dir, 'hello.tar')], { stdio: 'pipe' });
    expect(execFileSync('podman', [...PODMAN_RUN, `localhost/${TAG}-amd64`], { encoding: 'utf8' })).toBe(
      'Hello, world!\n',
    );
    let failed = false;
    try {
      execFileSync(
        'podman',
        [...PODMAN_RUN, '--entrypoint', '/bin/sh', `localhost/${TAG}-amd64`, '-c', 'true'],
        {
          stdio: 'pipe',
        },
      );
    } catch (error) {
      failed = true;
      expect(String((error as { stderr?: Buffer }).stderr)).toContain('/bin/sh');
    }
    expect(failed).toBe(true);
  }, 120_000);

  it('builds again to the same index digest and the same SBOMs', async () => {
    const first = await image('first.tar', 'sboms-first');
    const second = await image('second.tar', 'sboms-second');
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect(second.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect(readFileSync(join(dir, 'second.tar')).equals(readFileSync(join(dir, 'first.tar')))).toBe(true);
    for (const f of ['sbom-x86_64.spdx.json', 'sbom-index.spdx.json'])
      expect(readFileSync(join(dir, 'sboms-second', f), 'utf8')).toBe(
        readFileSync(join(dir, 'sboms-first', f), 'utf8'),
      );
  }, 120_000);
});
