import { describe, expect, it } from 'vitest';
import { isTkError } from '@tk/core';
import type { IndexEntry } from '@tk/repo';
import { solve, type SolveRequest, type SolverRepository } from '@tk/solver';
import { checkSolution, entry, labels, type TablePackage } from './helpers.ts';

const ARCH = 'x86_64';
const repo = (packages: TablePackage[], extra: Partial<SolverRepository> = {}): SolverRepository[] => [
  { name: 'main', entries: packages.map((pkg) => entry(pkg, ARCH)), ...extra },
];

function failure(request: SolveRequest): {
  code: string;
  message: string;
  data: Readonly<Record<string, unknown>>;
} {
  try {
    solve(request);
  } catch (error) {
    if (isTkError(error)) return { code: error.code, message: error.message, data: error.data ?? {} };
    throw error;
  }
  throw new Error('expected the solve to fail');
}

describe('hostile and extreme inputs', () => {
  it('resolves a 10,000-deep dependency chain without recursion, in dependency order', () => {
    const depth = 10_000;
    const packages: TablePackage[] = [];
    for (let i = 0; i < depth; i++)
      packages.push({ P: `p${i}`, V: '1-r0', ...(i + 1 < depth ? { D: `p${i + 1}` } : {}) });
    const repositories = repo(packages);
    const solution = solve({ world: ['p0'], repositories, arch: ARCH });
    expect(solution.packages).toHaveLength(depth);
    expect(solution.packages[0]!.entry.name).toBe(`p${depth - 1}`);
    expect(solution.packages[depth - 1]!.entry.name).toBe('p0');
  });

  it('fails a 10,000-deep chain whose last link is missing with a bounded message and the whole chain in data', () => {
    const depth = 10_000;
    const packages: TablePackage[] = [];
    for (let i = 0; i < depth; i++) packages.push({ P: `p${i}`, V: '1-r0', D: `p${i + 1}` });
    const result = failure({ world: ['p0'], repositories: repo(packages), arch: ARCH });
    expect(result.code).toBe('SOLVER_NOTHING_PROVIDES');
    expect(result.message.length).toBeLessThan(4_000);
    const chain = result.data.chain as string[];
    expect(chain[0]).toBe('world: p0');
    expect(chain.length).toBeGreaterThan(depth - 2);
  });

  it('resolves a 5,000-package dependency ring and cuts it deterministically', () => {
    const size = 5_000;
    const packages: TablePackage[] = [];
    for (let i = 0; i < size; i++) packages.push({ P: `r${i}`, V: '1-r0', D: `r${(i + 1) % size}` });
    const solution = solve({ world: ['r0'], repositories: repo(packages), arch: ARCH });
    expect(solution.packages).toHaveLength(size);
    expect(solution.packages[0]!.entry.name).toBe(`r${size - 1}`);
    expect(solution.packages[size - 1]!.entry.name).toBe('r0');
  });

  it('rules out a package whose index record has malformed or odd tokens, and keeps the rest usable', () => {
    const repositories = repo([
      { P: 'a', V: '2.0-r0', D: 'b\u0007c' },
      { P: 'a', V: '1.5-r0', D: 'nonascii-\u0430' },
      { P: 'a', V: '1.0-r0', D: 'so:lib+odd.so.1 /usr/bin/env' },
      { P: 'odd', V: '1-r0', p: 'so:lib+odd.so.1=1 /usr/bin/env' },
      { P: 'weird name', V: '1-r0' },
    ]);
    const solution = solve({ world: ['a'], repositories, arch: ARCH });
    expect(labels(solution)).toEqual(['odd-1-r0', 'a-1.0-r0']);
    expect(failure({ world: ['weird name'], repositories, arch: ARCH }).code).toBe('SOLVER_BAD_CONSTRAINT');
    expect(failure({ world: ['\u0430'], repositories, arch: ARCH }).code).toBe('SOLVER_BAD_CONSTRAINT');
    expect(failure({ world: ['a\u001b[31m'], repositories, arch: ARCH }).code).toBe('SOLVER_BAD_CONSTRAINT');
  });

  it('treats an entry with an unknown uppercase field as uninstallable, as apk-tools does', () => {
    const entries: IndexEntry[] = [
      { ...entry({ P: 'a', V: '2.0-r0' }, ARCH), uninstallable: true },
      entry({ P: 'a', V: '1.0-r0' }, ARCH),
    ];
    expect(labels(solve({ world: ['a'], repositories: [{ name: 'main', entries }], arch: ARCH }))).toEqual([
      'a-1.0-r0',
    ]);
  });

  it('copes with a provides explosion: 50,000 names from one package, 20,000 providers of one name', () => {
    const provides = Array.from({ length: 50_000 }, (_, i) => `cmd:c${i}=1`).join(' ');
    const packages: TablePackage[] = [{ P: 'big', V: '1-r0', p: provides }];
    for (let i = 0; i < 20_000; i++) packages.push({ P: `v${i}`, V: '1-r0', p: `virt=${i % 997}.${i}` });
    packages.push({ P: 'app', V: '1-r0', D: 'cmd:c49999 virt' });
    const solution = solve({ world: ['app'], repositories: repo(packages), arch: ARCH });
    // virt=996.x is the highest provided version (i % 997 === 996); of those, the highest i.
    expect(labels(solution)).toEqual(['big-1-r0', 'v19939-1-r0', 'app-1-r0']);
    expect(checkSolution(solution, ['app'])).toEqual([]);
  });

  it('refuses a contradictory world (a !a)', () => {
    expect(
      failure({ world: ['a', '!a'], repositories: repo([{ P: 'a', V: '1-r0' }]), arch: ARCH }).code,
    ).toBe('SOLVER_CONFLICT');
  });

  it('handles huge version strings in the index and refuses them in the world', () => {
    const long = `1.${'9'.repeat(100_000)}`;
    const repositories = repo([
      { P: 'a', V: long },
      { P: 'a', V: '2.0-r0' },
    ]);
    expect(labels(solve({ world: ['a'], repositories, arch: ARCH }))).toEqual(['a-2.0-r0']);
    expect(failure({ world: [`a=${long}`], repositories, arch: ARCH }).code).toBe('SOLVER_BAD_CONSTRAINT');
    expect(failure({ world: ['a'.repeat(5_000)], repositories, arch: ARCH }).code).toBe(
      'SOLVER_BAD_CONSTRAINT',
    );
  });

  it('jumps straight back over unrelated choices (30 two-version names and one impossible one fail at once)', () => {
    const packages: TablePackage[] = [];
    const world: string[] = [];
    for (let i = 0; i < 30; i++) {
      packages.push({ P: `n${i}`, V: '1-r0' }, { P: `n${i}`, V: '2-r0' });
      world.push(`n${i}`);
    }
    packages.push({ P: 'z', V: '1-r0', D: 'q' }, { P: 'q', V: '1-r0', D: 'missing' });
    const result = failure({ world: [...world, 'z'], repositories: repo(packages), arch: ARCH });
    expect(result.code).toBe('SOLVER_NOTHING_PROVIDES');
    expect(result.data.steps as number).toBeLessThan(100);
  });

  it('jumps back over unrelated choices to the one that caused a dead end (no 2^20 thrashing)', () => {
    // x-2 needs n0…n19 (two versions each, decided first) and m, whose a clashes with b (from y) on s.
    const ns = Array.from({ length: 20 }, (_, i) => `n${i}`);
    const packages: TablePackage[] = ns.flatMap((n) => [
      { P: n, V: '1-r0' },
      { P: n, V: '2-r0' },
    ]);
    packages.push(
      { P: 'x', V: '1-r0' },
      { P: 'x', V: '2-r0', D: [...ns, 'm'].join(' ') },
      { P: 'm', V: '1-r0', D: 'a' },
      { P: 'm', V: '2-r0', D: 'a' },
      { P: 'a', V: '1-r0', p: 's=1' },
      { P: 'y', V: '1-r0', D: 'b' },
      { P: 'b', V: '1-r0', p: 's=1' },
    );
    const solution = solve({ world: ['x', 'y'], repositories: repo(packages), arch: ARCH });
    expect(labels(solution)).toEqual(['x-1-r0', 'b-1-r0', 'y-1-r0']);
    expect(solution.stats.backtracks).toBe(1);
    expect(solution.stats.steps).toBeLessThan(60);
  });

  it('gives up with SOLVER_TOO_COMPLEX when the step budget runs out', () => {
    // A pigeonhole: 8 names, each of whose 7 versions takes one of 7 exclusive slots (a versioned
    // provide); no assignment works, and proving it takes far more than 500 steps.
    const packages: TablePackage[] = [];
    for (let i = 0; i < 8; i++) {
      for (let s = 0; s < 7; s++) packages.push({ P: `h${i}`, V: `${s + 1}-r0`, p: `slot${s}=1` });
    }
    const result = failure({
      world: Array.from({ length: 8 }, (_, i) => `h${i}`),
      repositories: repo(packages),
      arch: ARCH,
      maxSteps: 500,
    });
    expect(result.code).toBe('SOLVER_TOO_COMPLEX');
    // With the default budget the same world is proved impossible.
    expect(
      failure({
        world: Array.from({ length: 8 }, (_, i) => `h${i}`),
        repositories: repo(packages),
        arch: ARCH,
      }).code,
    ).toBe('SOLVER_CONFLICT');
  });

  it('refuses malformed requests', () => {
    const repositories = repo([{ P: 'a', V: '1-r0' }]);
    expect(failure({ world: ['a'], repositories, arch: '' }).code).toBe('SOLVER_BAD_CONSTRAINT');
    expect(failure({ world: ['a'], repositories, arch: '../x86_64' }).code).toBe('SOLVER_BAD_CONSTRAINT');
    expect(failure({ world: ['a'], repositories, arch: ARCH, maxSteps: 0 }).code).toBe(
      'SOLVER_BAD_CONSTRAINT',
    );
    expect(
      failure({ world: Array.from({ length: 100_001 }, () => 'a'), repositories, arch: ARCH }).code,
    ).toBe('SOLVER_BAD_CONSTRAINT');
    expect(failure({ world: ['a'], repositories: repo([], { tag: 'bad tag' }), arch: ARCH }).code).toBe(
      'SOLVER_BAD_CONSTRAINT',
    );
    expect(failure({ world: [42 as unknown as string], repositories, arch: ARCH }).code).toBe(
      'SOLVER_BAD_CONSTRAINT',
    );
  });
});
