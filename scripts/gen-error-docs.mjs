#!/usr/bin/env node
// Generates docs/errors.md from the error-code unions in every package's errors.ts (the documented source
// of truth). `--check` fails when the committed file is stale (CI runs it).
import { readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Every errors.ts under a package's src/, sorted. */
function errorFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...errorFiles(path));
    else if (entry.name === 'errors.ts') out.push(path);
  }
  return out;
}

const root = join(import.meta.dirname, '..');
const rows = [];
for (const group of ['packages', 'apps']) {
  for (const dir of readdirSync(join(root, group)).sort()) {
    for (const file of errorFiles(join(root, group, dir, 'src'))) {
      const text = readFileSync(file, 'utf8');
      const re = /\/\*\*\s*((?:(?!\*\/)[\s\S])*?)\*\/\s*\|?\s*'([A-Z0-9_]+)'/g;
      for (const m of text.matchAll(re)) {
        const doc = m[1].replace(/\s*\n\s*\*\s*/g, ' ').trim();
        rows.push(
          `| \`${m[2]}\` | \`${relative(root, file).replace(/\/src\/.*$/, '')}\` | ${doc.replace(/\|/g, '\\|')} |`,
        );
      }
    }
  }
}
const out = `# Error codes

Every error tk reports prints as \`error [CODE] message\` followed by a \`hint:\` line. Codes are stable;
scripts may match on them. This file is generated from the packages' \`errors.ts\` by
\`node scripts/gen-error-docs.mjs\`; CI fails when it is stale.

| code | package | meaning |
|---|---|---|
${rows.join('\n')}
`;
const target = join(root, 'docs/errors.md');
if (process.argv.includes('--check')) {
  if (!existsSync(target) || readFileSync(target, 'utf8') !== out) {
    console.error('docs/errors.md is stale: run node scripts/gen-error-docs.mjs');
    process.exit(1);
  }
} else {
  writeFileSync(target, out);
}
