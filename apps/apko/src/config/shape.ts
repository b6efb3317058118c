/**
 * The apko configuration schema as plain data, for the path every valid configuration takes: reading the
 * YAML (which scalars are text, numbers or booleans) and checking the value, without loading zod. zod
 * (`schema.ts`) stays the source of truth for messages, the JSON Schema and every configuration this
 * check does not accept: {@link parseConfigShape} either returns exactly what
 * `imageConfigSchema.safeParse` would return on success, or says "not sure" and the caller runs zod.
 * Tests hold the two together: the same structure, kinds, defaults and verdicts (`shape.test.ts`).
 *
 * Loading zod and building its schema costs about 15 ms and several MiB per command; a configuration
 * that validates needs none of it.
 */
import { ARCH_NAMES } from './arch.ts';
import type { ImageConfig } from './schema.ts';
import type { PathSegment, YamlGuide, YamlKind } from './yaml.ts';

/** apko's certificate and runtime-key name rule (`certNameRegex`): a safe file name, no leading dot. */
export const CERT_NAME_PATTERN = /^[a-zA-Z0-9_-]+[a-zA-Z0-9_.-]*$/;
/** apko's annotation key rule (`parseAnnotations`). */
export const ANNOTATION_KEY_PATTERN = /^[a-z0-9-.]+$/;
/** Environment variable names: a letter or `_`, then letters, digits, `_`, `.` or `-`. */
export const ENV_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
/** User, group and member names: safe in `/etc/passwd` and `/etc/group` (no `:`, spaces or newlines). */
export const ACCOUNT_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/;
/** s6 service names: become directory names under `/sv`. */
export const SERVICE_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** Stop signals: a signal name (`SIGTERM`, `TERM`, `SIGRTMIN+3`) or number. */
export const STOP_SIGNAL_PATTERN = /^(?:(?:SIG)?[A-Z][A-Z0-9]*(?:[+-][0-9]+)?|[0-9]+)$/;
/** The path mutation types apko knows. */
export const PATH_TYPES = ['directory', 'empty-file', 'hardlink', 'symlink', 'permissions'] as const;
/** The largest uid or gid. */
export const MAX_ID = 4294967295;

/** One node of a {@link Shape} tree: what a value must be. */
export type Shape =
  | {
      readonly type: 'string';
      readonly min?: number;
      readonly max?: number;
      readonly pattern?: RegExp;
      /** Refuses a NUL character. */
      readonly noNul?: boolean;
    }
  | { readonly type: 'enum'; readonly values: readonly string[] }
  | { readonly type: 'int'; readonly min: number; readonly max: number }
  | { readonly type: 'boolean' }
  | { readonly type: 'array'; readonly item: Shape }
  | { readonly type: 'record'; readonly key: Shape; readonly value: Shape }
  | { readonly type: 'object'; readonly fields: Readonly<Record<string, Field>> };

/** A key of an object {@link Shape}: required unless it is optional or has a default. */
export interface Field {
  readonly shape: Shape;
  readonly optional?: boolean;
  /** The value when the key is absent (not checked against `shape`, as zod's `.default` does). */
  readonly default?: () => unknown;
}

const text: Shape = { type: 'string', noNul: true };
const nonEmpty: Shape = { type: 'string', min: 1, noNul: true };
const id: Shape = { type: 'int', min: 0, max: MAX_ID };
const accountName: Shape = { type: 'string', min: 1, max: 256, pattern: ACCOUNT_NAME_PATTERN };
const certName: Shape = { type: 'string', pattern: CERT_NAME_PATTERN };
const required = (shape: Shape): Field => ({ shape });
const optional = (shape: Shape): Field => ({ shape, optional: true });
const list = (item: Shape): Field => ({ shape: { type: 'array', item }, default: () => [] });
const object = (fields: Record<string, Field>): Shape => ({ type: 'object', fields });

