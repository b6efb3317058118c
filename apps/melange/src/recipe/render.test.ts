import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parsePipelineDefinition, parseRecipe } from './load.ts';
import { compileRecipe } from './compile.ts';
import { createPipelineLoader, type PipelineLoader } from './pipelines.ts';
import { renderCompiledRecipe } from './render.ts';
import type { CompiledStep } from './types.ts';

const FIXTURES = join(import.meta.dirname, '../../../../test-fixtures/recipes/melange');

function flatten(steps: readonly CompiledStep[]): unknown[] {
  return steps.map((s) => ({
    runs: s.runs,
    enabled: s.enabled,
    workingDirectory: s.workingDirectory,
    environment: s.environment,
    if: s.if,
    pipeline: flatten(s.pipeline),
  }));
}

async function compileFile(file: string, options: { envFileVars?: Record<string, string> } = {}) {
  const recipe = parseRecipe(readFileSync(join(FIXTURES, file), 'utf8'), { source: file });
  return compileRecipe(recipe, {
    arch: 'x86_64',
    pipelineDirs: [join(FIXTURES, 'wolfi-pipelines')],
    systemPipelineDir: null,
    source: file,
    commit: '0123456789abcdef0123456789abcdef01234567',
    ...options,
  });
}

const LOCKED = {
  'build-base': '1-r8',
  busybox: '1.37.0-r50',
  'ca-certificates-bundle': '20250911-r0',
  wget: '1.25.0-r3',
  make: '4.4.1-r7',
  binutils: '2.45-r4',
  autoconf: '2.72-r6',
  automake: '1.18.1-r1',
  libtool: '2.5.4-r3',
};

