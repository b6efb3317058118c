import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createRecordingLogger } from '@tk/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MelangeError, type MelangeErrorCode } from '../errors.ts';
import {
  findDefaultRecipe,
  loadRecipe,
  MAX_RECIPE_BYTES,
  parsePipelineDefinition,
  parseRecipe,
  type RecipeIssue,
} from './load.ts';
import { MAX_PIPELINE_DEPTH } from './schema.ts';

const fixtures = join(import.meta.dirname, '../../../../test-fixtures/recipes/melange');
const y = (...lines: string[]): string => `${lines.join('\n')}\n`;
const HEAD = ['package:', '  name: hello', '  version: 1.0.0'];

interface Caught {
  code: MelangeErrorCode;
  message: string;
  /** `[path, line, column]` of every issue, in the order reported (sorted by position). */
  issues: [string, number, number][];
  raw: RecipeIssue[];
}

function caught(error: unknown): Caught {
  expect(error).toBeInstanceOf(MelangeError);
  const e = error as MelangeError;
  const raw = (e.data?.issues as RecipeIssue[] | undefined) ?? [];
  return { code: e.code, message: e.message, raw, issues: raw.map((i) => [i.path, i.line, i.column]) };
}

function parseError(text: string | Uint8Array): Caught {
  try {
    parseRecipe(text, { source: 'bad.yaml' });
  } catch (error) {
    return caught(error);
  }
  throw new Error('expected a MelangeError');
}

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await files(path)));
    else out.push(path);
  }
  return out.sort();
}

