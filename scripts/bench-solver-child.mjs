#!/usr/bin/env node
// One measured parse + resolve in a fresh process (peak RSS is this run's): prints JSON.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readIndexArchive, parseIndexText, serializeIndexText } from '../packages/repo/dist/index.js';
import { solve, createSyntheticIndex } from '../packages/solver/dist/index.js';

const mode = process.argv[2];
const root = join(import.meta.dirname, '..');
let parseMs;
let entries;
let archive;
let world;
let arch;
if (mode === 'alpine') {
  const bytes = new Uint8Array(
    readFileSync(join(root, 'test-fixtures/real/alpine/v3.17-main-aarch64-APKINDEX.tar.gz')),
  );
  const t = performance.now();
  // As apko reads it: the table (records built only when the solver needs them).
  archive = readIndexArchive(bytes);
  parseMs = performance.now() - t;
  world = ['alpine-base', 'busybox', 'curl', 'python3', 'openssl', 'git'];
  arch = 'aarch64';
} else {
  const synthetic = createSyntheticIndex({ entries: 100_000, seed: 1 });
  const text = serializeIndexText(synthetic.entries);
  const t = performance.now();
  entries = parseIndexText(text);
  parseMs = performance.now() - t;
  world = synthetic.world;
  arch = 'x86_64';
}
const t = performance.now();
const repository =
  archive === undefined
    ? { name: 'bench', entries }
    : {
        name: 'bench',
        table: archive.table,
        get entries() {
          return archive.entries;
        },
      };
const solution = solve({ world, repositories: [repository], arch });
const solveMs = performance.now() - t;
console.log(
  JSON.stringify({
    parseMs,
    solveMs,
    entries: archive === undefined ? entries.length : archive.table.length,
    packages: solution.packages.length,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  }),
);
