import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IndexEntry } from '@tk/repo';
import { parseIndexText, readIndexArchive } from '@tk/repo';
import { solve } from '../solve.ts';
import { nameBucket } from './apk-hash.ts';
import {
  allPackages,
  buildUniverse,
  getUniverse,
  identityKey,
  nameInfoOf,
  reverseInstallIf,
} from './universe.ts';

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
