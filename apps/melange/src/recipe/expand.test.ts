import { describe, expect, it } from 'vitest';
import { MelangeError } from '../errors.ts';
import { parseRecipe } from './load.ts';
import {
  checkPackageNames,
  compareUtf8,
  expandRanges,
  mergeOptions,
  removePackages,
  substituteImageConfig,
  substitutePackageMeta,
  substituteSubpackageMeta,
} from './expand.ts';

function caught(fn: () => unknown): MelangeError {
  try {
    fn();
  } catch (error) {
    if (error instanceof MelangeError) return error;
    throw error;
  }
  throw new Error('expected a MelangeError');
}

const RECIPE = `
package:
  name: demo
  version: 1.2.3
  epoch: 2
  description: demo ${'${{vars.flavour}}'} build
  url: https://example.com/${'${{package.name}}'}
  copyright:
    - license: MIT
      paths: ['${'${{package.name}}'}/*']
  dependencies:
    runtime: ['libfoo=${'${{package.full-version}}'}']
    provides: ['demo-compat=${'${{package.version}}'}']
    provider-priority: "${'${{vars.prio}}'}"
  scriptlets:
    post-install: echo ${'${{package.name}}'}
  setcap:
    - path: /usr/bin/${'${{package.name}}'}
      add: { cap_net_raw: "+ep" }
      reason: ping
vars:
  flavour: plain
  prio: "10"
options:
  static:
    vars: { flavour: static }
    environment:
      contents:
        packages:
          add: [musl-static, zlib-static]
          remove: [zlib]
  big:
    vars: { flavour: big, prio: "99" }
    environment:
      contents:
        packages:
          remove: [gcc]
environment:
  contents:
    packages: [gcc>=12, zlib, busybox]
data:
  - name: pythons
    items:
      "3.9": "39"
      "3.10": "310"
      "3.11": "311"
subpackages:
  - name: py\${{range.key}}-demo
    range: pythons
    description: for \${{range.key}} (\${{range.value}})
    dependencies:
      provider-priority: \${{range.value}}
    setcap:
      - path: /usr/lib/python\${{range.key}}/x
        add: { cap_net_raw: "+ep" }
        reason: r
  - name: demo-doc
`;

describe('mergeOptions', () => {
  const recipe = parseRecipe(RECIPE, { source: 'demo.yaml' });

  it('merges the vars file over vars, then each build option in order', () => {
    expect(mergeOptions(recipe).vars).toEqual({ flavour: 'plain', prio: '10' });
    expect(mergeOptions(recipe, { flavour: 'file', extra: 'x' }).vars).toEqual({
      flavour: 'file',
      prio: '10',
      extra: 'x',
    });
    expect(mergeOptions(recipe, { flavour: 'file' }, ['static']).vars['flavour']).toBe('static');
    expect(mergeOptions(recipe, {}, ['static', 'big']).vars).toEqual({ flavour: 'big', prio: '99' });
    expect(mergeOptions(recipe, {}, ['big', 'static']).vars).toEqual({ flavour: 'static', prio: '99' });
  });

  it('adds and removes build packages; a bare name removes constrained entries too', () => {
    expect(mergeOptions(recipe, {}, ['static']).packages).toEqual([
      'gcc>=12',
      'busybox',
      'musl-static',
      'zlib-static',
    ]);
    expect(mergeOptions(recipe, {}, ['big']).packages).toEqual(['zlib', 'busybox']);
    expect(mergeOptions(recipe, {}, ['static', 'static']).enabled).toEqual(['static']);
  });

  it('rejects an undeclared option, naming the declared ones', () => {
    const err = caught(() => mergeOptions(recipe, {}, ['statik']));
    expect(err.code).toBe('MELANGE_UNKNOWN_BUILD_OPTION');
    expect(err.hint).toContain('big, static');
  });

  it('works for a recipe without vars or options', () => {
    const bare = parseRecipe('package: { name: a, version: "1" }\n', { source: 'a.yaml' });
    expect(mergeOptions(bare, { x: '1' }).vars).toEqual({ x: '1' });
    expect(caught(() => mergeOptions(bare, {}, ['x'])).hint).toContain('declares no options');
  });
});

describe('removePackages', () => {
  it('removes exact entries, and by name for bare names', () => {
    expect(removePackages(['a', 'a=1', 'a>2', 'b@local', 'ab', 'c=1'], ['a', 'b', 'c=2'])).toEqual([
      'ab',
      'c=1',
    ]);
    expect(removePackages(['c=1', 'c=2'], ['c=2'])).toEqual(['c=1']);
  });
});

