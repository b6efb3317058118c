import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { createRecordingLogger } from '@tk/core';
import { MelangeError } from '../errors.ts';
import { emitPackages } from '../package/emit.ts';
import { helloRecipe } from '../package/testdata/recipe.ts';
import { lintApkFile } from './apk.ts';
import { EM } from './elf-sections.ts';
import { persistLintResults } from './results.ts';
import { buildSectionElf } from './testdata/elf.ts';

const ROOT = join(import.meta.dirname, '../../../..');
const WOLFI = join(ROOT, 'test-fixtures/real/wolfi');

/** The embedded config of the test packages: what melange writes into `.melange.yaml`. */
const EMBEDDED = `package:
  name: hello
  version: "2.12"
  epoch: 3
  checks:
    disabled:
      - usrmerge
subpackages:
  - name: hello-dev
    test:
      pipeline:
        - uses: test/pkgconf
test:
  pipeline:
    - runs: hello
`;

let work: string;
beforeEach((ctx) => {
  work = mkdtempSync(join(tmpdir(), 'tk-lint-apk-'));
  ctx.onTestFinished(() => rmSync(work, { recursive: true, force: true }));
});

function put(path: string, data: string | Uint8Array, mode: number): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, data);
  chmodSync(path, mode);
}

/** Build hello and hello-dev from a tree with known problems; returns the two apk paths. */
async function buildPackages(embeddedConfig = EMBEDDED): Promise<{ hello: string; dev: string }> {
  const out = join(work, 'melange-out');
  const main = join(out, 'hello');
  const dev = join(out, 'hello-dev');
  put(join(main, 'usr/bin/hello'), buildSectionElf({ sections: ['.text', '.debug_info'] }).bytes, 0o755);
  put(join(main, 'usr/sbin/helper'), '#!/bin/sh\necho help\n', 0o755);
  put(
    join(main, 'usr/lib/libhello.so.1'),
    buildSectionElf({ machine: EM.RISCV, sections: ['.text'] }).bytes,
    0o755,
  );
  put(join(dev, 'usr/lib/pkgconfig/hello.pc'), 'Name: hello\nVersion: 2.12\n', 0o644);
  put(join(dev, 'usr/lib/libhello.la'), "# libtool\ndlname='libhello.so.1'\n", 0o644);
  put(join(dev, 'usr/lib/libhello.a'), '!<arch>\n', 0o644);
  execFileSync('find', [out, '-type', 'd', '-exec', 'chmod', '0755', '{}', '+']);
  const emitted = await emitPackages({
    compiled: helloRecipe(),
    arch: 'x86_64',
    outputRoot: out,
    outDir: join(work, 'packages', 'x86_64'),
    sourceDateEpoch: 1_700_000_000,
    embeddedConfig,
    toolVersion: '0.1.0-test',
  });
  return { hello: emitted[0]!.path, dev: emitted[1]!.path };
}

async function badInput(promise: Promise<unknown>): Promise<MelangeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MelangeError);
  expect((error as MelangeError).code).toBe('MELANGE_LINT_BAD_INPUT');
  return error as MelangeError;
}

