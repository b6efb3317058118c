import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  dependencyMatchesVersion,
  formatDependency,
  formatProvide,
  isDependencySatisfied,
  MAX_DEPENDENCY_TOKEN_LENGTH,
  parseDependency,
  parseDependencyList,
  parseProvide,
  type Dependency,
  type DependencyCandidate,
  type DependencyParseOptions,
  type Provide,
} from './dependency.ts';
import { ApkError } from './errors.ts';
import type { VersionDialect, VersionOp } from './version.ts';
import { seededRandom } from '@tk/core';

/** Rows of test-fixtures/parity/dependencies.json; see the README there for sources. */
interface DependencyTable {
  parse: {
    token: string;
    expected: Dependency;
    source: string;
    versionDialect?: VersionDialect;
    note?: string;
  }[];
  reject: {
    token: string;
    code: string;
    source: string;
    versionDialect?: VersionDialect;
    note?: string;
    apkTools214: string;
  }[];
  provideAccept: { token: string; expected: Provide; source: string; versionDialect?: VersionDialect }[];
  provideReject: { token: string; code: string; source: string; note?: string }[];
  lists: { text: string; names: string[]; source: string }[];
  listReject: { text: string; index: number; code: string; source: string }[];
  satisfied: {
    token: string;
    candidate: DependencyCandidate;
    expected: boolean;
    source: string;
    note?: string;
  }[];
}
interface OperatorRow {
  version: string;
  op: VersionOp;
  target: string;
  match: boolean;
}

const fixtures = new URL('../../../test-fixtures/parity/', import.meta.url);
const table = JSON.parse(readFileSync(new URL('dependencies.json', fixtures), 'utf8')) as DependencyTable;
const operators = (
  JSON.parse(readFileSync(new URL('versions.json', fixtures), 'utf8')) as { operators: OperatorRow[] }
).operators;

const Q1 = 'Q1pAwE+YY6aAhBq9iuZqpqiss3xmk=';

function options(dialect: VersionDialect | undefined): DependencyParseOptions {
  return dialect === undefined ? {} : { versionDialect: dialect };
}

function catchApkError(fn: () => unknown): ApkError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ApkError) return error;
    throw error;
  }
  throw new Error('expected an ApkError');
}

describe('parseDependency parity table', () => {
  it.each(table.parse)('%# $token', ({ token, expected, versionDialect }) => {
    expect(parseDependency(token, options(versionDialect))).toStrictEqual(expected);
  });

  it.each(table.parse)('%# round-trips $token through formatDependency', ({ token, versionDialect }) => {
    const dep = parseDependency(token, options(versionDialect));
    const formatted = formatDependency(dep, options(versionDialect));
    expect(parseDependency(formatted, options(versionDialect))).toStrictEqual(dep);
  });

  it('writes the apk-tools order and canonical operators', () => {
    expect(formatDependency(parseDependency('busybox=1.36.1-r0@local'))).toBe('busybox@local=1.36.1-r0');
    expect(formatDependency(parseDependency('foo=~1.0'))).toBe('foo~1.0');
    expect(formatDependency(parseDependency('foo~=1.0'))).toBe('foo~1.0');
    expect(formatDependency(parseDependency(`foo><${Q1}@local`))).toBe(`foo@local><${Q1}`);
    expect(formatDependency({ name: 'foo', conflict: false, op: '=~', version: '1.0' })).toBe('foo~1.0');
    for (const row of table.parse) {
      const apkOrder =
        !/[=<>~][^@]*@/.test(row.token) && !row.token.includes('=~') && !row.token.includes('~=');
      if (apkOrder)
        expect(
          formatDependency(
            parseDependency(row.token, options(row.versionDialect)),
            options(row.versionDialect),
          ),
        ).toBe(row.token);
    }
  });

  it('rejects apk-tools-2.14-only versions unless asked for that dialect', () => {
    expect(catchApkError(() => parseDependency('aspell-ru=0.99f7-r1')).code).toBe('APK_BAD_VERSION');
    expect(parseDependency('aspell-ru=0.99f7-r1', { versionDialect: 'apk-tools-2.14' }).version).toBe(
      '0.99f7-r1',
    );
  });
});

