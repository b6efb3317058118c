import { describe, expect, it } from 'vitest';
import { isTkError } from '@tk/core';
import { solveMultiArch, type SolverRepository } from '@tk/solver';
import { labels, tableRepositories, type TablePackage } from './helpers.ts';

const archs = (packages: Record<string, TablePackage[]>) =>
  Object.entries(packages).map(([arch, list]) => ({
    arch,
    repositories: tableRepositories([{ name: 'https://repo.example/os', packages: list }], arch),
  }));

function failure(run: () => unknown): {
  code?: string;
  data?: Readonly<Record<string, unknown>>;
  message?: string;
} {
  try {
    run();
  } catch (error) {
    if (isTkError(error)) return { code: error.code, data: error.data, message: error.message };
    throw error;
  }
  return {};
}

describe('solveMultiArch', () => {
  it('prefers a version every arch has over a newer one only some archs have (pain point 6, PR #1180)', () => {
    const solutions = solveMultiArch({
      world: ['foo'],
      archs: archs({
        x86_64: [
          { P: 'foo', V: '1.0-r0' },
          { P: 'foo', V: '2.0-r0' },
        ],
        aarch64: [{ P: 'foo', V: '1.0-r0' }],
      }),
    });
    expect(labels(solutions.get('x86_64')!)).toEqual(['foo-1.0-r0']);
    expect(labels(solutions.get('aarch64')!)).toEqual(['foo-1.0-r0']);
  });

  it('also keeps dependencies in step across archs', () => {
    const solutions = solveMultiArch({
      world: ['app'],
      archs: archs({
        x86_64: [
          { P: 'app', V: '1.0-r0', D: 'lib' },
          { P: 'lib', V: '1.0-r0' },
          { P: 'lib', V: '1.1-r0' },
        ],
        aarch64: [
          { P: 'app', V: '1.0-r0', D: 'lib' },
          { P: 'lib', V: '1.0-r0' },
        ],
      }),
    });
    expect(labels(solutions.get('x86_64')!)).toEqual(['lib-1.0-r0', 'app-1.0-r0']);
  });

  it('still resolves arch-specific dependencies', () => {
    const solutions = solveMultiArch({
      world: ['app'],
      archs: archs({
        x86_64: [
          { P: 'app', V: '1.0-r0', D: 'x86-helper' },
          { P: 'x86-helper', V: '3-r0' },
        ],
        aarch64: [{ P: 'app', V: '1.0-r0' }],
      }),
    });
    expect(labels(solutions.get('x86_64')!)).toEqual(['x86-helper-3-r0', 'app-1.0-r0']);
    expect(labels(solutions.get('aarch64')!)).toEqual(['app-1.0-r0']);
  });

  it("names both versions when a requested package cannot be kept consistent (apko's 'unable to lock packages to a consistent version', readable)", () => {
    const result = failure(() =>
      solveMultiArch({
        world: ['foo', 'bar'],
        archs: archs({
          x86_64: [
            { P: 'foo', V: '2.0-r0' },
            { P: 'bar', V: '1.0-r0' },
          ],
          aarch64: [
            { P: 'foo', V: '1.0-r0' },
            { P: 'bar', V: '1.0-r0' },
          ],
        }),
      }),
    );
    expect(result.code).toBe('SOLVER_ARCH_MISMATCH');
    expect(result.data?.mismatches).toEqual([
      { name: 'foo', versions: { x86_64: 'foo-2.0-r0', aarch64: 'foo-1.0-r0' } },
    ]);
  });

  it('reports which arch failed', () => {
    const result = failure(() =>
      solveMultiArch({ world: ['foo'], archs: archs({ x86_64: [{ P: 'foo', V: '1.0-r0' }], aarch64: [] }) }),
    );
    expect(result.code).toBe('SOLVER_NOTHING_PROVIDES');
    expect(result.data?.arch).toBe('aarch64');
    expect(result.message).toMatch(/^aarch64: /);
  });

  it('refuses no archs and repeated archs', () => {
    const repositories: SolverRepository[] = [];
    expect(failure(() => solveMultiArch({ world: ['a'], archs: [] })).code).toBe('SOLVER_BAD_CONSTRAINT');
    expect(
      failure(() =>
        solveMultiArch({
          world: ['a'],
          archs: [
            { arch: 'x86_64', repositories },
            { arch: 'x86_64', repositories },
          ],
        }),
      ).code,
    ).toBe('SOLVER_BAD_CONSTRAINT');
  });
});
