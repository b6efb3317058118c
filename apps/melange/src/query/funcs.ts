/**
 * The predefined functions of Go's `text/template` that tk implements: `and`, `or`, `not` (lazy, returning
 * the deciding argument), `len`, `index`, `slice`, `print`, `printf`, `println`, `eq`, `ne`, `lt`, `le`, `gt`,
 * `ge`, `html`, `urlquery`. `printf` knows the verbs `%v %s %d %q %t %x %X %c %f %e %g %%` with flags, width and
 * precision (width and precision at most {@link MAX_WIDTH}), and Go's `%!verb(type=value)` for mismatches.
 */
import {
  formatNumber,
  formatValue,
  GoMap,
  GoPointer,
  GoSlice,
  isTrue,
  typeName,
  type GoValue,
} from './values.ts';

/** Largest printf width or precision. */
export const MAX_WIDTH = 1000;

type Lazy = () => GoValue;
type Fail = (message: string) => never;

function want(name: string, args: readonly Lazy[], fail: Fail, min: number, max = min): void {
  if (args.length < min || args.length > max) {
    const wanted = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
    fail(`wrong number of args for ${name}: want ${wanted} got ${args.length}`);
  }
}

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

/**
 * Go's `strconv.Quote`: a double-quoted string with Go escapes; printable characters are kept.
 *
 * @param s - the text
 * @returns the quoted text
 */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp === 0xfffd && ch !== '\ufffd') out += '\\ufffd';
    else if ((cp >= 0x80 && cp < 0xa0) || cp === 0x2028 || cp === 0x2029 || cp === 0xfeff)
      out +=
        cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/**
 * Go's `fmt.Sprint`: operands joined, with a space between two operands when neither is a string.
 *
 * @param args - the values
 * @returns the text
 */
export function sprint(args: readonly GoValue[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(a, false);
  });
  return out;
}

function pad(text: string, width: number | undefined, left: boolean, zero: boolean): string {
  if (width === undefined || text.length >= width) return text;
  if (left) return text.padEnd(width, ' ');
  if (zero) {
    const sign = /^[+-]/.test(text) ? text[0]! : '';
    return sign + text.slice(sign.length).padStart(width - sign.length, '0');
  }
  return text.padStart(width, ' ');
}

function bad(verb: string, v: GoValue): string {
  if (v === null || v === undefined) return `%!${verb}(<nil>)`;
  return `%!${verb}(${typeName(v)}=${formatValue(v, false)})`;
}

/**
 * Go's `fmt.Sprintf` for the verbs listed in the module comment.
 *
 * @param format - the format
 * @param args - the values
 * @param fail - called for a width or precision over {@link MAX_WIDTH}
 * @returns the text
 */
export function sprintf(format: string, args: readonly GoValue[], fail: Fail): string {
  let out = '';
  let argi = 0;
  let i = 0;
  while (i < format.length) {
    const c = format[i]!;
    if (c !== '%') {
      out += c;
      i++;
      continue;
    }
    i++;
    if (format[i] === '%') {
      out += '%';
      i++;
      continue;
    }
    let left = false;
    let plus = false;
    let zero = false;
    let space = false;
    let sharp = false;
    for (; i < format.length && '-+0 #'.includes(format[i]!); i++) {
      const f = format[i];
      if (f === '-') left = true;
      else if (f === '+') plus = true;
      else if (f === '0') zero = true;
      else if (f === ' ') space = true;
      else sharp = true;
    }
    const number = (): number | undefined => {
      if (format[i] === '*') {
        i++;
        const v = args[argi++];
        return typeof v === 'number' ? v : undefined;
      }
      const m = /^[0-9]+/.exec(format.slice(i));
      if (m === null) return undefined;
      i += m[0].length;
      return Number(m[0]);
    };
    const width = number();
    let precision: number | undefined;
    if (format[i] === '.') {
      i++;
      precision = number() ?? 0;
    }
    if ((width ?? 0) > MAX_WIDTH || (precision ?? 0) > MAX_WIDTH)
      fail(`printf: width or precision over ${MAX_WIDTH}`);
    const verb = format[i];
    if (verb === undefined) {
      out += '%!(NOVERB)';
      break;
    }
    i++;
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const v = args[argi++];
    out += pad(formatVerb(verb, v, { plus, space, sharp, precision }), width, left, zero && !left);
  }
  if (argi < args.length) {
    out += `%!(EXTRA ${args
      .slice(argi)
      .map((a) => `${typeName(a)}=${formatValue(a, false)}`)
      .join(', ')})`;
  }
  return out;
}

