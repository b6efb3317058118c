/**
 * `var-transforms` (melange.md §1.7, §3.2; melange `pkg/config/vars.go` `PerformVarSubstitutions`): for each
 * entry in list order, substitute variables into `from`, apply the Go RE2 expression `match` with `replace`
 * to every match, and store the result as `vars.<to>` (later entries see earlier results).
 *
 * Go's RE2 dialect is translated into a JavaScript `RegExp` (flag `u`) by a small scanner, not by passing the
 * text through: the dialects differ in ways that matter.
 * - RE2-only syntax is translated: `(?P<name>…)` → `(?<name>…)`, leading flag groups `(?i)`/`(?s)`/`(?m)` →
 *   RegExp flags, `\A`/`\z` → look-arounds on `[\s\S]`, `\x{…}` → `\u{…}`, `\pL`/`\p{Greek}` →
 *   `\p{L}`/`\p{Script=Greek}`, POSIX classes `[[:alpha:]]` → ranges, `\Q…\E` → escaped literals,
 *   `.` → `[^\n]` (RE2 excludes only `\n`), `\s` → `[\t\n\f\r ]` (RE2's ASCII set), a literal `{`, `}` or
 *   `]` → escaped (RE2 takes them literally where JS `u` mode rejects them).
 * - Syntax RE2 does not have is rejected with MELANGE_BAD_REGEX, never silently given JS meaning:
 *   backreferences `\1`, look-arounds `(?=`, `(?!`, `(?<=`, `(?<!`, `\C`, `\Z`, `(?U)`, and flag groups that
 *   are not at the very start (`a(?i)b`, `(?i:…)`; Node 20 has no RegExp modifiers).
 * - Repetition counts above 1000 are rejected (RE2's own limit).
 * - Small differences remain: with `(?m)`, JS `^`/`$` also break lines at `\r`, U+2028 and U+2029 (RE2 only at
 *   `\n`); `\S` inside a class is JS's (Unicode) complement of `\s`.
 *
 * Backtracking: JS RegExp can take exponential time where RE2 is linear. Patterns of the classic
 * catastrophic shape, a repeated group with an alternative that is itself one unbounded repetition
 * (`(a+)+`, `(a*)*`, `(\w+|x)*`, `((a+))+`), are rejected. Patterns such as `(.*a){20}` or `(a|aa)+` can still
 * backtrack exponentially on hostile input; the inputs here are a recipe's own version strings (bounded to
 * {@link MAX_TRANSFORM_INPUT} characters), written by the recipe's author, so tk accepts that risk rather
 * than embedding a linear-time engine.
 *
 * Replacement templates follow Go's `Regexp.Expand`: `$1`, `${1}`, `$name`, `${name}`, `$$` for a literal
 * `$`; a name is the longest run of `[A-Za-z0-9_]` (so `$1x` names the group `1x`, which does not exist
 * and gives an empty string, as in Go); a malformed `$` is literal. All matches are replaced, and an empty
 * match right after a previous match is not replaced (Go's `ReplaceAllString`; JS would replace it).
 */
import type { VarTransform } from './types.ts';
import { MelangeError } from '../errors.ts';
import { substitute, type VariableLookup } from './subst.ts';

/** Longest accepted `match` pattern, in characters. */
export const MAX_PATTERN_LENGTH = 4096;
/** Longest accepted `from` value (after substitution), in characters. */
export const MAX_TRANSFORM_INPUT = 65536;
/** RE2's largest repetition count. */
const MAX_REPEAT = 1000;

/** A translated RE2 expression. */
export interface TranslatedRegex {
  /** The JavaScript pattern source. */
  source: string;
  /** RegExp flags (`u` always; `i`, `m` from leading flag groups). */
  flags: string;
}

function badRegex(pattern: string, where: string, what: string, cause?: unknown): MelangeError {
  return new MelangeError('MELANGE_BAD_REGEX', `${where}: ${what} in ${JSON.stringify(pattern)}`, {
    hint: 'var-transforms use Go RE2 syntax (https://github.com/google/re2/wiki/Syntax): no backreferences, no look-arounds, no nested unbounded repetition',
    data: { where, pattern },
    ...(cause === undefined ? {} : { cause }),
  });
}

const SYNTAX = new Set(['^', '$', '\\', '.', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '/']);
const CLASS_SPECIAL = new Set(['\\', ']', '[', '-', '^']);

