import { describe, expect, it } from 'vitest';
import type { IndexEntry } from '@tk/repo';
import { parseIndexText } from '@tk/repo';
import { buildUniverse, identityKey } from './universe.ts';

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
    expect(universe.packages.map((pkg) => pkg.entry.name)).toEqual(['bar']);
    expect(universe.names.has('libiif')).toBe(false);
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
    expect(universe.packages).toHaveLength(1);
    expect(universe.packages[0]!.repos).toEqual([0, 1]);
    expect(universe.packages[0]!.tags).toEqual(['t']);
  });

  it('keeps distinct checksums apart however many there are (the table grows)', () => {
    let text = '';
    for (let i = 0; i < 20_000; i++) {
      const sum = Buffer.alloc(20);
      sum.writeUInt32BE(i, 0);
      text += record(`p${i}`, `Q1${sum.toString('base64')}`);
    }
    const universe = buildUniverse([{ name: 'r', entries: entries(text) }], 'x86_64');
    expect(universe.packages).toHaveLength(20_000);
    // The same index again in a second repository adds the repository, not packages.
    const twice = buildUniverse(
      [
        { name: 'r', entries: entries(text) },
        { name: 's', entries: entries(text) },
      ],
      'x86_64',
    );
    expect(twice.packages).toHaveLength(20_000);
    expect(twice.packages.every((pkg) => pkg.repos.length === 2)).toBe(true);
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
    expect(universe.packages).toHaveLength(count);
    expect(universe.packages.filter((pkg) => pkg.repos.length === 2)).toHaveLength(count);
  });
});
