import { describe, expect, it } from 'vitest';
import { createSyntheticIndex, solve, type SolverRepository } from '@tk/solver';
import { checkSolution, labels, readJsonFixture } from './helpers.ts';

interface SyntheticCase {
  seed: number;
  entries: number;
  arch: string;
  world: string[];
  install: string[];
}

const table = readJsonFixture<{ cases: SyntheticCase[] }>('parity/solver-synthetic.json');

describe('a synthetic 100,000-entry Wolfi-shaped index', () => {
  it.each(table.cases.map((row) => [row.seed, row] as const))(
    'seed %i: resolves to exactly what apk-tools 2.14.10 installs',
    (_seed, row) => {
      const { entries, world } = createSyntheticIndex({
        entries: row.entries,
        seed: row.seed,
        arch: row.arch,
      });
      expect(entries).toHaveLength(100_000);
      expect(world).toEqual(row.world);

      // Wolfi-shaped: many versions per name, so: and cmd: provides, -dev subpackages, other archs.
      const versions = new Map<string, number>();
      for (const entry of entries) versions.set(entry.name, (versions.get(entry.name) ?? 0) + 1);
      expect(entries.length / versions.size).toBeGreaterThan(10);
      expect(entries.filter((e) => e.provides.some((p) => p.startsWith('so:'))).length).toBeGreaterThan(
        20_000,
      );
      expect(entries.filter((e) => e.provides.some((p) => p.startsWith('cmd:'))).length).toBeGreaterThan(
        20_000,
      );
      expect(
        entries.some((e) => e.arch === 'noarch') &&
          entries.some((e) => e.arch !== row.arch && e.arch !== 'noarch'),
      ).toBe(true);

      const repositories: SolverRepository[] = [{ name: 'https://synthetic.example/os', entries }];
      const solution = solve({ world, repositories, arch: row.arch });
      expect(labels(solution)).toEqual(row.install);
      expect(checkSolution(solution, world)).toEqual([]);
      expect(solution.stats.backtracks).toBe(0);
    },
  );

  it('resolves a larger world (every 40th top-level name) into a consistent install list, deterministically', () => {
    const { entries } = createSyntheticIndex({ entries: 100_000, seed: 3 });
    const names = [
      ...new Set(entries.filter((e) => e.arch === 'x86_64' && !e.name.endsWith('-dev')).map((e) => e.name)),
    ];
    const world = names.filter((_, index) => index % 40 === 7);
    const repositories: SolverRepository[] = [{ name: 'synthetic', entries }];
    const first = solve({ world, repositories, arch: 'x86_64' });
    expect(checkSolution(first, world)).toEqual([]);
    expect(first.packages.length).toBeGreaterThan(world.length);
    const again = solve({
      world: [...world].reverse(),
      repositories: [{ name: 'synthetic', entries }],
      arch: 'x86_64',
    });
    expect(labels(again)).toEqual(labels(first));
  });

  it('generates the same entries for the same seed, and others for another', () => {
    const a = createSyntheticIndex({ entries: 2_000, seed: 9 });
    const b = createSyntheticIndex({ entries: 2_000, seed: 9 });
    const c = createSyntheticIndex({ entries: 2_000, seed: 10 });
    expect(b).toEqual(a);
    expect(c.entries.map((e) => e.checksum)).not.toEqual(a.entries.map((e) => e.checksum));
  });
});
