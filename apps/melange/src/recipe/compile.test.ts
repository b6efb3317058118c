import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MelangeError } from '../errors.ts';
import type { CompiledStep } from './types.ts';
import { parsePipelineDefinition, parseRecipe } from './load.ts';
import {
  DEFAULT_BUILD_ENV,
  MAX_COMPILED_DEPTH,
  compileRecipe,
  resolveWorkdir,
  type CompileOptions,
} from './compile.ts';
import { createPipelineLoader, type PipelineLoader } from './pipelines.ts';

const PKG = `package:
  name: demo
  version: 1.2.3
  epoch: 4
  description: a demo
`;
const HEAD = `${PKG}environment:
  contents:
    repositories: [https://example.com/repo]
    packages: [busybox]
`;

function loaderOf(defs: Record<string, string>, calls: string[] = []): PipelineLoader {
  return async (name) => {
    calls.push(name);
    const text = defs[name];
    if (text === undefined) throw new MelangeError('MELANGE_PIPELINE_NOT_FOUND', `no ${name}`);
    return parsePipelineDefinition(text, `${name}.yaml`);
  };
}

async function compile(
  yaml: string,
  defs: Record<string, string> = {},
  options: Partial<CompileOptions> = {},
) {
  const recipe = parseRecipe(yaml, { source: 'demo.yaml' });
  return compileRecipe(recipe, {
    arch: 'x86_64',
    loadPipeline: loaderOf(defs),
    source: 'demo.yaml',
    ...options,
  });
}

async function rejection(p: Promise<unknown>): Promise<MelangeError> {
  try {
    await p;
  } catch (error) {
    if (error instanceof MelangeError) return error;
    throw error;
  }
  throw new Error('expected a MelangeError');
}

function runs(steps: readonly CompiledStep[]): string[] {
  return steps.flatMap((s) => [
    ...(s.enabled && s.runs !== undefined ? [s.runs.trim()] : []),
    ...(s.enabled ? runs(s.pipeline) : []),
  ]);
}

const ECHO = `
inputs:
  message:
    description: what to say
    default: hello from \${{package.name}}
  target:
    required: true
  extra:
    default: \${{inputs.message}}!
needs:
  packages: ['echo-\${{inputs.target}}']
pipeline:
  - runs: echo "\${{inputs.message}}" > \${{inputs.target}} \${{inputs.extra}}
`;