describe('real recipes', () => {
  let recipes: string[] = [];
  beforeAll(async () => {
    recipes = (await files(fixtures)).filter(
      (f) => f.endsWith('.yaml') && !relative(fixtures, f).startsWith('wolfi-pipelines/'),
    );
  });

  it('every recipe under test-fixtures/recipes/melange parses (wolfi, golden-sbom, examples, simple-hello)', async () => {
    const names = recipes.map((f) => relative(fixtures, f));
    expect(names).toEqual(
      expect.arrayContaining([
        'wolfi/glpk.yaml',
        'golden-sbom/7zip-two-fetches.yaml',
        'examples/simple-hello/melange.yaml',
        'examples/split-lib.yaml',
      ]),
    );
    expect(names.length).toBe(17);
    for (const file of recipes) {
      const { recipe, bytes, path } = await loadRecipe(file);
      expect(path).toBe(file);
      expect(bytes).toEqual(new Uint8Array(await readFile(file)));
      expect(recipe.package.name).toMatch(/^[a-z0-9]/);
      expect(recipe.environment.format).toBe('tar');
    }
  });

  it('glpk: version 5.0 stays the text "5.0", epoch 6, license, five uses steps', async () => {
    const { recipe } = await loadRecipe(join(fixtures, 'wolfi/glpk.yaml'));
    expect(recipe.package.version).toBe('5.0');
    expect(recipe.package.epoch).toBe(6);
    expect(recipe.package.copyright).toEqual([{ license: 'GPL-3.0-or-later' }]);
    expect(recipe.package.resources).toEqual({ cpu: '1', memory: '5Gi' });
    expect(recipe.pipeline.map((s) => s.uses)).toEqual([
      'fetch',
      'autoconf/configure',
      'autoconf/make',
      'autoconf/make-install',
      'strip',
    ]);
    expect(recipe.pipeline[0]!.with).toEqual({
      'expected-sha256': '4a1013eebb50f728fc601bdd833b0b2870333c3b3e5a816eeba921d95bec6f15',
      uri: 'https://ftpmirror.gnu.org/gnu/glpk/glpk-${{package.version}}.tar.gz',
    });
    expect(recipe.pipeline[1]).toEqual({
      uses: 'autoconf/configure',
      with: {},
      environment: {},
      pipeline: [],
    });
    expect(recipe.update).toEqual({ enabled: true, 'release-monitor': { identifier: 1183 } });
    expect(recipe.test?.pipeline.map((s) => s.uses ?? 'runs')).toEqual(['runs', 'test/tw/ldd-check']);
    expect(recipe.test?.environment).toBeUndefined();
    expect(recipe.environment.contents.packages).toContain('gcc-14-default');
    expect(recipe.subpackages).toEqual([]);
    expect(recipe.vars).toEqual({});
    expect(recipe.package.dependencies).toEqual({ runtime: [], provides: [], replaces: [] });
    expect(recipe.package.options).toEqual({
      'no-provides': false,
      'no-depends': false,
      'no-commands': false,
      'no-versioned-shlib-deps': false,
    });
  });

  it('py3-pyyaml: the data table (keys as written: 3.10 stays "3.10") and the range subpackage', async () => {
    const { recipe } = await loadRecipe(join(fixtures, 'wolfi/py3-pyyaml.yaml'));
    expect(recipe.data).toEqual([
      { name: 'py-versions', items: { '3.10': '310', '3.11': '311', '3.12': '312', '3.13': '313' } },
    ]);
    expect(recipe.vars).toEqual({ 'pypi-package': 'pyyaml', import: 'yaml' });
    const ranged = recipe.subpackages[0]!;
    expect(ranged.range).toBe('py-versions');
    expect(ranged.name).toBe('py${{range.key}}-${{vars.pypi-package}}');
    expect(ranged.dependencies['provider-priority']).toBe('${{range.value}}');
    expect(recipe.package.dependencies['provider-priority']).toBe('0');
    expect(ranged.test?.pipeline[1]?.with).toEqual({
      python: 'python${{range.key}}',
      import: '${{vars.import}}',
    });
    expect(recipe.subpackages.map((s) => s.range)).toEqual(['py-versions', undefined, undefined]);
  });

  it('zstd: var-transforms, and a subpackage named from a transformed variable', async () => {
    const { recipe } = await loadRecipe(join(fixtures, 'wolfi/zstd.yaml'));
    expect(recipe['var-transforms']).toEqual([
      { from: '${{package.version}}', match: '^(\\d+)\\..*$', replace: '${1}', to: 'soversion' },
    ]);
    expect(recipe.subpackages.map((s) => s.name)).toEqual([
      'zstd-doc',
      'zstd-static',
      'zstd-dev',
      'libzstd${{vars.soversion}}',
    ]);
    expect(recipe.test?.pipeline[3]?.name).toBe('Test compress and decompress');
    expect(recipe.update?.github).toEqual({
      identifier: 'facebook/zstd',
      'strip-prefix': 'v',
      'tag-filter': 'v',
    });
  });

  it('rpcbind: the post-install scriptlet and runtime dependencies', async () => {
    const { recipe } = await loadRecipe(join(fixtures, 'wolfi/rpcbind.yaml'));
    expect(recipe.package.scriptlets['post-install']).toMatch(
      /^#!\/bin\/sh\n# rpcbind requires a working \/var\/run\n/,
    );
    expect(recipe.package.scriptlets['post-install']).toMatch(/exit 0\n$/);
    expect(Object.keys(recipe.package.scriptlets)).toEqual(['post-install']);
    expect(recipe.package.dependencies.runtime).toEqual([
      'libtirpc',
      'libtirpc-conf',
      'merged-usrsbin',
      'wolfi-baselayout',
    ]);
  });

  it('the environment is finished as apko finishes it (repositories trimmed, one tag on two repositories, keyring kept)', () => {
    const recipe = parseRecipe(
      y(
        ...HEAD,
        'environment:',
        '  contents:',
        '    repositories: ["https://packages.wolfi.dev/os/", "@local ./packages", "@local ./more/"]',
        '    keyring: [https://packages.wolfi.dev/os/wolfi-signing.rsa.pub]',
        '    packages: [busybox, "py3-${{vars.py}}"]',
        '  accounts:',
        '    users: [{ username: nonroot, uid: 65532 }]',
        '  environment: { PORT: 8080 }',
        '  archs: [x86_64]',
      ),
    );
    expect(recipe.environment.contents.repositories).toEqual([
      'https://packages.wolfi.dev/os',
      '@local ./packages',
      '@local ./more',
    ]);
    expect(recipe.environment.contents.packages).toEqual(['busybox', 'py3-${{vars.py}}']);
    expect(recipe.environment.accounts.users).toEqual([
      { username: 'nonroot', uid: 65532, homedir: '/home/nonroot' },
    ]);
    expect(recipe.environment.environment).toEqual({ PORT: '8080' });
    expect(recipe.environment.archs).toEqual(['amd64']);
  });
});