function literal(c: string, inClass: boolean): string {
  if (inClass ? CLASS_SPECIAL.has(c) : SYNTAX.has(c)) return `\\${c}`;
  return c;
}

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

const CATEGORIES = new Set(
  'L Lu Ll Lt Lm Lo M Mn Mc Me N Nd Nl No P Pc Pd Ps Pe Pi Pf Po S Sm Sc Sk So Z Zs Zl Zp C Cc Cf Cs Co Cn Any'.split(
    ' ',
  ),
);

interface Frame {
  /** Atoms in the current alternative so far. */
  alternativeAtoms: number;
  /** The current alternative consists of exactly one unbounded repetition so far. */
  alternativeSoleUnbounded: boolean;
  /** Some finished alternative was a sole unbounded repetition. */
  anySoleUnbounded: boolean;
}

interface Atom {
  /** The atom is a group one of whose alternatives is a sole unbounded repetition. */
  soleUnbounded: boolean;
  quantified: boolean;
  /** The previous token was a quantifier (a `?` after it makes it lazy). */
  lazyAllowed: boolean;
}

/**
 * Translate a Go RE2 expression into a JavaScript RegExp source and flags.
 *
 * @param pattern - the RE2 text
 * @param where - context for messages (`var-transforms[0].match`)
 * @returns source and flags (always with `u`)
 * @throws {MelangeError} MELANGE_BAD_REGEX for syntax RE2 does not have, unsafe nesting, or a pattern JS rejects
 */
