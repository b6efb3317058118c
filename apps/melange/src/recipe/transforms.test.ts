import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MelangeError } from '../errors.ts';
import { parseRecipe } from './load.ts';
import { buildSubstitutionMap } from './subst.ts';
import {
  MAX_TRANSFORM_INPUT,
  applyVarTransforms,
  compileRe2,
  parseGoTemplate,
  replaceAllGo,
  translateRe2,
} from './transforms.ts';

const FIXTURES = fileURLToPath(new URL('../../../../test-fixtures/recipes/melange/', import.meta.url));

function caught(fn: () => unknown): MelangeError {
  try {
    fn();
  } catch (error) {
    if (error instanceof MelangeError) return error;
    throw error;
  }
  throw new Error('expected a MelangeError');
}

function replace(pattern: string, input: string, template: string): string {
  return replaceAllGo(compileRe2(pattern, 'test'), input, template);
}

function transformsOf(file: string): Record<string, string> {
  const recipe = parseRecipe(readFileSync(`${FIXTURES}${file}`, 'utf8'), { source: file });
  const scope = buildSubstitutionMap({ package: recipe.package, arch: 'x86_64', vars: recipe.vars });
  return applyVarTransforms(recipe['var-transforms'], scope, `${file}: var-transforms`);
}

describe('var-transforms of real recipes', () => {
  it('zstd: ^(\\d+)\\..*$ → ${1} gives the soname version', () => {
    expect(transformsOf('wolfi/zstd.yaml')).toEqual({ soversion: '1' });
  });

  it('expat: \\. → _ replaces every dot', () => {
    expect(transformsOf('wolfi/expat.yaml')).toEqual({ 'mangled-version': '2_8_3' });
  });

  it("melange's examples/var-transforms.yaml: \\.(\\d+)$ → +$1", () => {
    expect(transformsOf('examples/var-transforms.yaml')).toEqual({ 'mangled-package-version': '1.2.3+4' });
  });
});

describe('applyVarTransforms', () => {
  it('applies in list order, later entries seeing earlier results', () => {
    const scope = new Map([['package.version', '1.2.3']]);
    const out = applyVarTransforms(
      [
        { from: '${{package.version}}', match: '\\.', replace: '_', to: 'under' },
        { from: 'v${{vars.under}}', match: '^v', replace: 'R', to: 'tag' },
      ],
      scope,
      'var-transforms',
    );
    expect(out).toEqual({ under: '1_2_3', tag: 'R1_2_3' });
    expect(scope.get('vars.tag')).toBe('R1_2_3');
  });

  it('rejects an unknown variable in from, a bad target name and an oversized input', () => {
    expect(
      caught(() =>
        applyVarTransforms([{ from: '${{vars.x}}', match: 'a', replace: 'b', to: 'y' }], new Map(), 'vt'),
      ).code,
    ).toBe('MELANGE_UNKNOWN_VARIABLE');
    expect(
      caught(() => applyVarTransforms([{ from: 'a', match: 'a', replace: 'b', to: 'a b' }], new Map(), 'vt'))
        .code,
    ).toBe('MELANGE_BAD_SUBSTITUTION');
    const big = new Map([['vars.big', 'a'.repeat(MAX_TRANSFORM_INPUT + 1)]]);
    expect(
      caught(() =>
        applyVarTransforms([{ from: '${{vars.big}}', match: 'a', replace: 'b', to: 'y' }], big, 'vt'),
      ).code,
    ).toBe('MELANGE_BAD_REGEX');
  });
});

