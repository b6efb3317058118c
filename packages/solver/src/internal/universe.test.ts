import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IndexEntry } from '@tk/repo';
import { hashName, identityKey, parseIndexTable, parseIndexText, readIndexArchive } from '@tk/repo';
import { solve } from '../solve.ts';
import { nameBucket } from './apk-hash.ts';
import type { SolverRepository } from '../types.ts';
import { allPackages, buildUniverse, getUniverse, nameInfoOf, reverseInstallIf } from './universe.ts';

const record = (name: string, checksum: string): string => `C:${checksum}\nP:${name}\nV:1\nS:1\nI:1\n\n`;
const entries = (text: string): IndexEntry[] => parseIndexText(text);

describe('package identity (apk-tools decodes C: before comparing)', () => {
  it('treats Q1 checksums that differ only in the padding bits as one package, the first record winning', () => {
    expect(identityKey('Q1hdUpqRv5mYgJEqW52UmVsvmyysF=')).toBe('Q1hdUpqRv5mYgJEqW52UmVsvmyysE=');
    expect(identityKey('Q1hdUpqRv5mYgJEqW52UmVsvmyysE=')).toBe('Q1hdUpqRv5mYgJEqW52UmVsvmyysE=');
    // apk-tools' installif1.repo: bar, then libiif with the same decoded checksum.
    const universe = buildUniverse(
      [
        {
          name: 'r',
          entries: entries(
            record('bar', 'Q1hdUpqRv5mYgJEqW52UmVsvmyysF=') +
              record('libiif', 'Q1hdUpqRv5mYgJEqW52UmVsvmyysE='),
          ),
        },
      ],
      'x86_64',
    );
    expect(allPackages(universe).map((pkg) => pkg.entry.name)).toEqual(['bar']);
    expect(nameInfoOf(universe, 'libiif')).toBeUndefined();
  });

  it('reads an X1 hex checksum as the same bytes as its Q1 form', () => {
    const hex = `X1${Buffer.from('Q1hdUpqRv5mYgJEqW52UmVsvmyysE='.slice(2), 'base64').toString('hex')}`;
    expect(identityKey(hex)).toBe('Q1hdUpqRv5mYgJEqW52UmVsvmyysE=');
    const universe = buildUniverse(
      [
        { name: 'a', entries: entries(record('bar', 'Q1hdUpqRv5mYgJEqW52UmVsvmyysE=')) },
        { name: 'b', tag: 't', entries: entries(record('bar', hex)) },
      ],
      'x86_64',
    );
    expect(allPackages(universe)).toHaveLength(1);
    expect(allPackages(universe)[0]!.repos).toEqual([0, 1]);
    expect(allPackages(universe)[0]!.tags).toEqual(['t']);
  });

  it('keeps distinct checksums apart however many there are (the table grows)', () => {
    let text = '';
    for (let i = 0; i < 20_000; i++) {
      const sum = Buffer.alloc(20);
      sum.writeUInt32BE(i, 0);
      text += record(`p${i}`, `Q1${sum.toString('base64')}`);
    }
    const universe = buildUniverse([{ name: 'r', entries: entries(text) }], 'x86_64');
    expect(allPackages(universe)).toHaveLength(20_000);
    // The same index again in a second repository adds the repository, not packages.
    const twice = buildUniverse(
      [
        { name: 'r', entries: entries(text) },
        { name: 's', entries: entries(text) },
      ],
      'x86_64',
    );
    expect(allPackages(twice)).toHaveLength(20_000);
    expect(allPackages(twice).every((pkg) => pkg.repos.length === 2)).toBe(true);
  });

  it('compares other checksum forms as written', () => {
    expect(identityKey('Q2abc')).toBe('Q2abc');
    expect(identityKey('Q1short=')).toBe('Q1short=');
    expect(identityKey('Q1hdUpqRv5mYgJEqW52UmVsvmyys\u00e9=')).toBe('Q1hdUpqRv5mYgJEqW52UmVsvmyys\u00e9=');
  });
});

