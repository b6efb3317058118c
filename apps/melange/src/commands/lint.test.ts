import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { MelangeError } from '../errors.ts';
import { emitPackages } from '../package/emit.ts';
import { helloRecipe } from '../package/testdata/recipe.ts';
import { lintFiles, lintResultsJson } from './lint.ts';

const ROOT = join(import.meta.dirname, '../../../..');
const WOLFI_RECIPES = join(ROOT, 'test-fixtures/recipes/melange/wolfi');
const WOLFI_PIPELINES = join(ROOT, 'test-fixtures/recipes/melange/wolfi-pipelines');

let work: string;
beforeEach((ctx) => {
  work = mkdtempSync(join(tmpdir(), 'tk-lint-cmd-'));
  ctx.onTestFinished(() => rmSync(work, { recursive: true, force: true }));
});

/** A main-only `hello` package with a file in /dev (required linter) and one in /opt (warning). */
async function badPackage(): Promise<string> {
  const root = join(work, 'melange-out/hello');
  mkdirSync(join(root, 'dev'), { recursive: true });
  mkdirSync(join(root, 'opt/hello'), { recursive: true });
  writeFileSync(join(root, 'dev/hello'), 'x');
  writeFileSync(join(root, 'opt/hello/data'), 'y');
  for (const d of ['', 'dev', 'opt', 'opt/hello']) chmodSync(join(root, d), 0o755);
  const [pkg] = await emitPackages({
    compiled: helloRecipe({ mainOnly: true }),
    arch: 'aarch64',
    outputRoot: join(work, 'melange-out'),
    outDir: join(work, 'packages/aarch64'),
    sourceDateEpoch: 0,
    embeddedConfig: 'package:\n  name: hello\n  version: "2.12"\n  epoch: 3\n',
    toolVersion: '0.1.0-test',
  });
  return pkg!.path;
}

describe('lintFiles', () => {
  it('lints packages and recipes together, and reports the required failures', async () => {
    const apk = await badPackage();
    const result = await lintFiles({
      paths: [apk, join(WOLFI_RECIPES, 'zstd.yaml')],
      pipelineDirs: [WOLFI_PIPELINES],
    });
    expect(result.results.map((r) => [r.fullName, r.failed])).toEqual([
      ['hello-2.12-r3', ['dev']],
      ['zstd-1.5.7-r8', []],
    ]);
    expect(result.failure?.code).toBe('MELANGE_LINT_FAILED');
    expect(result.failure?.message).toBe('required linters failed: hello-2.12-r3: dev');
    expect(result.written).toEqual([]);
  });

  it('--persist-lint-results writes OUT-DIR/<arch>/lint-….json for packages with findings', async () => {
    const apk = await badPackage();
    const out = join(work, 'out');
    const result = await lintFiles({ paths: [apk], persist: true, outDir: out });
    expect(result.written).toEqual([join(out, 'aarch64/lint-hello-2.12-r3.json')]);
    expect(readdirSync(join(out, 'aarch64'))).toEqual(['lint-hello-2.12-r3.json']);
  });

  it('--disable and --lint-warn change the verdict; config/* names leave package lists alone', async () => {
    const apk = await badPackage();
    expect((await lintFiles({ paths: [apk], disable: ['dev'] })).failure).toBeUndefined();
    const warned = await lintFiles({ paths: [apk], require: ['usrmerge'], warn: ['dev'] });
    expect(warned.failure).toBeUndefined();
    expect(warned.results[0]?.findings.map((f) => [f.linter, f.level])).toEqual([['dev', 'warn']]);
    const configOnly = await lintFiles({ paths: [apk], require: ['config/license'] });
    expect(configOnly.results[0]?.failed).toEqual(['dev']);
  });

  it('an unknown linter name is refused before any file is read', async () => {
    const error = await lintFiles({ paths: [join(work, 'missing.apk')], require: ['dve'] }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MelangeError);
    expect((error as MelangeError).code).toBe('MELANGE_LINT_UNKNOWN_LINTER');
  });

  it('sniffs a package without the .apk suffix by its gzip magic', async () => {
    const apk = await badPackage();
    const renamed = join(work, 'hello.pkg');
    writeFileSync(renamed, readFileSync(apk));
    expect((await lintFiles({ paths: [renamed] })).results[0]?.failed).toEqual(['dev']);
  });

  it('JSON output: melange result shape plus file, arch, failed and each finding level', async () => {
    const apk = await badPackage();
    const { results } = await lintFiles({ paths: [apk] });
    const parsed = JSON.parse(lintResultsJson(results)) as unknown[];
    expect(parsed).toEqual([
      {
        file: apk,
        arch: 'aarch64',
        package_name: 'hello-2.12-r3',
        findings: {
          dev: [
            {
              message: 'hello writes to /dev',
              explain: expect.stringContaining('udev') as unknown,
              details: { paths: ['dev/hello'] },
              level: 'require',
            },
          ],
          opt: [
            {
              message: 'hello writes to /opt',
              explain: 'This package should be a -compat package',
              details: { paths: ['opt/hello/data'] },
              level: 'warn',
            },
          ],
        },
        failed: ['dev'],
      },
    ]);
  });
});