describe('Wolfi pipeline definitions', () => {
  let definitions: string[] = [];
  beforeAll(async () => {
    definitions = await files(join(fixtures, 'wolfi-pipelines'));
  });

  it('all 93 definitions parse (the 94th file is test/tw/INDEX.md)', () => {
    expect(definitions).toHaveLength(94);
    const yaml = definitions.filter((f) => f.endsWith('.yaml'));
    expect(yaml).toHaveLength(93);
    expect(definitions.filter((f) => !f.endsWith('.yaml')).map((f) => relative(fixtures, f))).toEqual([
      'wolfi-pipelines/test/tw/INDEX.md',
    ]);
    return Promise.all(
      yaml.map(async (file) => {
        const def = parsePipelineDefinition(await readFile(file), relative(fixtures, file));
        expect(def.pipeline.length).toBeGreaterThan(0);
      }),
    );
  });

  it('input defaults written as YAML booleans and numbers are text; needs.packages are kept', async () => {
    const bump = parsePipelineDefinition(
      await readFile(join(fixtures, 'wolfi-pipelines/bump.yaml')),
      'bump.yaml',
    );
    expect(bump.inputs.tidy?.default).toBe('true');
    expect(bump.inputs['show-diff']?.default).toBe('false');
    const daemon = parsePipelineDefinition(
      await readFile(join(fixtures, 'wolfi-pipelines/test/daemon-check-output.yaml')),
      'daemon-check-output.yaml',
    );
    expect(daemon.inputs.timeout?.default).toBe('30');
    const ldd = parsePipelineDefinition(
      await readFile(join(fixtures, 'wolfi-pipelines/test/tw/ldd-check.yaml')),
      'test/tw/ldd-check.yaml',
    );
    expect(ldd.needs.packages).toContain('ldd-check');
    expect(ldd.inputs.verbose).toEqual(expect.objectContaining({ default: 'false', required: false }));
  });

  it('an empty `default:` is no default; step descriptions are accepted and dropped', async () => {
    const hardening = parsePipelineDefinition(
      await readFile(join(fixtures, 'wolfi-pipelines/test/compiler/hardening-check.yaml')),
      'hardening-check.yaml',
    );
    expect(hardening.inputs.args).toEqual({
      description: 'arguments to pass to hardening-check\n',
      required: false,
    });
    expect(hardening.inputs.cc?.required).toBe(true);
    const meta = parsePipelineDefinition(
      await readFile(join(fixtures, 'wolfi-pipelines/test/metapackage.yaml')),
      'metapackage.yaml',
    );
    expect(meta.pipeline[0]).toEqual({ uses: 'test/emptypackage', with: {}, environment: {}, pipeline: [] });
    expect(meta.pipeline[1]?.name).toBe('metapackage keyword validation');
    expect(meta.pipeline[1]).not.toHaveProperty('description');
  });

  it('rejects unknown keys and bad steps with positions; an empty file is an empty definition', () => {
    let error: unknown;
    try {
      parsePipelineDefinition(
        y(
          'name: x',
          'inputs:',
          '  a: { default: 1, requried: true }',
          'pipeline:',
          '  - with: { a: b }',
          '    runs: c',
        ),
        'p.yaml',
      );
    } catch (e) {
      error = e;
    }
    const c = caught(error);
    expect(c.code).toBe('MELANGE_PIPELINE_INVALID');
    expect(c.issues).toEqual([
      ['inputs.a.requried', 3, 20],
      ['pipeline[0].with', 5, 5],
    ]);
    expect(c.raw[0]?.hint).toBe('did you mean "required"?');
    expect(parsePipelineDefinition('# nothing\n', 'empty.yaml')).toEqual({
      needs: { packages: [] },
      inputs: {},
      pipeline: [],
    });
  });
});