describe('translateRe2', () => {
  it('translates RE2-only syntax', () => {
    expect(replace('(?P<major>\\d+)\\.(?P<minor>\\d+)', '10.20', '${minor}.${major}')).toBe('20.10');
    expect(replace('(?<major>\\d+)', '7', 'v$major')).toBe('v7');
    expect(replace('(?i)abc', 'xABCx', '-')).toBe('x-x');
    expect(replace('(?s)a.b', 'a\nb', '-')).toBe('-');
    expect(replace('a.b', 'a\nb', '-')).toBe('a\nb');
    expect(replace('a.b', 'a\rb', '-')).toBe('-');
    expect(replace('\\Aab', 'abab', '-')).toBe('-ab');
    expect(replace('ab\\z', 'abab', '-')).toBe('ab-');
    expect(replace('\\x{41}\\x42', 'AB', '-')).toBe('-');
    expect(replace('\\pL+', 'ab12ü', '-')).toBe('-12-');
    expect(replace('\\p{Greek}', 'aβc', '-')).toBe('a-c');
    expect(replace('\\PL', 'a1b', '-')).toBe('a-b');
    expect(replace('[[:digit:]]+', 'a12b3', '#')).toBe('a#b#');
    expect(replace('[^[:alpha:]]', 'a-b', '')).toBe('ab');
    expect(replace('\\Q1.2\\E', '1.2 1x2', 'v')).toBe('v 1x2');
    expect(replace('\\s', 'a\u00a0b c', '_')).toBe('a\u00a0b_c');
    expect(replace('a{2}', 'aaaa', 'b')).toBe('bb');
    expect(replace('a{,2}', 'a{,2}', 'x')).toBe('x');
    expect(replace('[]a]', ']a', 'x')).toBe('xx');
    expect(replace('[a-c-]', 'b-d', 'x')).toBe('xxd');
    expect(replace('\\.\\-\\_', '.-_', 'x')).toBe('x');
    expect(replace('}', 'a}', 'x')).toBe('ax');
    expect(replace('a+?', 'aaa', 'x')).toBe('xxx');
    expect(replace('\\101', 'A', 'x')).toBe('x');
    expect(replace('\\0101', '\b1', 'x')).toBe('x');
    expect(replace('\\0', '\0', 'x')).toBe('x');
  });

  it('keeps leading flags as RegExp flags', () => {
    expect(translateRe2('(?i)(?m)^a$', 't').flags).toBe('imu');
    expect(translateRe2('(?is)a', 't').flags).toBe('iu');
    expect(translateRe2('(?s)(?-s).', 't').source).toBe('[^\\n]');
  });

  it.each([
    ['(a)\\1', 'backreference'],
    ['a(?=b)', 'look-around'],
    ['a(?!b)', 'look-around'],
    ['(?<=a)b', 'look-around'],
    ['(?<!a)b', 'look-around'],
    ['(?U)a+', 'ungreedy'],
    ['a(?i)b', 'only at the start'],
    ['(?i:a)', 'only at the start'],
    ['\\C', 'any byte'],
    ['a\\Z', '\\Z'],
    ['(a+)+', 'exponential'],
    ['(a*)*', 'exponential'],
    ['(\\w+|x)*', 'exponential'],
    ['((a+))+', 'exponential'],
    ['(a+){2,}', 'exponential'],
    ['(?:a+)+b', 'exponential'],
    ['a{1001}', 'above 1000'],
    ['a{3,2}', 'invalid repetition'],
    ['a**', 'nested repetition'],
    ['*a', 'missing argument'],
    ['(a', 'missing closing )'],
    ['a)', 'unexpected )'],
    ['[a', 'missing closing ]'],
    ['a\\', 'trailing backslash'],
    ['\\k', 'unsupported escape'],
    ['(?P<1a>x)', 'group name'],
    ['\\x{110000}', '\\x{'],
    ['[z-a]', 'not accepted'],
  ])('rejects %j (%s) with a code', (pattern, what) => {
    const err = caught(() => translateRe2(pattern, 'var-transforms[0].match'));
    expect(err.code).toBe('MELANGE_BAD_REGEX');
    expect(err.message).toContain(what);
    expect(err.message).toContain('var-transforms[0].match');
  });

  it('accepts repetition of groups that are not one bare repetition, and runs them fast', () => {
    expect(replace('^(\\d+\\.)+\\d+$', '1.2.3.4', 'v')).toBe('v');
    expect(replace('(a+)?b', 'aab', 'x')).toBe('x');
    expect(replace('(a|b)+', 'abab', 'x')).toBe('x');
    // A long non-matching input: the classic ReDoS input for (a+)+$ (which is rejected) runs at once here.
    expect(replace('^(a+b)+$', `${'a'.repeat(5000)}c`, 'x')).toBe(`${'a'.repeat(5000)}c`);
  });

  it('rejects an overlong pattern', () => {
    expect(caught(() => translateRe2('a'.repeat(5000), 't')).code).toBe('MELANGE_BAD_REGEX');
  });
});

describe('Go replacement templates', () => {
  it('parses $n, ${n}, $name, ${name}, $$ and malformed $ like Go', () => {
    expect(parseGoTemplate('a$1b')).toEqual([{ text: 'a' }, { group: '1b' }]);
    expect(parseGoTemplate('${1}b$$')).toEqual([{ group: 1 }, { text: 'b$' }]);
    expect(parseGoTemplate('$ ${x-y} $')).toEqual([{ text: '$ ${x-y} $' }]);
    expect(parseGoTemplate('${name}')).toEqual([{ group: 'name' }]);
  });

  it('expands like Go: unknown or unmatched groups are empty', () => {
    expect(replace('(\\d)', 'x1', '<$1>')).toBe('x<1>');
    expect(replace('(\\d)', 'x1', '<$1x>')).toBe('x<>');
    expect(replace('(\\d)', 'x1', '<${1}x>')).toBe('x<1x>');
    expect(replace('(\\d)', 'x1', '<$2>')).toBe('x<>');
    expect(replace('(\\d)|(y)', 'x1', '<$2>')).toBe('x<>');
    expect(replace('(\\d)', 'x1', '$$1')).toBe('x$1');
    expect(replace('(?P<n>\\d)', 'x1', '$n$nope')).toBe('x1');
  });

  it("replaces all matches and skips an empty match right after a match (Go's ReplaceAllString)", () => {
    expect(replace('a*', 'baaac', 'X')).toBe('XbXcX');
    expect(replace('', 'abc', '-')).toBe('-a-b-c-');
    expect(replace('x*', '', '-')).toBe('-');
    expect(replace('b*', 'abc', '-')).toBe('-a-c-');
    expect(replace('', '😀x', '-')).toBe('-😀-x-');
  });
});
