import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

// Tests run against sources: every workspace package name maps to its src/index.ts, so no build is needed.
// Subpath exports (`@tk/melange/cli` → dist/cli/melange.js) map to the matching source file; they come first,
// because an alias for `@tk/melange` also matches `@tk/melange/…`.
const root = import.meta.dirname;
const subpaths: { find: string; replacement: string }[] = [];
const packages: { find: string; replacement: string }[] = [];
for (const group of ['packages', 'apps']) {
  for (const dir of readdirSync(join(root, group))) {
    const manifest = join(root, group, dir, 'package.json');
    const entry = join(root, group, dir, 'src', 'index.ts');
    if (!existsSync(manifest) || !existsSync(entry)) continue;
    const { name, exports } = JSON.parse(readFileSync(manifest, 'utf8')) as {
      name: string;
      exports?: Record<string, string | { default?: string }>;
    };
    for (const [key, target] of Object.entries(exports ?? {})) {
      const file = typeof target === 'string' ? target : target.default;
      if (key === '.' || file === undefined || !/^\.\/dist\/.*\.js$/.test(file)) continue;
      const source = file.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts');
      subpaths.push({ find: `${name}/${key.slice(2)}`, replacement: resolve(root, group, dir, source) });
    }
    packages.push({ find: name, replacement: resolve(entry) });
  }
}
const alias = [...subpaths, ...packages];

export default defineConfig({
  resolve: { alias },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'apps/*/src/**/*.test.ts',
      'apps/*/test/**/*.test.ts',
      'scripts/**/*.test.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One temporary folder per run, removed at its end (scripts/vitest-tmpdir.ts).
    globalSetup: ['scripts/vitest-tmpdir.ts'],
    reporters: ['default'],
  },
});
