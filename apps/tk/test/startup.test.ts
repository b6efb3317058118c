import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, ROOT } from './helpers.ts';

// A resolve hook that fails any import of the heavy libraries a command must not load (docs/performance.md).
const HEAVY = ['undici', 'zod', 'yaml'];
const HOOK = `export async function resolve(specifier, context, next) {
  if (${JSON.stringify(HEAVY)}.includes(specifier)) throw new Error('start-up loaded ' + specifier);
  return next(specifier, context);
}`;
const REGISTER = `import { register } from 'node:module'; register(${JSON.stringify(
  `data:text/javascript,${encodeURIComponent(HOOK)}`,
)});`;

function runBuilt(...args: string[]): string {
  const main = join(ROOT, 'apps/tk/dist/main.js');
  expect(existsSync(main), 'run `pnpm build` first (the test command does)').toBe(true);
  return execFileSync(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, main, ...args],
    { encoding: 'utf8' },
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
});
