import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { imageConfigSchema } from './schema.ts';
import { IMAGE_CONFIG_SHAPE, parseShape, shapeGuide, UNSURE, type Shape } from './shape.ts';
import { readYaml, type PathSegment, type YamlGuide } from './yaml.ts';
import { unwrapSchema, zodGuide } from './zod-guide.ts';

const root = join(import.meta.dirname, '../../../..');

/** Every key apko knows, with values that validate. */
const EVERY_KEY = `
contents:
  repositories: ['@local ./packages', https://dl-cdn.alpinelinux.org/alpine/v3.20/main]
  build_repositories: [./build]
  runtime_repositories: [https://example.com/repo]
  keyring: [./melange.rsa.pub]
  runtime_keyring: [{ name: key.rsa.pub, content: "-----BEGIN PUBLIC KEY-----" }]
  packages: [busybox, hello@local]
  baseimage: { image: ./base, apkindex: ./base/APKINDEX }
entrypoint:
  type: service-bundle
  command: /usr/bin/hello --greeting x
  shell-fragment: echo hi
  services: { web: /usr/sbin/nginx, cron.d: crond -f }
cmd: --help
work-dir: /app
stop-signal: SIGRTMIN+3
accounts:
  run-as: 65532
  users:
    - { username: nonroot, uid: 65532, gid: 65532, shell: /bin/false, homedir: /home/nonroot }
    - { username: svc$, uid: 4294967295 }
  groups:
    - { groupname: nonroot, gid: 65532, members: [nonroot] }
environment: { PATH: /usr/bin, PORT: 8080, EMPTY: '', _x.y-z: yes }
paths:
  - { path: /app, type: directory, uid: 65532, gid: 65532, permissions: 0o755, recursive: true }
  - { path: /etc/x, type: empty-file, permissions: 0644 }
  - { path: /l, type: symlink, source: /app }
  - { path: /h, type: hardlink, source: /etc/x }
  - { path: /p, type: permissions, permissions: 0 }
archs: [x86_64, arm64, '386', riscv64]
annotations: { org.opencontainers.image.source: https://example.com }
include: base.yaml
volumes: [/data]
vcs-url: https://example.com/repo@abc
layering: { strategy: origin, budget: 3 }
format: erofs
certificates:
  additional: [{ name: corp-ca, content: "-----BEGIN CERTIFICATE-----" }]
  providers: [ca-certificates-bundle]
`;

function corpus(): { name: string; text: string }[] {
  const dir = join(root, 'test-fixtures/recipes/apko');
  return [
    { name: 'every key', text: EVERY_KEY },
    { name: 'empty', text: '{}\n' },
    { name: 'examples/apko/hello.yaml', text: readFileSync(join(root, 'examples/apko/hello.yaml'), 'utf8') },
    ...readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => ({ name: f, text: readFileSync(join(dir, f), 'utf8') })),
  ];
}

const valueOf = (text: string, guide: YamlGuide): unknown => readYaml(text, 'apko.yaml', guide).value;

/** Values every place is tried with: each kind, and the edges of every rule in the schema. */
const PROBES: unknown[] = [
  undefined,
  null,
  '',
  'x',
  'a\0b',
  ' ',
  '.hidden',
  '-dash',
  'UPPER',
  'a:b',
  'x'.repeat(257),
  'SIGTERM',
  'TERM',
  '15',
  'service-bundle',
  'directory',
  'origin',
  'tar',
  'erofs',
  '386',
  'amd64',
  'name$',
  0,
  -1,
  1.5,
  0o7777,
  0o7777 + 1,
  4294967295,
  4294967296,
  Number.MAX_SAFE_INTEGER + 1,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  true,
  false,
  [],
  ['x'],
  [1],
  {},
  { a: 'b' },
  { 'a b': 'c' },
];

type Path = PathSegment[];

/** Every path to a value inside `value`, the root included. */
function pathsOf(value: unknown, path: Path = []): Path[] {
  const out: Path[] = [path];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...path, i])));
  else if (typeof value === 'object' && value !== null)
    for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...path, k]));
  return out;
}

