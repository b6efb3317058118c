/**
 * Differential test of `tk apk verify` against apk-tools 2.14.10 on damaged real files.
 *
 * The mutants (bit flips, truncations, zeroed runs of real signed packages and indexes) come from a
 * seeded generator shared with the script that recorded apk-tools' verdicts
 * (scripts/verify-parity-mutants.mjs, scripts/verify-parity-record.mjs). CI has no apk-tools, so the
 * comparison reads the recorded table; where apk-tools is installed, a second test asks it live.
 */
import { execFileSync } from 'node:child_process';
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
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyring, parsePublicKey, type Keyring } from '@tk/keys';
import { formatVerdict, verifyFiles } from './verify.ts';

const ROOT = join(import.meta.dirname, '../../../..');
const FIXTURES = join(ROOT, 'test-fixtures/real');
const TABLE = join(ROOT, 'test-fixtures/parity/apk-verify-mutants.json');
const APK = '/usr/local/bin/apk';

type MutationOp =
  | { kind: 'flip'; bits: [number, number][] }
  | { kind: 'truncate'; length: number }
  | { kind: 'zero'; offset: number; length: number };

interface Mutant {
  id: string;
  source: string;
  op: MutationOp | null;
  bytes: Uint8Array;
  sha256: string;
}

/** The shape of scripts/verify-parity-mutants.mjs (plain JavaScript, loaded at run time). */
interface MutantsModule {
  SEED: number;
  PER_SOURCE: number;
  KEY_FILES: readonly string[];
  SOURCES: readonly { file: string; keys: readonly string[] }[];
  allMutants(read: (file: string) => Uint8Array): Mutant[];
}

/** The shape of scripts/verify-parity-crafted.mjs. */
interface CraftedModule {
  CRAFTED_SEED: number;
  PER_BASE: number;
  KEY_FILE: string;
  BASES: readonly string[];
  craftedCases(read: (file: string) => Uint8Array): {
    id: string;
    base: string;
    note: string;
    bytes: Uint8Array;
    sha256: string;
  }[];
}

interface CraftedTable {
  seed: number;
  perBase: number;
  keys: string[];
  bases: string[];
  rows: { id: string; base: string; note: string; sha256: string; apkTools: string }[];
}

interface ParityTable {
  seed: number;
  perSource: number;
  keys: string[];
  sources: string[];
  apkTools: { version: string; commit: string };
  rows: { id: string; source: string; op: MutationOp | null; sha256: string; apkTools: string }[];
}

const table = JSON.parse(readFileSync(TABLE, 'utf8')) as ParityTable;
const craftedTable = JSON.parse(
  readFileSync(join(ROOT, 'test-fixtures/parity/apk-verify-crafted.json'), 'utf8'),
) as CraftedTable;
const read = (file: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, file)));

/** tk's verdict lines (without the file names) for files written to `dir`, through verifyFiles. */
async function tkVerdictLines(dir: string, names: readonly string[], keys: Keyring): Promise<string[]> {
  // The code behind `tk apk verify`: every file through verifyFiles, as the command runs it.
  const verdicts = await verifyFiles(
    names.map((n) => join(dir, n)),
    keys,
  );
  return verdicts.map((v) => formatVerdict({ ...v, file: 'F' }).slice('F: '.length));
}
let mutants: Mutant[] = [];
let keyring: Keyring;
let dir: string;
/** tk's verdict line for each mutant, without the file name (`-5 - IO ERROR`). */
const tkLines = new Map<string, string>();