export function translateRe2(pattern: string, where: string): TranslatedRegex {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw badRegex(pattern.slice(0, 60), where, `pattern longer than ${MAX_PATTERN_LENGTH} characters`);
  }
  const cs = Array.from(pattern);
  let i = 0;
  const flags = new Set<string>(['u']);
  // Leading flag groups: (?i), (?s), (?m), (?is), (?-s) …
  for (;;) {
    const m = /^\(\?([imsU]*)(?:-([imsU]*))?\)/.exec(cs.slice(i).join(''));
    if (m === null || (m[1] === '' && (m[2] ?? '') === '')) break;
    const on = m[1] ?? '';
    const off = m[2] ?? '';
    if (on.includes('U') || off.includes('U'))
      throw badRegex(pattern, where, 'the ungreedy flag (?U) is not supported');
    for (const f of on) flags.add(f);
    for (const f of off) flags.delete(f);
    i += Array.from(m[0]).length;
  }
  const dotAll = flags.has('s');
  flags.delete('s');
  let out = '';
  const frames: Frame[] = [{ alternativeAtoms: 0, alternativeSoleUnbounded: false, anySoleUnbounded: false }];
  let atom: Atom | undefined;

  const top = (): Frame => frames[frames.length - 1] as Frame;
  const pushAtom = (a: Atom): void => {
    const f = top();
    f.alternativeAtoms++;
    f.alternativeSoleUnbounded = f.alternativeAtoms === 1 && a.soleUnbounded;
    atom = a;
  };
  const plain = (): Atom => ({ soleUnbounded: false, quantified: false, lazyAllowed: false });

  const escape = (inClass: boolean): string => {
    const e = cs[i + 1];
    if (e === undefined) throw badRegex(pattern, where, 'trailing backslash');
    i += 2;
    // Octal: \0 plus up to two digits, or \1-\7 followed by a digit (three digits in all); a lone \1-\9 is a
    // backreference, which RE2 does not have.
    if (e === '0' || (/[1-7]/.test(e) && /[0-7]/.test(cs[i] ?? ''))) {
      let digits = e;
      while (digits.length < 3 && /[0-7]/.test(cs[i] ?? '')) digits += cs[i++];
      return `\\u{${parseInt(digits, 8).toString(16)}}`;
    }
    if (/[1-9]/.test(e)) throw badRegex(pattern, where, `backreference \\${e} (RE2 has no backreferences)`);
    if (e === 'x') {
      if (cs[i] === '{') {
        const close = cs.indexOf('}', i);
        const hex = close < 0 ? '' : cs.slice(i + 1, close).join('');
        if (!/^[0-9A-Fa-f]{1,6}$/.test(hex) || parseInt(hex, 16) > 0x10ffff)
          throw badRegex(pattern, where, 'invalid \\x{…} escape');
        i = close + 1;
        return `\\u{${hex}}`;
      }
      const hex = (cs[i] ?? '') + (cs[i + 1] ?? '');
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw badRegex(pattern, where, 'invalid \\x escape');
      i += 2;
      return `\\x${hex}`;
    }
    if (e === 'a') return '\\x07';
    if ('ftnrv'.includes(e)) return `\\${e}`;
    if ('dDwW'.includes(e)) return `\\${e}`;
    if (e === 's') return inClass ? '\\t\\n\\f\\r ' : '[\\t\\n\\f\\r ]';
    if (e === 'S') return inClass ? '\\S' : '[^\\t\\n\\f\\r ]';
    if (!inClass && (e === 'b' || e === 'B')) return `\\${e}`;
    if (!inClass && e === 'A') return '(?<![\\s\\S])';
    if (!inClass && e === 'z') return '(?![\\s\\S])';
    if (e === 'p' || e === 'P') {
      let name: string;
      if (cs[i] === '{') {
        const close = cs.indexOf('}', i);
        if (close < 0) throw badRegex(pattern, where, 'unterminated \\p{…}');
        name = cs.slice(i + 1, close).join('');
        i = close + 1;
      } else {
        name = cs[i] ?? '';
        i++;
      }
      let negate = e === 'P';
      if (name.startsWith('^')) {
        negate = !negate;
        name = name.slice(1);
      }
      if (!/^[A-Za-z_]+$/.test(name)) throw badRegex(pattern, where, `invalid Unicode class \\${e}{${name}}`);
      const prop = CATEGORIES.has(name) ? name : `Script=${name}`;
      return `\\${negate ? 'P' : 'p'}{${prop}}`;
    }
    if (/[\p{L}\p{N}]/u.test(e)) throw badRegex(pattern, where, `unsupported escape \\${e}`);
    // Escaped punctuation is the punctuation itself.
    return literal(e, inClass);
  };

  const charClass = (): string => {
    // at '['
    i++;
    let s = '[';
    if (cs[i] === '^') {
      s += '^';
      i++;
    }
    let first = true;
    let prevSingle = false;
    for (;;) {
      const c = cs[i];
      if (c === undefined) throw badRegex(pattern, where, 'missing closing ]');
      if (c === ']' && !first) {
        i++;
        return `${s}]`;
      }
      first = false;
      if (c === '[' && cs[i + 1] === ':') {
        const rest = cs.slice(i).join('');
        const m = /^\[:(\^?)([a-z]+):\]/.exec(rest);
        const set = m === null ? undefined : POSIX[m[2] ?? ''];
        if (m !== null && set !== undefined) {
          if (m[1] === '^')
            throw badRegex(
              pattern,
              where,
              `negated POSIX class [:^${m[2]}:] inside a class is not supported`,
            );
          s += set;
          i += Array.from(m[0]).length;
          prevSingle = false;
          continue;
        }
      }
      if (c === '\\') {
        if (cs[i + 1] === 'Q')
          throw badRegex(pattern, where, '\\Q…\\E inside a character class is not supported');
        const e = escape(true);
        s += e;
        prevSingle = e.length <= 2 || e.startsWith('\\u{') || e.startsWith('\\x');
        continue;
      }
      if (c === '-' && prevSingle && cs[i + 1] !== ']' && cs[i + 1] !== undefined) {
        s += '-';
        i++;
        prevSingle = false;
        continue;
      }
      s += literal(c, true);
      i++;
      prevSingle = true;
    }
  };

  const quantifier = (text: string, max: number): void => {
    if (atom === undefined) throw badRegex(pattern, where, `missing argument to repetition operator ${text}`);
    if (atom.quantified) {
      if (text === '?' && atom.lazyAllowed) {
        out += '?';
        atom.lazyAllowed = false;
        return;
      }
      throw badRegex(pattern, where, `invalid nested repetition operator ${text}`);
    }
    if (atom.soleUnbounded && max > 1) {
      throw badRegex(
        pattern,
        where,
        `nested unbounded repetition (a repeated group that is itself one repetition, such as (a+)+) can take exponential time`,
      );
    }
    out += text;
    atom.quantified = true;
    atom.lazyAllowed = true;
    const f = top();
    if (f.alternativeAtoms === 1) f.alternativeSoleUnbounded = max === Infinity || atom.soleUnbounded;
  };

  while (i < cs.length) {
    const c = cs[i] ?? '';
    if (c === '\\') {
      if (cs[i + 1] === 'Q') {
        i += 2;
        let lit = '';
        while (i < cs.length && !(cs[i] === '\\' && cs[i + 1] === 'E')) lit += literal(cs[i++] ?? '', false);
        if (i < cs.length) i += 2;
        if (lit !== '') {
          out += `(?:${lit})`;
          pushAtom(plain());
        }
        continue;
      }
      if (cs[i + 1] === 'C') throw badRegex(pattern, where, '\\C (any byte) is not supported');
      if (cs[i + 1] === 'Z') throw badRegex(pattern, where, '\\Z is not RE2 syntax (use \\z)');
      out += escape(false);
      pushAtom(plain());
      continue;
    }
    if (c === '[') {
      out += charClass();
      pushAtom(plain());
      continue;
    }
    if (c === '(') {
      const rest = cs.slice(i, i + 4).join('');
      if (
        rest.startsWith('(?=') ||
        rest.startsWith('(?!') ||
        rest.startsWith('(?<=') ||
        rest.startsWith('(?<!')
      ) {
        throw badRegex(pattern, where, 'look-around assertions are not RE2 syntax');
      }
      if (rest.startsWith('(?:')) {
        out += '(?:';
        i += 3;
      } else if (rest.startsWith('(?P<') || rest.startsWith('(?<')) {
        const open = rest.startsWith('(?P<') ? 4 : 3;
        const close = cs.indexOf('>', i + open);
        const name = close < 0 ? '' : cs.slice(i + open, close).join('');
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
          throw badRegex(pattern, where, `invalid or unsupported group name "${name}"`);
        out += `(?<${name}>`;
        i = close + 1;
      } else if (rest.startsWith('(?')) {
        throw badRegex(pattern, where, 'flag groups are supported only at the start of the pattern ((?i)…)');
      } else {
        out += '(';
        i++;
      }
      frames.push({ alternativeAtoms: 0, alternativeSoleUnbounded: false, anySoleUnbounded: false });
      atom = undefined;
      continue;
    }
    if (c === ')') {
      if (frames.length === 1) throw badRegex(pattern, where, 'unexpected )');
      const f = frames.pop() as Frame;
      out += ')';
      i++;
      pushAtom({
        soleUnbounded: f.anySoleUnbounded || f.alternativeSoleUnbounded,
        quantified: false,
        lazyAllowed: false,
      });
      continue;
    }
    if (c === '|') {
      const f = top();
      f.anySoleUnbounded ||= f.alternativeSoleUnbounded;
      f.alternativeAtoms = 0;
      f.alternativeSoleUnbounded = false;
      out += '|';
      i++;
      atom = undefined;
      continue;
    }
    if (c === '*' || c === '+' || c === '?') {
      i++;
      quantifier(c, c === '?' ? 1 : Infinity);
      continue;
    }
    if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(cs.slice(i, i + 16).join(''));
      if (m !== null) {
        const min = Number(m[1]);
        const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
        if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT)) {
          throw badRegex(pattern, where, `repetition count above ${MAX_REPEAT}`);
        }
        if (max < min) throw badRegex(pattern, where, `invalid repetition ${m[0]}`);
        i += m[0].length;
        quantifier(m[0], max);
        continue;
      }
      out += '\\{';
      i++;
      pushAtom(plain());
      continue;
    }
    if (c === '.') {
      out += dotAll ? '[\\s\\S]' : '[^\\n]';
      i++;
      pushAtom(plain());
      continue;
    }
    if (c === '^' || c === '$') {
      out += c;
      i++;
      atom = undefined;
      continue;
    }
    out += literal(c, false);
    i++;
    pushAtom(plain());
  }
  if (frames.length !== 1) throw badRegex(pattern, where, 'missing closing )');
  const flagText = [...flags].sort().join('');
  try {
    new RegExp(out, flagText);
  } catch (error) {
    throw badRegex(pattern, where, `pattern not accepted (${(error as Error).message})`, error);
  }
  return { source: out, flags: flagText };
}

