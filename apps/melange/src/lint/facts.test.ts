import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileRecipe } from '../recipe/compile.ts';
import { loadRecipe } from '../recipe/load.ts';
import { renderCompiledRecipe } from '../recipe/render.ts';
import { lintTargetFromEmbedded, lintTargetOf } from './facts.ts';

const ROOT = join(import.meta.dirname, '../../../..');
const WOLFI = join(ROOT, 'test-fixtures/recipes/melange/wolfi');
const PIPELINES = join(ROOT, 'test-fixtures/recipes/melange/wolfi-pipelines');

async function compiled(name: string) {
  const { recipe } = await loadRecipe(join(WOLFI, `${name}.yaml`));
  return compileRecipe(recipe, { arch: 'x86_64', pipelineDirs: [PIPELINES], systemPipelineDir: null });
}

describe('lint facts', () => {
  it('a compiled package and its embedded .melange.yaml give the same facts (zstd)', async () => {
    const zstd = await compiled('zstd');
    const embedded = renderCompiledRecipe(zstd);
    for (const pkg of zstd.packages) {
      const fromCompiled = lintTargetOf(pkg, '1.5.7-r8');
      const fromEmbedded = lintTargetFromEmbedded(embedded, pkg.name);
      expect('target' in fromEmbedded).toBe(true);
      if (!('target' in fromEmbedded)) continue;
      expect(fromEmbedded.target.testUses).toEqual(fromCompiled.testUses);
      expect(fromEmbedded.target.noProvides).toBe(fromCompiled.noProvides);
    }
    expect(lintTargetOf(zstd.packages.find((p) => p.name === 'zstd-dev')!, '1.5.7-r8')).toMatchObject({
      name: 'zstd-dev',
      fullName: 'zstd-dev-1.5.7-r8',
      testUses: expect.arrayContaining(['test/pkgconf', 'test/tw/ldd-check']) as unknown,
    });
    expect(lintTargetOf(zstd.packages.find((p) => p.name === 'libzstd1')!).testUses).toContain(
      'test/tw/ldd-check',
    );
  });

  it('reads checks and no-provides leniently, and explains what it cannot read', () => {
    const text = `package:
  name: meta
  checks:
    disabled: [usrmerge, 3]
  options:
    no-provides: true
  unknown-key: tolerated
subpackages:
  - name: meta-sub
    test:
      pipeline:
        - uses: test/pkgconf
`;
    expect(lintTargetFromEmbedded(text, 'meta')).toEqual({
      target: {
        name: 'meta',
        testUses: [],
        noProvides: true,
        checks: { disabled: ['usrmerge'], enabled: [] },
      },
    });
    expect(lintTargetFromEmbedded(text, 'meta-sub')).toMatchObject({
      target: { testUses: ['test/pkgconf'] },
    });
    expect(lintTargetFromEmbedded(text, 'other')).toEqual({ target: { name: 'other', testUses: [] } });
    expect(lintTargetFromEmbedded('- a list\n', 'x')).toEqual({ problem: 'it is not a mapping' });
    expect('problem' in lintTargetFromEmbedded('a: [\n', 'x')).toBe(true);
    expect(lintTargetFromEmbedded(`a: "${'x'.repeat(1024 * 1024)}"\n`, 'x')).toEqual({
      problem: 'it is over 1048576 bytes',
    });
  });
});