describe('invalid recipes: one error listing every issue with its position', () => {
  it('reports every problem of one file together, sorted by position', () => {
    const c = parseError(
      y(
        'packge: {}', // 1
        'package:', // 2
        '  name: -bad', // 3
        '  version: ""', // 4
        '  verion: 1', // 5
        '  dependencies:', // 6
        '    provider-priority: high', // 7
        '  setcap:', // 8
        '    - path: /usr/bin/ping', // 9
        '      add: { "cap_net_raw,cap_sys_module": "+ep" }', // 10
        '  timeout: 10 minutes', // 11
        '  target-architecture: [x86_64, sparc]', // 12
        'pipeline:', // 13
        '  - with: { a: b }', // 14
        '  - uses: fetch', // 15
        '    runs: echo', // 16
        '  - uses: ../../etc/evil', // 17
        'subpackages:', // 18
        '  - name: hello-doc', // 19
        '  - name: hello-dev', // 20
        '  - name: hello-doc', // 21
        '  - name: Hello!', // 22
        '    range: missing', // 23
      ),
    );
    expect(c.code).toBe('MELANGE_RECIPE_INVALID');
    expect(c.issues).toEqual([
      ['packge', 1, 1],
      ['package.name', 3, 9],
      ['package.version', 4, 12],
      ['package.verion', 5, 3],
      ['package.dependencies.provider-priority', 7, 24],
      ['package.setcap[0].reason', 9, 7],
      ['package.setcap[0].add["cap_net_raw,cap_sys_module"]', 10, 14],
      ['package.timeout', 11, 12],
      ['package.target-architecture[1]', 12, 33],
      ['pipeline[0].with', 14, 5],
      ['pipeline[1].runs', 16, 5],
      ['pipeline[2].uses', 17, 11],
      ['subpackages[2].name', 21, 11],
      ['subpackages[3].name', 22, 11],
      ['subpackages[3].range', 23, 12],
    ]);
    const byPath = new Map(c.raw.map((i) => [i.path, i]));
    expect(byPath.get('packge')?.hint).toBe('did you mean "package"?');
    expect(byPath.get('package.verion')?.hint).toBe('did you mean "version"?');
    expect(byPath.get('package.setcap[0].reason')?.message).toBe('is required');
    expect(c.raw.every((i) => i.code === 'MELANGE_RECIPE_INVALID' && i.file === 'bad.yaml')).toBe(true);
    // The message lists file:line:column: path: message, one issue per line.
    const lines = c.message.split('\n');
    expect(lines[0]).toBe('bad.yaml: 15 problems in the melange recipe:');
    expect(lines[1]).toBe('  bad.yaml:1:1: packge: unknown key "packge" (hint: did you mean "package"?)');
    expect(lines).toHaveLength(16);
  });

  const cases: { name: string; text: string; issues: [string, number, number][]; code?: MelangeErrorCode }[] =
    [
      {
        name: 'nested unknown key in a step',
        text: y(...HEAD, 'pipeline:', '  - uses: fetch', '    whith: { uri: x }'),
        issues: [['pipeline[0].whith', 6, 5]],
      },
      {
        name: 'unknown key deep in nested steps',
        text: y(...HEAD, 'pipeline:', '  - pipeline:', '      - pipeline:', '          - rnus: echo'),
        issues: [['pipeline[0].pipeline[0].pipeline[0].rnus', 7, 13]],
      },
      { name: 'missing package', text: y('pipeline: []'), issues: [['package', 1, 1]] },
      {
        name: 'missing version',
        text: y('package:', '  name: hello'),
        // A missing key is placed at its mapping.
        issues: [['package.version', 2, 3]],
      },
      {
        name: 'bad package name',
        text: y('package:', '  name: "hello world"', '  version: 1'),
        issues: [['package.name', 2, 9]],
      },
      {
        name: 'invalid version',
        text: y('package:', '  name: hello', '  version: 1.0-beta'),
        issues: [['package.version', 3, 12]],
      },
      {
        name: 'version with an -rN suffix',
        text: y('package:', '  name: hello', '  version: 1.0-r2'),
        issues: [['package.version', 3, 12]],
      },
      {
        name: 'negative epoch, epoch as text',
        text: y(...HEAD, '  epoch: "6"'),
        issues: [['package.epoch', 4, 10]],
      },
      {
        name: 'wrong types',
        text: y(...HEAD, '  copyright: { license: MIT }', 'vars: [a]', 'pipeline:', '  - runs: { x: 1 }'),
        issues: [
          ['package.copyright', 4, 14],
          ['vars', 5, 7],
          ['pipeline[0].runs', 7, 11],
        ],
      },
      {
        name: 'uses together with runs, and with together with runs',
        text: y(...HEAD, 'pipeline:', '  - uses: fetch', '    with: { uri: x }', '    runs: echo'),
        issues: [
          ['pipeline[0].with', 6, 5],
          ['pipeline[0].runs', 7, 5],
        ],
      },
      {
        name: 'with: {} without uses (melange: with is not nil)',
        text: y(...HEAD, 'pipeline:', '  - runs: echo', '    with: {}'),
        issues: [['pipeline[0].with', 6, 5]],
      },
      {
        name: 'absolute uses',
        text: y(...HEAD, 'test:', '  pipeline:', '    - uses: /usr/share/x'),
        issues: [['test.pipeline[0].uses', 6, 13]],
      },
      {
        name: 'subpackage named like the main package',
        text: y(...HEAD, 'subpackages:', '  - name: hello'),
        issues: [['subpackages[0].name', 5, 11]],
      },
      {
        name: 'non-integer replaces-priority in a subpackage',
        text: y(...HEAD, 'subpackages:', '  - name: x', '    dependencies:', '      replaces-priority: 1.5'),
        issues: [['subpackages[0].dependencies.replaces-priority', 7, 26]],
      },
      {
        name: 'setcap capability not allowed, reason empty',
        text: y(
          ...HEAD,
          '  setcap:',
          '    - path: /x',
          '      add: { cap_chown: "+ep" }',
          '      reason: ""',
        ),
        issues: [
          ['package.setcap[0].add.cap_chown', 6, 14],
          ['package.setcap[0].reason', 7, 15],
        ],
      },
      {
        name: 'CPE: vendor without product, uppercase field, part h',
        text: y(...HEAD, '  cpe:', '    part: h', '    vendor: Acme'),
        issues: [
          ['package.cpe.product', 5, 5],
          ['package.cpe.part', 5, 11],
          ['package.cpe.vendor', 6, 13],
        ],
      },
      {
        name: 'timeout that is not a Go duration',
        text: y(...HEAD, '  timeout: 1d'),
        issues: [['package.timeout', 4, 12]],
      },
      {
        name: 'target-architecture that is neither apk nor OCI',
        text: y(...HEAD, '  target-architecture:', '    - amd64', '    - i686'),
        issues: [['package.target-architecture[1]', 6, 7]],
      },
      {
        name: 'checks.enabled (removed from melange)',
        text: y(...HEAD, '  checks:', '    enabled: [x]'),
        issues: [['package.checks.enabled', 5, 5]],
      },
      {
        name: 'update with an unknown monitor key',
        text: y(...HEAD, 'update:', '  enabled: false', '  github:', '    identifer: a/b'),
        issues: [['update.github.identifer', 7, 5]],
      },
      {
        name: 'apko checks inside the environment, with positions',
        text: y(
          ...HEAD,
          'environment:',
          '  contents:',
          '    packages: ["foo bar"]',
          '  accounts:',
          '    run-as: nobody',
          '  workdir: /x',
        ),
        issues: [
          ['environment.contents.packages[0]', 6, 16],
          ['environment.accounts.run-as', 8, 13],
          ['environment.workdir', 9, 3],
        ],
      },
      {
        name: 'the same in a subpackage test environment',
        text: y(
          ...HEAD,
          'subpackages:',
          '  - name: x',
          '    test:',
          '      environment:',
          '        archs: [sparc]',
        ),
        issues: [['subpackages[0].test.environment.archs[0]', 8, 17]],
      },
      {
        name: 'a bad repository line is reported once, with its position',
        text: y(...HEAD, 'environment:', '  contents:', '    repositories: ["@ a b"]'),
        issues: [['environment.contents.repositories[0]', 6, 20]],
      },
      {
        name: 'apko keys tk does not implement',
        text: y(...HEAD, 'environment:', '  layering: { strategy: origin, budget: 1 }'),
        issues: [['environment.layering', 5, 3]],
        code: 'MELANGE_RECIPE_UNSUPPORTED',
      },
      {
        name: 'a document that is not a mapping',
        text: y('- package'),
        issues: [['', 1, 1]],
      },
      {
        name: 'an empty document',
        text: y('# only a comment'),
        issues: [['', 1, 1]],
      },
      {
        name: 'duplicate keys',
        text: y(...HEAD, '  name: again'),
        issues: [['package.name', 4, 3]],
      },
    ];

  it.each(cases)('$name', ({ text, issues, code }) => {
    const c = parseError(text);
    expect(c.code).toBe(code ?? 'MELANGE_RECIPE_INVALID');
    expect(c.issues).toEqual(issues);
  });

  it('steps nested deeper than the bound are refused', () => {
    const lines = [...HEAD, 'pipeline:'];
    let indent = '  ';
    for (let i = 0; i <= MAX_PIPELINE_DEPTH; i++) {
      lines.push(`${indent}- pipeline:`);
      indent += '    ';
    }
    lines.push(`${indent}- runs: echo`);
    const c = parseError(y(...lines));
    expect(c.code).toBe('MELANGE_RECIPE_INVALID');
    expect(c.issues).toHaveLength(1);
    expect(c.issues[0]![0]).toBe(`pipeline${'[0].pipeline'.repeat(MAX_PIPELINE_DEPTH)}[0]`);
  });
});