describe('uses: inputs', () => {
  it('applies defaults (with package variables and other inputs), keeps given values, and gathers needs', async () => {
    const c = await compile(`${HEAD}pipeline:\n  - uses: echo\n    with:\n      target: out.txt\n`, {
      echo: ECHO,
    });
    const step = c.pipeline[0];
    expect(step?.uses).toBe('echo');
    expect(step?.with).toEqual({ message: 'hello from demo', target: 'out.txt', extra: 'hello from demo!' });
    expect(runs(c.pipeline)).toEqual(['echo "hello from demo" > out.txt hello from demo!']);
    expect(c.environment.contents.packages).toEqual(['busybox', 'echo-out.txt']);
  });

  it('resolves with values in the caller scope, never twice', async () => {
    const c = await compile(
      `${HEAD}vars:\n  v: "\${{package.name}}"\npipeline:\n  - uses: echo\n    with:\n      target: \${{package.version}}\n      message: \${{vars.v}}\n`,
      { echo: ECHO },
    );
    expect(c.pipeline[0]?.with).toEqual({
      message: '${{package.name}}',
      target: '1.2.3',
      extra: '${{package.name}}!',
    });
  });

  it('treats an empty with value as not given (as melange does)', async () => {
    const c = await compile(
      `${HEAD}pipeline:\n  - uses: echo\n    with:\n      target: t\n      message: ""\n`,
      { echo: ECHO },
    );
    expect(c.pipeline[0]?.with['message']).toBe('hello from demo');
  });

  it('rejects a missing required input', async () => {
    const err = await rejection(compile(`${HEAD}pipeline:\n  - uses: echo\n`, { echo: ECHO }));
    expect(err.code).toBe('MELANGE_MISSING_INPUT');
    expect(err.message).toContain('"target"');
    expect(err.message).toContain('demo.yaml: pipeline[0]');
  });

  it('rejects an unknown with key, naming the known inputs', async () => {
    const err = await rejection(
      compile(`${HEAD}pipeline:\n  - uses: echo\n    with:\n      target: t\n      mesage: x\n`, {
        echo: ECHO,
      }),
    );
    expect(err.code).toBe('MELANGE_UNKNOWN_INPUT');
    expect(err.message).toContain('"mesage"');
    expect(err.hint).toContain('extra, message, target');
  });

  it('rejects inputs whose defaults refer to each other in a cycle', async () => {
    const def = `inputs:\n  a:\n    default: "\${{inputs.b}}"\n  b:\n    default: "\${{inputs.a}}"\npipeline:\n  - runs: echo \${{inputs.a}}\n`;
    const err = await rejection(compile(`${HEAD}pipeline:\n  - uses: loop\n`, { loop: def }));
    expect(err.code).toBe('MELANGE_BAD_INPUT');
  });

  it.each([
    ['expected-sha256', 'ab'.repeat(32), 'ab'.repeat(31)],
    ['expected-sha512', 'cd'.repeat(64), `${'cd'.repeat(63)}zz`],
    ['expected-commit', 'f'.repeat(40), 'f'.repeat(41)],
  ])('checks the form of %s', async (input, good, bad) => {
    const def = `inputs:\n  ${input}: {}\npipeline:\n  - runs: echo \${{inputs.${input}}}\n`;
    const ok = await compile(`${HEAD}pipeline:\n  - uses: h\n    with:\n      ${input}: "${good}"\n`, {
      h: def,
    });
    expect(ok.pipeline[0]?.with[input]).toBe(good);
    const err = await rejection(
      compile(`${HEAD}pipeline:\n  - uses: h\n    with:\n      ${input}: "${bad}"\n`, { h: def }),
    );
    expect(err.code).toBe('MELANGE_BAD_INPUT');
    expect(err.message).toContain(input);
  });

  it('resolves a default only when it is used (a subpackage-only default, overridden in the main pipeline)', async () => {
    const def = `inputs:\n  dest:\n    default: \${{targets.subpkgdir}}/x\nneeds:\n  packages: ['\${{inputs.pkg}}', tool]\npipeline:\n  - runs: cp a \${{inputs.dest}}\n`;
    const withPkg = def.replace('inputs:\n', 'inputs:\n  pkg: {}\n');
    const given = await compile(`${HEAD}pipeline:\n  - uses: d\n    with: { dest: /tmp/y }\n`, {
      d: withPkg,
    });
    expect(runs(given.pipeline)).toEqual(['cp a /tmp/y']);
    expect(given.recipe.pipeline[0]?.with).toEqual({ dest: '/tmp/y' });
    // An input left empty gives an empty needs entry, which is dropped.
    expect(given.environment.contents.packages).toEqual(['busybox', 'tool']);
    const err = await rejection(compile(`${HEAD}pipeline:\n  - uses: d\n`, { d: withPkg }));
    expect(err.code).toBe('MELANGE_UNKNOWN_VARIABLE');
    expect(err.message).toContain('targets.subpkgdir');
    const sub = await compile(`${HEAD}subpackages:\n  - name: demo-x\n    pipeline:\n      - uses: d\n`, {
      d: withPkg,
    });
    expect(runs(sub.packages[1]?.pipeline ?? [])).toEqual(['cp a /home/build/melange-out/demo-x/x']);
  });

  it('substitutes step names, keeping unknown references in them as written', async () => {
    const c = await compile(
      `${HEAD}pipeline:\n  - name: build \${{package.name}} for \${{inputs.python}}\n    runs: make\n`,
    );
    expect(c.pipeline[0]?.name).toBe('build demo for ${{inputs.python}}');
  });

  it('reports an unknown inputs.* reference inside a definition', async () => {
    const def = `pipeline:\n  - runs: echo \${{inputs.nope}}\n`;
    const err = await rejection(compile(`${HEAD}pipeline:\n  - uses: bad\n`, { bad: def }));
    expect(err.code).toBe('MELANGE_UNKNOWN_VARIABLE');
    expect(err.message).toContain('pipeline[0].uses(bad).pipeline[0].runs');
  });
});

