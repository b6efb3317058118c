#!/usr/bin/env node
// The tk command. Runs the bundle (apps/tk/bundle/tk.cjs, made by scripts/bundle.mjs during
// `pnpm run build`) when every file it was made from is unchanged, compiled with a V8 code cache
// (code-cache.mjs), which starts each command about 0.1 s sooner; otherwise the compiled tree
// (dist/main.js), which is always current after tsc -b. Both run the same code.
// TK_NO_BUNDLE=1 always runs dist/main.js; TK_NO_CODE_CACHE=1 runs the bundle without the cache;
// TK_LAUNCHER_TRACE=1 says which one runs, on stderr.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadBundle } from './code-cache.mjs';
import { bundleIsCurrent } from './current.mjs';

const manifestUrl = new URL('../bundle/inputs.json', import.meta.url);
const trace = process.env.TK_LAUNCHER_TRACE === '1';
const bundle =
  process.env.TK_NO_BUNDLE !== '1' && bundleIsCurrent(manifestUrl, new URL('../../../', import.meta.url))
    ? JSON.parse(readFileSync(manifestUrl, 'utf8'))
    : undefined;
if (bundle === undefined || typeof bundle.sha256 !== 'string') {
  if (trace) process.stderr.write('tk: running dist/main.js\n');
  await import('../dist/main.js');
} else {
  // The task whose code cache is used: the command words before the first option.
  const words = [];
  for (const arg of process.argv.slice(2)) {
    if (arg.startsWith('-') || words.length === 2) break;
    words.push(arg);
  }
  const { exports, cache } = loadBundle(
    fileURLToPath(new URL(`../bundle/${bundle.entry}`, import.meta.url)),
    bundle.sha256,
    words.join(' '),
    process.env.TK_NO_CODE_CACHE !== '1',
  );
  if (trace) process.stderr.write(`tk: running the bundle (code cache: ${cache})\n`);
  const code = await exports.runProcess();
  // With nothing left to write, end now: Node's normal shutdown also tears down the heap, a few ms after
  // the work is done. Output still being written (an asynchronous pipe) is left to drain as usual.
  if (process.stdout.writableLength === 0 && process.stderr.writableLength === 0) process.exit(code);
  process.exitCode = code;
}