describe('renderCompiledRecipe', () => {
  it('matches the golden .melange.yaml of Wolfi glpk (x86_64)', async () => {
    const compiled = await compileFile('wolfi/glpk.yaml');
    await expect(renderCompiledRecipe(compiled, { locked: LOCKED })).toMatchFileSnapshot(
      './testdata/golden/glpk-x86_64.melange.yaml',
    );
  });

  it('is deterministic and 2-space indented, in melange key order', async () => {
    const a = renderCompiledRecipe(await compileFile('wolfi/zstd.yaml'));
    const b = renderCompiledRecipe(await compileFile('wolfi/zstd.yaml'));
    expect(a).toBe(b);
    const doc = parse(a) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual([
      'package',
      'environment',
      'pipeline',
      'subpackages',
      'update',
      'vars',
      'var-transforms',
      'test',
    ]);
    expect(Object.keys(doc['package'] as object).slice(0, 4)).toEqual([
      'name',
      'version',
      'epoch',
      'description',
    ]);
    expect(a).toMatch(/^package:\n {2}name: zstd\n {2}version: 1\.5\.7\n {2}epoch: 8\n/);
    // Only var-transforms keep their source (a rebuild computes them again); everything else is resolved.
    expect(a.replace(/\nvar-transforms:\n(?: .*\n)*/, '\n')).not.toContain('${{');
  });

  it('writes locked packages as name=version, sorted', async () => {
    const text = renderCompiledRecipe(await compileFile('wolfi/glpk.yaml'), {
      locked: { zlib: '1-r0', attr: '2-r1' },
    });
    const doc = parse(text) as { environment: { contents: { packages: string[] } } };
    expect(doc.environment.contents.packages).toEqual(['attr=2-r1', 'zlib=1-r0']);
  });

  it('writes only the with values that differ from the defaults', async () => {
    const doc = parse(renderCompiledRecipe(await compileFile('wolfi/zstd.yaml'))) as {
      pipeline: { uses?: string; with?: Record<string, string>; pipeline?: unknown[] }[];
    };
    const checkout = doc.pipeline.find((s) => s.uses === 'git-checkout');
    expect(checkout?.with).toEqual({
      'expected-commit': 'f8745da6ff1ad1e7bab384bd1f9d742439278e99',
      repository: 'https://github.com/facebook/zstd',
      tag: 'v1.5.7',
    });
    expect(checkout?.pipeline?.length).toBeGreaterThan(0);
    expect(doc.pipeline.find((s) => s.uses === 'cmake/build')?.with).toBeUndefined();
  });

  it('never writes env-file values or their names (melange #2624)', async () => {
    const compiled = await compileFile('wolfi/zstd.yaml', {
      envFileVars: { GITHUB_TOKEN: 'ghp_s3cr3tvalue', GOFLAGS: '-mod=mod', HOME: '/secret/home' },
    });
    expect(compiled.environment.environment['GITHUB_TOKEN']).toBe('ghp_s3cr3tvalue');
    const text = renderCompiledRecipe(compiled, { locked: LOCKED });
    expect(text).not.toContain('ghp_s3cr3tvalue');
    expect(text).not.toContain('GITHUB_TOKEN');
    expect(text).not.toContain('GOFLAGS');
    expect(text).not.toContain('/secret/home');
    expect(text).toContain('GOMODCACHE: /var/cache/melange/gomodcache');
  });

  it('parses back as a recipe that compiles to the same steps (melange rebuild)', async () => {
    for (const file of [
      'wolfi/zstd.yaml',
      'wolfi/expat.yaml',
      'wolfi/gmp.yaml',
      'examples/conditional.yaml',
    ]) {
      const first = await compileFile(file);
      const text = renderCompiledRecipe(first);
      const again = await compileRecipe(parseRecipe(text, { source: `${file}.melange.yaml` }), {
        arch: 'x86_64',
        systemPipelineDir: null,
        // Expanded steps need no definitions; a loader that fails proves none is read.
        loadPipeline: (async (name: string) => {
          throw new Error(`unexpected load of ${name}`);
        }) as PipelineLoader,
      });
      expect(flatten(again.pipeline), file).toEqual(flatten(first.pipeline));
      expect(again.packages.map((p) => [p.name, flatten(p.pipeline)])).toEqual(
        first.packages.map((p) => [p.name, flatten(p.pipeline)]),
      );
      expect(again.environment.contents.packages).toEqual(first.environment.contents.packages);
      expect(renderCompiledRecipe(again)).toBe(text);
    }
  });

  it('keeps skipped steps with their resolved condition', async () => {
    const compiled = await compileFile('examples/conditional.yaml');
    const doc = parse(renderCompiledRecipe(compiled)) as {
      pipeline: { if?: string; uses?: string; pipeline?: { if?: string }[] }[];
    };
    expect(doc.pipeline[0]?.pipeline?.map((s) => s.if)).toEqual([
      '"x86_64" == "x86_64"',
      '"x86_64" == "aarch64"',
    ]);
    expect(doc.pipeline.find((s) => s.uses === 'fetch')?.if).toBe('"hello" != "hello"');
  });

  it('renders an in-memory definition with nested uses inline', async () => {
    const defs: Record<string, string> = {
      outer: 'inputs:\n  o: { default: x }\npipeline:\n  - uses: inner\n    with: { i: "${{inputs.o}}-y" }\n',
      inner: 'inputs:\n  i: {}\npipeline:\n  - runs: echo ${{inputs.i}}\n',
    };
    const recipe = parseRecipe('package: { name: a, version: "1" }\npipeline:\n  - uses: outer\n', {
      source: 'a.yaml',
    });
    const load: PipelineLoader = async (name) => parsePipelineDefinition(defs[name] ?? '', `${name}.yaml`);
    const text = renderCompiledRecipe(await compileRecipe(recipe, { arch: 'aarch64', loadPipeline: load }));
    expect(text).toContain(
      [
        'pipeline:',
        '  - uses: outer',
        '    pipeline:',
        '      - uses: inner',
        '        with:',
        '          i: x-y',
        '        pipeline:',
        '          - runs: echo x-y',
        '',
      ].join('\n'),
    );
  });
});

describe('createPipelineLoader with the real folders', () => {
  it('finds Wolfi pipelines before the built-ins', async () => {
    const load = createPipelineLoader({ pipelineDirs: [join(FIXTURES, 'wolfi-pipelines')], systemDir: null });
    expect((await load('test/tw/ldd-check')).needs.packages).toContain('ldd-check');
    expect((await load('fetch')).inputs['uri']?.required).toBe(true);
  });
});