describe('uses: nesting', () => {
  const OUTER = `
inputs:
  opts: { default: -O2 }
  secret: { default: outer-only }
pipeline:
  - uses: inner
    with:
      flags: \${{inputs.opts}} -g
  - runs: echo outer \${{inputs.opts}}
`;
  const INNER = `
inputs:
  flags: { required: true }
needs:
  packages: [inner-tool]
pipeline:
  - runs: cc \${{inputs.flags}}
`;

  it('forwards inputs through with into nested definitions', async () => {
    const c = await compile(`${HEAD}pipeline:\n  - uses: outer\n    with:\n      opts: -O3\n`, {
      outer: OUTER,
      inner: INNER,
    });
    expect(runs(c.pipeline)).toEqual(['cc -O3 -g', 'echo outer -O3']);
    expect(c.pipeline[0]?.pipeline[0]?.uses).toBe('inner');
    expect(c.environment.contents.packages).toEqual(['busybox', 'inner-tool']);
  });

  it("does not leak the caller's inputs into a nested definition", async () => {
    const leaky = INNER.replace('cc ${{inputs.flags}}', 'cc ${{inputs.flags}} ${{inputs.secret}}');
    const err = await rejection(
      compile(`${HEAD}pipeline:\n  - uses: outer\n`, { outer: OUTER, inner: leaky }),
    );
    expect(err.code).toBe('MELANGE_UNKNOWN_VARIABLE');
    expect(err.message).toContain('inputs.secret');
  });

  it('rejects a cycle of uses, naming the chain', async () => {
    const a = `pipeline:\n  - uses: b\n`;
    const b = `pipeline:\n  - runs: echo b\n  - uses: a\n`;
    const err = await rejection(compile(`${HEAD}pipeline:\n  - uses: a\n`, { a, b }));
    expect(err.code).toBe('MELANGE_PIPELINE_CYCLE');
    expect(err.message).toContain('a → b → a');
    const self = await rejection(
      compile(`${HEAD}pipeline:\n  - uses: s\n`, { s: 'pipeline:\n  - uses: s\n' }),
    );
    expect(self.code).toBe('MELANGE_PIPELINE_CYCLE');
  });

  it('bounds the depth of nested definitions', async () => {
    const defs: Record<string, string> = {};
    for (let i = 0; i < MAX_COMPILED_DEPTH + 5; i++) defs[`d${i}`] = `pipeline:\n  - uses: d${i + 1}\n`;
    defs[`d${MAX_COMPILED_DEPTH + 5}`] = 'pipeline:\n  - runs: "true"\n';
    const err = await rejection(compile(`${HEAD}pipeline:\n  - uses: d0\n`, defs));
    expect(err.code).toBe('MELANGE_PIPELINE_LIMIT');
  });

  it('bounds the number of steps a fan-out of definitions expands to', async () => {
    const defs: Record<string, string> = { f12: 'pipeline:\n  - runs: "true"\n' };
    for (let i = 0; i < 12; i++)
      defs[`f${i}`] =
        `pipeline:\n${'  - uses: f' + (i + 1) + '\n'}${'  - uses: f' + (i + 1) + '\n'}${'  - uses: f' + (i + 1) + '\n'}`;
    const err = await rejection(compile(`${HEAD}pipeline:\n  - uses: f0\n`, defs));
    expect(err.code).toBe('MELANGE_PIPELINE_LIMIT');
  });

  it('rejects a bad uses name and reports a missing definition with the step', async () => {
    // The schema refuses such names already; the compiler checks again for recipes built in memory.
    const parsed = parseRecipe(`${HEAD}pipeline:\n  - uses: fine\n`, { source: 'demo.yaml' });
    const bad = { ...parsed, pipeline: [{ ...parsed.pipeline[0]!, uses: '../../etc/x' }] };
    const badName = await rejection(compileRecipe(bad, { arch: 'x86_64', loadPipeline: loaderOf({}) }));
    expect(badName.code).toBe('MELANGE_BAD_PIPELINE_NAME');
    expect(badName.message).toContain('pipeline[0].uses');
    const err = await rejection(compile(`${HEAD}pipeline:\n  - runs: x\n  - uses: nope\n`));
    expect(err.code).toBe('MELANGE_PIPELINE_NOT_FOUND');
    expect(err.message).toContain('demo.yaml: pipeline[1].uses');
  });

  it('loads each definition once per compile', async () => {
    const calls: string[] = [];
    const recipe = parseRecipe(
      `${HEAD}pipeline:\n  - uses: inner\n    with: { flags: a }\n  - uses: inner\n    with: { flags: b }\n`,
      {
        source: 'demo.yaml',
      },
    );
    await compileRecipe(recipe, { arch: 'x86_64', loadPipeline: loaderOf({ inner: INNER }, calls) });
    expect(calls).toEqual(['inner']);
  });
});

describe('if', () => {
  it('disables false steps without loading their definitions or gathering their needs', async () => {
    const calls: string[] = [];
    const recipe = parseRecipe(
      `${HEAD}pipeline:
  - if: \${{build.arch}} == 'aarch64'
    uses: arm-only
  - if: \${{build.arch}} == 'x86_64'
    uses: inner
    with: { flags: x86 }
  - if: \${{package.name}} != 'demo'
    runs: echo never
    pipeline:
      - runs: echo child
`,
      { source: 'demo.yaml' },
    );
    const c = await compileRecipe(recipe, {
      arch: 'x86_64',
      loadPipeline: loaderOf(
        {
          inner: `needs: { packages: [x86-tool] }\ninputs: { flags: {} }\npipeline:\n  - runs: cc \${{inputs.flags}}\n`,
        },
        calls,
      ),
    });
    expect(calls).toEqual(['inner']);
    expect(c.pipeline.map((s) => s.enabled)).toEqual([false, true, false]);
    expect(c.pipeline[0]?.if).toBe('"x86_64" == "aarch64"');
    expect(c.pipeline[2]?.pipeline).toEqual([]);
    expect(runs(c.pipeline)).toEqual(['cc x86']);
    expect(c.environment.contents.packages).toEqual(['busybox', 'x86-tool']);
    const arm = await compileRecipe(recipe, {
      arch: 'aarch64',
      loadPipeline: loaderOf({
        'arm-only': 'needs: { packages: [arm-tool] }\npipeline:\n  - runs: echo arm\n',
      }),
    });
    expect(runs(arm.pipeline)).toEqual(['echo arm']);
    expect(arm.environment.contents.packages).toEqual(['busybox', 'arm-tool']);
  });

  it('evaluates if inside definitions against their inputs', async () => {
    const def = `inputs:\n  mode: { default: fast }\npipeline:\n  - if: \${{inputs.mode}} == 'fast'\n    runs: echo fast\n  - if: \${{inputs.mode}} == 'slow'\n    runs: echo slow\n`;
    expect(runs((await compile(`${HEAD}pipeline:\n  - uses: m\n`, { m: def })).pipeline)).toEqual([
      'echo fast',
    ]);
    expect(
      runs((await compile(`${HEAD}pipeline:\n  - uses: m\n    with: { mode: slow }\n`, { m: def })).pipeline),
    ).toEqual(['echo slow']);
  });

  it('reports a bad condition with its place', async () => {
    const err = await rejection(compile(`${HEAD}pipeline:\n  - if: \${{build.arch}} = 'x'\n    runs: x\n`));
    expect(err.code).toBe('MELANGE_BAD_CONDITION');
    expect(err.message).toContain('demo.yaml: pipeline[0].if');
  });
});

