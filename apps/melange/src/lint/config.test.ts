import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { MelangeError } from '../errors.ts';
import { lintRecipeFile, type LintRecipeOptions } from './config.ts';

const ROOT = join(import.meta.dirname, '../../../..');
const WOLFI = join(ROOT, 'test-fixtures/recipes/melange/wolfi');
const OPTIONS: LintRecipeOptions = {
  pipelineDirs: [join(ROOT, 'test-fixtures/recipes/melange/wolfi-pipelines')],
  systemPipelineDir: null,
};

let work: string;
beforeEach((ctx) => {
  work = mkdtempSync(join(tmpdir(), 'tk-lint-config-'));
  ctx.onTestFinished(() => rmSync(work, { recursive: true, force: true }));
});

async function lint(yaml: string, options: LintRecipeOptions = OPTIONS) {
  const path = join(work, 'recipe.yaml');
  writeFileSync(path, yaml);
  return lintRecipeFile(path, options);
}

const GOOD = `package:
  name: hello
  version: "2.12"
  epoch: 0
  description: the GNU hello world program
  copyright:
    - license: GPL-3.0-or-later

pipeline:
  - uses: fetch
    with:
      uri: https://ftp.gnu.org/gnu/hello/hello-\${{package.version}}.tar.gz
      expected-sha256: cf04af86dc085268c5f4470fbae49b18afbc221b78096aab842d934a76bad0ab
  - uses: autoconf/configure
  - uses: autoconf/make
  - uses: autoconf/make-install
  - uses: strip
`;

describe('lintRecipeFile on the visible Wolfi recipes', () => {
  it.each(['expat', 'glpk', 'gmp', 'hello-wolfi', 'pixman', 'py3-pyyaml', 'rpcbind', 'zstd'])(
    '%s passes',
    async (name) => {
      const result = await lintRecipeFile(join(WOLFI, `${name}.yaml`), OPTIONS);
      expect(result.findings).toEqual([]);
      expect(result.fullName).toMatch(new RegExp(`^${name}-[0-9.]+-r[0-9]+$`));
    },
  );

  it('crane names melange pipelines tk does not ship (xcover/*): config/pipeline fails', async () => {
    const result = await lintRecipeFile(join(WOLFI, 'crane.yaml'), OPTIONS);
    expect(result.failed).toEqual(['config/pipeline']);
    expect(result.findings[0]?.lines).toEqual([
      'test.pipeline[0] (uses: xcover/profile): no such pipeline',
      'test.pipeline[7] (uses: xcover/stop): no such pipeline',
      'test.pipeline[8] (uses: xcover/ensure): no such pipeline',
    ]);
  });

  it('without the Wolfi pipeline folder, test/tw/* are unknown', async () => {
    const result = await lintRecipeFile(join(WOLFI, 'zstd.yaml'), { systemPipelineDir: null });
    expect(result.failed).toEqual(['config/pipeline']);
    expect(result.findings[0]?.lines?.[0]).toBe(
      'test.pipeline[0] (uses: test/tw/ldd-check): no such pipeline',
    );
  });
});

