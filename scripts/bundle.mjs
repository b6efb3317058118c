#!/usr/bin/env node
// Bundles the built tk binary (apps/tk/dist/main.js and everything it imports, node_modules included)
// into apps/tk/bundle/ with esbuild: ES modules split at every dynamic import, so each command still
// loads only its own code, from about 60 files instead of several hundred (docs/performance.md).
//
//   node scripts/bundle.mjs [--outdir DIR]     (pnpm run build runs it after tsc -b)
//
// apps/tk/bin/tk.mjs runs the bundle only while it is current: the bundle lists every input file with its
// size and mtime (inputs.json), and any difference (a later tsc -b, an edited worker, a reinstalled
// dependency) makes the launcher run dist/main.js instead. Files that code finds next to itself through
// `import.meta.url` (the deflate worker, the WebAssembly modules, melange's pipelines) stay where they are:
// in bundled code, `import.meta.url` becomes the original file's URL, relative to the bundle.
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'apps/tk/dist/main.js');
const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
// --outdir is for tests; apps/tk/bin/tk.mjs runs only apps/tk/bundle.
const outdir = resolve(values.outdir ?? join(root, 'apps/tk/bundle'));
const staging = `${outdir}.tmp-${process.pid}`;

/**
 * Leaves undici out of the bundle, imported from its installed location by a path relative to the bundle.
 * tk imports it only dynamically (on the first network request), and esbuild gives a dynamically imported
 * CommonJS chunk nothing but a default export, where Node's own loader gives its named exports (`Agent`,
 * `request`). Its entry file goes into inputs.json, so a reinstall elsewhere makes the bundle stale.
 */
const externalUndici = {
  name: 'external-undici',
  setup(b) {
    b.onResolve({ filter: /^undici$/ }, async (args) => {
      if (args.pluginData?.external === false) return undefined;
      const resolved = await b.resolve(args.path, {
        resolveDir: args.resolveDir,
        kind: args.kind,
        pluginData: { external: false },
      });
      if (resolved.errors.length > 0) return { errors: resolved.errors };
      externalFiles.add(resolved.path);
      return { path: `./${relative(outdir, resolved.path).split('\\').join('/')}`, external: true };
    });
  },
};
const externalFiles = new Set();

/** Rewrites `import.meta.url` in first-party files to the URL of the original file, relative to the bundle. */
const keepModuleUrls = {
  name: 'keep-module-urls',
  setup(b) {
    b.onLoad({ filter: /\.(m?js)$/ }, (args) => {
      if (args.path.includes('/node_modules/')) return undefined;
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const fromBundle = relative(outdir, args.path).split('\\').join('/');
      return {
        contents: text.replaceAll(
          'import.meta.url',
          `new URL(${JSON.stringify(fromBundle)}, import.meta.url).href`,
        ),
        loader: 'js',
      };
    });
  },
};

const start = performance.now();
rmSync(staging, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: entry },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir: staging,
  metafile: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  // CommonJS dependencies (commander, yaml, undici) call require(); ES module output has none.
  banner: {
    js: "import { createRequire as __tkRequire } from 'node:module'; const require = __tkRequire(import.meta.url);",
  },
  plugins: [externalUndici, keepModuleUrls],
});

const inputs = [...Object.keys(result.metafile.inputs).map((path) => resolve(root, path)), ...externalFiles]
  .sort()
  .map((path) => {
    const stat = statSync(path);
    return [relative(root, path), stat.size, stat.mtimeMs];
  });
writeFileSync(join(staging, 'inputs.json'), `${JSON.stringify({ entry: 'main.js', inputs })}\n`);
writeFileSync(join(staging, 'package.json'), '{ "type": "module" }\n');
rmSync(outdir, { recursive: true, force: true });
mkdirSync(dirname(outdir), { recursive: true });
renameSync(staging, outdir);
const files = Object.keys(result.metafile.outputs).length;
process.stdout.write(
  `bundle: ${files} files from ${inputs.length} inputs in ${relative(root, outdir)} ` +
    `(${((performance.now() - start) / 1000).toFixed(1)} s)\n`,
);
