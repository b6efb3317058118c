import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ApkError } from './errors.ts';
import {
  compareVersions,
  fuzzyMatchesVersion,
  isValidVersion,
  isVersionOp,
  parseVersion,
  VERSION_OPS,
  versionMatches,
  type VersionComparison,
  type VersionOp,
} from './version.ts';
import { seededRandom } from '@tk/core';

/** Rows of test-fixtures/parity/versions.json; see the README there for sources. */
interface VersionTable {
  compare: { a: string; op: '<' | '=' | '>'; b: string; source: string; note?: string }[];
  fuzzy: { version: string; target: string; match: boolean; source: string; note?: string }[];
  operators: { version: string; op: VersionOp; target: string; match: boolean; source: string }[];
  validity: { version: string; strict: boolean; apkTools214: boolean; source: string; note?: string }[];
}

const table = JSON.parse(
  readFileSync(new URL('../../../test-fixtures/parity/versions.json', import.meta.url), 'utf8'),
) as VersionTable;

const SIGN: Record<'<' | '=' | '>', VersionComparison> = { '<': -1, '=': 0, '>': 1 };

function catchApkError(fn: () => unknown): ApkError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ApkError) return error;
    throw error;
  }
  throw new Error('expected an ApkError');
}

/** Every pair in `sorted` (already sorted by compareVersions) must be consistent: a total preorder. */
function expectTotalPreorder(versions: readonly string[]): void {
  const sorted = [...versions].sort(compareVersions);
  const problems: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i; j < sorted.length; j++) {
      const forward = compareVersions(sorted[i]!, sorted[j]!);
      const backward = compareVersions(sorted[j]!, sorted[i]!);
      if (forward > 0) problems.push(`sorted ${sorted[i]} before ${sorted[j]} but compare says >`);
      if (forward !== -backward) problems.push(`not antisymmetric: ${sorted[i]} vs ${sorted[j]}`);
    }
  }
  expect(problems.slice(0, 10)).toEqual([]);
}

describe('compareVersions parity table', () => {
  it.each(table.compare)('%# $a $op $b', ({ a, op, b }) => {
    expect(compareVersions(a, b)).toBe(SIGN[op]);
    expect(compareVersions(b, a)).toBe(-SIGN[op] || 0);
  });

  it('contains every reference §3.1 vector and the brief real-world versions', () => {
    const sources = new Set(table.compare.map((row) => row.source));
    expect(sources).toContain('reference apk-and-apko.md §3.1 vector');
    const pairs = new Set(table.compare.map((row) => `${row.a} ${row.op} ${row.b}`));
    for (const vector of [
      '1.0 < 1.0-r0',
      '1.01 < 1.1',
      '1.001 < 1.01',
      '1.0 < 1.0.0',
      '1.0_rc1 < 1.0',
      '1.0_alpha_beta < 1.0_alpha',
    ]) {
      expect(pairs).toContain(vector);
    }
    const versions = new Set(table.compare.flatMap((row) => [row.a, row.b]));
    for (const version of [
      '2.36-r0',
      '1.2.3_git20230101-r1',
      '6.4_p20230722-r0',
      '3.0.8_alpha1',
      '1.36.1-r0',
      '20230311-r0',
    ]) {
      expect(versions).toContain(version);
    }
  });

  it('is a total preorder over every valid version in the table', () => {
    const versions = [...new Set(table.compare.flatMap((row) => [row.a, row.b]))].filter((v) =>
      isValidVersion(v),
    );
    expect(versions.length).toBeGreaterThan(400);
    expectTotalPreorder(versions);
  });

  it('is reflexive, including on invalid strings', () => {
    for (const row of table.compare) {
      expect(compareVersions(row.a, row.a)).toBe(0);
    }
  });
});

describe('compareVersions', () => {
  it('sorts numerically, not lexically', () => {
    expect(['1.10', '1.2', '1.9', '1.0-r0', '1.0'].sort(compareVersions)).toEqual([
      '1.0',
      '1.0-r0',
      '1.2',
      '1.9',
      '1.10',
    ]);
  });

  it('orders the suffix ladder alpha < beta < pre < rc < (none) < cvs < svn < git < hg < p', () => {
    const ladder = [
      '1.0_alpha',
      '1.0_beta',
      '1.0_pre',
      '1.0_rc',
      '1.0',
      '1.0_cvs',
      '1.0_svn',
      '1.0_git',
      '1.0_hg',
      '1.0_p',
    ];
    for (let i = 1; i < ladder.length; i++) expect(compareVersions(ladder[i - 1]!, ladder[i]!)).toBe(-1);
  });

  it('compares numbers beyond 2^53 exactly and treats 18-digit numbers as invalid tokens', () => {
    expect(compareVersions('1.9007199254740993', '1.9007199254740992')).toBe(1);
    expect(compareVersions('99999999999999999', '99999999999999998')).toBe(1);
    expect(compareVersions('999999999999999999', '1')).toBe(-1);
  });

  it('stops at a NUL character like apk-tools, which reads C strings', () => {
    expect(compareVersions('1.0\u0000garbage', '1.0')).toBe(0);
  });

  it('handles very long input in linear time', () => {
    const long = `${'1.'.repeat(50_000)}1`;
    expect(compareVersions(long, `${long}-r0`)).toBe(-1);
    expect(compareVersions('9'.repeat(100_000), '1')).toBe(-1);
    expect(isValidVersion(long)).toBe(true);
  });
});