describe('package identity under crafted checksums', () => {
  it('stays correct when every checksum hashes alike (the table gives up probing and moves to a Map)', () => {
    // Checksums that share the hashed characters and differ only in the rest.
    let text = '';
    const count = 5000;
    for (let i = 0; i < count; i++) {
      const sum = Buffer.alloc(20);
      sum.writeUInt32BE(i, 12);
      text += record(`p${i}`, `Q1${sum.toString('base64')}`);
    }
    // The same identities again, spelled with other padding bits, in a second repository.
    const variants = text.replace(/C:(Q1.{26})A=/g, 'C:$1B=');
    expect(variants).not.toBe(text);
    const universe = buildUniverse(
      [
        { name: 'r', entries: entries(text) },
        { name: 's', entries: entries(variants) },
      ],
      'x86_64',
    );
    expect(allPackages(universe)).toHaveLength(count);
    expect(allPackages(universe).filter((pkg) => pkg.repos.length === 2)).toHaveLength(count);
  });
});

describe('lazy universe', () => {
  it('builds only the packages and names a solve looks at, from an IndexTable', () => {
    const path = join(
      import.meta.dirname,
      '../../../../test-fixtures/real/alpine/v3.17-main-aarch64-APKINDEX.tar.gz',
    );
    const { table } = readIndexArchive(new Uint8Array(readFileSync(path)));
    const repositories = [
      {
        name: 'alpine',
        table,
        get entries(): IndexEntry[] {
          throw new Error('read entries');
        },
      },
    ];
    const solution = solve({ world: ['python3', 'git', 'openssh'], repositories, arch: 'aarch64' });
    expect(solution.packages).toHaveLength(34);
    // The solve's (cached) universe built a small part of the 5004 records.
    const universe = getUniverse(repositories, 'aarch64');
    expect(universe.built.size).toBeGreaterThanOrEqual(34);
    expect(universe.built.size).toBeLessThan(table.length / 5);
    expect(nameInfoOf(universe, 'busybox')!.providerPackages.map((pkg) => pkg.entry.name)).toEqual([
      'busybox',
    ]);
    expect(nameInfoOf(universe, 'no-such-name')).toBeUndefined();
    // Every package is still there when asked for.
    expect(allPackages(universe)).toHaveLength(table.length);
  });

  it('orders a reverse install_if list by apk-tools bucket, newest name first within a bucket', () => {
    // Two names in one bucket of apk-tools' 20,000 (found by trying names in order) and one elsewhere.
    const byBucket = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; pair === undefined; i++) {
      const name = `n${i}`;
      const bucket = nameBucket(name);
      const other = byBucket.get(bucket);
      if (other !== undefined) pair = [other, name];
      else byBucket.set(bucket, name);
    }
    const [first, second] = pair;
    const lone = [...byBucket.values()].find((name) => name !== first)!;
    const user = (name: string, n: number): string =>
      `C:Q1${Buffer.alloc(20, n).toString('base64')}\nP:${name}\nV:1\ni:trigger\n\n`;
    const text = `${user(first, 1)}${user(second, 2)}${user(lone, 3)}C:Q1${Buffer.alloc(20, 4).toString('base64')}\nP:trigger\nV:1\n\n`;
    const universe = buildUniverse([{ name: 'r', entries: parseIndexText(text) }], 'x86_64');
    const order = reverseInstallIf(universe, nameInfoOf(universe, 'trigger')!);
    const expected = [second, first, lone].sort(
      (a, b) => nameBucket(a) - nameBucket(b) || (a === second ? -1 : b === second ? 1 : 0),
    );
    expect(order).toEqual(expected);
  });
});

/** Each name's providers (name@version and the token) and install_if users, as plain data. */
function describeNames(repositories: readonly SolverRepository[], names: readonly string[]): unknown[] {
  const universe = buildUniverse(repositories, 'x86_64');
  return names.map((name) => {
    const info = nameInfoOf(universe, name);
    if (info === undefined) return [name, 'none'];
    return [
      name,
      info.providerPackages.map((pkg, index) => `${pkg.entry.name}@${pkg.id}:${info.providerTokens[index]}`),
      info.iifUsers.map((pkg) => pkg.entry.name),
      info.iifNames,
    ];
  });
}

/** The same index as an entries array and as an IndexTable. */
function bothPaths(text: string): [SolverRepository[], SolverRepository[]] {
  const table = parseIndexTable(new TextEncoder().encode(text));
  return [[{ name: 'r', entries: parseIndexText(text) }], [{ name: 'r', table, entries: table.entries() }]];
}

const sum = (n: number): string => `Q1${Buffer.alloc(20, n).toString('base64')}`;

