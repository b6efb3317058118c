import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, ROOT } from './helpers.ts';

// A resolve hook that fails any import of the heavy libraries a command must not load (docs/performance.md).
const HEAVY = ['undici', 'zod', 'yaml'];
// What resolving alone (show-packages) must not load: the image assembly code.
const ASSEMBLY = ['@tk/oci', '@tk/rootfs', '@tk/sbom'];

function hook(forbidden: readonly string[]): string {
  return `export async function resolve(specifier, context, next) {
  if (${JSON.stringify(forbidden)}.includes(specifier) || /\\/assemble\\.js$/.test(specifier))
    throw new Error('start-up loaded ' + specifier);
  return next(specifier, context);
}`;
}

function runBuilt(...args: string[]): string {
  return runBuiltWithout(HEAVY, ...args);
}

function runBuiltWithout(forbidden: readonly string[], ...args: string[]): string {
  const main = join(ROOT, 'apps/tk/dist/main.js');
  expect(existsSync(main), 'run `pnpm build` first (the test command does)').toBe(true);
  const register = `import { register } from 'node:module'; register(${JSON.stringify(
    `data:text/javascript,${encodeURIComponent(hook(forbidden))}`,
  )});`;
  return execFileSync(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(register)}`, main, ...args],
    { encoding: 'utf8', cwd: ROOT },
  );
}

describe('start-up loads only what the command uses', () => {
  it.each([
    [['--help']],
    [['apko', '--help']],
    [['melange', 'build', '--help']],
    [['apko', 'publish', '--help']],
  ])('tk %j loads no HTTP client, schema library or YAML parser', (args) => {
    expect(runBuilt(...args)).toMatch(/^Usage: tk/);
  });

  it('tk apk verify of a local package loads none of them', () => {
    const out = runBuilt(
      'apk',
      'verify',
      '--keyring',
      join(FIXTURES, 'apko-testrepo/melange.rsa.pub'),
      join(FIXTURES, 'apko-testrepo/x86_64/replayout-1.0.0-r0.apk'),
    );
    expect(out).toMatch(/: 0 - OK\n$/);
  });

  // The bootstrap repository (scripts/setup.sh) is a local file repository: nothing is fetched.
  it('tk apko show-packages resolves without loading the image assembly code', () => {
    const out = runBuiltWithout(
      ASSEMBLY,
      'apko',
      'show-packages',
      'examples/apko/hello.yaml',
      '--arch',
      'amd64',
      '--offline',
    );
    expect(out).toMatch(/^hello /m);
  });
});
