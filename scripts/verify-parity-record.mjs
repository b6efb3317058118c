#!/usr/bin/env node
// Records apk-tools' `apk verify` verdicts on the deterministic mutants of scripts/verify-parity-mutants.mjs
// into test-fixtures/parity/apk-verify-mutants.json, and on the crafted cases of
// scripts/verify-parity-crafted.mjs into test-fixtures/parity/apk-verify-crafted.json (the tables
// apps/apk-cli's parity test reads; CI has no apk-tools).
//
//   node scripts/verify-parity-record.mjs            compare apk-tools with the recorded tables
//   node scripts/verify-parity-record.mjs --write    (re)write the tables from apk-tools' answers
//   --apk PATH                                       the apk-tools binary (default /usr/local/bin/apk)
//
// The oracle is apk-tools 2.14.10 built from source outside the repository (GPL-2.0, not vendored):
// tag v2.14.10 = commit 9d074efdc12bc41b5d24190595a5269a770e852a, `make STATIC=y LUA=no`.
// Expectations always come from that binary, never from tk.
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { BASES, CRAFTED_SEED, KEY_FILE, PER_BASE, craftedCases } from './verify-parity-crafted.mjs';
import { KEY_FILES, PER_SOURCE, SEED, SOURCES, allMutants } from './verify-parity-mutants.mjs';

const root = join(import.meta.dirname, '..');
const fixtures = join(root, 'test-fixtures/real');
const parity = join(root, 'test-fixtures/parity');
const args = process.argv.slice(2);
const write = args.includes('--write');
const apkIndex = args.indexOf('--apk');
const apk = apkIndex >= 0 ? args[apkIndex + 1] : '/usr/local/bin/apk';

const version = spawnSync(apk, ['--version'], { encoding: 'utf8' });
if (version.status !== 0 || !/^apk-tools 2\.14\.10,/.test(version.stdout)) {
  console.error(
    `${apk}: not apk-tools 2.14.10 (${(version.stdout || version.stderr || 'not found').trim()})`,
  );
  process.exit(2);
}

const read = (file) => new Uint8Array(readFileSync(join(fixtures, file)));
const APK_TOOLS = {
  version: '2.14.10',
  tag: 'v2.14.10',
  commit: '9d074efdc12bc41b5d24190595a5269a770e852a',
  build: 'make STATIC=y LUA=no',
  command: 'apk verify --keys-dir KEYS FILE…',
};

/** apk-tools' verdict line (without the file name) for each row, by id. */
function runApk(rows, keyFiles) {
  const dir = mkdtempSync(join(tmpdir(), 'verify-parity-'));
  try {
    const keys = join(dir, 'keys');
    const files = join(dir, 'files');
    mkdirSync(keys);
    mkdirSync(files);
    for (const key of keyFiles) copyFileSync(join(fixtures, key), join(keys, basename(key)));
    for (const row of rows) writeFileSync(join(files, `m-${row.id}`), row.bytes);
    // --keys-dir is opened relative to --root (default /): give it an absolute path.
    const run = spawnSync(apk, ['verify', '--keys-dir', keys, ...rows.map((r) => `m-${r.id}`)], {
      cwd: files,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const verdicts = new Map();
    for (const line of run.stdout.split('\n')) {
      const m = /^m-(\S+): (-?\d+ - .*)$/.exec(line);
      if (m) verdicts.set(m[1], m[2]);
    }
    const missing = rows.filter((r) => !verdicts.has(r.id));
    if (missing.length > 0) {
      console.error(`apk-tools printed no verdict for ${missing.map((r) => r.id).join(', ')}`);
      process.exit(2);
    }
    return verdicts;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One row per line, as the other parity tables. */
function serialize(table) {
  const text = JSON.stringify({ ...table, rows: [] }, null, 2).replace(
    '"rows": []',
    `"rows": [\n${table.rows.map((r) => `    ${JSON.stringify(r)}`).join(',\n')}\n  ]`,
  );
  return `${text}\n`;
}

function writeOrCheck(name, table) {
  const path = join(parity, name);
  if (write) {
    writeFileSync(path, serialize(table));
    const counts = {};
    for (const r of table.rows) counts[r.apkTools] = (counts[r.apkTools] ?? 0) + 1;
    console.log(`wrote ${table.rows.length} rows to ${path}`);
    for (const [verdict, n] of Object.entries(counts).sort((a, b) => b[1] - a[1]))
      console.log(`  ${n}\t${verdict}`);
    return true;
  }
  if (!existsSync(path)) {
    console.error(`${path} does not exist: run with --write`);
    return false;
  }
  const recorded = JSON.parse(readFileSync(path, 'utf8'));
  const byId = new Map(recorded.rows.map((r) => [r.id, r]));
  let same = 0;
  for (const row of table.rows) {
    const old = byId.get(row.id);
    if (old !== undefined && old.sha256 === row.sha256 && old.apkTools === row.apkTools) same++;
    else
      console.log(
        `${name} ${row.id}: recorded ${old?.apkTools ?? '(none)'}, apk-tools now says ${row.apkTools}`,
      );
  }
  console.log(`${name}: ${same}/${table.rows.length} recorded verdicts reproduced by ${apk}`);
  return same === table.rows.length && recorded.rows.length === table.rows.length;
}

const mutants = allMutants(read);
const mutantVerdicts = runApk(mutants, KEY_FILES);
const okMutants = writeOrCheck('apk-verify-mutants.json', {
  $comment:
    'apk verify parity table: apk-tools 2.14.10 verdicts on deterministic mutants of real signed packages and indexes. See README.md in this directory.',
  generator: 'scripts/verify-parity-mutants.mjs',
  recordedWith: 'scripts/verify-parity-record.mjs',
  seed: SEED,
  perSource: PER_SOURCE,
  apkTools: APK_TOOLS,
  keys: KEY_FILES,
  sources: SOURCES.map((s) => s.file),
  rows: mutants.map((r) => ({
    id: r.id,
    source: r.source,
    op: r.op,
    sha256: r.sha256,
    apkTools: mutantVerdicts.get(r.id),
  })),
});

const crafted = craftedCases(read);
const craftedVerdicts = runApk(crafted, [KEY_FILE]);
const okCrafted = writeOrCheck('apk-verify-crafted.json', {
  $comment:
    'apk verify parity table: apk-tools 2.14.10 verdicts on re-signed packages and indexes with damaged tar streams. See README.md in this directory.',
  generator: 'scripts/verify-parity-crafted.mjs',
  recordedWith: 'scripts/verify-parity-record.mjs',
  seed: CRAFTED_SEED,
  perBase: PER_BASE,
  apkTools: APK_TOOLS,
  keys: [KEY_FILE],
  bases: BASES,
  rows: crafted.map((r) => ({
    id: r.id,
    base: r.base,
    note: r.note,
    sha256: r.sha256,
    apkTools: craftedVerdicts.get(r.id),
  })),
});
process.exitCode = okMutants && okCrafted ? 0 : 1;