describe('working directory and environment', () => {
  it('resolves relative directories under /home/build and lets children inherit', async () => {
    const c = await compile(`${HEAD}pipeline:
  - working-directory: src/\${{package.name}}
    environment:
      CFLAGS: -O2
      DEST: \${{targets.destdir}}
    pipeline:
      - runs: make
      - working-directory: sub
        environment: { CFLAGS: -O3 }
        runs: make sub
      - working-directory: /tmp/../opt/
        runs: abs
  - runs: plain
`);
    const [parent, plain] = c.pipeline;
    expect(parent?.workingDirectory).toBe('/home/build/src/demo');
    expect(parent?.environment).toEqual({ CFLAGS: '-O2', DEST: '/home/build/melange-out/demo' });
    expect(parent?.pipeline.map((s) => s.workingDirectory)).toEqual([
      '/home/build/src/demo',
      '/home/build/sub',
      '/opt',
    ]);
    expect(parent?.pipeline[1]?.environment).toEqual({ CFLAGS: '-O3', DEST: '/home/build/melange-out/demo' });
    expect(parent?.pipeline[0]?.environment).toEqual(parent?.environment);
    expect(plain?.workingDirectory).toBe('/home/build');
    expect(plain?.environment).toEqual({});
  });

  it('passes a uses step’s directory and environment to the definition’s steps', async () => {
    const c = await compile(
      `${HEAD}pipeline:\n  - uses: d\n    working-directory: build\n    environment: { X: "1" }\n`,
      {
        d: 'pipeline:\n  - runs: a\n  - working-directory: ${{targets.contextdir}}\n    runs: b\n',
      },
    );
    const [a, b] = c.pipeline[0]?.pipeline ?? [];
    expect(a?.workingDirectory).toBe('/home/build/build');
    expect(a?.environment).toEqual({ X: '1' });
    expect(b?.workingDirectory).toBe('/home/build/melange-out/demo');
  });

  it('normalises working directories', () => {
    expect(resolveWorkdir('.')).toBe('/home/build');
    expect(resolveWorkdir('a/./b/')).toBe('/home/build/a/b');
    expect(resolveWorkdir('/')).toBe('/');
  });
});