describe('parseDependency rejections', () => {
  it.each(table.reject)('%# rejects $token with $code', ({ token, code, versionDialect }) => {
    const error = catchApkError(() => parseDependency(token, options(versionDialect)));
    expect(error.code).toBe(code);
    expect(error.message).toContain(JSON.stringify(token));
    expect(error.hint).toBeTruthy();
    expect(error.data).toMatchObject({ token });
  });

  it('never puts raw control characters into a message', () => {
    for (const token of ['foo\u001b[31mred', 'foo\u0000', 'foo\nbar', 'foo\u0007']) {
      const error = catchApkError(() => parseDependency(token));
      const controls = [...error.message].filter(
        (char) => char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f,
      );
      expect(controls).toEqual([]);
    }
  });

  it('names the offset of the offending character', () => {
    expect(catchApkError(() => parseDependency('busyb\u03bfx')).message).toContain('U+03BF at offset 5');
    expect(catchApkError(() => parseDependency('foo\u{1F600}')).message).toContain('U+1F600 at offset 3');
    expect(catchApkError(() => parseDependency('foo\tbar')).data).toMatchObject({ offset: 3 });
  });

  it(`accepts ${MAX_DEPENDENCY_TOKEN_LENGTH} characters and refuses more, quoting only a prefix`, () => {
    const longest = 'a'.repeat(MAX_DEPENDENCY_TOKEN_LENGTH);
    expect(parseDependency(longest).name).toBe(longest);
    const error = catchApkError(() => parseDependency(`${longest}b`));
    expect(error.code).toBe('APK_BAD_DEPENDENCY');
    expect(error.message).toContain('1025 characters');
    expect(error.message.length).toBeLessThan(300);
  });

  it('refuses huge hostile tokens quickly', () => {
    for (const token of [
      '='.repeat(1_000_000),
      `a${'@'.repeat(500)}`,
      `a=${'1.'.repeat(400)}`,
      `a><${'Q'.repeat(900)}`,
      '!'.repeat(900),
    ]) {
      expect(() => parseDependency(token)).toThrow(ApkError);
    }
  });
});

describe('formatDependency', () => {
  it.each<[string, Dependency]>([
    ['a name with a space', { name: 'foo bar', conflict: false }],
    ['an empty name', { name: '', conflict: false }],
    ['an operator character in the name', { name: 'foo=1', conflict: false }],
    ['a tag in the name', { name: 'foo@edge', conflict: false }],
    ['a bad tag', { name: 'foo', tag: 'a/b', conflict: false }],
    ['an empty tag', { name: 'foo', tag: '', conflict: false }],
    ['an operator without a version', { name: 'foo', conflict: false, op: '=' }],
    ['a version without an operator', { name: 'foo', conflict: false, version: '1.0' }],
    [
      'both a checksum and a version',
      { name: 'foo', conflict: false, op: '=', version: '1.0', checksum: Q1 },
    ],
    ['a malformed checksum', { name: 'foo', conflict: false, checksum: 'Q1abc' }],
    ['a tag smuggled into the version', { name: 'foo', conflict: false, op: '=', version: '1.0@edge' }],
    ['an unknown operator', { name: 'foo', conflict: false, op: '==' as VersionOp, version: '1.0' }],
  ])('refuses %s with APK_BAD_DEPENDENCY', (_what, dep) => {
    expect(catchApkError(() => formatDependency(dep)).code).toBe('APK_BAD_DEPENDENCY');
  });

  it('refuses an invalid version with APK_BAD_VERSION', () => {
    expect(
      catchApkError(() => formatDependency({ name: 'foo', conflict: false, op: '>=', version: '1..2' })).code,
    ).toBe('APK_BAD_VERSION');
  });

  it('round-trips generated dependencies in both tag orders (seeded)', () => {
    const random = seededRandom(0xd3b);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const names = [
      'busybox',
      'so:libc.musl-x86_64.so.1',
      'cmd:[',
      'pc:gtk+-3.0',
      '/bin/sh',
      'libstdc++',
      'py3.11-foo_bar',
    ];
    const tags = [undefined, 'edge', 'local', 'my-repo.v2_x'];
    const ops: (VersionOp | undefined)[] = [undefined, '=', '<', '>', '<=', '>=', '~', '>~', '<~'];
    const versions = [
      '1.0',
      '1.36.1-r0',
      '6.4_p20230722-r0',
      '1.2.3_git20230101-r1',
      '20230311-r0',
      '0.1a_rc2_p3-r4',
    ];
    for (let i = 0; i < 500; i++) {
      const tag = pick(tags);
      const op = pick(ops);
      const checksum = op === undefined && random() < 0.2 ? Q1 : undefined;
      const dep: Dependency = {
        name: pick(names),
        ...(tag !== undefined ? { tag } : {}),
        conflict: random() < 0.3,
        ...(op !== undefined ? { op, version: pick(versions) } : {}),
        ...(checksum !== undefined ? { checksum } : {}),
      };
      const token = formatDependency(dep);
      expect(parseDependency(token)).toStrictEqual(dep);
      if (tag !== undefined) {
        const constraint =
          op !== undefined ? `${op}${dep.version}` : checksum !== undefined ? `><${checksum}` : '';
        const apkoOrder = `${dep.conflict ? '!' : ''}${dep.name}${constraint}@${tag}`;
        expect(parseDependency(apkoOrder)).toStrictEqual(dep);
      }
    }
  });
});

