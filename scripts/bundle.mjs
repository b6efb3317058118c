#!/usr/bin/env node
// Bundles the built tk binary (apps/tk/dist/process.js and everything it imports, node_modules included)
// into one CommonJS file, apps/tk/bundle/tk.cjs, with esbuild. apps/tk/bin/tk.cjs compiles it with a V8
// code cache kept next to it, so a command neither resolves several hundred modules nor parses and compiles
// the functions it ran last time (docs/performance.md, decision 26).
//
//   node scripts/bundle.mjs [--outdir DIR]     (pnpm run build runs it after tsc -b)
//
// apps/tk/bin/tk.cjs runs the bundle only while it is current: inputs.json lists every input file with its
// size and mtime, and a few guard files that change whenever inputs do (see guardOf); any difference in a
// guard (a later tsc -b, an edited worker, a reinstalled dependency) makes the launcher run dist/main.js
// instead. Files that code finds next to itself through
// `import.meta.url` (the deflate worker, the WebAssembly modules, melange's pipelines) stay where they are:
// in bundled code, `import.meta.url` becomes the original file's URL, relative to the bundle.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import codeCache from '../apps/tk/bin/code-cache.cjs';

// The launcher compiles a bundle as one function expression (a CommonJS module body); the file holds it
// already wrapped, so that the launcher does not build a second copy of the source.
const { WRAPPER_START } = codeCache;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'apps/tk/dist/process.js');
const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
// --outdir is for tests; apps/tk/bin/tk.cjs runs only apps/tk/bundle.
const outdir = resolve(values.outdir ?? join(root, 'apps/tk/bundle'));
const staging = `${outdir}.tmp-${process.pid}`;
const bundleName = 'tk.cjs';

/** A path from the bundle's folder, as a JavaScript string literal. */
const fromBundle = (path) => JSON.stringify(relative(outdir, path).split('\\').join('/'));

/**
 * An esbuild plugin that leaves the package `name` out of the bundle: every import of it is required at
 * run time from the path `external(resolvedPath)` returns, relative to the bundle's folder.
 */
function requiredFrom(name, external) {
  const filter = new RegExp(`^${name}$`);
  return {
    name: `external-${name}`,
    setup(b) {
      b.onResolve({ filter }, async (args) => {
        if (args.pluginData?.[name] === 'resolving') return undefined;
        const resolved = await b.resolve(args.path, {
          resolveDir: args.resolveDir,
          kind: args.kind,
          pluginData: { [name]: 'resolving' },
        });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        return { path: external(resolved.path), external: true };
      });
    },
  };
}

/**
 * Leaves undici out of the bundle, required from its installed location by a path relative to the bundle
 * (the launcher's `require` resolves from the bundle's folder). tk loads it only on the first network
 * request. Its entry file goes into inputs.json, so a reinstall elsewhere makes the bundle stale.
 */
const externalFiles = new Set();
const externalUndici = requiredFrom('undici', (path) => {
  externalFiles.add(path);
  return `./${JSON.parse(fromBundle(path))}`;
});

/**
 * Keeps zod out of tk.cjs: it becomes a bundle of its own, zod.cjs, required as "./zod.cjs" (the launcher
 * loads it through its code cache too). A command that reads no melange recipe and only valid apko
 * configurations never loads it; the others load it on first use. V8 reads a code cache's description
 * of every function in a script, so zod's half megabyte in tk.cjs cost every command about 5 ms and 2 MiB.
 */
const ZOD_BUNDLE = 'zod.cjs';
const zodEntries = new Set();
const separateZod = requiredFrom('zod', (path) => {
  zodEntries.add(path);
  return `./${ZOD_BUNDLE}`;
});

/**
 * Rewrites `import.meta.url` in first-party files to the URL of the original file, relative to the bundle
 * (`__tkBundleUrl` is set by the banner from the bundle's own file name).
 */
const keepModuleUrls = {
  name: 'keep-module-urls',
  setup(b) {
    b.onLoad({ filter: /\.(m?js)$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta')) return undefined;
      if (args.path.includes('/node_modules/'))
        return { errors: [{ text: `${args.path} uses import.meta, which the CommonJS bundle cannot keep` }] };
      return {
        contents: text.replaceAll('import.meta.url', `new URL(${fromBundle(args.path)}, __tkBundleUrl).href`),
        loader: 'js',
      };
    });
  },
};