function formatVerb(
  verb: string,
  v: GoValue,
  flags: { plus: boolean; space: boolean; sharp: boolean; precision: number | undefined },
): string {
  const isInt = typeof v === 'number' && Number.isInteger(v);
  const signed = (s: string, n: number): string =>
    n >= 0 && flags.plus ? `+${s}` : n >= 0 && flags.space ? ` ${s}` : s;
  switch (verb) {
    case 'v':
      if (typeof v === 'string' && flags.sharp) return goQuote(v);
      return typeof v === 'number' ? signed(formatNumber(v), v) : formatValue(v, false);
    case 's':
      if (typeof v === 'string')
        return flags.precision === undefined ? v : [...v].slice(0, flags.precision).join('');
      if (v instanceof GoSlice || v instanceof GoMap || v instanceof GoPointer) return formatValue(v, false);
      return bad(verb, v);
    case 'q':
      if (typeof v === 'string') return goQuote(v);
      if (isInt) return `'${String.fromCodePoint(v)}'`;
      return bad(verb, v);
    case 'd':
      return isInt ? signed(v.toFixed(0), v) : bad(verb, v);
    case 't':
      return typeof v === 'boolean' ? (v ? 'true' : 'false') : bad(verb, v);
    case 'c':
      return isInt && v >= 0 && v <= 0x10ffff ? String.fromCodePoint(v) : bad(verb, v);
    case 'x':
    case 'X': {
      let s: string;
      if (isInt) s = (v < 0 ? '-' : '') + Math.abs(v).toString(16);
      else if (typeof v === 'string') s = utf8(v).toString('hex');
      else return bad(verb, v);
      if (flags.sharp && isInt) s = s.startsWith('-') ? `-0x${s.slice(1)}` : `0x${s}`;
      return verb === 'X' ? s.toUpperCase() : s;
    }
    case 'f':
    case 'F':
    case 'e':
    case 'g': {
      if (typeof v !== 'number') return bad(verb, v);
      const p = flags.precision;
      const s =
        verb === 'e'
          ? v.toExponential(p ?? 6).replace(/e([+-])(\d)$/, 'e$10$2')
          : verb === 'g'
            ? p === undefined
              ? formatNumber(v)
              : String(Number(v.toPrecision(Math.max(p, 1))))
            : v.toFixed(p ?? 6);
      return signed(s, v);
    }
    default:
      return `%!${verb}(${typeName(v)}=${formatValue(v, false)})`;
  }
}

/**
 * Equality as the template `eq` defines it, for basic values (strings, numbers, booleans) and nil.
 *
 * @param a - first value
 * @param b - second value
 * @param fail - called for values that cannot be compared
 * @returns whether they are equal
 */
export function compareEqual(a: GoValue, b: GoValue, fail: Fail): boolean {
  const isNil = (v: GoValue): boolean =>
    v === null || v === undefined || (v instanceof GoPointer && v.target === null);
  if (a === null || b === null) return isNil(a) && isNil(b);
  const basic = (v: GoValue): boolean =>
    typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  if (!basic(a) || !basic(b)) {
    if (a instanceof GoPointer && b instanceof GoPointer) return a.target === b.target;
    fail(
      `error calling eq: non-comparable type ${formatValue(basic(a) ? b : a, false)}: ${typeName(basic(a) ? b : a)}`,
    );
  }
  if (typeof a !== typeof b) fail('error calling eq: incompatible types for comparison');
  return a === b;
}

function compareOrder(name: string, a: GoValue, b: GoValue, fail: Fail): number {
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if ((typeof a === 'string' || typeof a === 'number') && (typeof b === 'string' || typeof b === 'number'))
    fail(`error calling ${name}: incompatible types for comparison`);
  fail(`error calling ${name}: invalid type for comparison`);
}

function indexInto(item: GoValue, index: GoValue, fail: Fail): GoValue {
  if (item === null || item === undefined) fail('error calling index: index of untyped nil');
  if (item instanceof GoMap) {
    if (typeof index !== 'string')
      fail(`error calling index: value has type ${typeName(index)}; should be string`);
    return item.entries.has(index) ? item.entries.get(index) : item.zero;
  }
  const position = (length: number): number => {
    if (typeof index !== 'number' || !Number.isInteger(index))
      fail(`error calling index: cannot index slice/array with type ${typeName(index)}`);
    if (index < 0 || index >= length) fail(`error calling index: index out of range: ${index}`);
    return index;
  };
  if (item instanceof GoSlice) return item.items[position(item.items.length)];
  if (typeof item === 'string') {
    const bytes = utf8(item);
    return bytes[position(bytes.length)]!;
  }
  fail(`error calling index: can't index item of type ${typeName(item)}`);
}

