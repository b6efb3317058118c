#!/usr/bin/env node
// Writes apps/melange/schema/melange.schema.json, the JSON Schema of melange recipes, from the zod schema
// (apps/melange/src/recipe/schema.ts, recipeJsonSchema) in the built dist: run `pnpm exec tsc -b` first.
// The text is prettier's formatting of the JSON (the same the committed file gets from `pnpm format`), so the
// output is deterministic. `--check` exits 1 when the committed file is stale (CI runs it; so does a test).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { recipeJsonSchema } from '../apps/melange/dist/recipe/schema.js';

const target = join(import.meta.dirname, '../apps/melange/schema/melange.schema.json');
const options = (await resolveConfig(target)) ?? {};
const text = await format(JSON.stringify(recipeJsonSchema()), { ...options, filepath: target });

if (process.argv.includes('--check')) {
  if (!existsSync(target) || readFileSync(target, 'utf8') !== text) {
    console.error(
      'apps/melange/schema/melange.schema.json is stale: run pnpm exec tsc -b && node scripts/gen-melange-schema.mjs',
    );
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
}
