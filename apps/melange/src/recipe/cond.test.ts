import { describe, expect, it } from 'vitest';
import { seededRandom } from '@tk/core';
import { MelangeError } from '../errors.ts';
import {
  MAX_CONDITION_DEPTH,
  evaluateCondition,
  parseCondition,
  quoteConditionLiteral,
  resolveCondition,
} from './cond.ts';

const vars = new Map([
  ['build.arch', 'x86_64'],
  ['package.name', 'hello'],
  ['options.docs.enabled', 'true'],
  ['options.static.enabled', 'false'],
  ['vars.quote', `it's "quoted" \\ back\nslash`],
]);

function ev(text: string): boolean {
  return evaluateCondition(text, vars, 'test.if');
}

function caught(fn: () => unknown): MelangeError {
  try {
    fn();
  } catch (error) {
    if (error instanceof MelangeError) return error;
    throw error;
  }
  throw new Error('expected a MelangeError');
}

describe('evaluateCondition', () => {
  it('compares literals and variables with == and !=', () => {
    expect(ev("${{build.arch}} == 'x86_64'")).toBe(true);
    expect(ev("${{build.arch}} == 'aarch64'")).toBe(false);
    expect(ev('${{package.name}} != "hello"')).toBe(false);
    expect(ev("'a'=='a'")).toBe(true);
    expect(ev("  'a'  !=  'b'  ")).toBe(true);
    expect(ev('${{ build.arch }} == ${{build.arch}}')).toBe(true);
  });

  it('gives && precedence over || (melange evaluates left to right)', () => {
    // tk: F || (T && F) = false. melange: (F || T) && F = false as well, by chance.
    expect(ev("'a' == 'b' || 'c' == 'c' && 'd' == 'e'")).toBe(false);
    // tk: T || (F && F) = true. melange: (T || F) && F = false.
    expect(ev("'c' == 'c' || 'a' == 'b' && 'd' == 'e'")).toBe(true);
    // Parentheses mean the same thing under both.
    expect(ev("('c' == 'c' || 'a' == 'b') && 'd' == 'e'")).toBe(false);
    expect(ev("'a' == 'a' && 'b' == 'b' || 'x' == 'y'")).toBe(true);
  });

  it('negates with !', () => {
    expect(ev("!('a' == 'b')")).toBe(true);
    expect(ev("! 'a' == 'b'")).toBe(true);
    expect(ev("!!('a' == 'a')")).toBe(true);
    expect(ev("!('a' == 'a' || 'b' == 'c')")).toBe(false);
    expect(ev("!'a' == 'a' && 'b' == 'b'")).toBe(false);
    expect(ev('!${{options.static.enabled}}')).toBe(true);
  });

  it('groups with parentheses, nested', () => {
    expect(ev("((('a' == 'a')))")).toBe(true);
    expect(ev("('a' == 'b' || ('c' == 'c' && ('d' == 'd')))")).toBe(true);
  });

  it('reads escapes in literals and keeps unknown escapes as written', () => {
    expect(ev(`'it\\'s' == "it's"`)).toBe(true);
    expect(ev(`"a\\"b" == 'a"b'`)).toBe(true);
    expect(ev(`'a\\\\b' == "a\\\\b"`)).toBe(true);
    expect(ev(`'a\\nb' == "a\nb"`)).toBe(true);
    expect(ev(`'a\\tb' == "a\tb"`)).toBe(true);
    expect(ev(`'\\d+' == "\\\\d+"`)).toBe(true);
  });

  it('substitutes variables inside literals with their raw value', () => {
    expect(ev("'${{package.name}}-x' == 'hello-x'")).toBe(true);
  });

  it("accepts a bare operand only when it is 'true' or 'false'", () => {
    expect(ev("'true'")).toBe(true);
    expect(ev('"false"')).toBe(false);
    expect(ev('${{options.docs.enabled}}')).toBe(true);
    expect(ev("${{options.docs.enabled}} && ${{build.arch}} == 'x86_64'")).toBe(true);
    const err = caught(() => ev('${{package.name}}'));
    expect(err.code).toBe('MELANGE_BAD_CONDITION');
    expect(err.message).toContain('column 1');
    expect(caught(() => ev("'yes'")).code).toBe('MELANGE_BAD_CONDITION');
  });

  it('reports unknown variables, also in branches that do not decide the result', () => {
    const err = caught(() => ev("'a' == 'a' || ${{vars.nope}} == 'x'"));
    expect(err.code).toBe('MELANGE_UNKNOWN_VARIABLE');
    expect(err.message).toContain('${{vars.nope}}');
    expect(err.message).toContain('column 15');
  });

  it.each([
    ['', 'empty condition', 1],
    ['   ', 'empty condition', 4],
    ["'a' == 'b' 'c'", 'after a complete condition', 12],
    ["'a' == 'b')", 'unbalanced ")"', 11],
    ["('a' == 'b'", 'unbalanced "("', 1],
    ["'a' ==", 'no right-hand operand', 7],
    ["== 'a'", 'expected an operand', 1],
    ["'a' == 'b' &&", 'unexpected end', 14],
    ["'a' = 'b'", 'unexpected character', 5],
    ["a == 'b'", 'unexpected character', 1],
    ["'a == 'b'", 'unexpected character', 8],
    ["'abc", 'unterminated string', 1],
    ["'a' < 'b'", 'unexpected character', 5],
    ["'a' == 'b' & 'c' == 'c'", 'unexpected character', 12],
    ['()', 'expected an operand', 2],
  ])('rejects %j (%s) at column %i', (text, what, column) => {
    const err = caught(() => ev(text));
    expect(err.code).toBe('MELANGE_BAD_CONDITION');
    expect(err.message).toContain(what);
    expect(err.message).toContain(`column ${column}`);
    expect(err.data?.['offset']).toBe(column - 1);
  });

  it('reports line and column in multi-line conditions', () => {
    expect(caught(() => ev("'a' == 'a' &&\n  'b' = 'b'")).message).toContain('line 2, column 7');
  });

  it('rejects malformed ${{ with a code', () => {
    expect(caught(() => ev("${{}} == 'a'")).code).toBe('MELANGE_BAD_SUBSTITUTION');
    expect(caught(() => ev("${{build.arch == 'a'")).code).toBe('MELANGE_BAD_SUBSTITUTION');
  });
});