describe('names (looked up by hash, verified by name)', () => {
  it('finds providers and install_if users of odd names the same way from entries and from a table', () => {
    const text =
      `C:${sum(1)}\nP:caf\u00e9\nV:1\np:s\u00f8=2 virtual virtual cmd:x=1 caf\u00e9\ni:!na\u00efve b\u00e9b\u00e9<3\n\n` +
      `C:${sum(2)}\nP:virtual\nV:2\ni:caf\u00e9 caf\u00e9=1\n\n` +
      `C:${sum(3)}\nP:other\nV:1\np:virtual=3 cmd:x\np:two-lines\n\n` +
      `C:${sum(1)}\nP:same-identity\nV:1\np:virtual\n\n` +
      `C:${sum(4)}\nP:elsewhere\nV:1\nA:aarch64\np:virtual\n\n`;
    const names = [
      'caf\u00e9',
      's\u00f8',
      'virtual',
      'cmd:x',
      'na\u00efve',
      'b\u00e9b\u00e9',
      'two-lines',
      'same-identity',
      'elsewhere',
      'cafe',
      'x',
    ];
    const [entryRepositories, tableRepositories] = bothPaths(text);
    const fromEntries = describeNames(entryRepositories, names);
    const fromTable = describeNames(tableRepositories, names);
    expect(fromTable).toEqual(fromEntries);
    expect(fromEntries).toEqual([
      // The repeated own name in p: adds nothing; i: users keep their order, once each.
      ['caf\u00e9', ['caf\u00e9@0:null'], ['virtual'], ['virtual']],
      ['s\u00f8', ['caf\u00e9@0:s\u00f8=2'], [], []],
      // A repeated provide counts once, with its first token.
      ['virtual', ['caf\u00e9@0:virtual', 'virtual@1:null', 'other@2:virtual=3'], [], []],
      ['cmd:x', ['caf\u00e9@0:cmd:x=1', 'other@2:cmd:x'], [], []],
      ['na\u00efve', [], ['caf\u00e9'], ['caf\u00e9', 's\u00f8', 'virtual', 'cmd:x']],
      ['b\u00e9b\u00e9', [], ['caf\u00e9'], ['caf\u00e9', 's\u00f8', 'virtual', 'cmd:x']],
      ['two-lines', ['other@2:two-lines'], [], []],
      ['same-identity', 'none'],
      ['elsewhere', 'none'],
      ['cafe', 'none'],
      ['x', 'none'],
    ]);
  });

  it('never mixes up names whose hashes collide, however many there are', () => {
    // Names of one length that differ only where hashName does not look: all have one hash.
    const letters = 'abcdefghijklmnopqrstuvwxyz';
    const colliding: string[] = [];
    for (const a of letters)
      for (const b of letters.slice(0, 8)) colliding.push(`pkxx${a}xxxx${b}xxxxxxxxxx`);
    const absent = 'pkxxzxxxxzxxxxxxxxxx';
    expect(new Set([...colliding, absent].map((name) => hashName(name))).size).toBe(1);
    for (const count of [3, colliding.length]) {
      const names = colliding.slice(0, count);
      let text = '';
      names.forEach((name, index) => {
        const provided = names[(index + 1) % count]!;
        text += `C:${sum(index + 1)}\nP:${name}\nV:1\np:${provided}=2\ni:!${names[(index + 2) % count]}\n\n`;
      });
      const lookups = [...names, absent, 'pkxxaxxxxaxxxxxxxxxy'];
      const [entryRepositories, tableRepositories] = bothPaths(text);
      const fromEntries = describeNames(entryRepositories, lookups);
      const fromTable = describeNames(tableRepositories, lookups);
      expect(fromTable).toEqual(fromEntries);
      names.forEach((name, index) => {
        const provider = (index + count - 1) % count;
        const user = (index + count - 2) % count;
        expect(fromEntries[index]).toEqual([
          name,
          // Record order: the provider may come before the package itself.
          [
            [index, `${name}@${index}:null`],
            [provider, `${names[provider]}@${provider}:${name}=2`],
          ]
            .sort((a, b) => (a[0] as number) - (b[0] as number))
            .map((pair) => pair[1]),
          [names[user]],
          [names[user], names[(user + 1) % count]],
        ]);
      });
      expect(fromEntries.slice(count)).toEqual([
        [absent, 'none'],
        ['pkxxaxxxxaxxxxxxxxxy', 'none'],
      ]);
    }
  });
});