beforeAll(async () => {
  const generator = (await import(
    pathToFileURL(join(ROOT, 'scripts/verify-parity-mutants.mjs')).href
  )) as MutantsModule;
  expect(generator.SEED).toBe(table.seed);
  expect(generator.PER_SOURCE).toBe(table.perSource);
  expect(generator.KEY_FILES).toEqual(table.keys);
  mutants = generator.allMutants(read);
  keyring = createKeyring();
  dir = mkdtempSync(join(tmpdir(), 'tk-verify-parity-'));
  mkdirSync(join(dir, 'keys'));
  for (const key of generator.KEY_FILES) {
    keyring.add(basename(key), parsePublicKey(readFileSync(join(FIXTURES, key), 'utf8'), key));
    copyFileSync(join(FIXTURES, key), join(dir, 'keys', basename(key)));
  }
  for (const m of mutants) writeFileSync(join(dir, `m-${m.id}`), m.bytes);
  const lines = await tkVerdictLines(
    dir,
    mutants.map((m) => `m-${m.id}`),
    keyring,
  );
  lines.forEach((line, i) => tkLines.set(mutants[i]!.id, line));
});

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('tk apk verify gives apk-tools 2.14.10 verdicts on damaged real files', () => {
  it('regenerates exactly the recorded mutants (same seed, operations and bytes)', () => {
    expect(mutants.length).toBe(table.rows.length);
    expect(mutants.length).toBeGreaterThanOrEqual(240);
    expect(new Set(mutants.map((m) => m.source)).size).toBeGreaterThanOrEqual(6);
    expect(table.apkTools).toMatchObject({
      version: '2.14.10',
      commit: '9d074efdc12bc41b5d24190595a5269a770e852a',
    });
    mutants.forEach((m, i) => {
      const row = table.rows[i]!;
      expect({ id: m.id, source: m.source, op: m.op, sha256: m.sha256 }).toEqual({
        id: row.id,
        source: row.source,
        op: row.op,
        sha256: row.sha256,
      });
    });
    // The fuzz reaches every kind of verdict apk-tools gives on these files.
    expect(new Set(table.rows.map((r) => r.apkTools))).toEqual(
      new Set([
        '0 - OK',
        '0 - UNTRUSTED',
        '-5 - IO ERROR',
        '-74 - BAD archive',
        '-129 - BAD signature',
        '-1026 - package file format error',
      ]),
    );
  });

  it("prints apk-tools' verdict line for every mutant", () => {
    const differing = table.rows
      .filter((row) => tkLines.get(row.id) !== row.apkTools)
      .map(
        (row) =>
          `${row.id} ${JSON.stringify(row.op)}: apk-tools "${row.apkTools}", tk "${tkLines.get(row.id)}"`,
      );
    const equal = table.rows.length - differing.length;
    console.log(`${equal}/${table.rows.length} verdicts equal apk-tools'`);
    expect(differing).toEqual([]);
    expect(equal).toBeGreaterThanOrEqual(200);
  });

  it.runIf(existsSync(APK))('matches a live apk-tools 2.14.10 too (when one is installed)', () => {
    const version = execFileSync(APK, ['--version'], { encoding: 'utf8' });
    if (!version.startsWith('apk-tools 2.14.10,')) return;
    let stdout: string;
    try {
      stdout = execFileSync(
        APK,
        ['verify', '--keys-dir', join(dir, 'keys'), ...mutants.map((m) => `m-${m.id}`)],
        { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 },
      );
    } catch (error) {
      // apk verify exits with the number of files that are not OK.
      stdout = (error as { stdout: string }).stdout;
    }
    const live = new Map(
      stdout
        .split('\n')
        .map((line) => /^m-(\S+): (-?\d+ - .*)$/.exec(line))
        .filter((m) => m !== null)
        .map((m) => [m[1]!, m[2]!]),
    );
    for (const row of table.rows) {
      expect(live.get(row.id), `apk-tools on ${row.id}`).toBe(row.apkTools);
      expect(tkLines.get(row.id), `tk on ${row.id}`).toBe(live.get(row.id));
    }
  });
});

describe('tk apk verify gives apk-tools 2.14.10 verdicts on re-signed files with damaged tar streams', () => {
  it('regenerates the recorded cases and prints the recorded line for each', async () => {
    const crafted = (await import(
      pathToFileURL(join(ROOT, 'scripts/verify-parity-crafted.mjs')).href
    )) as CraftedModule;
    expect(crafted.CRAFTED_SEED).toBe(craftedTable.seed);
    expect(crafted.PER_BASE).toBe(craftedTable.perBase);
    const cases = crafted.craftedCases(read);
    expect(cases.map((c) => [c.id, c.base, c.note, c.sha256])).toEqual(
      craftedTable.rows.map((r) => [r.id, r.base, r.note, r.sha256]),
    );
    const keys = createKeyring();
    keys.add(
      basename(crafted.KEY_FILE),
      parsePublicKey(readFileSync(join(FIXTURES, crafted.KEY_FILE), 'utf8')),
    );
    const cdir = mkdtempSync(join(tmpdir(), 'tk-verify-crafted-'));
    try {
      for (const c of cases) writeFileSync(join(cdir, c.id), c.bytes);
      const lines = await tkVerdictLines(
        cdir,
        cases.map((c) => c.id),
        keys,
      );
      const differing = craftedTable.rows
        .map((row, i) => ({ row, line: lines[i] }))
        .filter(({ row, line }) => line !== row.apkTools)
        .map(({ row, line }) => `${row.id} (${row.note}): apk-tools "${row.apkTools}", tk "${line}"`);
      console.log(
        `${craftedTable.rows.length - differing.length}/${craftedTable.rows.length} crafted verdicts equal apk-tools'`,
      );
      expect(differing).toEqual([]);
      // These reach the tar reader's and the signature context's own verdicts.
      expect(new Set(craftedTable.rows.map((r) => r.apkTools))).toEqual(
        new Set([
          '0 - OK',
          '-74 - BAD archive',
          '-129 - BAD signature',
          '-1026 - package file format error',
          '-36 - File name too long',
          '-42 - archive does not contain expected data',
        ]),
      );
    } finally {
      rmSync(cdir, { recursive: true, force: true });
    }
  });
});
