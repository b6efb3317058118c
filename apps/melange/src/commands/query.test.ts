import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MelangeError } from '../errors.ts';
import { packageVersion, PACKAGE_VERSION_TEMPLATE } from './package-version.ts';
import { queryRecipe } from './query.ts';

const ROOT = join(import.meta.dirname, '../../../..');
const RECIPES = join(ROOT, 'test-fixtures/recipes/melange');
const wolfi = (name: string): string => join(RECIPES, 'wolfi', `${name}.yaml`);

describe('package-version', () => {
  // Expected values: the "melange:" column of test-fixtures/recipes/README.md (name-version-rEPOCH).
  it.each([
    ['wolfi/crane', 'crane-0.21.9-r1'],
    ['wolfi/expat', 'expat-2.8.3-r0'],
    ['wolfi/glpk', 'glpk-5.0-r6'],
    ['wolfi/gmp', 'gmp-6.3.0-r8'],
    ['wolfi/hello-wolfi', 'hello-wolfi-2.12.3-r6'],
    ['wolfi/pixman', 'pixman-0.46.4-r5'],
    ['wolfi/py3-pyyaml', 'py3-pyyaml-6.0.3-r6'],
    ['wolfi/rpcbind', 'rpcbind-1.2.9-r1'],
    ['wolfi/zstd', 'zstd-1.5.7-r8'],
    ['examples/var-transforms', 'bar-1.2.3.4-r0'],
    ['examples/gnu-hello', 'hello-2.12-r0'],
  ])('%s → %s (no newline, as melange)', async (file, expected) => {
    expect(await packageVersion(join(RECIPES, `${file}.yaml`))).toBe(expected);
  });

  it("is melange's query template", () => {
    expect(PACKAGE_VERSION_TEMPLATE).toBe('{{ .Package.Name }}-{{ .Package.Version }}-r{{ .Package.Epoch }}');
  });
});

describe('query over the parsed recipe (as melange ParseConfiguration leaves it)', () => {
  it('range subpackages are expanded and their names substituted', async () => {
    expect(await queryRecipe(wolfi('py3-pyyaml'), '{{range .Subpackages}}{{.Name}} {{end}}')).toBe(
      'py3.10-pyyaml py3.11-pyyaml py3.12-pyyaml py3.13-pyyaml py3-wheels-pyyaml py3-supported-pyyaml ',
    );
    expect(
      await queryRecipe(
        wolfi('py3-pyyaml'),
        '{{range .Subpackages}}{{.Dependencies.ProviderPriority}},{{end}}',
      ),
    ).toBe('310,311,312,313,,,');
    expect(await queryRecipe(wolfi('zstd'), '{{range .Subpackages}}{{.Name}} {{end}}')).toBe(
      'zstd-doc zstd-static zstd-dev libzstd1 ',
    );
  });

  it('package and vars variables are substituted in pipelines; build-time ones stay', async () => {
    expect(await queryRecipe(wolfi('glpk'), '{{(index .Pipeline 0).With.uri}}')).toBe(
      'https://ftpmirror.gnu.org/gnu/glpk/glpk-5.0.tar.gz',
    );
    expect(await queryRecipe(wolfi('expat'), '{{(index .Pipeline 0).With.tag}}')).toBe('R_2_8_3');
    expect(
      await queryRecipe(join(RECIPES, 'examples/var-transforms.yaml'), '{{(index .Pipeline 0).With.uri}}'),
    ).toBe('https://github.com/foo/bar/archive/refs/tags/1.2.3+4.tar.gz');
    expect(
      await queryRecipe(
        wolfi('zstd'),
        '{{(index .Subpackages 3).Pipeline | len}}:{{(index (index .Subpackages 3).Pipeline 0).Runs}}',
      ),
    ).toBe(
      '1:mkdir -p "${{targets.subpkgdir}}"/usr/lib\nmv "${{targets.destdir}}"/usr/lib/*.so.* "${{targets.subpkgdir}}"/usr/lib/\n',
    );
  });

  it('the environment gets the build user and melange default variables', async () => {
    expect(
      await queryRecipe(
        wolfi('zstd'),
        '{{range .Environment.Accounts.Users}}{{.UserName}}:{{.UID}} {{end}}{{.Environment.Environment.HOME}} {{.Environment.Environment.GOMODCACHE}}',
      ),
    ).toBe('build:1000 /home/build /var/cache/melange/gomodcache');
    expect(await queryRecipe(wolfi('zstd'), '{{.Environment.Contents.Packages}}')).toBe(
      '[build-base busybox ca-certificates-bundle cmake-bootstrap grep samurai wolfi-base]',
    );
  });

  it('Go field names across the config: package, copyright, update, tests, var-transforms', async () => {
    const template = [
      '{{.Package.Description}}',
      '{{range .Package.Copyright}}{{.License}}{{end}}',
      '{{.Package.Resources.Memory}}',
      '{{.Update.Enabled}} {{.Update.GitHubMonitor.Identifier}} {{.Update.GitHubMonitor.StripPrefix}}',
      '{{len .Test.Pipeline}} {{(index .Test.Pipeline 1).Uses}}',
      '{{range .VarTransforms}}{{.To}}={{.Match}}{{end}}',
      '{{.Package.FullVersion}} {{.Package.LicenseExpression}} {{.Name}}',
    ].join('|');
    expect(await queryRecipe(wolfi('zstd'), template)).toBe(
      'the Zstandard compression algorithm|BSD-2-Clause AND GPL-2.0-only|1Gi|true facebook/zstd v|4 test/tw/ver-check|soversion=^(\\d+)\\..*$|1.5.7-r8 BSD-2-Clause AND GPL-2.0-only zstd',
    );
    expect(
      await queryRecipe(wolfi('glpk'), '{{.Update.ReleaseMonitor.Identifier}} {{.Update.GitHubMonitor}}'),
    ).toBe('1183 <nil>');
  });

  it('an unknown field is a coded error that lists the fields there are', async () => {
    const error = await queryRecipe(wolfi('zstd'), '{{.Package.Nmae}}').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MelangeError);
    expect((error as MelangeError).code).toBe('MELANGE_QUERY_UNKNOWN_FIELD');
    expect((error as MelangeError).hint).toContain('Name, Version, Epoch');
  });

  it('recipe errors come from the loader', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tk-query-'));
    try {
      writeFileSync(join(dir, 'bad.yaml'), 'package:\n  name: x\n');
      const error = await queryRecipe(join(dir, 'bad.yaml'), '{{.Package.Name}}').catch((e: unknown) => e);
      expect((error as MelangeError).code).toBe('MELANGE_RECIPE_INVALID');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