describe('values melange substitutes before validating', () => {
  it('leaves names, priorities, versions and environment entries holding ${{…}} to the compiler', () => {
    const recipe = parseRecipe(
      y(
        'package:',
        '  name: ${{vars.name}}',
        '  version: ${{vars.v}}',
        '  dependencies:',
        '    provider-priority: ${{vars.prio}}',
        'vars: { name: x, v: "1", prio: "5" }',
        'environment:',
        '  contents:',
        '    packages: ["openjdk-${{vars.v}}", "foo=${{package.version}}-r${{package.epoch}}"]',
        'data:',
        '  - name: t',
        '    items: { a: "1" }',
        'subpackages:',
        '  - name: ${{vars.name}}-${{range.key}}',
        '    range: t',
        '  - name: ${{vars.name}}-${{range.key}}',
        '    range: t',
      ),
    );
    expect(recipe.package.name).toBe('${{vars.name}}');
    expect(recipe.subpackages).toHaveLength(2);
  });
});

describe('hostile input gives a coded error, never a crash', () => {
  it('deep nesting', () => {
    expect(parseError('a: '.repeat(10_000) + 'x\n').code).toBe('MELANGE_RECIPE_TOO_LARGE');
    expect(parseError('['.repeat(100_000)).code).toBe('MELANGE_RECIPE_TOO_LARGE');
    expect(
      parseError(y(...HEAD, 'vars:', ...Array.from({ length: 80 }, (_, i) => `${' '.repeat(2 * i + 2)}k:`)))
        .code,
    ).toBe('MELANGE_RECIPE_TOO_LARGE');
  });

  it('billion laughs', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      lines.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(',')}]`);
    }
    const c = parseError(y(...HEAD, 'vars:', ...lines.map((l) => `  ${l}`)));
    expect(c.code).toBe('MELANGE_RECIPE_TOO_LARGE');
  });

  it('a file over 1 MiB, as text and as bytes', () => {
    const big = y(...HEAD, `  description: "${'x'.repeat(2 * 1024 * 1024)}"`);
    expect(parseError(big).code).toBe('MELANGE_RECIPE_TOO_LARGE');
    expect(parseError(new TextEncoder().encode(big)).code).toBe('MELANGE_RECIPE_TOO_LARGE');
    // UTF-8 bytes count, not UTF-16 units.
    expect(parseError(y(...HEAD, `  description: "${'é'.repeat(MAX_RECIPE_BYTES / 2 + 10)}"`)).code).toBe(
      'MELANGE_RECIPE_TOO_LARGE',
    );
  });

  it('invalid UTF-8', () => {
    const bytes = new Uint8Array([
      ...new TextEncoder().encode(y(...HEAD, '  description: ')),
      0xff,
      0xfe,
      0x0a,
    ]);
    expect(parseError(bytes).code).toBe('MELANGE_RECIPE_YAML_SYNTAX');
  });

  it('several documents, and broken YAML (with positions)', () => {
    const c = parseError(y(...HEAD, '---', ...HEAD));
    expect(c.code).toBe('MELANGE_RECIPE_YAML_SYNTAX');
    expect(c.issues).toEqual([['', 4, 1]]);
    expect(c.raw[0]?.message).toMatch(/melange recipe is one document \(melange would/);
    const broken = parseError(y(...HEAD, 'pipeline: [', '  - runs: x'));
    expect(broken.code).toBe('MELANGE_RECIPE_YAML_SYNTAX');
    expect(broken.raw.every((i) => i.code === 'MELANGE_RECIPE_YAML_SYNTAX' && i.line > 0)).toBe(true);
  });

  it('the same for pipeline definitions', () => {
    const definitionError = (text: string | Uint8Array): MelangeErrorCode => {
      try {
        parsePipelineDefinition(text, 'p.yaml');
      } catch (error) {
        return caught(error).code;
      }
      throw new Error('expected a MelangeError');
    };
    expect(definitionError('- '.repeat(5000) + 'x\n')).toBe('MELANGE_RECIPE_TOO_LARGE');
    expect(definitionError(`inputs: { a: { description: "${'x'.repeat(MAX_RECIPE_BYTES)}" } }\n`)).toBe(
      'MELANGE_RECIPE_TOO_LARGE',
    );
    expect(definitionError(new Uint8Array([0x6e, 0x3a, 0x20, 0xc3, 0x28, 0x0a]))).toBe(
      'MELANGE_RECIPE_YAML_SYNTAX',
    );
    expect(definitionError(y('pipeline: []', '---', 'pipeline: []'))).toBe('MELANGE_RECIPE_YAML_SYNTAX');
    expect(definitionError(y('inputs:', '  __proto__: { default: x }'))).toBe('MELANGE_PIPELINE_INVALID');
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) {
      const [prev, name] = [String.fromCharCode(96 + i), String.fromCharCode(97 + i)];
      bomb.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    expect(definitionError(y('inputs:', ...bomb.map((l) => `  ${l}`)))).toBe('MELANGE_RECIPE_TOO_LARGE');
  });

  it('__proto__ keys', () => {
    const c = parseError(
      y(...HEAD, 'vars:', '  __proto__: { polluted: yes }', 'pipeline:', '  - __proto__: x'),
    );
    expect(c.code).toBe('MELANGE_RECIPE_INVALID');
    expect(c.issues).toEqual([
      ['vars.__proto__', 5, 3],
      ['pipeline[0].__proto__', 7, 5],
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('loadRecipe and findDefaultRecipe', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tk-recipe-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function loadError(path: string): Promise<Caught> {
    try {
      await loadRecipe(path);
    } catch (error) {
      return caught(error);
    }
    throw new Error('expected a MelangeError');
  }

  it('a missing file, a directory, a file over the limit', async () => {
    expect((await loadError(join(dir, 'missing.yaml'))).code).toBe('MELANGE_RECIPE_NOT_FOUND');
    expect((await loadError(join(dir, 'missing', 'x.yaml'))).code).toBe('MELANGE_RECIPE_NOT_FOUND');
    await mkdir(join(dir, 'adir'));
    expect((await loadError(join(dir, 'adir'))).code).toBe('MELANGE_RECIPE_READ_FAILED');
    expect((await loadError('/dev/zero')).code).toBe('MELANGE_RECIPE_READ_FAILED');
    await writeFile(join(dir, 'big.yaml'), new Uint8Array(MAX_RECIPE_BYTES + 1).fill(0x20));
    expect((await loadError(join(dir, 'big.yaml'))).code).toBe('MELANGE_RECIPE_TOO_LARGE');
  });

  it('reports issues under the path it was given, and warns through the logger', async () => {
    const path = join(dir, 'warn.yaml');
    await writeFile(
      path,
      y(...HEAD, '  target-architecture: [all]', 'pipeline:', '  - uses: x', '    pipeline: [{ runs: y }]'),
    );
    const logger = createRecordingLogger();
    const { recipe } = await loadRecipe(path, { logger });
    expect(recipe.package['target-architecture']).toEqual(['all']);
    expect(logger.messages.filter((m) => m.level === 'warn')).toHaveLength(2);
    await writeFile(join(dir, 'bad.yaml'), y(...HEAD, 'bogus: 1'));
    const c = await loadError(join(dir, 'bad.yaml'));
    expect(c.raw[0]?.file).toBe(join(dir, 'bad.yaml'));
    expect(c.message).toContain(`${join(dir, 'bad.yaml')}:4:1: bogus: unknown key "bogus"`);
  });

  it('findDefaultRecipe tries .melange.yaml, .melange.yml, melange.yaml, melange.yml in order', async () => {
    const d = join(dir, 'defaults');
    await mkdir(d);
    await expect(findDefaultRecipe(d)).rejects.toMatchObject({ code: 'MELANGE_RECIPE_NOT_FOUND' });
    await mkdir(join(d, '.melange.yaml')); // a directory does not count
    await writeFile(join(d, 'melange.yml'), y(...HEAD));
    expect(await findDefaultRecipe(d)).toBe(join(d, 'melange.yml'));
    await writeFile(join(d, 'melange.yaml'), y(...HEAD));
    expect(await findDefaultRecipe(d)).toBe(join(d, 'melange.yaml'));
    await writeFile(join(d, '.melange.yml'), y(...HEAD));
    expect(await findDefaultRecipe(d)).toBe(join(d, '.melange.yml'));
  });
});
