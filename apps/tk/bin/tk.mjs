#!/usr/bin/env node
// The tk command. Runs the bundle (apps/tk/bundle, made by scripts/bundle.mjs during `pnpm run build`) when
// every file it was made from is unchanged, which starts each command about 0.1 s sooner; otherwise the
// compiled tree (dist/main.js), which is always current after tsc -b. Both run the same code.
// TK_NO_BUNDLE=1 always runs dist/main.js; TK_LAUNCHER_TRACE=1 says which one runs, on stderr.
import { bundleIsCurrent } from './current.mjs';

const useBundle =
  process.env.TK_NO_BUNDLE !== '1' &&
  bundleIsCurrent(new URL('../bundle/inputs.json', import.meta.url), new URL('../../../', import.meta.url));
if (process.env.TK_LAUNCHER_TRACE === '1')
  process.stderr.write(`tk: running ${useBundle ? 'the bundle' : 'dist/main.js'}\n`);
await import(useBundle ? '../bundle/main.js' : '../dist/main.js');