function sliceOf(item: GoValue, bounds: readonly GoValue[], fail: Fail): GoValue {
  const length =
    item instanceof GoSlice ? item.items.length : typeof item === 'string' ? utf8(item).length : undefined;
  if (length === undefined) fail(`error calling slice: can't slice item of type ${typeName(item)}`);
  if (bounds.length > 2) fail('error calling slice: too many slice indexes');
  const idx = bounds.map((b) => {
    if (typeof b !== 'number' || !Number.isInteger(b))
      fail(`error calling slice: cannot index slice with type ${typeName(b)}`);
    if (b < 0 || b > length) fail(`error calling slice: index out of range: ${b}`);
    return b;
  });
  const from = idx[0] ?? 0;
  const to = idx[1] ?? length;
  if (from > to) fail(`error calling slice: invalid slice index: ${from} > ${to}`);
  if (item instanceof GoSlice) return new GoSlice(item.type, item.items.slice(from, to));
  return utf8(item as string)
    .subarray(from, to)
    .toString('utf8');
}

function htmlEscape(s: string): string {
  return s.replace(/[<>&'"\0]/g, (c) =>
    c === '<'
      ? '&lt;'
      : c === '>'
        ? '&gt;'
        : c === '&'
          ? '&amp;'
          : c === "'"
            ? '&#39;'
            : c === '"'
              ? '&#34;'
              : '\ufffd',
  );
}

function queryEscape(s: string): string {
  let out = '';
  for (const byte of utf8(s)) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** `html`/`urlquery` take the text of their arguments (one string as is, else fmt.Sprint). */
function argsText(values: readonly GoValue[]): string {
  return values.length === 1 && typeof values[0] === 'string' ? values[0] : sprint(values);
}

/**
 * Call a template function.
 *
 * @param name - the function name (checked at parse time)
 * @param args - its arguments, evaluated on demand (`and` and `or` stop early)
 * @param fail - throws the error for a bad call
 * @returns the function's value
 */
export function callFunction(name: string, args: readonly Lazy[], fail: Fail): GoValue {
  const all = (): GoValue[] => args.map((a) => a());
  switch (name) {
    case 'and':
    case 'or': {
      want(name, args, fail, 1, Infinity);
      let v: GoValue;
      for (const a of args) {
        v = a();
        if (isTrue(v) === (name === 'or')) return v;
      }
      return v;
    }
    case 'not':
      want(name, args, fail, 1);
      return !isTrue(args[0]!());
    case 'len': {
      want(name, args, fail, 1);
      const v = args[0]!();
      if (typeof v === 'string') return utf8(v).length;
      if (v instanceof GoSlice) return v.items.length;
      if (v instanceof GoMap) return v.entries.size;
      return fail(`error calling len: len of type ${typeName(v)}`);
    }
    case 'index': {
      want(name, args, fail, 1, Infinity);
      const [item, ...indexes] = all();
      return indexes.reduce<GoValue>((acc, i) => indexInto(acc, i, fail), item);
    }
    case 'slice': {
      want(name, args, fail, 1, Infinity);
      const [item, ...bounds] = all();
      return sliceOf(item, bounds, fail);
    }
    case 'print':
      return sprint(all());
    case 'println':
      return `${all()
        .map((a) => formatValue(a, false))
        .join(' ')}\n`;
    case 'printf': {
      want(name, args, fail, 1, Infinity);
      const [format, ...rest] = all();
      if (typeof format !== 'string') fail(`wrong type for value; expected string; got ${typeName(format)}`);
      return sprintf(format, rest, fail);
    }
    case 'eq': {
      want(name, args, fail, 2, Infinity);
      const [first, ...others] = all();
      return others.some((o) => compareEqual(first, o, fail));
    }
    case 'ne':
      want(name, args, fail, 2);
      return !compareEqual(args[0]!(), args[1]!(), fail);
    case 'lt':
    case 'le':
    case 'gt':
    case 'ge': {
      want(name, args, fail, 2);
      const c = compareOrder(name, args[0]!(), args[1]!(), fail);
      return name === 'lt' ? c < 0 : name === 'le' ? c <= 0 : name === 'gt' ? c > 0 : c >= 0;
    }
    case 'html':
      return htmlEscape(argsText(all()));
    case 'urlquery':
      return queryEscape(argsText(all()));
    default:
      return fail(`function "${name}" not defined`);
  }
}
