import { describe, expect, it } from 'vitest';
import { isTkError } from '@tk/core';
import { readIndexArchive, type IndexEntry } from '@tk/repo';
import {
  parseLockFile,
  solve,
  solveMultiArch,
  type SolverErrorCode,
  type SolverRepository,
} from '@tk/solver';
import { checkSolution, isDependencyOrder, labels, readFixture, readJsonFixture } from './helpers.ts';

interface OracleTable {
  index: string;
  arch: string;
  cases: { world: string[]; install?: string[]; error?: SolverErrorCode }[];
}

for (const file of ['parity/solver-alpine.json', 'parity/solver-wolfi.json']) {
  describe(`apk-tools 2.14.10 answers on a real index (${file})`, () => {
    const table = readJsonFixture<OracleTable>(file);
    const { entries } = readIndexArchive(readFixture(table.index));
    const repositories: SolverRepository[] = [{ name: 'https://example.invalid/main', entries }];
    const byLabel = new Map<string, IndexEntry>(entries.map((e) => [`${e.name}-${e.version}`, e]));

    it.each(table.cases.map((row) => [row.world.join(' '), row] as const))('%s', (_world, row) => {
      if (row.error !== undefined) {
        let caught: unknown;
        try {
          solve({ world: row.world, repositories, arch: table.arch });
        } catch (error) {
          caught = error;
        }
        expect(isTkError(caught) ? caught.code : caught).toBe(row.error);
        return;
      }
      const solution = solve({ world: row.world, repositories, arch: table.arch });
      const got = labels(solution);
      const expected = row.install!;
      // The set always; the order where apk-tools' order is itself a valid dependency order.
      expect([...got].sort()).toEqual([...expected].sort());
      const oracleOrder = expected.map((label) => byLabel.get(label)!);
      if (isDependencyOrder(oracleOrder)) expect(got).toEqual(expected);
      expect(checkSolution(solution, row.world)).toEqual([]);
    });
  });
}

describe('Alpine v3.17 main', () => {
  const { entries } = readIndexArchive(readFixture('real/alpine/v3.17-main-aarch64-APKINDEX.tar.gz'));
  const repositories: SolverRepository[] = [{ name: 'alpine', entries }];

  it('compares every recorded order exactly: each apk-tools order in the table is a valid dependency order', () => {
    const table = readJsonFixture<OracleTable>('parity/solver-alpine.json');
    const byLabel = new Map(entries.map((e) => [`${e.name}-${e.version}`, e]));
    for (const row of table.cases) {
      if (row.install !== undefined) {
        expect(isDependencyOrder(row.install.map((label) => byLabel.get(label)!)), row.world.join(' ')).toBe(
          true,
        );
      }
    }
  });

  it('resolves the same world to the same bytes twice (deterministic), with a fresh repositories array too', () => {
    const world = ['alpine-base', 'curl', 'python3', 'git'];
    const a = solve({ world, repositories, arch: 'aarch64' });
    const b = solve({ world, repositories: [{ name: 'alpine', entries: [...entries] }], arch: 'aarch64' });
    expect(labels(b)).toEqual(labels(a));
    expect(a.world).toEqual(['alpine-base', 'curl', 'git', 'python3']);
  });

  it('ignores entries of another arch: nothing in an aarch64 index resolves for x86_64', () => {
    let caught: unknown;
    try {
      solve({ world: ['busybox'], repositories, arch: 'x86_64' });
    } catch (error) {
      caught = error;
    }
    expect(isTkError(caught) && caught.code).toBe('SOLVER_NOTHING_PROVIDES');
    expect(isTkError(caught) && caught.message).toContain('aarch64');
  });
});

