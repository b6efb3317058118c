import { describe, expect, it } from 'vitest';
import { isTkError } from '@tk/core';
import { solve, type SolverErrorCode } from '@tk/solver';
import {
  checkSolution,
  labels,
  readJsonFixture,
  tableRepositories,
  type TableRepository,
} from './helpers.ts';

interface Case {
  id: string;
  world: string[];
  repos: TableRepository[];
  arch?: string;
  install?: string[];
  error?: SolverErrorCode;
  chain?: string[];
  pins?: Record<string, string>;
  repository?: Record<string, string>;
  source: string;
}

const table = readJsonFixture<{ cases: Case[] }>('parity/solver-cases.json');

describe('solver parity table (test-fixtures/parity/solver-cases.json)', () => {
  it('has a source on every row and unique ids', () => {
    expect(table.cases.length).toBeGreaterThanOrEqual(70);
    expect(new Set(table.cases.map((row) => row.id)).size).toBe(table.cases.length);
    for (const row of table.cases) expect(row.source, row.id).toMatch(/\S/);
    expect(table.cases.every((row) => (row.install === undefined) !== (row.error === undefined))).toBe(true);
  });

  it.each(table.cases.map((row) => [row.id, row] as const))('%s', (_id, row) => {
    const arch = row.arch ?? 'x86_64';
    const request = { world: row.world, repositories: tableRepositories(row.repos, arch), arch };
    if (row.error !== undefined) {
      let caught: unknown;
      try {
        solve(request);
      } catch (error) {
        caught = error;
      }
      expect(isTkError(caught), `${row.id} should fail`).toBe(true);
      if (!isTkError(caught)) return;
      expect(caught.code).toBe(row.error);
      if (row.chain !== undefined) expect(caught.data?.chain).toEqual(row.chain);
      return;
    }
    const solution = solve(request);
    expect(labels(solution)).toEqual(row.install);
    expect(checkSolution(solution, row.world)).toEqual([]);
    for (const resolved of solution.packages) {
      expect(resolved.pin, `pin of ${resolved.entry.name}`).toBe(row.pins?.[resolved.entry.name]);
      const repository = row.repository?.[resolved.entry.name];
      if (repository !== undefined) expect(resolved.repository.name).toBe(repository);
    }
  });
});
