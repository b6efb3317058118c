/**
 * The compiled fast path of the index scan (wasm/tk-index-scan.wasm): it takes exactly the records
 * CANONICAL_RECORD matches, ends them where the match ends, and the committed module is the one
 * wasm/build.sh builds. (index-table.test.ts checks that both engines give parseIndexText's records,
 * errors, warnings and hashes.)
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { openScanner, STRIDE, warmUpScanner } from './index-scan.ts';
import { CANONICAL_RECORD, scanIndex } from './index-table.ts';

const WASM_DIR = fileURLToPath(new URL('../wasm/', import.meta.url));
/** sha256 of tk-index-scan.wasm as wasm/build.sh builds it from tk-index-scan.c. */
const WASM_SHA256 = 'c1b8e3687e04b3081c2190ed5ce12805e112d6fdb74b08497e47fb4933ac2a17';

const alpine = (() => {
  const tar = gunzipSync(
    readFileSync(
      join(import.meta.dirname, '../../../test-fixtures/real/alpine/v3.17-main-aarch64-APKINDEX.tar.gz'),
    ),
  );
  const start = tar.indexOf('C:Q1');
  return tar.subarray(start, tar.indexOf(0, start)).toString('latin1');
})();
const alpineRecords = alpine.split('\n\n').filter((chunk) => chunk !== '');

/** What the regular expression takes at the start of `text`: its end, or -1. */
function regexEnd(text: string): number {
  CANONICAL_RECORD.lastIndex = 0;
  return CANONICAL_RECORD.exec(text) === null ? -1 : CANONICAL_RECORD.lastIndex;
}

/** What the compiled scan takes at the start of `text` (one character per byte): the end of its first record, or -1. */
function wasmEnd(text: string): number {
  const bytes = Buffer.from(text, 'latin1');
  const scanner = openScanner(bytes, text.split('\n\n').length + 1)!;
  // One record at most: the next record is where the first one ends.
  const run = scanner.take(0, new Int32Array(STRIDE), 0);
  if (run.taken === 0) return -1;
  const cols = run.cols;
  return run.taken === 1 ? run.next : cols[STRIDE]!;
}

