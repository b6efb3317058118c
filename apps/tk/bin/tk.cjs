#!/usr/bin/env node
// The tk command. Runs the bundle (apps/tk/bundle/tk.cjs, made by scripts/bundle.mjs during
// `pnpm run build`) when every file it was made from is unchanged, compiled with a V8 code cache
// (code-cache.cjs), which starts each command about 0.1 s sooner; otherwise the compiled tree
// (dist/main.js), which is always current after tsc -b. Both run the same code. This file is CommonJS so
// that Node does not start its ES module loader (about 10 ms) unless dist/main.js has to run.
// TK_NO_BUNDLE=1 always runs dist/main.js; TK_NO_CODE_CACHE=1 runs the bundle without the cache;
// TK_LAUNCHER_TRACE=1 says which one runs, on stderr.
'use strict';
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { loadBundle } = require('./code-cache.cjs');
const { currentBundle } = require('./current.cjs');

const bundleDir = join(__dirname, '../bundle');
const manifestUrl = pathToFileURL(join(bundleDir, 'inputs.json'));
const trace = process.env.TK_LAUNCHER_TRACE === '1';
const bundle =
  process.env.TK_NO_BUNDLE === '1'
    ? undefined
    : currentBundle(manifestUrl, pathToFileURL(join(__dirname, '../../../')));

async function main() {
  if (bundle === undefined || typeof bundle.sha256 !== 'string' || typeof bundle.entry !== 'string') {
    if (trace) process.stderr.write('tk: running dist/main.js\n');
    await import(pathToFileURL(join(__dirname, '../dist/main.js')).href);
    return;
  }
  // The task whose code cache is used: the command words before the first option.
  const words = [];
  for (const arg of process.argv.slice(2)) {
    if (arg.startsWith('-') || words.length === 2) break;
    words.push(arg);
  }
  const { exports, cache } = loadBundle(
    join(bundleDir, bundle.entry),
    bundle.sha256,
    words.join(' '),
    process.env.TK_NO_CODE_CACHE !== '1',
    typeof bundle.sides === 'object' && bundle.sides !== null ? bundle.sides : {},
  );
  if (trace) process.stderr.write(`tk: running the bundle (code cache: ${cache})\n`);
  const code = await exports.runProcess();
  // With nothing left to write, end now: Node's normal shutdown also tears down the heap, a few ms after
  // the work is done. Output still being written (a full non-blocking pipe) is left to drain as usual.
  // (Asking process.stdout would build the stream the bundle avoids: apps/tk/src/fd-sink.ts.)
  if (exports.pendingOutput() === 0) process.exit(code);
  process.exitCode = code;
}

main().catch((error) => {
  // runProcess reports every error itself; this is a launcher failure (a damaged bundle).
  process.stderr.write(`tk: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