function setAt(value: unknown, path: Path, replacement: unknown, remove = false): unknown {
  if (path.length === 0) return replacement;
  const copy: unknown = structuredClone(value);
  let node = copy as Record<PropertyKey, unknown>;
  for (const seg of path.slice(0, -1)) node = node[seg] as Record<PropertyKey, unknown>;
  const last = path[path.length - 1]!;
  if (remove) {
    if (Array.isArray(node)) node.splice(last as number, 1);
    else delete node[last];
  } else node[last] = replacement;
  return copy;
}

/** zod's verdict and output, and the shape's, for one value: they must agree. */
function expectSameVerdict(value: unknown, label: string): boolean {
  const zod = imageConfigSchema.safeParse(value);
  const fast = parseShape(IMAGE_CONFIG_SHAPE, value);
  if (!zod.success) {
    expect(fast, `${label}: zod rejects it, the shape must not be sure`).toBe(UNSURE);
    return false;
  }
  expect(fast, `${label}: zod accepts it, so must the shape`).not.toBe(UNSURE);
  expect(fast, `${label}: the same output as zod`).toStrictEqual(zod.data);
  return true;
}

describe('the plain-data shape of the configuration schema', () => {
  it('gives zod’s verdict and output for every configuration of the corpus and every one-place change', () => {
    let accepted = 0;
    let rejected = 0;
    for (const { name, text } of corpus()) {
      const value = valueOf(text, shapeGuide(IMAGE_CONFIG_SHAPE));
      expect(expectSameVerdict(value, name), `${name} validates`).toBe(true);
      for (const path of pathsOf(value)) {
        const variants: [string, unknown][] = PROBES.map((p) => [`= ${String(p)}`, setAt(value, path, p)]);
        if (path.length > 0) variants.push(['removed', setAt(value, path, undefined, true)]);
        const node = path.reduce<unknown>((v, seg) => (v as Record<PropertyKey, unknown>)[seg], value);
        if (typeof node === 'object' && node !== null && !Array.isArray(node))
          variants.push(['unknown key', setAt(value, [...path, 'unknown-key'], 'x')]);
        for (const [change, variant] of variants) {
          if (expectSameVerdict(variant, `${name} ${JSON.stringify(path)} ${change}`)) accepted++;
          else rejected++;
        }
      }
    }
    // Both verdicts are exercised in numbers.
    expect(accepted).toBeGreaterThan(500);
    expect(rejected).toBeGreaterThan(5000);
  });

  it('is never sure of what is not a configuration', () => {
    for (const value of [null, 'x', 42, [], [{}], new Date(0), Object.create(null) as object]) {
      const zod = imageConfigSchema.safeParse(value);
      expect(parseShape(IMAGE_CONFIG_SHAPE, value) === UNSURE).toBe(!zod.success);
    }
  });

  it('fills every default zod fills, without sharing objects between calls', () => {
    const a = parseShape(IMAGE_CONFIG_SHAPE, {}) as { contents: { packages: string[] } };
    const b = parseShape(IMAGE_CONFIG_SHAPE, {}) as { contents: { packages: string[] } };
    expect(a).toStrictEqual(imageConfigSchema.parse({}));
    a.contents.packages.push('mutated');
    expect(b.contents.packages).toEqual([]);
  });

  it('reads YAML exactly as the zod schema guides it: the same value for every configuration', () => {
    for (const { name, text } of corpus()) {
      expect(valueOf(text, shapeGuide(IMAGE_CONFIG_SHAPE)), name).toStrictEqual(
        valueOf(text, zodGuide(imageConfigSchema)),
      );
    }
  });

  it('has the zod schema’s structure: keys, kinds, records, lists, enums, optional and default keys', () => {
    const compareGuides = (
      a: YamlGuide | undefined,
      b: YamlGuide | undefined,
      at: string,
      depth = 0,
    ): void => {
      expect(a === undefined, `${at}: both have the child or neither`).toBe(b === undefined);
      if (a === undefined || b === undefined || depth > 8) return;
      expect([a.kind, a.record], at).toEqual([b.kind, b.record]);
      for (const key of [0, 'unknown-key', ...shapeKeys(a)])
        compareGuides(a.child(key), b.child(key), `${at}.${key}`, depth + 1);
    };
    const keysOf = new Map<YamlGuide, string[]>();
    const shapeKeys = (guide: YamlGuide): string[] => keysOf.get(guide) ?? [];
    const walk = (shape: Shape): void => {
      const guide = shapeGuide(shape);
      if (shape.type === 'object') {
        keysOf.set(guide, Object.keys(shape.fields));
        for (const field of Object.values(shape.fields)) walk(field.shape);
      } else if (shape.type === 'array') walk(shape.item);
      else if (shape.type === 'record') {
        keysOf.set(guide, ['some-key']);
        walk(shape.value);
      }
    };
    walk(IMAGE_CONFIG_SHAPE);
    compareGuides(shapeGuide(IMAGE_CONFIG_SHAPE), zodGuide(imageConfigSchema), 'config');
    compareStructure(imageConfigSchema, IMAGE_CONFIG_SHAPE, 'config');
  });
});