describe('hostile conditions', () => {
  it('rejects 10k nested parentheses without exhausting the stack', () => {
    const text = `${'('.repeat(10000)}'a' == 'a'${')'.repeat(10000)}`;
    expect(caught(() => ev(text)).code).toBe('MELANGE_BAD_CONDITION');
  });

  it('rejects nesting deeper than the bound even when short', () => {
    const deep = MAX_CONDITION_DEPTH + 1;
    const text = `${'('.repeat(deep)}'a' == 'a'${')'.repeat(deep)}`;
    const err = caught(() => ev(text));
    expect(err.code).toBe('MELANGE_BAD_CONDITION');
    expect(err.message).toContain('nesting deeper');
    const ok = `${'('.repeat(MAX_CONDITION_DEPTH)}'a' == 'a'${')'.repeat(MAX_CONDITION_DEPTH)}`;
    expect(ev(ok)).toBe(true);
    expect(caught(() => ev(`${'!'.repeat(deep)}'true'`)).code).toBe('MELANGE_BAD_CONDITION');
  });

  it('handles long flat chains iteratively', () => {
    const text = Array.from({ length: 400 }, () => "'a' == 'b'").join(' || ') + " || 'x' == 'x'";
    expect(ev(text)).toBe(true);
  });

  it('never throws anything but a coded MelangeError on random input', () => {
    const rand = seededRandom(20260101);
    const alphabet = ["'", '"', '(', ')', '!', '=', '&', '|', ' ', 'a', '\\', '$', '{', '}', '\n', '.'];
    for (let n = 0; n < 3000; n++) {
      const len = Math.floor(rand() * 30);
      let text = '';
      for (let i = 0; i < len; i++) text += alphabet[Math.floor(rand() * alphabet.length)];
      try {
        const result = evaluateCondition(text, vars, 'fuzz');
        expect(typeof result).toBe('boolean');
      } catch (error) {
        expect(error).toBeInstanceOf(MelangeError);
        expect(['MELANGE_BAD_CONDITION', 'MELANGE_BAD_SUBSTITUTION', 'MELANGE_UNKNOWN_VARIABLE']).toContain(
          (error as MelangeError).code,
        );
      }
    }
  });
});

describe('resolveCondition', () => {
  it('writes a canonical condition with quoted values that evaluates the same', () => {
    const cases = [
      "${{build.arch}} == 'x86_64'",
      "'a' == 'b' || 'c' == 'c' && 'd' == 'e'",
      "('c' == 'c' || 'a' == 'b') && 'd' == 'e'",
      "!('a' == 'b') && !${{options.static.enabled}}",
      '${{vars.quote}} == ${{vars.quote}}',
      "!!'true'",
    ];
    for (const text of cases) {
      const resolved = resolveCondition(text, vars, 'if');
      expect(resolved).not.toContain('${{');
      expect(evaluateCondition(resolved, new Map(), 'if')).toBe(ev(text));
      expect(resolveCondition(resolved, new Map(), 'if')).toBe(resolved);
    }
    expect(resolveCondition("${{build.arch}} == 'x86_64'", vars, 'if')).toBe('"x86_64" == "x86_64"');
    expect(resolveCondition("('a'=='b'||'c'=='c')&&'d'=='e'", vars, 'if')).toBe(
      '("a" == "b" || "c" == "c") && "d" == "e"',
    );
    expect(resolveCondition("!('a' == 'b')", vars, 'if')).toBe('!("a" == "b")');
  });

  it('quotes literals so that they parse back', () => {
    const value = `a'b"c\\d\ne\tf`;
    const parsed = parseCondition(`${quoteConditionLiteral(value)} == 'x'`, 'q');
    expect(parsed.type).toBe('compare');
    expect(
      evaluateCondition(`${quoteConditionLiteral(value)} == ${quoteConditionLiteral(value)}`, new Map(), 'q'),
    ).toBe(true);
  });
});