describe('total order on generated versions (seeded)', () => {
  const random = seededRandom(0x5eed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const SUFFIXES = ['alpha', 'beta', 'pre', 'rc', 'cvs', 'svn', 'git', 'hg', 'p'] as const;
  function generate(): string {
    let version = pick(['0', '1', '2', '9', '10', '01', '00', '20230311']);
    const dots = Math.floor(random() * 4);
    for (let i = 0; i < dots; i++)
      version += `.${pick(['0', '1', '2', '9', '10', '00', '01', '001', '010', '99999999999999999'])}`;
    if (random() < 0.25) version += pick(['a', 'b', 'z']);
    const suffixes = Math.floor(random() * 3);
    for (let i = 0; i < suffixes; i++)
      version += `_${pick(SUFFIXES)}${pick(['', '', '0', '1', '2', '10', '01', '20230101'])}`;
    if (random() < 0.5) version += `-r${pick(['0', '1', '2', '10', '01'])}`;
    return version;
  }
  const versions = Array.from({ length: 300 }, generate);

  it('generates only valid versions, which parse back to themselves', () => {
    for (const version of versions) {
      const parsed = parseVersion(version);
      const rebuilt =
        parsed.numbers.join('.') +
        (parsed.letter ?? '') +
        parsed.suffixes.map((s) => `_${s.name}${s.number ?? ''}`).join('') +
        (parsed.revision !== undefined ? `-r${parsed.revision}` : '');
      expect(rebuilt).toBe(version);
      expect(isValidVersion(version, { dialect: 'apk-tools-2.14' })).toBe(true);
    }
  });

  it('is antisymmetric and consistent with sorting', () => {
    expectTotalPreorder(versions);
  });

  it('is transitive on random triples', () => {
    const failures: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const [a, b, c] = [pick(versions), pick(versions), pick(versions)];
      if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0 && compareVersions(a, c) > 0)
        failures.push(`${a} <= ${b} <= ${c}`);
      if (compareVersions(a, b) === 0 && compareVersions(b, c) === 0 && compareVersions(a, c) !== 0)
        failures.push(`${a} = ${b} = ${c}`);
    }
    expect(failures.slice(0, 10)).toEqual([]);
  });
});

describe('fuzzy matching parity table', () => {
  it.each(table.fuzzy)('%# $version ~ $target: $match', ({ version, target, match }) => {
    expect(fuzzyMatchesVersion(version, target)).toBe(match);
    expect(versionMatches(version, '~', target)).toBe(match);
    expect(versionMatches(version, '=~', target)).toBe(match);
    expect(versionMatches(version, '~=', target)).toBe(match);
  });
});

describe('versionMatches parity table', () => {
  it.each(table.operators)('%# $version $op$target: $match', ({ version, op, target, match }) => {
    expect(versionMatches(version, op, target)).toBe(match);
  });

  it('covers every operator', () => {
    expect(new Set(table.operators.map((row) => row.op))).toEqual(new Set(VERSION_OPS));
  });

  it('rejects an unknown operator from an untyped caller', () => {
    const error = catchApkError(() => versionMatches('1.0', '==' as VersionOp, '1.0'));
    expect(error.code).toBe('APK_BAD_DEPENDENCY');
    expect(error.hint).toBeTruthy();
  });

  it('knows its operators', () => {
    for (const op of VERSION_OPS) expect(isVersionOp(op)).toBe(true);
    for (const text of ['', '==', '=>', '><', '<>', 'toString', '__proto__'])
      expect(isVersionOp(text)).toBe(false);
  });
});

describe('version validity parity table', () => {
  it.each(table.validity)(
    '%# $version: strict $strict, apk-tools 2.14 $apkTools214',
    ({ version, strict, apkTools214 }) => {
      expect(isValidVersion(version)).toBe(strict);
      expect(isValidVersion(version, { dialect: 'strict' })).toBe(strict);
      expect(isValidVersion(version, { dialect: 'apk-tools-2.14' })).toBe(apkTools214);
    },
  );

  it('never calls a version strict-valid that apk-tools 2.14 rejects', () => {
    for (const row of table.validity) if (row.strict) expect(row.apkTools214).toBe(true);
  });
});

describe('parseVersion', () => {
  it('splits a version into its parts', () => {
    expect(parseVersion('6.4_p20230722-r0')).toStrictEqual({
      text: '6.4_p20230722-r0',
      numbers: ['6', '4'],
      suffixes: [{ name: 'p', number: '20230722' }],
      revision: '0',
    });
    expect(parseVersion('1.0a_rc_p01')).toStrictEqual({
      text: '1.0a_rc_p01',
      numbers: ['1', '0'],
      letter: 'a',
      suffixes: [{ name: 'rc' }, { name: 'p', number: '01' }],
    });
    expect(parseVersion('20230311')).toStrictEqual({ text: '20230311', numbers: ['20230311'], suffixes: [] });
  });

  it.each([
    ['1..2', 2],
    ['a1', 0],
    ['1.0-r', 5],
    ['1.0_foo', 3],
    ['', 0],
    ['1.0-r1a', 6],
    ['1.0~abc', 3],
    ['123456789012345678', 0],
  ])('rejects %j with APK_BAD_VERSION at offset %i', (version, offset) => {
    const error = catchApkError(() => parseVersion(version));
    expect(error.code).toBe('APK_BAD_VERSION');
    expect(error.message).toContain(JSON.stringify(version));
    expect(error.hint).toMatch(/1\.36\.1-r0/);
    expect(error.data).toMatchObject({ version, offset });
  });

  it('quotes at most 80 characters of hostile input', () => {
    const error = catchApkError(() => parseVersion(`${'1'.repeat(5000)}x`));
    expect(error.message.length).toBeLessThan(300);
    const control = catchApkError(() => parseVersion('1.0\u001b[31m'));
    expect(control.message).not.toContain('\u001b');
    expect(control.message).toContain('U+001B');
  });
});
