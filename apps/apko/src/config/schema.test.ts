import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { format, resolveConfig } from 'prettier';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { imageConfigJsonSchema } from './schema.ts';

const schemaFile = join(import.meta.dirname, '../../schema/apko.schema.json');
const fixtures = join(import.meta.dirname, '../../../../test-fixtures');

/** The committed file's exact text: the generated schema as prettier formats JSON in this repository. */
async function rendered(): Promise<string> {
  const options = (await resolveConfig(schemaFile)) ?? {};
  return format(JSON.stringify(imageConfigJsonSchema()), { ...options, filepath: schemaFile });
}

describe('JSON Schema', () => {
  it('apps/apko/schema/apko.schema.json is the fresh output of imageConfigJsonSchema() (vitest -u regenerates it)', async () => {
    await expect(await rendered()).toMatchFileSnapshot(schemaFile);
  });

  it('is draft 2020-12, rejects unknown keys and lists every top-level key', () => {
    const schema = imageConfigJsonSchema();
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties as object).sort()).toEqual(
      [
        'accounts',
        'annotations',
        'archs',
        'certificates',
        'cmd',
        'contents',
        'entrypoint',
        'environment',
        'format',
        'include',
        'layering',
        'paths',
        'stop-signal',
        'vcs-url',
        'volumes',
        'work-dir',
      ].sort(),
    );
  });

  it('validates every real configuration with ajv and rejects bad ones', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const validate = ajv.compile(imageConfigJsonSchema());
    const files = [
      ...readdirSync(join(fixtures, 'recipes/apko')).map((f) => join(fixtures, 'recipes/apko', f)),
      join(fixtures, 'real/apko-testrepo/apko.yaml'),
      join(fixtures, 'real/apko-testrepo/apko-certs.yaml'),
    ];
    expect(files.length).toBeGreaterThanOrEqual(7);
    for (const file of files) {
      const ok = validate(parse(readFileSync(file, 'utf8')));
      expect({ file, errors: validate.errors ?? null, ok }).toEqual({ file, errors: null, ok: true });
    }
    expect(validate({ contents: { packages: ['busybox'] }, workdir: '/x' })).toBe(false);
    expect(validate({ accounts: { users: [{ username: 'a', uid: 'x' }] } })).toBe(false);
    expect(validate({ archs: ['sparc'] })).toBe(false);
    expect(validate({ annotations: { Foo: 'bar' } })).toBe(false);
  });
});