/**
 * Compile a Go RE2 expression into a global JavaScript RegExp.
 *
 * @param pattern - the RE2 text
 * @param where - context for messages
 * @returns a RegExp with flags `g`, `u` (and `i`, `m` when the pattern starts with them)
 * @throws {MelangeError} MELANGE_BAD_REGEX
 */
export function compileRe2(pattern: string, where: string): RegExp {
  const t = translateRe2(pattern, where);
  return new RegExp(t.source, `g${t.flags}`);
}

/** One piece of a Go replacement template. */
export type TemplatePart = { text: string } | { group: number | string };

/**
 * Parse a Go `Regexp.Expand` template (`$1`, `${1}`, `$name`, `${name}`, `$$`).
 *
 * @param template - the `replace` text
 * @returns literal and group parts
 */
export function parseGoTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let text = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i];
    if (c !== '$') {
      text += c;
      i++;
      continue;
    }
    if (template[i + 1] === '$') {
      text += '$';
      i += 2;
      continue;
    }
    let name = '';
    let end = i + 1;
    if (template[i + 1] === '{') {
      const close = template.indexOf('}', i + 2);
      const inner = close < 0 ? '' : template.slice(i + 2, close);
      if (/^[A-Za-z0-9_]+$/.test(inner)) {
        name = inner;
        end = close + 1;
      }
    } else {
      const m = /^[A-Za-z0-9_]+/.exec(template.slice(i + 1));
      if (m !== null) {
        name = m[0];
        end = i + 1 + name.length;
      }
    }
    if (name === '') {
      // Malformed: the $ is literal (as in Go).
      text += '$';
      i++;
      continue;
    }
    if (text !== '') parts.push({ text });
    text = '';
    parts.push({ group: /^[0-9]+$/.test(name) ? Number(name) : name });
    i = end;
  }
  if (text !== '') parts.push({ text });
  return parts;
}