describe('expandRanges', () => {
  it('clones a range subpackage per data item in byte order of the keys', () => {
    const recipe = parseRecipe(RECIPE, { source: 'demo.yaml' });
    const expanded = expandRanges(recipe, 'demo.yaml: ');
    expect(expanded.map((e) => [e.index, e.range?.key, e.range?.value])).toEqual([
      [0, '3.10', '310'],
      [0, '3.11', '311'],
      [0, '3.9', '39'],
      [1, undefined, undefined],
    ]);
  });

  it('rejects a range that names no table (the schema checks it too)', () => {
    const parsed = parseRecipe(RECIPE, { source: 'demo.yaml' });
    const recipe = {
      ...parsed,
      subpackages: parsed.subpackages.map((s) => ({ ...s, range: s.range && 'pythonz' })),
    };
    const err = caught(() => expandRanges(recipe, 'demo.yaml: '));
    expect(err.code).toBe('MELANGE_UNKNOWN_RANGE');
    expect(err.hint).toContain('pythons');
  });

  it('sorts like Go (UTF-8 bytes), not by UTF-16 code units', () => {
    expect(['\u{1F600}', '\uFF61', 'b', 'a'].sort(compareUtf8)).toEqual(['a', 'b', '\uFF61', '\u{1F600}']);
  });
});

describe('substitution of package fields', () => {
  const recipe = parseRecipe(RECIPE, { source: 'demo.yaml' });
  const lookup = new Map([
    ['package.name', 'demo'],
    ['package.version', '1.2.3'],
    ['package.full-version', '1.2.3-r2'],
    ['vars.flavour', 'plain'],
    ['vars.prio', '10'],
  ]);

  it('substitutes description, url, copyright, dependencies, scriptlets and setcap', () => {
    const pkg = substitutePackageMeta(recipe.package, lookup, 'demo.yaml: ', 'abc123');
    expect(pkg.description).toBe('demo plain build');
    expect(pkg.url).toBe('https://example.com/demo');
    expect(pkg.commit).toBe('abc123');
    expect(pkg.copyright[0]?.paths).toEqual(['demo/*']);
    expect(pkg.dependencies).toEqual({
      runtime: ['libfoo=1.2.3-r2'],
      provides: ['demo-compat=1.2.3'],
      replaces: [],
      'provider-priority': '10',
    });
    expect(pkg.scriptlets['post-install']).toBe('echo demo');
    expect(pkg.setcap[0]?.path).toBe('/usr/bin/demo');
    expect(recipe.package.description).toContain('${{vars.flavour}}');
  });

  it('refuses variables in package.name and package.version', () => {
    const bad = { ...recipe.package, version: '${{vars.prio}}' };
    expect(caught(() => substitutePackageMeta(bad, lookup, '')).code).toBe('MELANGE_BAD_SUBSTITUTION');
  });

  it('reports unknown variables with the field', () => {
    const bad = { ...recipe.package, url: 'https://x/${{targets.destdir}}' };
    const err = caught(() => substitutePackageMeta(bad, lookup, 'demo.yaml: '));
    expect(err.code).toBe('MELANGE_UNKNOWN_VARIABLE');
    expect(err.message).toContain('demo.yaml: package.url');
  });

  it('substitutes range variables into every field of a subpackage clone, setcap included', () => {
    const sub = recipe.subpackages[0];
    if (sub === undefined) throw new Error('no subpackage');
    const scope = new Map([...lookup, ['range.key', '3.10'], ['range.value', '310']]);
    const out = substituteSubpackageMeta(sub, scope, 'subpackages[0]', 'c0ffee');
    expect(out.description).toBe('for 3.10 (310)');
    expect(out.dependencies['provider-priority']).toBe('310');
    expect(out.setcap[0]?.path).toBe('/usr/lib/python3.10/x');
    expect(out.commit).toBe('c0ffee');
    expect(out.range).toBeUndefined();
  });

  it('substitutes the package lists, repositories, environment and annotations of an environment', () => {
    const env = {
      ...recipe.environment,
      contents: {
        ...recipe.environment.contents,
        repositories: ['https://r/${{package.name}}'],
        packages: ['x-${{vars.flavour}}'],
      },
      environment: { A: '${{package.version}}' },
    };
    const out = substituteImageConfig(env, lookup, 'environment');
    expect(out.contents.repositories).toEqual(['https://r/demo']);
    expect(out.contents.packages).toEqual(['x-plain']);
    expect(out.environment).toEqual({ A: '1.2.3' });
    expect(env.contents.packages).toEqual(['x-${{vars.flavour}}']);
  });
});

describe('checkPackageNames', () => {
  it('accepts distinct valid names', () => {
    expect(() =>
      checkPackageNames('a', [
        { name: 'a-dev', where: 's[0]' },
        { name: 'liba1', where: 's[1]' },
      ]),
    ).not.toThrow();
  });

  it('rejects duplicates (also of the main package) and invalid names', () => {
    expect(caught(() => checkPackageNames('a', [{ name: 'a', where: 's[0]' }])).code).toBe(
      'MELANGE_BAD_SUBPACKAGE',
    );
    expect(
      caught(() =>
        checkPackageNames('a', [
          { name: 'b', where: 's[0]' },
          { name: 'b', where: 's[1]' },
        ]),
      ).message,
    ).toContain('s[0]');
    expect(caught(() => checkPackageNames('a', [{ name: 'py 3', where: 's[0]' }])).code).toBe(
      'MELANGE_BAD_SUBPACKAGE',
    );
    expect(caught(() => checkPackageNames('a', [{ name: '', where: 's[0]' }])).code).toBe(
      'MELANGE_BAD_SUBPACKAGE',
    );
  });
});
