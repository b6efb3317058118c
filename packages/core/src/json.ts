/**
 * The one canonical JSON writer for everything tk hashes or publishes (OCI configs, manifests and
 * indexes, SPDX documents, lock files). Its output matches Go's `encoding/json`, which wrote the
 * documents users compare against (apko's golden files):
 *
 * - object keys keep insertion order (struct order in Go); build maps with {@link sortedRecord};
 * - `undefined` members are dropped (Go's `omitempty` for absent values);
 * - `<`, `>`, `&`, U+2028 and U+2029 are escaped as `\u003c`… when `htmlEscape` is on (Go's default);
 * - indentation, when asked for, is Go's `MarshalIndent(v, "", "  ")` shape; a final newline on request.
 *
 * Only finite integers and safe values are accepted: a float or a cycle is a bug, not data.
 */
import { InternalError } from './errors.ts';

/** JSON values the writer accepts. `undefined` inside objects means "leave the key out". */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue | undefined };

/** How to write a document. */
export interface CanonicalJsonOptions {
  /** Spaces per level; 0 (the default) writes compact JSON. */
  indent?: number;
  /** Escape `<`, `>`, `&` like Go's encoder. Default true. */
  htmlEscape?: boolean;
  /** End the document with `\n`. Default false. */
  finalNewline?: boolean;
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

function writeString(value: string, htmlEscape: boolean): string {
  const quoted = JSON.stringify(value);
  return htmlEscape ? quoted.replace(/[<>&\u2028\u2029]/g, (c) => HTML_ESCAPES[c] ?? c) : quoted;
}

/**
 * Serialise a value to canonical JSON text.
 *
 * @param value - the document
 * @param options - indentation, escaping, final newline
 * @returns the JSON text
 * @throws {InternalError} on non-integer numbers, cycles or unsupported types
 * @example
 * stringifyCanonical({ b: 1, a: [true] }) // '{"b":1,"a":[true]}'
 */
export function stringifyCanonical(value: JsonValue, options: CanonicalJsonOptions = {}): string {
  const indent = options.indent ?? 0;
  const htmlEscape = options.htmlEscape ?? true;
  const seen = new Set<object>();

  const write = (v: JsonValue, depth: number): string => {
    if (v === null) return 'null';
    switch (typeof v) {
      case 'boolean':
        return v ? 'true' : 'false';
      case 'number':
        if (!Number.isSafeInteger(v))
          throw new InternalError(`canonical JSON accepts only safe integers, got ${v}`);
        return String(v);
      case 'string':
        return writeString(v, htmlEscape);
      case 'object':
        break;
      default:
        throw new InternalError(`canonical JSON cannot write a ${typeof v}`);
    }
    if (seen.has(v)) throw new InternalError('canonical JSON cannot write a cycle');
    seen.add(v);
    const pad = indent > 0 ? '\n' + ' '.repeat(indent * (depth + 1)) : '';
    const end = indent > 0 ? '\n' + ' '.repeat(indent * depth) : '';
    const colon = indent > 0 ? ': ' : ':';
    let out: string;
    if (Array.isArray(v)) {
      const items = (v as readonly JsonValue[]).map((item) => pad + write(item, depth + 1));
      out = items.length === 0 ? '[]' : `[${items.join(',')}${end}]`;
    } else {
      const members: string[] = [];
      for (const [key, member] of Object.entries(v as { readonly [key: string]: JsonValue | undefined })) {
        if (member === undefined) continue;
        members.push(pad + writeString(key, htmlEscape) + colon + write(member, depth + 1));
      }
      out = members.length === 0 ? '{}' : `{${members.join(',')}${end}}`;
    }
    seen.delete(v);
    return out;
  };

  return write(value, 0) + (options.finalNewline === true ? '\n' : '');
}

/**
 * Copy a map with its keys in code-point order, as Go writes `map[string]T`.
 *
 * @param record - the map
 * @returns a new object whose insertion order is sorted
 */
export function sortedRecord<T>(record: Readonly<Record<string, T>>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of Object.keys(record).sort(compareCodePoints)) out[key] = record[key] as T;
  return out;
}

/**
 * Compare two strings by UTF-16 code units, the order Go's `sort.Strings` gives for ASCII and BMP text.
 * Use it wherever output order must not depend on locale.
 */
export function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
