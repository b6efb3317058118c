import { describe, expect, it } from 'vitest';
import { createRecordingLogger, isTkError } from '@tk/core';
import type { IndexEntry } from '@tk/repo';
import { SolverError } from './errors.ts';
import { compareNamesForDisplay, parseWorld, solve } from './solve.ts';
import type { SolverRepository } from './types.ts';

function entry(name: string, version: string, fields: Partial<IndexEntry> = {}): IndexEntry {
  const checksum = `Q1${Buffer.from(`${name}-${version}`.padEnd(20, '.').slice(0, 20)).toString('base64')}`;
  return {
    checksum,
    name,
    version,
    arch: 'x86_64',
    depends: [],
    provides: [],
    installIf: [],
    other: [],
    ...fields,
  };
}

const repositories: SolverRepository[] = [
  {
    name: 'main',
    entries: [entry('a', '1.0-r0'), entry('a', '2.0-r0'), entry('B', '1.0-r0'), entry('c', '1.0-r0')],
  },
  { name: './local', tag: 'local', entries: [entry('d', '1.0-r0')] },
];

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return isTkError(error) ? error.code : 'not a TkError';
  }
  return undefined;
}

describe('parseWorld', () => {
  it('normalises, deduplicates and sorts as apk-tools does (case-insensitive name first)', () => {
    const world = parseWorld(
      ['c', ' a ', 'B', 'd=1.0-r0@local', 'd@local=1.0-r0', 'a', '!c', 'a=~1'],
      repositories,
    );
    expect(world.map((item) => item.token)).toEqual(['a', 'a~1', 'B', '!c', 'c', 'd@local=1.0-r0']);
  });

  it('validates tokens strictly and checks tags', () => {
    expect(codeOf(() => parseWorld(['a=1.0-r'], repositories))).toBe('SOLVER_BAD_CONSTRAINT');
    expect(codeOf(() => parseWorld(['a@nowhere'], repositories))).toBe('SOLVER_UNKNOWN_TAG');
    expect(codeOf(() => parseWorld([''], repositories))).toBe('SOLVER_BAD_CONSTRAINT');
  });
});

describe('compareNamesForDisplay', () => {
  it('orders like strcasecmp, then strcmp', () => {
    expect(['b', 'B', 'a', 'A', 'a-b', 'a.b'].sort(compareNamesForDisplay)).toEqual([
      'A',
      'a',
      'a-b',
      'a.b',
      'B',
      'b',
    ]);
  });
});

describe('solve', () => {
  it('returns the normalised world and its stats, and logs only debug lines', () => {
    const logger = createRecordingLogger();
    const solution = solve({ world: ['c', 'a'], repositories, arch: 'x86_64', logger });
    expect(solution.world).toEqual(['a', 'c']);
    expect(solution.arch).toBe('x86_64');
    expect(solution.packages.map((p) => `${p.entry.name}-${p.entry.version}`)).toEqual([
      'a-2.0-r0',
      'c-1.0-r0',
    ]);
    expect(solution.stats.steps).toBeGreaterThanOrEqual(2);
    expect(logger.messages.length).toBeGreaterThan(0);
    expect(logger.messages.every((message) => message.level === 'debug')).toBe(true);
  });

  it('prefers installed or locked versions over newer ones, but never against a constraint', () => {
    const prefer = [{ name: 'a', version: '1.0-r0' }];
    expect(solve({ world: ['a'], repositories, arch: 'x86_64', prefer }).packages[0]!.entry.version).toBe(
      '1.0-r0',
    );
    expect(
      solve({ world: ['a>1.0-r0'], repositories, arch: 'x86_64', prefer }).packages[0]!.entry.version,
    ).toBe('2.0-r0');
  });

  it('throws SolverError instances with the arch, the chain and every candidate in data', () => {
    let caught: unknown;
    try {
      solve({ world: ['a>5'], repositories, arch: 'x86_64' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SolverError);
    const error = caught as SolverError;
    expect(error.code).toBe('SOLVER_UNSATISFIABLE');
    expect(error.message.startsWith('x86_64: ')).toBe(true);
    expect(error.hint).toBeTruthy();
    expect(error.data?.chain).toEqual(['world: a>5']);
    expect((error.data?.candidates as { package: string }[]).map((item) => item.package)).toEqual([
      'a-2.0-r0',
      'a-1.0-r0',
    ]);
  });

  it('gives the same answer for the same input, whatever the world order', () => {
    const one = solve({ world: ['c', 'a', 'B'], repositories, arch: 'x86_64' });
    const two = solve({ world: ['B', 'c', 'a'], repositories, arch: 'x86_64' });
    expect(two).toEqual(one);
  });
});