describe('subpackages', () => {
  const RECIPE = `${HEAD}vars:
  py: python
data:
  - name: versions
    items:
      "3.9": "39"
      "3.10": "310"
      "3.11": "311"
subpackages:
  - name: py\${{range.key}}-\${{package.name}}
    range: versions
    description: \${{vars.py}}\${{range.key}} flavour
    dependencies:
      provider-priority: \${{range.value}}
      runtime: ['\${{vars.py}}-\${{range.key}}']
    pipeline:
      - uses: inner
        with: { flags: "--py=\${{range.key}} --to=\${{targets.contextdir}}" }
      - runs: echo \${{subpkg.name}} \${{context.name}} \${{targets.subpkgdir}} \${{targets.package.demo-doc}}
    test:
      pipeline:
        - uses: check
          with: { what: "python\${{range.key}}" }
  - name: demo-doc
    if: \${{options.docs.enabled}} == 'true'
    pipeline:
      - runs: mv docs \${{targets.contextdir}}
  - name: demo-dev
    if: \${{subpkg.name}} == 'demo-dev'
    pipeline:
      - uses: inner
        with: { flags: dev }
options:
  docs:
    vars: {}
`;
  const DEFS = {
    inner: `inputs:\n  flags: { required: true }\nneeds: { packages: [inner-tool, "tool-\${{context.name}}"] }\npipeline:\n  - runs: cc \${{inputs.flags}}\n`,
    check: `inputs:\n  what: {}\nneeds: { packages: ["check-\${{inputs.what}}"] }\npipeline:\n  - runs: check \${{inputs.what}}\n`,
  };

  it('expands ranges in sorted key order, substituting range.* everywhere', async () => {
    const c = await compile(RECIPE, DEFS);
    expect(c.packages.map((p) => p.name)).toEqual([
      'demo',
      'py3.10-demo',
      'py3.11-demo',
      'py3.9-demo',
      'demo-dev',
    ]);
    const py310 = c.packages[1];
    expect(py310?.description).toBe('python3.10 flavour');
    expect(py310?.dependencies).toEqual({
      runtime: ['python-3.10'],
      provides: [],
      replaces: [],
      'provider-priority': '310',
    });
    expect(runs(py310?.pipeline ?? [])).toEqual([
      'cc --py=3.10 --to=/home/build/melange-out/py3.10-demo',
      'echo py3.10-demo py3.10-demo /home/build/melange-out/py3.10-demo /home/build/melange-out/demo-doc',
    ]);
    expect(py310?.test?.needs).toEqual(['check-python3.10']);
    expect(runs(py310?.test?.pipeline ?? [])).toEqual(['check python3.10']);
  });

  it('drops subpackages whose if is false and gathers needs of the rest into the build environment', async () => {
    const c = await compile(RECIPE, DEFS);
    expect(c.packages.some((p) => p.name === 'demo-doc')).toBe(false);
    expect(c.environment.contents.packages).toEqual([
      'busybox',
      'inner-tool',
      'tool-py3.10-demo',
      'tool-py3.11-demo',
      'tool-py3.9-demo',
      'tool-demo-dev',
    ]);
    const docs = await compile(RECIPE, DEFS, { buildOptions: ['docs'] });
    expect(docs.packages.map((p) => p.name)).toContain('demo-doc');
    expect(docs.recipe.subpackages.map((s) => s.name)).toContain('demo-doc');
    expect(docs.recipe.subpackages.find((s) => s.name === 'demo-doc')?.if).toBe('"true" == "true"');
  });

  it('rejects targets.subpkgdir and subpkg.name in the main pipeline', async () => {
    const err = await rejection(compile(`${HEAD}pipeline:\n  - runs: echo \${{targets.subpkgdir}}\n`));
    expect(err.code).toBe('MELANGE_UNKNOWN_VARIABLE');
  });

  it('substitutes var-transform results into subpackage names (zstd: libzstd${{vars.soversion}})', async () => {
    const c = await compile(
      `${HEAD}var-transforms:\n  - from: \${{package.version}}\n    match: ^(\\d+)\\..*$\n    replace: \${1}\n    to: so\nsubpackages:\n  - name: libdemo\${{vars.so}}\n`,
    );
    expect(c.packages.map((p) => p.name)).toEqual(['demo', 'libdemo1']);
    expect(c.vars).toEqual({ so: '1' });
  });

  it('rejects duplicate names after range expansion', async () => {
    const yaml = `${HEAD}data:\n  - name: t\n    items: { a: "1", b: "2" }\nsubpackages:\n  - name: same\n    range: t\n`;
    expect((await rejection(compile(yaml))).code).toBe('MELANGE_BAD_SUBPACKAGE');
  });
});

describe('build options, vars and environments', () => {
  const RECIPE = `${PKG}vars:
  mode: default
options:
  fast:
    vars: { mode: fast }
    environment:
      contents:
        packages: { add: [ccache], remove: [busybox] }
pipeline:
  - runs: echo \${{vars.mode}} \${{options.fast.enabled}}
environment:
  contents:
    repositories: [https://example.com/repo]
    packages: [busybox, 'extra-\${{vars.mode}}']
  environment:
    FROM_RECIPE: "\${{package.full-version}}"
    SHARED: recipe
`;

  it('applies build options to vars, packages and options.*.enabled', async () => {
    const plain = await compile(RECIPE);
    expect(runs(plain.pipeline)).toEqual(['echo default false']);
    expect(plain.environment.contents.packages).toEqual(['busybox', 'extra-default']);
    const fast = await compile(RECIPE, {}, { buildOptions: ['fast'] });
    expect(runs(fast.pipeline)).toEqual(['echo fast true']);
    expect(fast.environment.contents.packages).toEqual(['extra-fast', 'ccache']);
    expect(fast.vars['mode']).toBe('fast');
    expect((await rejection(compile(RECIPE, {}, { buildOptions: ['slow'] }))).code).toBe(
      'MELANGE_UNKNOWN_BUILD_OPTION',
    );
  });

  it('merges the vars file over vars', async () => {
    expect(runs((await compile(RECIPE, {}, { varsFile: { mode: 'file' } })).pipeline)).toEqual([
      'echo file false',
    ]);
  });

  it('puts env-file values under the recipe environment and adds the build defaults', async () => {
    const c = await compile(
      RECIPE,
      {},
      { envFileVars: { SHARED: 'env-file', SECRET: 's3cr3t', HOME: '/root' } },
    );
    expect(c.environment.environment).toEqual({
      ...DEFAULT_BUILD_ENV,
      HOME: '/root',
      FROM_RECIPE: '1.2.3-r4',
      SHARED: 'recipe',
      SECRET: 's3cr3t',
    });
    expect(c.environment.accounts.users).toEqual([
      { username: 'build', uid: 1000, gid: 1000, homedir: '/home/build' },
    ]);
    expect(c.environment.accounts.groups).toEqual([{ groupname: 'build', gid: 1000, members: ['build'] }]);
    // The embedded recipe never holds env-file values.
    // HOME came from the env file: it is left out rather than written with a value the build did not use.
    const { HOME: _home, ...defaultsButHome } = DEFAULT_BUILD_ENV;
    expect(c.recipe.environment.environment).toEqual({
      ...defaultsButHome,
      FROM_RECIPE: '1.2.3-r4',
      SHARED: 'recipe',
    });
    expect(JSON.stringify(c.recipe)).not.toContain('s3cr3t');
  });

  it('keeps a build user and group that are already present', async () => {
    const c = await compile(
      `${HEAD.replace('environment:\n', 'environment:\n  accounts:\n    users: [{ username: build, uid: 2000 }]\n    groups: [{ groupname: build, gid: 2000 }]\n')}`,
    );
    expect(c.environment.accounts.users.map((u) => u.uid)).toEqual([2000]);
    expect(c.environment.accounts.groups.map((g) => g.gid)).toEqual([2000]);
  });
});

