/**
 * zod issues → tk config issues: messages that name the offending value, a hint where one helps
 * ("did you mean work-dir?"), and the position of the key or value in the YAML source.
 */
import { z } from 'zod';
import { ARCH_NAMES } from './arch.ts';
import type { Reporter } from './validate.ts';
import type { PathSegment } from './yaml.ts';
import { childSchema, unwrapSchema } from './zod-guide.ts';

function schemaAt(schema: z.ZodType, path: readonly PathSegment[]): z.ZodType | undefined {
  let s: z.ZodType | undefined = schema;
  for (const seg of path) s = childSchema(s, seg);
  return unwrapSchema(s);
}

function valueAt(value: unknown, path: readonly PathSegment[]): unknown {
  let v = value;
  for (const seg of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = Object.hasOwn(v, seg) ? (v as Record<PropertyKey, unknown>)[seg] : undefined;
  }
  return v;
}

/**
 * Describe a value for a message: `"text"`, `42`, `true`, `null`, `a list`, `a mapping`.
 *
 * @param v - any value
 * @returns a short description
 */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return v.length > 60 ? `${JSON.stringify(v.slice(0, 57))}…` : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

function normalizeKey(k: string): string {
  return k.toLowerCase().replace(/[-_]/g, '');
}

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/**
 * The known key closest to an unknown one (`workdir` → `work-dir`, `run_as` → `run-as`), if any is close.
 *
 * @param unknown - the key the user wrote
 * @param known - the keys allowed there
 * @returns the suggestion, or undefined
 */
export function suggestKey(unknown: string, known: readonly string[]): string | undefined {
  const n = normalizeKey(unknown);
  const exact = known.find((k) => normalizeKey(k) === n);
  if (exact !== undefined) return exact;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = distance(n, normalizeKey(k));
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(n.length / 4)) ? best : undefined;
}

function formatNumber(path: readonly PathSegment[], v: unknown): string {
  if (path[path.length - 1] === 'permissions' && typeof v === 'number') return `0o${v.toString(8)}`;
  return describeValue(v);
}

/**
 * Report zod issues through `report`, rewritten into tk's messages.
 *
 * @param zodIssues - issues from `safeParse`
 * @param schema - the schema that produced them (for known keys)
 * @param value - the value that was parsed (for the offending values)
 * @param report - where issues go
 */
export function reportZodIssues(
  zodIssues: readonly z.core.$ZodIssue[],
  schema: z.ZodType,
  value: unknown,
  report: Reporter,
): void {
  for (const issue of zodIssues) {
    const path = issue.path.filter((p): p is PathSegment => typeof p === 'string' || typeof p === 'number');
    const actual = valueAt(value, path);
    switch (issue.code) {
      case 'unrecognized_keys': {
        const here = schemaAt(schema, path);
        const known = here instanceof z.ZodObject ? Object.keys(here.shape as object) : [];
        for (const key of issue.keys) {
          const suggestion = suggestKey(key, known);
          report([...path, key], `unknown key "${key}"`, {
            at: 'key',
            hint:
              suggestion !== undefined
                ? `did you mean "${suggestion}"?`
                : `known keys here: ${known.join(', ')}`,
          });
        }
        break;
      }
      case 'invalid_type': {
        if (actual === undefined) {
          report(path, 'is required');
        } else {
          const expected = EXPECTED[issue.expected] ?? issue.expected;
          const hint =
            path[path.length - 1] === 'permissions' && typeof actual === 'string'
              ? 'write the mode as an unquoted octal number: permissions: 0o755'
              : undefined;
          report(
            path,
            `must be ${expected}, got ${describeValue(actual)}`,
            hint === undefined ? {} : { hint },
          );
        }
        break;
      }
      case 'invalid_value': {
        if (path[0] === 'archs') {
          const hint =
            actual === 'all' || actual === 'host'
              ? `"${actual}" is only accepted by --arch; list the architectures here`
              : `known architectures: ${ARCH_NAMES.join(', ')}`;
          report(path, `unknown architecture ${describeValue(actual)}`, { hint });
        } else {
          const values = issue.values.map((v) => JSON.stringify(v)).join(', ');
          report(path, `must be one of ${values}, got ${describeValue(actual)}`);
        }
        break;
      }
      case 'invalid_key': {
        const inner = issue.issues[0]?.message ?? issue.message;
        report(path, `${inner}, got ${describeValue(path[path.length - 1])}`, { at: 'key' });
        break;
      }
      case 'too_small':
      case 'too_big':
      case 'invalid_format':
        report(path, `${issue.message}, got ${formatNumber(path, actual)}`);
        break;
      default:
        report(path, issue.message);
    }
  }
}