describe('apko-testrepo', () => {
  const lock = parseLockFile(readFixture('real/apko-testrepo/apko.lock.json'));
  const archs = ['x86_64', 'aarch64'].map((arch) => ({
    arch,
    repositories: [
      {
        name: './testdata/packages',
        entries: readIndexArchive(readFixture(`real/apko-testrepo/${arch}/APKINDEX.tar.gz`)).entries,
      },
    ],
  }));

  it('resolves the replayout world to exactly the packages of apko.lock.json, on both archs', () => {
    const solutions = solveMultiArch({ world: ['replayout'], archs });
    expect([...solutions.keys()]).toEqual(['x86_64', 'aarch64']);
    for (const [arch, solution] of solutions) {
      const locked = lock.contents.packages.filter((pkg) => pkg.architecture === arch);
      expect(solution.packages.map((p) => [p.entry.name, p.entry.version, p.entry.checksum])).toEqual(
        locked.map((p) => [p.name, p.version, p.checksum]),
      );
      expect(
        solution.packages.every((p) => p.pin === undefined && p.repository.name === './testdata/packages'),
      ).toBe(true);
    }
  });

  it('needs a choice for the virtual custom-ca-certificates (two unversioned providers, no priority)', () => {
    let caught: unknown;
    try {
      solve({ world: ['custom-ca-certificates'], repositories: archs[0]!.repositories, arch: 'x86_64' });
    } catch (error) {
      caught = error;
    }
    expect(isTkError(caught) && caught.code).toBe('SOLVER_VIRTUAL_NEEDS_CHOICE');
    const both = solve({
      world: ['custom-ca-certs-1', 'custom-ca-certs-2', 'custom-ca-certificates'],
      repositories: archs[0]!.repositories,
      arch: 'x86_64',
    });
    expect(labels(both)).toEqual(['custom-ca-certs-1-1.0.0-r0', 'custom-ca-certs-2-1.0.0-r0']);
  });
});

describe('repositories given as an IndexTable (what apko passes: only the records a resolve needs are built)', () => {
  for (const file of ['parity/solver-alpine.json', 'parity/solver-wolfi.json']) {
    it(`gives the same answer as the entries for every case of ${file}`, () => {
      const table = readJsonFixture<OracleTable>(file);
      const archive = readIndexArchive(readFixture(table.index));
      const fromTable: SolverRepository[] = [
        {
          name: 'https://example.invalid/main',
          table: archive.table,
          get entries(): IndexEntry[] {
            throw new Error('the solver read entries although it had the table');
          },
        },
      ];
      const fromEntries: SolverRepository[] = [
        { name: 'https://example.invalid/main', entries: readIndexArchive(readFixture(table.index)).entries },
      ];
      const outcome = (repositories: SolverRepository[], world: string[]): unknown => {
        try {
          const solution = solve({ world, repositories, arch: table.arch });
          return { labels: labels(solution), world: solution.world, stats: solution.stats };
        } catch (error) {
          return isTkError(error) ? { code: error.code, message: error.message } : error;
        }
      };
      for (const row of table.cases) {
        expect(outcome(fromTable, row.world), row.world.join(' ')).toEqual(outcome(fromEntries, row.world));
      }
      // The entries it returns are the table's own records.
      const solution = solve({ world: table.cases[0]!.world, repositories: fromTable, arch: table.arch });
      for (const pkg of solution.packages) {
        const index = archive.entries.indexOf(pkg.entry);
        expect(index).toBeGreaterThanOrEqual(0);
        expect(archive.table.entry(index)).toBe(pkg.entry);
      }
    });
  }

  it('multi-arch solves read name-versions from the table too', () => {
    const archs = (useTable: boolean) =>
      ['x86_64', 'aarch64'].map((arch) => {
        const archive = readIndexArchive(readFixture(`real/apko-testrepo/${arch}/APKINDEX.tar.gz`));
        const repository: SolverRepository = useTable
          ? {
              name: './testdata/packages',
              table: archive.table,
              get entries(): IndexEntry[] {
                throw new Error('the solver read entries although it had the table');
              },
            }
          : { name: './testdata/packages', entries: archive.entries };
        return { arch, repositories: [repository] };
      });
    const fromTable = solveMultiArch({ world: ['replayout'], archs: archs(true) });
    const fromEntries = solveMultiArch({ world: ['replayout'], archs: archs(false) });
    expect([...fromTable].map(([arch, solution]) => [arch, labels(solution)])).toEqual(
      [...fromEntries].map(([arch, solution]) => [arch, labels(solution)]),
    );
  });
});