describe('tests', () => {
  const RECIPE = `${HEAD}test:
  environment:
    contents:
      packages: ['test-tool-\${{package.version}}']
  pipeline:
    - uses: check
      with: { what: "\${{context.name}}" }
    - runs: demo --version
subpackages:
  - name: demo-dev
    test:
      pipeline:
        - uses: check
          with: { what: "\${{targets.contextdir}}" }
  - name: demo-notest
    test:
      environment:
        contents:
          packages: [x]
      pipeline: []
`;
  const DEFS = {
    check: `inputs:\n  what: {}\nneeds: { packages: [checker, busybox] }\npipeline:\n  - runs: check \${{inputs.what}}\n`,
  };

  it('compiles test pipelines in their package context; needs go to the test, not the build', async () => {
    const c = await compile(RECIPE, DEFS);
    expect(c.environment.contents.packages).toEqual(['busybox']);
    expect(c.test?.needs).toEqual(['checker', 'busybox']);
    expect(runs(c.test?.pipeline ?? [])).toEqual(['check demo', 'demo --version']);
    expect(c.packages[0]?.test).toEqual(c.test);
    const dev = c.packages[1];
    expect(runs(dev?.test?.pipeline ?? [])).toEqual(['check /home/build/melange-out/demo-dev']);
    expect(dev?.test?.needs).toEqual(['checker', 'busybox']);
  });

  it('gives test environments with a pipeline the build user and defaults, and no build repositories', async () => {
    const c = await compile(RECIPE, DEFS);
    expect(c.test?.environment?.contents.packages).toEqual(['test-tool-1.2.3']);
    expect(c.test?.environment?.contents.repositories).toEqual([]);
    expect(c.test?.environment?.accounts.users.map((u) => u.username)).toEqual(['build']);
    expect(c.test?.environment?.environment['HOME']).toBe('/home/build');
    const dev = c.packages[1]?.test?.environment;
    expect(dev?.accounts.groups.map((g) => g.groupname)).toEqual(['build']);
    const none = c.packages[2]?.test?.environment;
    expect(none?.accounts.users).toEqual([]);
    expect(none?.contents.packages).toEqual(['x']);
  });
});

describe('the embedded recipe', () => {
  it('holds substituted metadata, expanded steps and only non-default with values', async () => {
    const c = await compile(
      `${HEAD}pipeline:\n  - uses: echo\n    with:\n      target: t\n      message: hello from demo\n  - uses: echo\n    with:\n      target: u\n      message: other\n`,
      { echo: ECHO },
    );
    expect(c.recipe.package.description).toBe('a demo');
    expect(c.recipe.pipeline.map((s) => s.with)).toEqual([
      { target: 't' },
      { target: 'u', message: 'other' },
    ]);
    expect(c.recipe.pipeline[0]?.pipeline[0]?.runs).toBe('echo "hello from demo" > t hello from demo!');
    expect(c.recipe.data).toEqual([]);
    expect(JSON.stringify(c.recipe)).not.toContain('${{');
  });
});