describe('the compiled scan', () => {
  it('is the module build.sh builds from tk-index-scan.c', () => {
    const committed = readFileSync(join(WASM_DIR, 'tk-index-scan.wasm'));
    expect(createHash('sha256').update(committed).digest('hex')).toBe(WASM_SHA256);
    // Needs clang-14 and lld-14 (scripts/setup.sh installs them).
    const out = mkdtempSync(join(tmpdir(), 'tk-index-scan-'));
    try {
      execFileSync(join(WASM_DIR, 'build.sh'), [out], { stdio: 'pipe' });
      expect(readFileSync(join(out, 'tk-index-scan.wasm')).equals(committed)).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('takes every record of the Alpine index in one call each run, as the regular expression does', () => {
    const bytes = Buffer.from(alpine, 'latin1');
    const scanner = openScanner(bytes, alpineRecords.length + 1)!;
    const run = scanner.take(0, new Int32Array(STRIDE * 16), 0);
    expect(run.taken).toBe(alpineRecords.length);
    expect(run.next).toBe(bytes.length);
    expect(run.cols.length).toBeGreaterThanOrEqual(run.taken * STRIDE);
    // Where each record starts, as the regular expression finds it.
    let at = 0;
    for (let record = 0; record < run.taken; record++) {
      expect(run.cols[record * STRIDE]).toBe(at);
      CANONICAL_RECORD.lastIndex = at;
      expect(CANONICAL_RECORD.exec(alpine)).not.toBeNull();
      at = CANONICAL_RECORD.lastIndex;
    }
    expect(scanner.hashes(run.taken)).toBeDefined();
    expect(scanner.hashes(run.taken + 1)).toBeUndefined();
  });

  const checksum = 'C:Q11/HhSewwwOXgl0r0ffb0O0BRtYc=';
  const head = `${checksum}\nP:a\nV:1.0-r0\n`;
  it.each([
    ['the smallest record', `${head}\n`],
    ['the smallest record at the end of the text', head],
    ['the smallest record without its last line feed', head.slice(0, -1)],
    [
      'every field in order',
      `${head}A:x\nS:1\nI:2\nT:t\nU:u\nL:l\no:o\nm:m\nt:3\nc:c\nk:4\nD:d\np:p\ni:i\n\n`,
    ],
    ['two fields swapped', `${head}I:2\nS:1\n\n`],
    ['a repeated field', `${head}T:a\nT:b\n\n`],
    ['15 digits', `${head}S:123456789012345\n\n`],
    ['16 digits', `${head}S:1234567890123456\n\n`],
    ['no digits', `${head}S:\n\n`],
    ['a sign', `${head}S:+1\n\n`],
    ['a space after digits', `${head}S:1 \n\n`],
    ['empty A, T, D, p and i', `${head}A:\nT:\nD:\np:\ni:\n\n`],
    ['an empty P', `${checksum}\nP:\nV:1\n\n`],
    ['an empty V', `${checksum}\nP:a\nV:\n\n`],
    ['a CR in a description', `${head}T:a\rb\n\n`],
    ['a CR before the blank line', `${head}\r\n`],
    ['high bytes in a description', `${head}T:\xe9\xff\x80\n\n`],
    ['a high byte in P', `${checksum}\nP:\xe9\nV:1\n\n`],
    ['a DEL in p', `${head}p:a\x7fb\n\n`],
    ['a tab in i', `${head}i:a\tb\n\n`],
    ['a NUL in a description', `${head}T:a\0b\n\n`],
    ['a NUL in p', `${head}p:a\0b\n\n`],
    ['a checksum one digit short', `C:Q11/HhSewwwOXgl0r0ffb0O0BRtY=\nP:a\nV:1\n\n`],
    ['a checksum with a bad digit', `C:Q11/HhSewwwOXgl0r0ffb0O0BRt-c=\nP:a\nV:1\n\n`],
    ['an X1 checksum', `C:X1${'ab'.repeat(20)}\nP:a\nV:1\n\n`],
    ['an unknown field', `${head}Z:z\n\n`],
    ['a lower-case unknown field', `${head}z:z\n\n`],
    ['a field without its colon', `${head}S1\n\n`],
    ['a text ending inside a field', `${head}T:abc`],
    ['a text ending after a letter', `${head}T`],
    ['a text ending after the checksum', checksum],
    ['a text ending inside the checksum', checksum.slice(0, 20)],
  ])('agrees with the regular expression on %s', (_name, text) => {
    // Also with a record after it, and with junk after it.
    for (const tail of ['', `${head}\n`, 'junk\n']) expect(wasmEnd(text + tail)).toBe(regexEnd(text + tail));
  });

  it('agrees with the regular expression on 4,000 mutations of real records', () => {
    const pieces = [
      '\n',
      '\r',
      ':',
      ' ',
      '=',
      '\t',
      '\0',
      '\x7f',
      '\xe9',
      '\xff',
      '9',
      'S:',
      'T:',
      'p:',
      'i:',
      'A:',
      'D:',
      'Z:',
      '\n\n',
    ];
    // A fixed linear congruential sequence: the same cases on every run.
    let seed = 4242;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    let matched = 0;
    for (let round = 0; round < 4000; round++) {
      let text = `${alpineRecords[next(alpineRecords.length)]!}\n\n`;
      for (let edit = 0, edits = 1 + next(3); edit < edits; edit++) {
        const at = next(text.length);
        text =
          next(3) === 0
            ? text.slice(0, at) + text.slice(at + 1 + next(4))
            : text.slice(0, at) + pieces[next(pieces.length)]! + text.slice(at);
      }
      const want = regexEnd(text);
      if (want >= 0) matched++;
      expect(wasmEnd(text), JSON.stringify(text)).toBe(want);
    }
    // Both outcomes are exercised.
    expect(matched).toBeGreaterThan(400);
    expect(matched).toBeLessThan(3600);
  });

  it('leaves records to TypeScript rather than write past the arrays it was given', () => {
    const text = `${'C:Q11/HhSewwwOXgl0r0ffb0O0BRtYc=\nP:a\nV:1\np:x y z\n\n'.repeat(3)}`;
    const bytes = Buffer.from(text, 'latin1');
    // Room for one record's hashes: it takes one and stops before the second.
    const scanner = openScanner(bytes, 1)!;
    const run = scanner.take(0, new Int32Array(STRIDE), 0);
    expect(run.taken).toBe(1);
    expect(scanner.take(run.next, run.cols, 1).taken).toBe(0);
    expect(scanner.hashes(3)).toBeUndefined();
    // The scan reads the rest line by line: the same records either way.
    const table = scanIndex(bytes, {}, true);
    const reference = scanIndex(bytes, {}, true, 'typescript');
    expect(table.entries()).toEqual(reference.entries());
  });

  it('numbers arches in order of appearance, shared with the records TypeScript reads', () => {
    const record = (arch: string): string => `${checksum}\nP:a\nV:1\nA:${arch}\n\n`;
    // The third record has its fields out of order: TypeScript reads it, and numbers its arch.
    const text = [record('x'), record('y'), `${head}D:q\nA:z\n\n`, record('x'), record('w')].join('');
    for (const engine of ['wasm', 'typescript'] as const) {
      const table = scanIndex(Buffer.from(text), {}, true, engine);
      expect(table.entries().map((entry) => entry.arch)).toEqual(['x', 'y', 'z', 'x', 'w']);
      expect([0, 1, 2, 3, 4].map((index) => table.arch(index))).toEqual(['x', 'y', 'z', 'x', 'w']);
    }
  });

  it('warms up once, and a later scan still reads correctly', () => {
    warmUpScanner();
    warmUpScanner();
    const table = scanIndex(Buffer.from(alpine, 'latin1'), {}, true);
    expect(table.length).toBe(alpineRecords.length);
    expect(table.name(table.length - 1)).toBe(/\nP:([^\n]*)/.exec(alpineRecords.at(-1)!)![1]);
  });
});