describe('lintApkFile on packages built by emitPackages', () => {
  it('uses the embedded .melange.yaml: checks.disabled lowers usrmerge to warn', async () => {
    const { hello } = await buildPackages();
    const result = await lintApkFile(hello);
    expect(result).toMatchObject({
      package: 'hello',
      fullName: 'hello-2.12-r3',
      arch: 'x86_64',
      file: hello,
    });
    expect(result.findings.map((f) => [f.linter, f.level])).toEqual([
      ['binaryarch', 'warn'],
      ['lddcheck', 'warn'],
      ['strip', 'warn'],
      ['usrmerge', 'warn'],
    ]);
    expect(result.failed).toEqual([]);
    expect(result.findings.find((f) => f.linter === 'lddcheck')?.message).toBe(
      'hello contains shared objects but test/ldd-check is not configured',
    );
    expect(result.findings.find((f) => f.linter === 'strip')?.details).toEqual({
      binaries: ['usr/bin/hello'],
    });
  });

  it('a subpackage: its own test (test/pkgconf) counts, libtool archives fail it', async () => {
    const { dev } = await buildPackages();
    const result = await lintApkFile(dev);
    expect(result.findings.map((f) => f.linter)).toEqual(['libtool/la-files']);
    expect(result.failed).toEqual(['libtool/la-files']);
  });

  it('persists melange-shaped JSON for packages with findings', async () => {
    const { hello, dev } = await buildPackages();
    const results = [await lintApkFile(hello), await lintApkFile(dev)];
    const written = await persistLintResults(results, join(work, 'lint-out'));
    expect(written).toEqual([
      join(work, 'lint-out/x86_64/lint-hello-2.12-r3.json'),
      join(work, 'lint-out/x86_64/lint-hello-dev-2.12-r3.json'),
    ]);
    await expect(readFileSync(written[1]!, 'utf8')).toMatchFileSnapshot(
      'testdata/golden/lint-hello-dev-2.12-r3.json',
    );
    await expect(readFileSync(written[0]!, 'utf8')).toMatchFileSnapshot(
      'testdata/golden/lint-hello-2.12-r3.json',
    );
  });

  it('lints without the recipe when the embedded config is unreadable, and says so', async () => {
    const { hello } = await buildPackages('package: [unclosed\n');
    const logger = createRecordingLogger();
    const result = await lintApkFile(hello, { logger });
    expect(logger.messages.filter((m) => m.code === 'MELANGE_LINT_BAD_CONFIG')).toHaveLength(1);
    // Without the recipe, usrmerge is required again and lddcheck says the config is missing.
    expect(result.failed).toEqual(['usrmerge']);
  });

  it('an alias bomb in the embedded config is refused, not expanded', async () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 12; i++)
      bomb.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)}]`,
      );
    const { hello } = await buildPackages(`${bomb.join('\n')}\n`);
    const logger = createRecordingLogger();
    const result = await lintApkFile(hello, { logger });
    expect(logger.messages.some((m) => m.code === 'MELANGE_LINT_BAD_CONFIG')).toBe(true);
    expect(result.package).toBe('hello');
  });
});

describe('lintApkFile on real Wolfi packages', () => {
  it('libcap (no .melange.yaml): shared objects without an ldd-check test', async () => {
    const logger = createRecordingLogger();
    const result = await lintApkFile(join(WOLFI, 'libcap-2.69-r0.apk'), { logger });
    expect(result).toMatchObject({ fullName: 'libcap-2.69-r0', arch: 'aarch64', failed: [] });
    expect(result.findings.map((f) => [f.linter, f.message])).toEqual([
      ['lddcheck', 'libcap contains shared objects but missing .melange.yaml'],
    ]);
    expect(logger.messages.some((m) => m.code === 'MELANGE_LINT_NO_CONFIG')).toBe(true);
  });

  it('kubeflow-pipelines: nothing but its SBOM, no findings', async () => {
    const result = await lintApkFile(join(WOLFI, 'kubeflow-pipelines-2.1.3-r7.apk'));
    expect(result.findings).toEqual([]);
  });

  it('ruby3.2-base64: documentation is off by default, and found when asked for', async () => {
    const path = join(WOLFI, 'ruby3.2-base64-0.2.0-r2.apk');
    expect((await lintApkFile(path)).findings).toEqual([]);
    const result = await lintApkFile(path, { warn: ['documentation'], require: [] });
    expect(result.findings.map((f) => [f.linter, f.details])).toEqual([
      ['documentation', { paths: ['usr/lib/ruby/gems/3.2.0/gems/base64-0.2.0/README.md'] }],
    ]);
  });
});

describe('lintApkFile refuses what is not a package', () => {
  it('a missing file, a folder, a FIFO, random bytes, a truncated apk, an oversized file', async () => {
    await badInput(lintApkFile(join(work, 'missing.apk')));
    await badInput(lintApkFile(work));
    execFileSync('mkfifo', [join(work, 'fifo.apk')]);
    await badInput(lintApkFile(join(work, 'fifo.apk')));
    writeFileSync(join(work, 'junk.apk'), 'not a package at all');
    await badInput(lintApkFile(join(work, 'junk.apk')));
    const real = readFileSync(join(WOLFI, 'libcap-2.69-r0.apk'));
    writeFileSync(join(work, 'cut.apk'), real.subarray(0, real.length - 100));
    await badInput(lintApkFile(join(work, 'cut.apk')));
    const big = await badInput(lintApkFile(join(WOLFI, 'libcap-2.69-r0.apk'), { maxBytes: 1000 }));
    expect(big.message).toMatch(/over the 1000-byte limit/);
  });
});