describe('real recipes (Wolfi, melange examples) with the Wolfi pipelines folder', () => {
  const FIXTURES = join(import.meta.dirname, '../../../../test-fixtures/recipes/melange');
  // tk has no language or coverage pipelines yet (go/*, python/*, xcover/*): stand-ins with melange's inputs
  // and needs.
  const STANDINS: Record<string, string> = {
    'xcover/profile': `needs:
  packages: [busybox, '\${{inputs.package}}']
inputs:
  package: { default: xcover }
  executable-path: { required: true }
  exclude-functions: {}
  include-functions: {}
  scope: { default: project }
  log-level: { default: info }
  verbose: { default: "false" }
  wait-timeout: { default: "60" }
pipeline:
  - runs: xcover run --exe \${{inputs.executable-path}} &
`,
    'xcover/stop': `needs: { packages: [busybox] }\ninputs:\n  package: { default: xcover }\npipeline:\n  - runs: xcover stop\n`,
    'xcover/ensure': `needs:
  packages: [busybox, jq, '\${{inputs.package}}']
inputs:
  package: { default: xcover }
  min-coverage: {}
pipeline:
  - runs: test "$(xcover status)" -ge \${{inputs.min-coverage}}
`,
    'go/build': `needs:
  packages: ['\${{inputs.go-package}}', build-base, busybox, ca-certificates-bundle]
inputs:
  go-package: { default: go }
  packages: { required: true }
  output: { required: true }
  tags: {}
  toolchaintags: { default: "netgo,osusergo" }
  vendor: { default: "false" }
  modroot: { default: "." }
  prefix: { default: usr }
  ldflags: {}
  strip: { default: "-w" }
  install-dir: { default: bin }
  deps: {}
  experiments: {}
  extra-args: {}
  amd64: { default: v2 }
  arm64: { default: v8.0 }
  buildmode: { default: default }
  tidy: { default: "false" }
  ignore-untracked-files: { default: "true" }
pipeline:
  - runs: cd \${{inputs.modroot}} && go build \${{inputs.extra-args}} -ldflags "\${{inputs.strip}} \${{inputs.ldflags}}" -o \${{targets.contextdir}}/\${{inputs.prefix}}/\${{inputs.install-dir}}/\${{inputs.output}} \${{inputs.packages}}
`,
    'python/import': `needs:
  packages: [wolfi-base]
inputs:
  python: { default: DEFAULT }
  import: {}
  imports: {}
  from: {}
  venv: {}
pipeline:
  - runs: \${{inputs.python}} -c 'import \${{inputs.import}}'
`,
  };

  function loader(): PipelineLoader {
    const real = createPipelineLoader({ pipelineDirs: [join(FIXTURES, 'wolfi-pipelines')], systemDir: null });
    return async (name) =>
      STANDINS[name] === undefined ? real(name) : parsePipelineDefinition(STANDINS[name], `${name}.yaml`);
  }

  async function compileFixture(file: string, arch = 'x86_64', extra: Partial<CompileOptions> = {}) {
    const recipe = parseRecipe(readFileSync(join(FIXTURES, file), 'utf8'), { source: file });
    return compileRecipe(recipe, { arch, loadPipeline: loader(), source: file, ...extra });
  }

  function allSteps(steps: readonly CompiledStep[]): CompiledStep[] {
    return steps.flatMap((s) => [s, ...allSteps(s.pipeline)]);
  }

  const files = ['wolfi', 'examples', 'golden-sbom'].flatMap((dir) =>
    readdirSync(join(FIXTURES, dir))
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => `${dir}/${f}`),
  );

  it('has the recipes', () => {
    expect(files.length).toBeGreaterThanOrEqual(15);
  });

  it.each(files.flatMap((f) => [[f, 'x86_64'] as const, [f, 'aarch64'] as const]))(
    '%s compiles for %s, leaving no variable unresolved',
    async (file, arch) => {
      const c = await compileFixture(file, arch);
      const steps = [
        ...c.pipeline,
        ...c.packages.flatMap((p) => [...p.pipeline, ...(p.test?.pipeline ?? [])]),
      ].flatMap((s) => allSteps([s]));
      for (const s of steps.filter((x) => x.enabled)) {
        // (Names are labels and may keep a reference melange leaves alone too; see py/collect-wheels.)
        expect(JSON.stringify([s.runs, s.with, s.environment, s.workingDirectory, s.if])).not.toContain(
          '${{',
        );
      }
      expect(
        JSON.stringify([c.environment, c.packages.map((p) => [p.dependencies, p.test?.needs])]),
      ).not.toContain('${{');
      expect(c.arch).toBe(arch);
    },
  );

  it('zstd: soversion from var-transforms, provides, needs of build and tests', async () => {
    const c = await compileFixture('wolfi/zstd.yaml');
    expect(c.packages.map((p) => p.name)).toEqual([
      'zstd',
      'zstd-doc',
      'zstd-static',
      'zstd-dev',
      'libzstd1',
    ]);
    expect(c.packages.find((p) => p.name === 'zstd-dev')?.dependencies.provides).toEqual([
      'zstd-cmake=1.5.7-r8',
    ]);
    const checkout = c.pipeline.find((s) => s.uses === 'git-checkout');
    expect(checkout?.with).toMatchObject({
      tag: 'v1.5.7',
      repository: 'https://github.com/facebook/zstd',
      depth: 'unset',
    });
    expect(c.environment.contents.packages.slice(0, 7)).toEqual([
      'build-base',
      'busybox',
      'ca-certificates-bundle',
      'cmake-bootstrap',
      'grep',
      'samurai',
      'wolfi-base',
    ]);
    expect(c.environment.contents.packages).toContain('git');
    expect(new Set(c.environment.contents.packages).size).toBe(c.environment.contents.packages.length);
    expect(c.test?.needs).toEqual(expect.arrayContaining(['ldd-check']));
    const lib = c.packages.find((p) => p.name === 'libzstd1');
    expect(lib?.pipeline[0]?.runs).toContain('mkdir -p "/home/build/melange-out/libzstd1"/usr/lib');
    expect(lib?.pipeline[0]?.runs).toContain('mv "/home/build/melange-out/zstd"/usr/lib/*.so.*');
  });

  it('expat: the mangled version reaches the git tag', async () => {
    const c = await compileFixture('wolfi/expat.yaml');
    expect(c.vars['mangled-version']).toBe('2_8_3');
    expect(c.pipeline[0]?.with['tag']).toBe('R_2_8_3');
  });

  it('py3-pyyaml: range subpackages in sorted key order, range values everywhere', async () => {
    const c = await compileFixture('wolfi/py3-pyyaml.yaml');
    expect(c.packages.map((p) => p.name)).toEqual([
      'py3-pyyaml',
      'py3.10-pyyaml',
      'py3.11-pyyaml',
      'py3.12-pyyaml',
      'py3.13-pyyaml',
      'py3-wheels-pyyaml',
      'py3-supported-pyyaml',
    ]);
    const py312 = c.packages[3];
    expect(py312?.description).toBe('pyyaml installed for python3.12');
    expect(py312?.dependencies['provider-priority']).toBe('312');
    expect(py312?.dependencies.provides).toEqual(['py3-pyyaml']);
    expect(py312?.pipeline[0]?.runs).toBe('python3.12 setup.py clean --all');
    expect(py312?.test?.pipeline.find((s) => s.uses === 'python/import')?.with).toMatchObject({
      python: 'python3.12',
      import: 'yaml',
    });
    expect(c.package.dependencies['provider-priority']).toBe('0');
    // Wolfi's py/collect-wheels names its step after an input it does not declare: the label keeps it.
    const wheels = c.packages.find((p) => p.name === 'py3-wheels-pyyaml');
    expect(wheels?.pipeline[0]?.pipeline[0]?.name).toBe('pip build ${{inputs.python}}');
    expect(wheels?.pipeline[0]?.pipeline[0]?.runs).toContain(
      'mkdir -p /home/build/melange-out/py3-wheels-pyyaml/usr/share/wheels',
    );
  });

  it('glpk: the autoconf host and build triplets follow the arch', async () => {
    for (const [arch, triplet] of [
      ['x86_64', 'x86_64-pc-linux-gnu'],
      ['aarch64', 'aarch64-unknown-linux-gnu'],
    ] as const) {
      const c = await compileFixture('wolfi/glpk.yaml', arch);
      const configure = c.pipeline.find((s) => s.uses === 'autoconf/configure');
      expect(configure?.with).toMatchObject({ host: triplet, build: triplet });
      expect(
        allSteps(configure?.pipeline ?? [])
          .map((s) => s.runs ?? '')
          .join('\n'),
      ).toContain(triplet);
    }
  });

  it('conditional.yaml: steps follow the arch, the fetch step is skipped', async () => {
    const x86 = await compileFixture('examples/conditional.yaml', 'x86_64');
    expect(x86.pipeline[0]?.pipeline.map((s) => s.enabled)).toEqual([true, false]);
    expect(x86.pipeline[0]?.assertions).toEqual({ 'required-steps': 1 });
    expect(x86.pipeline.find((s) => s.uses === 'fetch')?.enabled).toBe(false);
    expect(x86.environment.contents.packages).toEqual(['busybox']);
    const arm = await compileFixture('examples/conditional.yaml', 'aarch64');
    expect(arm.pipeline[0]?.pipeline.map((s) => s.enabled)).toEqual([false, true]);
  });

  it('crane: go/build inputs with package variables', async () => {
    const c = await compileFixture('wolfi/crane.yaml');
    const build = c.pipeline.find((s) => s.uses === 'go/build');
    expect(build?.with['ldflags']).toContain('cmd.Version=0.21.9');
    expect(c.environment.contents.packages).toContain('go-1.26');
    expect(c.test?.needs).toEqual(expect.arrayContaining(['busybox', 'xcover', 'jq']));
    expect(c.test?.pipeline[0]?.with['exclude-functions']).toBe('^runtime\\\\.');
  });
});
