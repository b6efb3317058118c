/**
 * Go values as a template sees them, and how Go's `fmt` prints them (`%v`): strings as they are, numbers in
 * decimal, slices as `[a b]`, maps as `map[k:v]` (sorted keys), structs as `{a b}`, a nil pointer as
 * `<nil>`, a missing map entry as `<no value>`, durations as `1h30m0s`.
 *
 * One deliberate difference: Go prints a non-nil pointer nested inside a struct or slice as its memory address
 * (`0xc000123456`), which changes on every run; tk prints `&{…}` instead.
 */

/** A Go struct: ordered exported fields, and the methods without arguments a template may call. */
export class GoStruct {
  readonly type: string;
  readonly fields: ReadonlyMap<string, GoValue>;
  readonly methods: Readonly<Record<string, () => GoValue>>;
  constructor(type: string, fields: [string, GoValue][], methods: Record<string, () => GoValue> = {}) {
    this.type = type;
    this.fields = new Map(fields);
    this.methods = methods;
  }
}

/** A pointer to a struct (`nil` when `target` is null). */
export class GoPointer {
  readonly type: string;
  readonly target: GoStruct | null;
  constructor(type: string, target: GoStruct | null) {
    this.type = type;
    this.target = target;
  }
}

/** A slice (nil and empty print the same). */
export class GoSlice {
  readonly type: string;
  readonly items: readonly GoValue[];
  constructor(type: string, items: readonly GoValue[]) {
    this.type = type;
    this.items = items;
  }
}

/** A `map[string]T`; `zero` is T's zero value (what `index` gives for a missing key). */
export class GoMap {
  readonly type: string;
  readonly entries: ReadonlyMap<string, GoValue>;
  readonly zero: GoValue;
  constructor(type: string, entries: Iterable<[string, GoValue]>, zero: GoValue = '') {
    this.type = type;
    this.entries = new Map(entries);
    this.zero = zero;
  }
  /** Keys in Go's map printing and ranging order (sorted). */
  sortedKeys(): string[] {
    return [...this.entries.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

/** A `time.Duration`, in milliseconds (recipes never give finer ones). */
export class GoDuration {
  readonly ms: number;
  constructor(ms: number) {
    this.ms = ms;
  }
}

/**
 * A value in a template: `string`, `number` (Go ints and float constants), `boolean`, `null` (untyped nil),
 * `undefined` (no value: a missing map entry), or one of the classes above.
 */
export type GoValue =
  | string
  | number
  | boolean
  | null
  | undefined
  | GoStruct
  | GoPointer
  | GoSlice
  | GoMap
  | GoDuration;

/**
 * The Go type name of a value, for messages.
 *
 * @param v - a value
 * @returns `string`, `int`, `config.Package`, `[]string`…
 */
export function typeName(v: GoValue): string {
  if (v === undefined) return '<no value>';
  if (v === null) return 'nil';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof GoDuration) return 'time.Duration';
  return v.type;
}

/**
 * Go's `String()` of a duration: `0s`, `1.5s`, `2m0s`, `1h30m0s`.
 *
 * @param ms - milliseconds
 * @returns the text
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${rest}ms`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = (rest / 1000).toString();
  if (h > 0) return `${sign}${h}h${m}m${s}s`;
  if (m > 0) return `${sign}${m}m${s}s`;
  return `${sign}${s}s`;
}

/**
 * A value as Go's `fmt.Sprint` prints it (with tk's `&{…}` for nested pointers).
 *
 * @param v - the value
 * @param top - true for the value an action prints (a pointer there is followed, as text/template does)
 * @returns the text
 */
export function formatValue(v: GoValue, top = true): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof GoDuration) return formatDuration(v.ms);
  if (v instanceof GoSlice) return `[${v.items.map((i) => formatValue(i, false)).join(' ')}]`;
  if (v instanceof GoMap)
    return `map[${v
      .sortedKeys()
      .map((k) => `${k}:${formatValue(v.entries.get(k), false)}`)
      .join(' ')}]`;
  if (v instanceof GoPointer) {
    if (v.target === null) return '<nil>';
    return top ? formatValue(v.target, false) : `&${formatValue(v.target, false)}`;
  }
  return `{${[...v.fields.values()].map((f) => formatValue(f, false)).join(' ')}}`;
}

/**
 * A number as Go prints it (`%v`: integers in decimal, floats in `%g` form).
 *
 * @param n - the number
 * @returns the text
 */
export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return Number.isSafeInteger(n) ? n.toFixed(0) : String(n);
  const s = String(n);
  return s.includes('e') ? s.replace(/e([+-])(\d)$/, 'e$10$2') : s;
}

/**
 * Go's truth of a value (`if`, `with`, `and`, `or`, `not`): false, 0, nil, empty strings, slices and maps,
 * and no value are false; structs are true.
 *
 * @param v - the value
 * @returns its truth
 */
export function isTrue(v: GoValue): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'string') return v !== '';
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'boolean') return v;
  if (v instanceof GoDuration) return v.ms !== 0;
  if (v instanceof GoSlice) return v.items.length > 0;
  if (v instanceof GoMap) return v.entries.size > 0;
  if (v instanceof GoPointer) return v.target !== null;
  return true;
}
