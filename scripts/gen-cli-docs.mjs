#!/usr/bin/env node
// Generates docs/cli.md from the commands' own --help (run `pnpm build` first). `--check` fails when the
// committed file is stale (CI runs it).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../apps/tk/dist/index.js';

const root = join(import.meta.dirname, '..');
async function help(args) {
  let out = '';
  await runCli([...args, '--help'], {
    cwd: root,
    env: {},
    stdout: { write: (s) => (out += s) },
    stderr: { write: (s) => (out += s) },
  });
  return out.trimEnd();
}
const commands = [
  [],
  ['melange'],
  ['melange', 'keygen'],
  ['melange', 'index'],
  ['melange', 'sign'],
  ['melange', 'sign-index'],
  ['melange', 'build'],
  ['melange', 'test'],
  ['melange', 'compile'],
  ['melange', 'lint'],
  ['melange', 'query'],
  ['melange', 'package-version'],
  ['melange', 'bump'],
  ['apko'],
  ['apko', 'build'],
  ['apko', 'publish'],
  ['apko', 'lock'],
  ['apko', 'show-packages'],
  ['apko', 'build-minirootfs'],
  ['apko', 'show-config'],
  ['apko', 'login'],
  ['apko', 'verify-image'],
  ['apk'],
  ['apk', 'verify'],
  ['apk', 'info'],
];
let doc =
  "# Command reference\n\nGenerated from the commands' own `--help` by `node scripts/gen-cli-docs.mjs`; CI fails when it is stale.\n";
for (const args of commands) doc += `\n## tk ${args.join(' ')}\n\n\`\`\`\n${await help(args)}\n\`\`\`\n`;
const target = join(root, 'docs/cli.md');
if (process.argv.includes('--check')) {
  if (!existsSync(target) || readFileSync(target, 'utf8') !== doc) {
    console.error('docs/cli.md is stale: run pnpm build && node scripts/gen-cli-docs.mjs');
    process.exit(1);
  }
} else writeFileSync(target, doc);
