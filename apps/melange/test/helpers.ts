/**
 * Shared set-up of the end-to-end build tests: the offline bootstrap repository and real source tarballs
 * (made by `scripts/setup.sh`), a signing key, the SPDX schema, and a build call with the defaults a
 * user's command line would give.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { generateKeyPair, writeKeyPair } from '@tk/keys';
import { buildPackages, type BuildResult } from '../src/build/build.ts';
import type { BuildOptions } from '../src/build/options.ts';
import { testPackages, type TestResult } from '../src/build/test.ts';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '../../..');
/** The bootstrap repository and its key. */
export const BOOTSTRAP = join(ROOT, '.cache/bootstrap/repo');
export const BOOTSTRAP_KEY = join(BOOTSTRAP, 'tk-bootstrap.rsa.pub');
/** Real upstream tarballs from Debian's source archive, and the same laid out as a melange cache. */
export const SOURCES = join(ROOT, '.cache/bootstrap/sources');
export const SOURCE_CACHE = join(ROOT, '.cache/bootstrap/melange-cache');
export const HELLO_SHA256 = '31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b';
export const GLPK_SHA256 = '4a1013eebb50f728fc601bdd833b0b2870333c3b3e5a816eeba921d95bec6f15';

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the machine can run real builds. CI always can (scripts/setup.sh builds the bootstrap
 * repository and installs bubblewrap); there a missing piece is a failure, not a skip.
 */
export function buildBench(options: { sources?: boolean } = {}): { ready: boolean; reason: string } {
  const missing: string[] = [];
  if (!existsSync(join(BOOTSTRAP, 'x86_64', 'APKINDEX.tar.gz')))
    missing.push('the bootstrap repository (.cache/bootstrap/repo)');
  if (options.sources === true && !existsSync(join(SOURCES, 'hello_2.10.orig.tar.gz')))
    missing.push('the source tarballs (.cache/bootstrap/sources)');
  if (!has('bwrap')) missing.push('bubblewrap');
  if (process.arch !== 'x64') missing.push('an x86_64 host');
  const reason = missing.length === 0 ? '' : `needs ${missing.join(', ')}: run ./scripts/setup.sh`;
  if (reason !== '' && process.env['CI'] === 'true')
    throw new Error(`end-to-end build tests cannot run in CI: ${reason}`);
  return { ready: reason === '', reason };
}

/** A fresh temporary folder. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `tk-e2e-${prefix}-`));
}

/**
 * One apk and guest cache for the end-to-end tests of a file (vitest evaluates this module once per test
 * file): a file's tests assemble each guest once. It lives in the run's temporary folder
 * (scripts/vitest-tmpdir.ts), removed when the run ends.
 */
export const APK_CACHE = mkdtempSync(join(tmpdir(), 'tk-e2e-apk-cache-'));

/** Write a 2048-bit signing key pair `DIR/melange.rsa(.pub)`. */
export async function makeKey(dir: string, name = 'melange.rsa'): Promise<string> {
  const path = join(dir, name);
  await writeKeyPair(path, await generateKeyPair({ bits: 2048 }));
  return path;
}

/** A validator for SPDX 2.3 documents (the official schema). */
export async function spdxValidator(): Promise<ValidateFunction> {
  const formats = (await import('ajv-formats')) as unknown as {
    default: ((ajv: Ajv) => Ajv) | { default: (ajv: Ajv) => Ajv };
  };
  const addFormats = typeof formats.default === 'function' ? formats.default : formats.default.default;
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  return ajv.compile(
    JSON.parse(
      readFileSync(join(ROOT, 'test-fixtures/schemas/spdx-2.3/spdx-schema-v2.3.json'), 'utf8'),
    ) as object,
  );
}

/** Build with a command line's defaults: bootstrap repository and key appended, SOURCE_DATE_EPOCH fixed. */
export async function build(
  configPath: string,
  options: Partial<BuildOptions> & { outDir: string; cacheDir: string },
): Promise<BuildResult> {
  const lines: string[] = [];
  try {
    return await buildPackages({
      configPath,
      hostArch: 'x86_64',
      archs: ['x86_64'],
      repositoryAppend: [BOOTSTRAP],
      keyringAppend: [BOOTSTRAP_KEY],
      env: { SOURCE_DATE_EPOCH: '1700000000' },
      isRoot: process.getuid?.() === 0,
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      toolVersion: '0.1.0',
      tempDir: tmpdir(),
      apkCacheDir: APK_CACHE,
      onStepOutput: (line) => void lines.push(line),
      ...options,
    });
  } catch (error) {
    if (process.env['TK_E2E_VERBOSE'] !== undefined) process.stderr.write(lines.join('\n') + '\n');
    throw error;
  }
}

/**
 * `tk melange test` of a recipe's built packages with a command line's defaults: the out-dir, the bootstrap
 * repository and key plus the signing key's public half.
 */
export function testBuilt(
  configPath: string,
  options: { outDir: string; cacheDir: string; publicKey: string; archs: string[]; tempDir: string },
): Promise<TestResult> {
  return testPackages({
    configPath,
    hostArch: 'x86_64',
    archs: options.archs,
    outDir: options.outDir,
    cacheDir: options.cacheDir,
    apkCacheDir: APK_CACHE,
    repositoryAppend: [BOOTSTRAP],
    keyringAppend: [BOOTSTRAP_KEY, options.publicKey],
    env: {},
    isRoot: process.getuid?.() === 0,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    toolVersion: '0.1.0',
    tempDir: options.tempDir,
  });
}