describe('lintRecipeFile findings', () => {
  it('a good recipe passes', async () => {
    const result = await lint(GOOD);
    expect(result).toMatchObject({ package: 'hello', fullName: 'hello-2.12-r0', findings: [], failed: [] });
  });

  it('a missing licence', async () => {
    const result = await lint(GOOD.replace('  copyright:\n    - license: GPL-3.0-or-later\n', ''));
    expect(result.failed).toEqual(['config/license']);
    expect(result.findings[0]?.message).toBe(
      'hello declares no licence: package.copyright is missing or empty',
    );
    const empty = await lint(
      GOOD.replace('    - license: GPL-3.0-or-later', '    - attestation: Copyright FSF\n    - license: ""'),
    );
    expect(empty.findings[0]?.message).toBe(
      'hello: package.copyright[0], package.copyright[1] have no license',
    );
  });

  it('a bad version, and the other checks still run', async () => {
    const result = await lint(
      GOOD.replace('version: "2.12"', 'version: "2.12-r1"').replace(
        '  copyright:\n    - license: GPL-3.0-or-later\n',
        '',
      ),
    );
    expect(result.failed).toEqual(['config/version', 'config/license']);
    expect(result.findings[0]?.message).toMatch(/package\.version: "2\.12-r1" is not a valid apk version/);
    expect(result.fullName).toBe('hello');
  });

  it('an empty package: no pipeline and no no-provides (meta-packages with runtime dependencies are fine)', async () => {
    const base = 'package:\n  name: meta\n  version: "1"\n  epoch: 0\n  copyright:\n    - license: MIT\n';
    const result = await lint(base);
    expect(result.failed).toEqual(['config/empty']);
    expect(result.findings[0]?.details).toEqual({ packages: ['meta'] });
    expect((await lint(`${base}  options:\n    no-provides: true\n`)).findings).toEqual([]);
    expect((await lint(`${base}  dependencies:\n    runtime:\n      - busybox\n`)).findings).toEqual([]);
    const sub = await lint(`${GOOD}subpackages:\n  - name: hello-nothing\n`);
    expect(sub.findings[0]?.details).toEqual({ packages: ['hello-nothing'] });
  });

  it('unknown pipelines, unknown inputs, missing required inputs', async () => {
    const result = await lint(`${GOOD}  - uses: autoconf/mkae
  - uses: autoconf/make
    with:
      dirr: x
  - uses: fetch
    with:
      expected-sha256: cf04af86dc085268c5f4470fbae49b18afbc221b78096aab842d934a76bad0ab
`);
    expect(result.failed).toEqual(['config/pipeline']);
    expect(result.findings[0]?.lines).toEqual([
      'pipeline[5] (uses: autoconf/mkae): no such pipeline',
      expect.stringMatching(
        /^pipeline\[6\] \(uses: autoconf\/make\): with\.dirr is not an input \(inputs: .*dir.*\)$/,
      ),
      'pipeline[7] (uses: fetch): the required input uri is not given',
    ]);
    // A name that would leave the pipeline folders is refused by the schema already.
    const escape = await lint(`${GOOD}  - uses: ../etc/passwd\n`);
    expect(escape.failed).toEqual(['config/schema']);
  });

  it('a recipe that does not compile (an undefined variable)', async () => {
    const result = await lint(GOOD.replace('  - uses: strip\n', '  - runs: echo ${{vars.nope}}\n'));
    expect(result.failed).toEqual(['config/compile']);
    expect(result.findings[0]?.message).toMatch(/^does not compile for x86_64: \[MELANGE_UNKNOWN_VARIABLE\]/);
  });

  it('unknown linter names in checks (a warning)', async () => {
    const result = await lint(
      GOOD.replace(
        '  epoch: 0\n',
        '  epoch: 0\n  checks:\n    disabled:\n      - usrmerge\n      - usrmrege\n',
      ),
    );
    expect(result.findings.map((f) => [f.linter, f.level, f.lines])).toEqual([
      ['config/checks', 'warn', ['package.checks.disabled: usrmrege']],
    ]);
    expect(result.failed).toEqual([]);
  });

  it('schema problems are listed with their positions', async () => {
    const result = await lint(`${GOOD}colour: blue\n`);
    expect(result.failed).toEqual(['config/schema']);
    expect(result.findings[0]?.lines?.[0]).toMatch(/recipe\.yaml:\d+:\d+: .*colour/);
  });

  it('a YAML syntax error is a config/schema finding', async () => {
    const result = await lint('package: [\n');
    expect(result.failed).toEqual(['config/schema']);
    expect(result.fullName).toMatch(/recipe\.yaml$/);
  });

  it('levels: --disable, --lint-warn and checks.disabled apply to config/* names', async () => {
    const unlicensed = GOOD.replace('  copyright:\n    - license: GPL-3.0-or-later\n', '');
    expect((await lint(unlicensed, { ...OPTIONS, disable: ['config/license'] })).findings).toEqual([]);
    expect((await lint(unlicensed, { ...OPTIONS, warn: ['config/license'] })).failed).toEqual([]);
    const lowered = await lint(
      unlicensed.replace('  epoch: 0\n', '  epoch: 0\n  checks:\n    disabled: [config/license]\n'),
    );
    expect(lowered.findings.map((f) => f.level)).toEqual(['warn']);
  });

  it('a file that cannot be read is an error, not a finding', async () => {
    const error = await lintRecipeFile(join(work, 'missing.yaml')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MelangeError);
    expect((error as MelangeError).code).toBe('MELANGE_RECIPE_NOT_FOUND');
  });
});