/** `contents:` when the file has none (both schemas' default). */
export function emptyContents(): {
  repositories: string[];
  build_repositories: string[];
  runtime_repositories: string[];
  keyring: string[];
  runtime_keyring: { name: string; content: string }[];
  packages: string[];
} {
  return {
    repositories: [],
    build_repositories: [],
    runtime_repositories: [],
    keyring: [],
    runtime_keyring: [],
    packages: [],
  };
}

/** An image configuration with nothing in it: every default, no packages. */
export function emptyImageConfig(): ImageConfig {
  return {
    contents: emptyContents(),
    entrypoint: {},
    accounts: { users: [], groups: [] },
    environment: {},
    paths: [],
    archs: [],
    annotations: {},
    volumes: [],
    format: 'tar',
  };
}

/** `imageConfigSchema` of `schema.ts`, as plain data. */
export const IMAGE_CONFIG_SHAPE: Shape = object({
  contents: {
    shape: object({
      repositories: list(text),
      build_repositories: list(text),
      runtime_repositories: list(text),
      keyring: list(nonEmpty),
      runtime_keyring: list(object({ name: required(certName), content: required(nonEmpty) })),
      packages: list(nonEmpty),
      baseimage: optional(object({ image: required(text), apkindex: required(text) })),
    }),
    default: emptyContents,
  },
  entrypoint: {
    shape: object({
      type: optional({ type: 'enum', values: ['service-bundle'] }),
      command: optional(text),
      'shell-fragment': optional(text),
      services: optional({
        type: 'record',
        key: { type: 'string', pattern: SERVICE_NAME_PATTERN },
        value: nonEmpty,
      }),
    }),
    default: () => ({}),
  },
  cmd: optional(text),
  'work-dir': optional(text),
  'stop-signal': optional({ type: 'string', pattern: STOP_SIGNAL_PATTERN }),
  accounts: {
    shape: object({
      'run-as': optional(text),
      users: list(
        object({
          username: required(accountName),
          uid: required(id),
          gid: optional(id),
          shell: optional(text),
          homedir: optional(text),
        }),
      ),
      groups: list(
        object({ groupname: required(accountName), gid: required(id), members: list(accountName) }),
      ),
    }),
    default: () => ({ users: [], groups: [] }),
  },
  environment: {
    shape: { type: 'record', key: { type: 'string', pattern: ENV_KEY_PATTERN }, value: text },
    default: () => ({}),
  },
  paths: list(
    object({
      path: required(nonEmpty),
      type: required({ type: 'enum', values: PATH_TYPES }),
      uid: optional(id),
      gid: optional(id),
      permissions: optional({ type: 'int', min: 0, max: 0o7777 }),
      source: optional(text),
      recursive: optional({ type: 'boolean' }),
    }),
  ),
  archs: list({ type: 'enum', values: ARCH_NAMES }),
  annotations: {
    shape: { type: 'record', key: { type: 'string', pattern: ANNOTATION_KEY_PATTERN }, value: nonEmpty },
    default: () => ({}),
  },
  include: optional(nonEmpty),
  volumes: list(nonEmpty),
  'vcs-url': optional(text),
  layering: optional(
    object({
      strategy: required({ type: 'enum', values: ['origin'] }),
      budget: required({ type: 'int', min: 0, max: Number.MAX_SAFE_INTEGER }),
    }),
  ),
  format: { shape: { type: 'enum', values: ['tar', 'erofs'] }, default: () => 'tar' },
  certificates: optional(
    object({
      additional: list(object({ name: required(certName), content: required(nonEmpty) })),
      providers: list(nonEmpty),
    }),
  ),
});

