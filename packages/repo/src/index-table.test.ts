import { isAscii, isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { identityHash } from './identity.ts';
import {
  CANONICAL_RECORD,
  hashInstallIfName,
  hashName,
  hashProvideName,
  nameHashesOf,
  parseIndexTable,
  scanIndex,
  type IndexTable,
  type NameHashes,
} from './index-table.ts';
import { parseIndexText, type IndexEntry } from './index-text.ts';

const FIXTURES = join(import.meta.dirname, '../../../test-fixtures/real');

/** The APKINDEX member of an index archive, as bytes (the tar entry found by hand: tar is not a dependency here). */
function apkindexBytes(path: string): Uint8Array {
  const tar = gunzipSync(readFileSync(join(FIXTURES, path)));
  const start = tar.indexOf('C:Q1');
  return new Uint8Array(tar.subarray(start, tar.indexOf(0, start)));
}

interface Outcome {
  entries?: IndexEntry[];
  error?: string;
  warnings: string[];
}

function eager(text: string, strict: boolean): Outcome {
  const warnings: string[] = [];
  try {
    return {
      entries: parseIndexText(text, { strict, warn: (m, c) => warnings.push(`${c} ${m}`) }),
      warnings,
    };
  } catch (error) {
    return { error: `${(error as { code?: string }).code} ${(error as Error).message}`, warnings };
  }
}

function lazy(
  bytes: Uint8Array,
  strict: boolean,
  engine: 'wasm' | 'typescript' = 'wasm',
): Outcome & { table?: IndexTable } {
  const warnings: string[] = [];
  try {
    const options = { strict, warn: (m: string, c: string) => warnings.push(`${c} ${m}`) };
    // parseIndexTable's own check, then the scan with the engine asked for.
    if (!isUtf8(bytes)) parseIndexTable(bytes, options);
    const table = scanIndex(bytes, options, isAscii(bytes), engine);
    return { table, entries: table.entries(), warnings };
  } catch (error) {
    return { error: `${(error as { code?: string }).code} ${(error as Error).message}`, warnings };
  }
}

/** Name hashes as plain arrays, for comparing. */
function plainHashes(hashes: NameHashes): number[][] {
  const { own, provideStart, provideHashes, iifStart, iifHashes } = hashes;
  return [own, provideStart, provideHashes, iifStart, iifHashes].map((array) => Array.from(array));
}

/** The column accessors (and the name hashes read from the text) agree with the materialized records. */
function expectColumnsMatch(table: IndexTable): void {
  expect(plainHashes(table.nameHashes())).toEqual(plainHashes(nameHashesOf(table.entries())));
  expect(table.nameHashes()).toBe(table.nameHashes());
  expect(Array.from(table.identityHashes())).toEqual(
    table.entries().map((entry) => identityHash(entry.checksum)),
  );
  expect(table.identityHashes()).toBe(table.identityHashes());
  for (let i = 0; i < table.length; i++) {
    const entry = table.entry(i);
    expect([table.name(i), table.version(i), table.checksum(i), table.arch(i)]).toEqual([
      entry.name,
      entry.version,
      entry.checksum,
      entry.arch,
    ]);
    expect([table.depends(i), table.provides(i), table.installIf(i)]).toEqual([
      entry.depends,
      entry.provides,
      entry.installIf,
    ]);
  }
}

/**
 * Same records, errors and warnings as parseIndexText over the text as readIndexArchive decoded it
 * (strict UTF-8, which drops one leading byte order mark), lenient and strict.
 */
function expectSameAsEager(text: string): void {
  const bytes = new TextEncoder().encode(text);
  const decoded = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  for (const strict of [false, true]) {
    for (const engine of ['wasm', 'typescript'] as const) {
      const { table, ...got } = lazy(bytes, strict, engine);
      expect(got).toEqual(eager(decoded, strict));
      if (table !== undefined) expectColumnsMatch(table);
    }
  }
}

describe('parseIndexTable', () => {
  it.each([
    'alpine/v3.17-main-aarch64-APKINDEX.tar.gz',
    'wolfi/x86_64-subset-APKINDEX.tar.gz',
    'multisig/APKINDEX.tar.gz',
    'apko-testrepo/x86_64/APKINDEX.tar.gz',
  ])('materializes the same records as parseIndexText for %s', (path) => {
    const bytes = apkindexBytes(path);
    const want = eager(new TextDecoder().decode(bytes), true);
    for (const engine of ['wasm', 'typescript'] as const) {
      const { table, ...got } = lazy(bytes, true, engine);
      expect(got).toEqual(want);
      expectColumnsMatch(table!);
      // One object per record, built once.
      expect(table!.entry(0)).toBe(table!.entries()[0]);
      expect(table!.entries()).toBe(table!.entries());
    }
  });

  it('reads the records apk-tools writes in one match each (the fast path the tests above check)', () => {
    const text = new TextDecoder().decode(apkindexBytes('alpine/v3.17-main-aarch64-APKINDEX.tar.gz'));
    const records = text.split('\n\n').filter((chunk) => chunk !== '');
    const matched = records.filter((chunk) => {
      CANONICAL_RECORD.lastIndex = 0;
      return CANONICAL_RECORD.exec(`${chunk}\n\n`)?.[0].length === chunk.length + 2;
    });
    // Alpine's non-ASCII bytes are all in T: and m: values, which the match allows.
    expect(records.length).toBeGreaterThan(5000);
    expect(matched.length).toBe(records.length);
  });

  const record = 'C:Q11/HhSewwwOXgl0r0ffb0O0BRtYc=\nP:a\nV:1.0-r0\n';
  it.each([
    ['an empty index', ''],
    ['blank lines only', '\n\n\r\n'],
    ['a last record without its blank line', `${record}\n${record.replace('P:a', 'P:b')}`],
    ['CRLF line ends', `${record}D:x y\n\n`.replace(/\n/g, '\r\n')],
    ['unknown letters, lower and upper case', `${record}z:lower\nZ:upper\nZ:again\nY:y\n\n`],
    ['an unknown field before P', `C:Q11/HhSewwwOXgl0r0ffb0O0BRtYc=\nZ:x\nP:a\nV:1\n\n`],
    [
      'repeated list and single fields',
      `${record}p:virt\nD:x y\np:so:libq.so.1=1\nD:\nD:z>1\ni:x\ni:y\nT:first\nT:second\nP:b\n\n`,
    ],
    ['malformed lines inside and between records', `junk\n${record}garbage\n:x\n1:x\nP\n\n  \n${record}\n`],
    ['a record without P', 'C:Q11/HhSewwwOXgl0r0ffb0O0BRtYc=\nV:1\n\n'],
    ['a record with an empty P', `${record}P:\n\n`],
    ['a record without C', 'P:a\nV:1\n\n'],
    ['a record without V', 'C:Q11/HhSewwwOXgl0r0ffb0O0BRtYc=\nP:a\n\n'],
    ['a non-numeric size', `${record}S:big\n\n`],
    ['a negative size', `${record}S:-1\n\n`],
    ['a 16-digit number', `${record}I:1234567890123456\n\n`],
    ['a number with a trailing CR and space', `${record}t:12 \r\n\n`],
    ['a bad checksum', 'C:nope\nP:a\nV:1\n\n'],
    ['an X1 checksum', `C:X1${'ab'.repeat(20)}\nP:a\nV:1\n\n`],
    ['an upper-case X1 checksum', `C:X1${'AB'.repeat(20)}\nP:a\nV:1\n\n`],
    ['a Q1 checksum with a bad digit', 'C:Q11/HhSewwwOXgl0r0ffb0O0BRt-c=\nP:a\nV:1\n\n'],
    [
      'non-ASCII names, versions, tokens and descriptions',
      `${record}P:é\nV:ü\nA:ärch\nD:x\u00a0y ß\np:\u2028z=1 \u3000w\nT:日本\nm:Łukasz\n\n`,
    ],
    ['non-ASCII in a malformed line', `${record}${'é'.repeat(80)}\n\n`],
    ['non-ASCII in a bad number', `${record}S:${'é'.repeat(50)}\n\n`],
    ['tabs, vertical tabs and form feeds in lists', `${record}D:a\tb\u000bc\u000cd  e\n\n`],
    ['a byte order mark', `\ufeff${record}\n`],
    ['two byte order marks', `\ufeff\ufeff${record}\n`],
    ['many arches', Array.from({ length: 80 }, (_, i) => `${record}A:a${i}\n`).join('\n')],
    [
      'every field in apk-tools order, then a malformed line (its line number counts the matched records)',
      `${record}A:x86_64\nS:1\nI:2\nT:t\nU:u\nL:l\no:o\nm:m\nt:3\nc:c\nk:4\nD:d e\np:f=1 g\ni:h !j\n\n${record}\n${record}junk\n\n`,
    ],
    ['empty list values and an empty arch', `${record}A:\nD:\np:\ni:\n\n${record}\n`],
    ['fields out of apk-tools order', `${record}D:x\nA:y\n\n${record}i:a\np:b\n\n`],
    ['a record ending the text with its last newline', `${record}S:1\n`],
    ['a record ending the text without its last newline', `${record}S:1`],
    ['a record ending in a CRLF blank line', `${record}S:1\n\r\n${record}\n`],
    ['a repeated field in an otherwise canonical record', `${record}S:1\nS:2\n\n`],
    ['a 16-digit size in an otherwise canonical record', `${record}S:1234567890123456\n\n`],
    ['a control character in a name', `C:Q11/HhSewwwOXgl0r0ffb0O0BRtYc=\nP:a\u0001b\nV:1\n\n${record}`],
    ['a tab in a provides list', `${record}p:a\tb\n\n${record}`],
    ['a CR inside a value', `${record}T:a\rb\n\n${record}`],
    ['several blank lines between records', `${record}\n\n\n${record}\n\n${record}x\n\n`],
  ])('matches parseIndexText on %s', (_name, text) => {
    expectSameAsEager(text);
  });

  it('matches parseIndexText on random mutations of a real record set', () => {
    const base = new TextDecoder()
      .decode(apkindexBytes('wolfi/x86_64-subset-APKINDEX.tar.gz'))
      .slice(0, 6000);
    const pieces = ['\n', '\r', ':', 'P:', 'C:', 'S:x', 'D:', 'p:', ' ', 'é', 'Z:', '\n\n', 'k:', 'X1'];
    // A fixed linear congruential sequence: the same cases on every run.
    let seed = 12345;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      let text = base;
      for (let edit = 0; edit < 5; edit++) {
        const at = next(text.length);
        text =
          next(3) === 0
            ? text.slice(0, at) + text.slice(at + next(8))
            : text.slice(0, at) + pieces[next(pieces.length)]! + text.slice(at);
      }
      expectSameAsEager(text);
    }
  });

  it('refuses bytes that are not UTF-8, as the strict decoder does', () => {
    for (const bad of [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80]]) {
      const bytes = new Uint8Array([...new TextEncoder().encode(record), 0x54, 0x3a, ...bad, 0x0a]);
      expect(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes)).toThrow();
      expect(() => parseIndexTable(bytes)).toThrow(expect.objectContaining({ code: 'REPO_BAD_INDEX' }));
    }
  });

  it('keeps records apart when a list field repeats across many lines (linear, bounded by the text)', () => {
    const table = parseIndexTable(new TextEncoder().encode(`${record}${'p:v\n'.repeat(20_000)}\n${record}`));
    expect(table.length).toBe(2);
    expect(table.provides(0)).toHaveLength(20_000);
    expect(table.provides(1)).toEqual([]);
  });

  it('refuses out-of-range record numbers', () => {
    const table = parseIndexTable(new TextEncoder().encode(record));
    expect(() => table.entry(1)).toThrow(RangeError);
    expect(() => table.name(-1)).toThrow(RangeError);
    expect(() => table.provides(0.5)).toThrow(RangeError);
  });
});

