import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseImageConfig } from '@tk/apko';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { format, resolveConfig } from 'prettier';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseRecipe } from './load.ts';
import {
  definitionStepSchema,
  GO_DURATION_PATTERN,
  PACKAGE_NAME_PATTERN,
  pipelineDefinitionSchema,
  pipelineStepSchema,
  recipeJsonSchema,
  recipeSchema,
} from './schema.ts';
import type { Recipe } from './types.ts';

const schemaFile = join(import.meta.dirname, '../../schema/melange.schema.json');
const fixtures = join(import.meta.dirname, '../../../../test-fixtures/recipes');

function recipeFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? recipeFiles(join(dir, e.name)) : [join(dir, e.name)]))
    .filter((f) => f.endsWith('.yaml') && !f.includes('/wolfi-pipelines/'))
    .sort();
}

describe('JSON Schema', () => {
  it('apps/melange/schema/melange.schema.json is fresh (node scripts/gen-melange-schema.mjs, or vitest -u)', async () => {
    // The same rendering as the script: prettier's formatting of the generated JSON.
    const options = (await resolveConfig(schemaFile)) ?? {};
    const rendered = await format(JSON.stringify(recipeJsonSchema()), { ...options, filepath: schemaFile });
    await expect(rendered).toMatchFileSnapshot(schemaFile);
  });

  it('is draft 2020-12, rejects unknown keys and lists every top-level key of a Recipe', () => {
    const schema = recipeJsonSchema();
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.additionalProperties).toBe(false);
    const keys: (keyof Recipe)[] = [
      'package',
      'environment',
      'capabilities',
      'pipeline',
      'subpackages',
      'data',
      'vars',
      'var-transforms',
      'options',
      'update',
      'test',
    ];
    expect(Object.keys(schema.properties as object).sort()).toEqual([...keys].sort());
    expect(schema.required).toEqual(['package']);
  });

  it('accepts every real recipe (with ajv) and rejects bad ones', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const validate = ajv.compile(recipeJsonSchema());
    const files = recipeFiles(join(fixtures, 'melange'));
    expect(files).toHaveLength(17);
    for (const file of files) {
      const ok = validate(parse(readFileSync(file, 'utf8')));
      expect({ file, errors: validate.errors ?? null, ok }).toEqual({ file, errors: null, ok: true });
    }
    const pkg = { name: 'x', version: '1' };
    expect(validate({ package: pkg })).toBe(true);
    expect(validate({ package: pkg, pipelines: [] })).toBe(false);
    expect(validate({ package: { ...pkg, epoch: -1 } })).toBe(false);
    expect(validate({ package: pkg, pipeline: [{ runs: 'x', pipeline: [{ rnus: 'y' }] }] })).toBe(false);
    expect(validate({ package: pkg, environment: { contents: { packagez: [] } } })).toBe(false);
    expect(validate({ package: { ...pkg, 'target-architecture': ['sparc'] } })).toBe(false);
    expect(validate({ package: { ...pkg, timeout: '1d' } })).toBe(false);
  });
});

