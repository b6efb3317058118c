import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { beforeEach, describe, expect, it } from 'vitest';
import { createRecordingLogger } from '@tk/core';
import type { CliContext } from '@tk/cli';
import type { MelangeError } from '../errors.ts';
import { addMoreCommands } from './more-commands.ts';

const ROOT = join(import.meta.dirname, '../../../..');
const WOLFI = join(ROOT, 'test-fixtures/recipes/melange/wolfi');

let work: string;
beforeEach((ctx) => {
  work = mkdtempSync(join(tmpdir(), 'tk-more-cli-'));
  ctx.onTestFinished(() => rmSync(work, { recursive: true, force: true }));
});

/** Run `melange ARGS` in-process: stdout, the log and what was thrown. */
async function melange(...args: string[]): Promise<{ stdout: string; error?: unknown; log: string[] }> {
  let stdout = '';
  const logger = createRecordingLogger();
  const ctx: CliContext = {
    cwd: work,
    env: { TMPDIR: work },
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: () => true },
    isTTY: false,
    logLevel: 'info',
    logger,
  };
  const command = new Command('melange').exitOverride();
  addMoreCommands(command, ctx);
  for (const sub of command.commands)
    sub.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  try {
    await command.parseAsync(args, { from: 'user' });
    return { stdout, log: logger.messages.map((m) => m.message) };
  } catch (error) {
    return { stdout, error, log: logger.messages.map((m) => m.message) };
  }
}

describe('tk melange query / package-version', () => {
  it('prints the rendered template without adding a newline', async () => {
    const { stdout, error } = await melange(
      'query',
      join(WOLFI, 'zstd.yaml'),
      '{{.Package.Name}}-{{.Package.Version}}-r{{.Package.Epoch}}',
    );
    expect(error).toBeUndefined();
    expect(stdout).toBe('zstd-1.5.7-r8');
  });

  it('package-version finds melange.yaml in the working folder when no file is given', async () => {
    copyFileSync(join(WOLFI, 'glpk.yaml'), join(work, 'melange.yaml'));
    expect((await melange('package-version')).stdout).toBe('glpk-5.0-r6');
    expect((await melange('package-version', join(WOLFI, 'gmp.yaml'))).stdout).toBe('gmp-6.3.0-r8');
  });

  it('an unknown field fails with its code', async () => {
    const { error } = await melange('query', join(WOLFI, 'zstd.yaml'), '{{.Pkg}}');
    expect((error as MelangeError).code).toBe('MELANGE_QUERY_UNKNOWN_FIELD');
  });
});

describe('tk melange lint', () => {
  const bad = 'package:\n  name: broken\n  version: "1.0-r1"\n  epoch: 0\n';

  it('prints text results and fails when a required linter fails', async () => {
    writeFileSync(join(work, 'broken.yaml'), bad);
    const { stdout, error } = await melange('lint', 'broken.yaml');
    expect((error as MelangeError).code).toBe('MELANGE_LINT_FAILED');
    expect(stdout).toContain('broken (');
    expect(stdout).toContain('FAILED (config/version, config/license, config/empty)');
    expect(stdout).toContain('[config/license] broken declares no licence');
  });

  it('--format json, --lint-warn with comma lists, --pipeline-dir', async () => {
    writeFileSync(join(work, 'broken.yaml'), bad);
    const { stdout, error } = await melange(
      'lint',
      '--format',
      'json',
      '--lint-warn',
      'config/version,config/license',
      '--lint-warn',
      'config/empty',
      '--pipeline-dir',
      join(ROOT, 'test-fixtures/recipes/melange/wolfi-pipelines'),
      'broken.yaml',
      join(WOLFI, 'zstd.yaml'),
    );
    expect(error).toBeUndefined();
    const parsed = JSON.parse(stdout) as {
      package_name: string;
      failed: string[];
      findings: Record<string, unknown>;
    }[];
    expect(parsed.map((r) => [r.package_name, r.failed, Object.keys(r.findings)])).toEqual([
      ['broken', [], ['config/empty', 'config/license', 'config/version']],
      ['zstd-1.5.7-r8', [], []],
    ]);
  });

  it('--persist-lint-results --out-dir', async () => {
    writeFileSync(join(work, 'broken.yaml'), bad);
    await melange('lint', '--persist-lint-results', '--out-dir', 'results', 'broken.yaml');
    const written = JSON.parse(readFileSync(join(work, 'results/lint-broken.json'), 'utf8')) as {
      package_name: string;
    };
    expect(written.package_name).toBe('broken');
  });

  it('unknown linter names are refused', async () => {
    const { error } = await melange('lint', '--disable', 'nope', 'x.apk');
    expect((error as MelangeError).code).toBe('MELANGE_LINT_UNKNOWN_LINTER');
  });
});

describe('tk melange bump', () => {
  it('rewrites the recipe in place; --dry-run prints it instead', async () => {
    copyFileSync(join(WOLFI, 'zstd.yaml'), join(work, 'zstd.yaml'));
    const dry = await melange('bump', 'zstd.yaml', '1.5.8', '--dry-run');
    expect(dry.stdout).toContain('version: "1.5.8"');
    expect(readFileSync(join(work, 'zstd.yaml'), 'utf8')).toBe(
      readFileSync(join(WOLFI, 'zstd.yaml'), 'utf8'),
    );
    const commit = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    const { error, log } = await melange('bump', 'zstd.yaml', '1.5.8', '--expected-commit', commit);
    expect(error).toBeUndefined();
    const text = readFileSync(join(work, 'zstd.yaml'), 'utf8');
    expect(text).toContain('version: "1.5.8"\n  epoch: 0 # add functional tests');
    expect(text).toContain(`expected-commit: ${commit}`);
    expect(log).toContain('zstd: 1.5.7-r8 → 1.5.8-r0');
  });

  it('a bad version is refused', async () => {
    copyFileSync(join(WOLFI, 'zstd.yaml'), join(work, 'zstd.yaml'));
    const { error } = await melange('bump', 'zstd.yaml', '1.5.8-r0');
    expect((error as MelangeError).code).toBe('MELANGE_BUMP_BAD_INPUT');
  });
});