/**
 * commander requires `node:child_process` when it loads, for executable subcommands, which tk does not
 * have: loading it (with `net`, `dgram` and their internals) costs every command about 6 ms and 2 MiB. For
 * commander only, it becomes an object that loads the real module on first use.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[/\\]commander[/\\]/.test(args.importer)
        ? { path: 'child_process', namespace: 'lazy-builtin' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, () => ({
      loader: 'js',
      contents:
        'let real;\n' +
        'const load = () => (real ??= require("node:child_process"));\n' +
        'module.exports = new Proxy({}, { get: (_, key) => load()[key], has: (_, key) => key in load() });\n',
    }));
  },
};

const start = performance.now();
rmSync(staging, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: [entry],
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  outfile: join(staging, bundleName),
  metafile: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  // `import()` of undici becomes `require()`: code compiled by vm.Script has no dynamic import.
  supported: { 'dynamic-import': false },
  banner: {
    js: `${WRAPPER_START}\nconst __tkBundleUrl = require("node:url").pathToFileURL(__filename).href;`,
  },
  footer: { js: '})' },
  plugins: [externalUndici, keepModuleUrls, lazyChildProcess, separateZod],
});
if (zodEntries.size !== 1)
  throw new Error(
    `expected one zod for every importer, found ${zodEntries.size}: ${[...zodEntries].join(', ')}`,
  );
const zodResult = await build({
  absWorkingDir: root,
  entryPoints: [...zodEntries],
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  outfile: join(staging, ZOD_BUNDLE),
  banner: { js: WRAPPER_START },
  footer: { js: '})' },
  metafile: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
});

const code = readFileSync(join(staging, bundleName));
const inputs = [
  ...new Set(
    [...Object.keys(result.metafile.inputs), ...Object.keys(zodResult.metafile.inputs)]
      .filter((path) => !path.includes(':'))
      .map((path) => resolve(root, path)),
  ),
  ...externalFiles,
]
  .sort()
  .map((path) => relative(root, path));
const withStat = (path) => {
  const stat = statSync(join(root, path));
  return [path, stat.size, stat.mtimeMs];
};
/**
 * The files the launcher checks, instead of all ~400 inputs (stat calls cost it 6-15 ms and 4-8 MiB per
 * command): for compiled files, their project's tsconfig.tsbuildinfo, which `tsc -b` rewrites whenever it
 * writes a project's output; for node_modules, pnpm's node_modules/.modules.yaml, rewritten by every
 * install; every other input (a worker, a hand-written file) itself. A file that changes without its
 * guard (a hand-edited dist file) goes unnoticed until the next `pnpm run build`.
 */
function guardOf(path) {
  if (path.startsWith('node_modules/') && existsSync(join(root, 'node_modules/.modules.yaml')))
    return 'node_modules/.modules.yaml';
  const project = /^(.*?)\/dist\//.exec(path)?.[1];
  if (project !== undefined && existsSync(join(root, project, 'tsconfig.tsbuildinfo')))
    return `${project}/tsconfig.tsbuildinfo`;
  return path;
}
const guards = [...new Set(inputs.map(guardOf))].sort().map(withStat);
// sha256 names the code cache: V8 checks a cache against the source's length only.
const sha256 = createHash('sha256').update(code).digest('hex');
// Bundles tk.cjs requires by these names, with their SHA-256 (for their code caches).
const sides = {
  [`./${ZOD_BUNDLE}`]: createHash('sha256')
    .update(readFileSync(join(staging, ZOD_BUNDLE)))
    .digest('hex'),
};
writeFileSync(
  join(staging, 'inputs.json'),
  `${JSON.stringify({ entry: bundleName, sha256, sides, guards, inputs: inputs.map(withStat) })}\n`,
);
rmSync(outdir, { recursive: true, force: true });
mkdirSync(dirname(outdir), { recursive: true });
renameSync(staging, outdir);
process.stdout.write(
  `bundle: ${relative(root, join(outdir, bundleName))} (${(code.length / 1048576).toFixed(1)} MiB) from ` +
    `${inputs.length} inputs (${((performance.now() - start) / 1000).toFixed(1)} s)\n`,
);