describe('recipe schema', () => {
  it('fills every default of a minimal recipe', () => {
    const recipe: Recipe = recipeSchema.parse({ package: { name: 'x', version: '1' } });
    const options = {
      'no-provides': false,
      'no-depends': false,
      'no-commands': false,
      'no-versioned-shlib-deps': false,
    };
    expect(recipe).toEqual({
      package: {
        name: 'x',
        version: '1',
        epoch: 0,
        copyright: [],
        dependencies: { runtime: [], provides: [], replaces: [] },
        options,
        scriptlets: {},
        'target-architecture': [],
        checks: { disabled: [], enabled: [] },
        setcap: [],
        annotations: {},
      },
      environment: {
        contents: {
          repositories: [],
          build_repositories: [],
          runtime_repositories: [],
          keyring: [],
          runtime_keyring: [],
          packages: [],
        },
        entrypoint: {},
        accounts: { users: [], groups: [] },
        environment: {},
        paths: [],
        archs: [],
        annotations: {},
        volumes: [],
        format: 'tar',
      },
      capabilities: { add: [], drop: [] },
      pipeline: [],
      subpackages: [],
      data: [],
      vars: {},
      'var-transforms': [],
      options: {},
    });
    // Defaults are fresh objects, never shared between parses.
    const again = recipeSchema.parse({ package: { name: 'y', version: '1' } });
    again.environment.contents.packages.push('busybox');
    again.package.dependencies.runtime.push('z');
    expect(
      recipeSchema.parse({ package: { name: 'z', version: '1' } }).environment.contents.packages,
    ).toEqual([]);
    expect(recipeSchema.parse({ package: { name: 'z', version: '1' } }).package.dependencies.runtime).toEqual(
      [],
    );
  });

  it('fills step, subpackage, test and build-option defaults', () => {
    const recipe = recipeSchema.parse({
      package: { name: 'x', version: '1' },
      pipeline: [{ uses: 'fetch', with: { uri: 'u' }, pipeline: [{ runs: 'echo' }] }],
      subpackages: [{ name: 'x-dev', test: { pipeline: [{ runs: 'true' }] } }],
      options: { fast: { vars: { a: 'b' } } },
    });
    expect(recipe.pipeline).toEqual([
      {
        uses: 'fetch',
        with: { uri: 'u' },
        environment: {},
        pipeline: [{ runs: 'echo', with: {}, environment: {}, pipeline: [] }],
      },
    ]);
    expect(recipe.subpackages[0]).toMatchObject({
      name: 'x-dev',
      annotations: {},
      setcap: [],
      pipeline: [],
      checks: { disabled: [], enabled: [] },
      test: { pipeline: [{ runs: 'true', with: {}, environment: {}, pipeline: [] }] },
    });
    expect(recipe.options.fast).toEqual({
      vars: { a: 'b' },
      environment: { contents: { packages: { add: [], remove: [] } } },
    });
  });

  it('recipe steps are strict; definition steps accept and drop description', () => {
    expect(pipelineStepSchema.safeParse({ runs: 'x', description: 'y' }).success).toBe(false);
    expect(pipelineStepSchema.safeParse({ runs: 'x', inputs: {} }).success).toBe(false);
    // needs: is melange's (its Pipeline struct has it) and adds packages to the build environment.
    expect(pipelineStepSchema.parse({ uses: 'x', needs: { packages: ['a'] } }).needs).toEqual({
      packages: ['a'],
    });
    expect(
      definitionStepSchema.parse({ runs: 'x', description: 'y', pipeline: [{ description: 'z' }] }),
    ).toEqual({
      runs: 'x',
      with: {},
      environment: {},
      pipeline: [{ with: {}, environment: {}, pipeline: [] }],
    });
    expect(pipelineDefinitionSchema.safeParse({ pipeline: [], runs: 'x' }).success).toBe(false);
  });

  it('the environment is finished exactly as apko finishes a configuration (real apko configs)', () => {
    const dir = join(fixtures, 'apko');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const file of files) {
      const text = readFileSync(join(dir, file), 'utf8');
      const indented = text
        .split('\n')
        .map((l) => (l === '' ? l : `  ${l}`))
        .join('\n');
      const recipe = parseRecipe(`package:\n  name: x\n  version: "1"\nenvironment:\n${indented}`, {
        source: file,
      });
      const apko = parseImageConfig(text, { source: file });
      expect({ file, environment: recipe.environment }).toEqual({ file, environment: apko });
      const inTest = parseRecipe(
        `package:\n  name: x\n  version: "1"\ntest:\n  environment:\n${indented.replace(/^/gm, '  ')}`,
      );
      expect(inTest.test?.environment).toEqual(apko);
    }
  });

  it('an invalid repository line, parsed directly, is an issue', () => {
    const result = recipeSchema.safeParse({
      package: { name: 'x', version: '1' },
      environment: { contents: { repositories: ['@ a b'] } },
    });
    expect(result.success).toBe(false);
  });
});

describe('patterns', () => {
  it.each([
    ['0', true],
    ['45s', true],
    ['1h30m', true],
    ['1.5h', true],
    ['300ms', true],
    ['2h45m30.5s', true],
    ['1µs', true],
    ['10us', true],
    ['.5s', true],
    ['5.s', true],
    ['+5m', true],
    ['', false],
    ['10', false],
    ['1d', false],
    ['-5m', false],
    ['1 h', false],
    ['.s', false],
    ['h', false],
    ['1h 30m', false],
  ])('Go duration %j: %s', (text, ok) => {
    expect(GO_DURATION_PATTERN.test(text)).toBe(ok);
  });

  it.each([
    ['hello', true],
    ['py3.12-pyyaml', true],
    ['libstdc++', true],
    ['7zip', true],
    ['a_b', true],
    ['-x', false],
    ['.x', false],
    ['Hello!', false],
    ['a b', false],
    ['', false],
  ])('package name %j: %s', (name, ok) => {
    expect(PACKAGE_NAME_PATTERN.test(name)).toBe(ok);
  });
});