/** {@link parseShape}'s "not sure": the value may be invalid; run zod for the verdict and the messages. */
export const UNSURE: unique symbol = Symbol('unsure');

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseString(shape: Extract<Shape, { type: 'string' }>, value: unknown): string | typeof UNSURE {
  if (typeof value !== 'string') return UNSURE;
  if (shape.min !== undefined && value.length < shape.min) return UNSURE;
  if (shape.max !== undefined && value.length > shape.max) return UNSURE;
  if (shape.pattern !== undefined && !shape.pattern.test(value)) return UNSURE;
  if (shape.noNul === true && value.includes('\0')) return UNSURE;
  return value;
}

/**
 * Check `value` against `shape` and build what zod would output for it: defaults filled in, objects and
 * arrays copied. Unknown keys, a missing required key, a wrong type, a failed pattern or range: all
 * {@link UNSURE}, never an error (zod reports those).
 *
 * @param shape - the shape
 * @param value - a value made by `readYaml` (or merged from several)
 * @returns the parsed value, or UNSURE
 */
export function parseShape(shape: Shape, value: unknown): unknown {
  switch (shape.type) {
    case 'string':
      return parseString(shape, value);
    case 'enum':
      return typeof value === 'string' && shape.values.includes(value) ? value : UNSURE;
    case 'int':
      return Number.isSafeInteger(value) && (value as number) >= shape.min && (value as number) <= shape.max
        ? value
        : UNSURE;
    case 'boolean':
      return typeof value === 'boolean' ? value : UNSURE;
    case 'array': {
      if (!Array.isArray(value)) return UNSURE;
      const out: unknown[] = [];
      for (const item of value as unknown[]) {
        const parsed = parseShape(shape.item, item);
        if (parsed === UNSURE) return UNSURE;
        out.push(parsed);
      }
      return out;
    }
    case 'record': {
      if (!isPlainObject(value)) return UNSURE;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        const parsedKey = parseShape(shape.key, key);
        const parsed = parseShape(shape.value, value[key]);
        if (parsedKey === UNSURE || parsed === UNSURE) return UNSURE;
        out[key] = parsed;
      }
      return out;
    }
    case 'object': {
      if (!isPlainObject(value)) return UNSURE;
      for (const key of Object.keys(value)) if (!Object.hasOwn(shape.fields, key)) return UNSURE;
      const out: Record<string, unknown> = {};
      for (const [key, field] of Object.entries(shape.fields)) {
        const present = Object.hasOwn(value, key);
        const given = present ? value[key] : undefined;
        if (given === undefined) {
          if (field.default !== undefined) out[key] = field.default();
          else if (field.optional !== true) return UNSURE;
          else if (present) out[key] = undefined;
          continue;
        }
        const parsed = parseShape(field.shape, given);
        if (parsed === UNSURE) return UNSURE;
        out[key] = parsed;
      }
      return out;
    }
  }
}

function kindOf(shape: Shape): YamlKind {
  switch (shape.type) {
    case 'string':
    case 'enum':
      return 'string';
    case 'int':
      return 'number';
    case 'boolean':
      return 'boolean';
    default:
      return 'other';
  }
}

const guides = new WeakMap<Shape, YamlGuide>();

/**
 * How `readYaml` reads values of `shape`: strings take any scalar's text, numbers read YAML 1.1 octal,
 * booleans YAML 1.1 words, and a record's `key:` with no value is the empty string.
 *
 * @param shape - the shape of the document
 * @returns a guide for readYaml
 */
export function shapeGuide(shape: Shape): YamlGuide {
  const known = guides.get(shape);
  if (known !== undefined) return known;
  const guide: YamlGuide = {
    kind: kindOf(shape),
    record: shape.type === 'record',
    child(key: PathSegment): YamlGuide | undefined {
      if (shape.type === 'object' && typeof key === 'string')
        return Object.hasOwn(shape.fields, key) ? shapeGuide(shape.fields[key]!.shape) : undefined;
      if (shape.type === 'record' && typeof key === 'string') return shapeGuide(shape.value);
      if (shape.type === 'array' && typeof key === 'number') return shapeGuide(shape.item);
      return undefined;
    },
  };
  guides.set(shape, guide);
  return guide;
}
