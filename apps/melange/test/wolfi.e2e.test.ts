/**
 * Wolfi's own glpk.yaml, unchanged, built the way Wolfi's Makefile builds it: the same flags (runner,
 * caches, env files, namespace, licence, git URL, pipeline dir, package-append, the out-dir appended as a
 * repository, a local signing key), from a git checkout whose commit time becomes SOURCE_DATE_EPOCH.
 *
 * What a machine without Wolfi's repository forces, and nothing else:
 * - the Wolfi repository and key are replaced by the offline bootstrap repository and its key (Wolfi passes
 *   its own the same way, with --repository-append/--keyring-append);
 * - the source comes from a seeded --cache-dir (Debian's glpk_5.0.orig.tar.gz has exactly the sha256 the
 *   recipe expects), so the GNU mirror is never asked;
 * - the bootstrap provides Wolfi's package names from Debian 12 binaries: `build-base`, `busybox`,
 *   `ca-certificates-bundle`, `autoconf`, `automake`, `libtool`, and `gcc-14-default`, a hand-made package
 *   that is gcc 12 under Wolfi's name (Debian 12 has no gcc 14).
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readApk, verifyApk } from '@tk/apk';
import { fromUtf8 } from '@tk/core';
import { loadKeyring } from '@tk/keys';
import {
  BOOTSTRAP,
  BOOTSTRAP_KEY,
  GLPK_SHA256,
  ROOT,
  SOURCES,
  buildBench,
  makeKey,
  spdxValidator,
  tempDir,
} from './helpers.ts';

const bench = buildBench({ sources: true });
const WOLFI = join(ROOT, 'test-fixtures/recipes/melange');

describe.skipIf(!bench.ready)(`Wolfi's glpk.yaml${bench.ready ? '' : ` (skipped: ${bench.reason})`}`, () => {
  let checkout: string;
  let commit: string;

  beforeAll(async () => {
    checkout = tempDir('wolfi');
    cpSync(join(WOLFI, 'wolfi', 'glpk.yaml'), join(checkout, 'glpk.yaml'));
    for (const env of ['build-common.env', 'build-x86_64.env'])
      cpSync(join(WOLFI, 'wolfi', env), join(checkout, env));
    cpSync(join(WOLFI, 'wolfi-pipelines'), join(checkout, 'pipelines'), { recursive: true });
    await makeKey(checkout, 'local-melange.rsa');
    writeFileSync(join(checkout, '.gitignore'), 'packages/\nlocal-melange.rsa*\ncache/\n');
    const git = (...args: string[]): string =>
      execFileSync('git', ['-c', 'user.name=tk', '-c', 'user.email=tk@example.invalid', ...args], {
        cwd: checkout,
        encoding: 'utf8',
        env: {
          PATH: process.env['PATH'] ?? '/usr/bin:/bin',
          GIT_AUTHOR_DATE: '@1714000000 +0000',
          GIT_COMMITTER_DATE: '@1714000000 +0000',
          HOME: checkout,
        },
      });
    git('init', '-q');
    git('add', '.');
    git('commit', '-q', '-m', 'glpk');
    commit = git('rev-parse', 'HEAD').trim();
    mkdirSync(join(checkout, 'cache'), { recursive: true });
    cpSync(join(SOURCES, 'glpk_5.0.orig.tar.gz'), join(checkout, 'cache', `sha256:${GLPK_SHA256}`));
    mkdirSync(join(checkout, 'packages'), { recursive: true });
  });
  afterAll(() => rmSync(checkout, { recursive: true, force: true }));

  it("builds with the recipe as it is and Wolfi's Makefile flags", async () => {
    const argv = [
      join(ROOT, 'apps/tk/dist/main.js'),
      'melange',
      'build',
      'glpk.yaml',
      '--runner=qemu',
      `--apk-cache-dir=${join(checkout, 'apk-cache')}`,
      '--arch=x86_64',
      `--cache-dir=${join(checkout, 'cache')}`,
      '--cleanup',
      '--env-file=build-x86_64.env',
      '--env-file=build-common.env',
      '--git-repo-url=https://github.com/wolfi-dev/os',
      '--keyring-append=local-melange.rsa.pub',
      '--license=Apache-2.0',
      '--namespace=wolfi',
      '--package-append=busybox',
      '--pipeline-dir=./pipelines/',
      `--repository-append=${join(checkout, 'packages')}`,
      '--signing-key=local-melange.rsa',
      // The machine's substitute for Wolfi's repository and key:
      `--repository-append=${BOOTSTRAP}`,
      `--keyring-append=${BOOTSTRAP_KEY}`,
      '--offline',
    ];
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: checkout,
      TK_LOG_LEVEL: 'info',
    };
    // Asynchronously: a synchronous child would block the test worker for the whole build.
    try {
      await promisify(execFile)(process.execPath, argv, { cwd: checkout, env, maxBuffer: 64 << 20 });
    } catch (error) {
      const e = error as { stderr?: string };
      throw new Error(`tk melange build failed:\n${(e.stderr ?? '').slice(-4000)}`);
    }
    const path = join(checkout, 'packages', 'x86_64', 'glpk-5.0-r6.apk');
    const bytes = new Uint8Array(readFileSync(path));
    const keyring = await loadKeyring([join(checkout, 'local-melange.rsa.pub')]);
    expect(verifyApk(bytes, keyring).status).toBe('OK');
    const pkg = readApk(bytes);
    const info = pkg.pkginfo;
    expect([info.pkgname, info.pkgver, info.arch, info.license]).toEqual([
      'glpk',
      '5.0-r6',
      'x86_64',
      'GPL-3.0-or-later',
    ]);
    // SOURCE_DATE_EPOCH is the recipe's commit time; the commit is recorded.
    expect(info.builddate).toBe(1714000000);
    expect(info.commit).toBe(commit);
    expect(info.maintainer).toBe('wolfi');
    const paths = pkg.files.map((f) => f.path);
    expect(paths).toContain('usr/bin/glpsol');
    expect(paths).toContain('usr/include/glpk.h');
    expect(paths.some((p) => /^usr\/lib\/libglpk\.so\.40\.[0-9.]+$/.test(p))).toBe(true);
    expect(paths.some((p) => p.endsWith('.la'))).toBe(false);
    expect(info.provides).toEqual(expect.arrayContaining(['cmd:glpsol=5.0-r6', 'so:libglpk.so.40=40']));
    expect(info.depend).toContain('so:libc.so.6');
    // The SBOM names Wolfi as the namespace, the recipe in its repository at the commit, and the source.
    const sbomText = fromUtf8(
      pkg.files.find((f) => f.path === 'var/lib/db/sbom/glpk-5.0-r6.spdx.json')!.data,
    );
    const validate = await spdxValidator();
    expect(validate(JSON.parse(sbomText)), JSON.stringify(validate.errors)).toBe(true);
    expect(sbomText).toContain('pkg:apk/wolfi/glpk@5.0-r6');
    expect(sbomText).toContain(`pkg:github/wolfi-dev/os@${commit}#glpk.yaml`);
    expect(sbomText).toContain(GLPK_SHA256);
    // The --env-file values stay out of the embedded recipe (melange #2624).
    const embedded = fromUtf8(pkg.control.find((c) => c.name === '.melange.yaml')!.data);
    expect(embedded).not.toContain('PYTHONHASHSEED');
    expect(embedded).not.toContain('npm_config_ignore_scripts');
    expect(embedded).toMatch(/gcc-14-default=/);
  }, 600_000);
});