describe('name hashes', () => {
  const checksum = 'C:Q11/HhSewwwOXgl0r0ffb0O0BRtYc=';
  it.each([
    [
      'ASCII names and tokens',
      'P:busybox\np:cmd:sh=1.0 so:libc.so.1  virtual\ni:foo=1 !bar baz>2 qux~3 quux@tag',
    ],
    ['UTF-8 names and tokens', 'P:caf\u00e9\np:s\u00f8=1 \u00e9t\u00e9\ni:!na\u00efve'],
    ['a tab between tokens', 'P:a\np:x=1\ty'],
    ['a list on two lines', 'P:a\np:x=1\np:y\ni:z\ni:!w'],
    ['an empty list', 'P:a\np:\ni:'],
  ])('reads the same hashes from the text as from the records: %s', (_, fields) => {
    const text = `${checksum}\n${fields}\nV:1\n\n${checksum.replace('Q11', 'Q12')}\nP:next-package-name\nV:1\n\n`;
    const table = parseIndexTable(new TextEncoder().encode(text));
    expect(plainHashes(table.nameHashes())).toEqual(plainHashes(nameHashesOf(parseIndexText(text))));
  });

  it('hashes the name of a token: p: up to =, i: without ! up to one of <=>~@', () => {
    const table = parseIndexTable(
      new TextEncoder().encode(`${checksum}\nP:a-long-package-name\nV:1\np:n=1 m\ni:!x>1 y~2 z@t w\n\n`),
    );
    const hashes = table.nameHashes();
    expect(Array.from(hashes.own)).toEqual([hashName('a-long-package-name')]);
    expect(Array.from(hashes.provideHashes)).toEqual([hashName('n'), hashName('m')]);
    expect(Array.from(hashes.iifHashes)).toEqual(['x', 'y', 'z', 'w'].map((name) => hashName(name)));
    expect(hashProvideName('so:libc.so.1=1.2')).toBe(hashName('so:libc.so.1'));
    expect(hashInstallIfName('!name<=3')).toBe(hashName('name'));
    expect(hashName('xxabcdef', 2, 5)).toBe(hashName('abc'));
  });
});