interface ZodCheck {
  _zod: { def: { check: string; minimum?: number; maximum?: number; format?: string; pattern?: RegExp } };
}

interface ZodInternals {
  _zod: {
    def: { type: string; entries?: Record<string, string>; defaultValue?: unknown; checks?: unknown[] };
  };
}

/** The zod schema and the shape, node by node: types, object keys, enum values, optional and default keys. */
function compareStructure(schema: z.ZodType, shape: Shape, at: string): void {
  const inner = unwrapSchema(schema) as unknown as z.ZodType & ZodInternals;
  const type = inner._zod.def.type;
  const types: Record<string, string> = {
    string: 'string',
    enum: 'enum',
    number: 'int',
    boolean: 'boolean',
    array: 'array',
    record: 'record',
    object: 'object',
  };
  const expected = types[type];
  expect(shape.type, `${at}: type`).toBe(expected);
  if (shape.type === 'string') {
    const checks = (inner._zod.def.checks ?? []).map((c) => (c as ZodCheck)._zod.def);
    const rule = {
      min: checks.find((c) => c.check === 'min_length')?.minimum,
      max: checks.find((c) => c.check === 'max_length')?.maximum,
      pattern: checks.find((c) => c.check === 'string_format' && c.format === 'regex')?.pattern?.source,
      noNul: checks.some((c) => c.check === 'custom'),
    };
    expect(
      { min: shape.min, max: shape.max, pattern: shape.pattern?.source, noNul: shape.noNul === true },
      `${at}: string rules`,
    ).toEqual(rule);
  }
  if (shape.type === 'int') {
    const bag = (
      inner as unknown as { _zod: { bag: { format?: string; minimum?: number; maximum?: number } } }
    )._zod.bag;
    expect(bag.format, `${at}: an integer`).toBe('safeint');
    expect([shape.min, shape.max], `${at}: range`).toEqual([
      bag.minimum ?? Number.MIN_SAFE_INTEGER,
      bag.maximum ?? Number.MAX_SAFE_INTEGER,
    ]);
  }
  if (shape.type === 'enum')
    expect([...shape.values].sort(), at).toEqual(Object.values(inner._zod.def.entries ?? {}).sort());
  if (shape.type === 'array')
    compareStructure((inner as unknown as z.ZodArray).element as z.ZodType, shape.item, `${at}[]`);
  if (shape.type === 'record') {
    const record = inner as unknown as z.ZodRecord;
    compareStructure(record.keyType as unknown as z.ZodType, shape.key, `${at}{key}`);
    compareStructure(record.valueType as z.ZodType, shape.value, `${at}{value}`);
  }
  if (shape.type === 'object') {
    const fields = (inner as unknown as z.ZodObject).shape as Record<string, z.ZodType>;
    expect(Object.keys(shape.fields).sort(), `${at}: keys`).toEqual(Object.keys(fields).sort());
    for (const [key, field] of Object.entries(shape.fields)) {
      const zodField = fields[key]!;
      expect(field.optional === true, `${at}.${key}: optional`).toBe(zodField instanceof z.ZodOptional);
      expect(field.default !== undefined, `${at}.${key}: default`).toBe(zodField instanceof z.ZodDefault);
      if (field.default !== undefined)
        expect(field.default(), `${at}.${key}: default value`).toStrictEqual(
          (zodField as unknown as ZodInternals)._zod.def.defaultValue,
        );
      compareStructure(zodField, field.shape, `${at}.${key}`);
    }
  }
}