describe('parseDependencyList', () => {
  it.each(table.lists)('%# $text', ({ text, names }) => {
    expect(parseDependencyList(text).map((dep) => dep.name)).toEqual(names);
  });

  it.each(table.listReject)('%# reports token $index of $text', ({ text, index, code }) => {
    const error = catchApkError(() => parseDependencyList(text));
    expect(error.code).toBe(code);
    expect(error.message).toContain(`token ${index + 1} of the dependency list`);
    expect(error.data).toMatchObject({ index });
    expect(error.cause).toBeInstanceOf(ApkError);
  });

  it('parses a real APKINDEX D: line', () => {
    const deps = parseDependencyList(
      '/bin/sh so:libc.musl-aarch64.so.1 so:libcrypto.so.3 busybox>=1.28.2-r1 !openssh-client',
    );
    expect(deps).toHaveLength(5);
    expect(deps[3]).toStrictEqual({ name: 'busybox', conflict: false, op: '>=', version: '1.28.2-r1' });
    expect(deps[4]).toStrictEqual({ name: 'openssh-client', conflict: true });
  });
});

describe('parseProvide', () => {
  it.each(table.provideAccept)('%# $token', ({ token, expected, versionDialect }) => {
    const provide = parseProvide(token, options(versionDialect));
    expect(provide).toStrictEqual(expected);
    expect(formatProvide(provide, options(versionDialect))).toBe(token);
  });

  it.each(table.provideReject)('%# rejects $token with $code', ({ token, code }) => {
    const error = catchApkError(() => parseProvide(token));
    expect(error.code).toBe(code);
    expect(error.message).toContain(JSON.stringify(token));
    expect(error.hint).toBeTruthy();
  });

  it('refuses to format a provide that would not parse back', () => {
    expect(catchApkError(() => formatProvide({ name: 'foo bar' })).code).toBe('APK_BAD_DEPENDENCY');
    expect(catchApkError(() => formatProvide({ name: 'foo', version: 'x' })).code).toBe('APK_BAD_VERSION');
  });
});

describe('dependencyMatchesVersion', () => {
  it.each(operators)('%# $version against $op$target: $match', ({ version, op, target, match }) => {
    expect(dependencyMatchesVersion({ name: 'x', conflict: false, op, version: target }, version)).toBe(
      match,
    );
    // The conflict flag does not change the range.
    expect(dependencyMatchesVersion({ name: 'x', conflict: true, op, version: target }, version)).toBe(match);
  });

  it('accepts any version without an operator, and none for a checksum pin', () => {
    expect(dependencyMatchesVersion(parseDependency('foo'), '0')).toBe(true);
    expect(dependencyMatchesVersion(parseDependency('!foo'), '99')).toBe(true);
    expect(dependencyMatchesVersion(parseDependency(`foo><${Q1}`), '1.0')).toBe(false);
  });

  it('refuses an operator without a version', () => {
    expect(
      catchApkError(() => dependencyMatchesVersion({ name: 'foo', conflict: false, op: '=' }, '1.0')).code,
    ).toBe('APK_BAD_DEPENDENCY');
  });
});

describe('isDependencySatisfied parity table', () => {
  it.each(table.satisfied)('%# $token with $candidate: $expected', ({ token, candidate, expected }) => {
    expect(isDependencySatisfied(parseDependency(token), candidate)).toBe(expected);
  });
});