function expand(parts: readonly TemplatePart[], m: RegExpExecArray): string {
  let out = '';
  for (const p of parts) {
    if ('text' in p) out += p.text;
    else if (typeof p.group === 'number') out += (p.group < m.length ? m[p.group] : undefined) ?? '';
    else out += m.groups?.[p.group] ?? '';
  }
  return out;
}

/**
 * Go's `Regexp.ReplaceAllString`: replace every match, expanding the template per match; an empty match
 * right after a previous match is skipped.
 *
 * @param re - a RegExp with the `g` flag (from {@link compileRe2})
 * @param input - the text
 * @param template - the Go replacement template
 * @returns the replaced text
 */
export function replaceAllGo(re: RegExp, input: string, template: string): string {
  const parts = parseGoTemplate(template);
  let out = '';
  let lastEnd = 0;
  let search = 0;
  while (search <= input.length) {
    re.lastIndex = search;
    const m = re.exec(input);
    if (m === null) break;
    const start = m.index;
    const end = start + m[0].length;
    out += input.slice(lastEnd, start);
    if (end > lastEnd || start === 0) out += expand(parts, m);
    lastEnd = end;
    const width = (input.codePointAt(search) ?? 0) > 0xffff ? 2 : 1;
    search = search + width > end ? search + width : end;
  }
  return out + input.slice(lastEnd);
}

/**
 * Apply var-transforms in list order. Each `from` is substituted against `scope` (which then also holds the
 * results of earlier entries as `vars.<to>`).
 *
 * @param transforms - the recipe's `var-transforms`
 * @param scope - the variables in scope; updated with each `vars.<to>`
 * @param where - prefix for messages (`melange.yaml: var-transforms`)
 * @returns the new variables, by `to` name
 * @throws {MelangeError} MELANGE_BAD_REGEX, MELANGE_UNKNOWN_VARIABLE, MELANGE_BAD_SUBSTITUTION
 * @example
 * applyVarTransforms([{ from: '${{package.version}}', match: '\\.', replace: '_', to: 'v' }], new Map([['package.version', '2.8.3']]), 'var-transforms')
 * // → { v: '2_8_3' }
 */
export function applyVarTransforms(
  transforms: readonly VarTransform[],
  scope: Map<string, string>,
  where: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  transforms.forEach((t, idx) => {
    const here = `${where}[${idx}]`;
    if (!/^[A-Za-z0-9._-]+$/.test(t.to)) {
      throw new MelangeError('MELANGE_BAD_SUBSTITUTION', `${here}.to: "${t.to}" is not a variable name`, {
        hint: 'use letters, digits, ".", "_" and "-" in var-transform targets',
        data: { where: `${here}.to` },
      });
    }
    const from = substitute(t.from, scope as VariableLookup, `${here}.from`);
    if (from.length > MAX_TRANSFORM_INPUT) {
      throw badRegex(t.match, `${here}.from`, `input longer than ${MAX_TRANSFORM_INPUT} characters`);
    }
    const re = compileRe2(t.match, `${here}.match`);
    const value = replaceAllGo(re, from, t.replace);
    scope.set(`vars.${t.to}`, value);
    out[t.to] = value;
  });
  return out;
}
