/**
 * Test helper: a small compiled recipe (main package `hello` and subpackage `hello-dev`) in the shape the
 * build passes to `emitPackages`, without going through the recipe loader and compiler.
 */
import type { CompiledPackage, CompiledStep, PackageMeta, PackageOptions } from '../../recipe/types.ts';

const noOptions: PackageOptions = {
  'no-provides': false,
  'no-depends': false,
  'no-commands': false,
  'no-versioned-shlib-deps': false,
};

/** A compiled `uses: fetch` step. */
export function fetchStep(uri: string, sha256: string): CompiledStep {
  return {
    uses: 'fetch',
    with: { uri, 'expected-sha256': sha256, 'purl-name': 'hello', 'purl-version': '2.12' },
    workingDirectory: '/home/build',
    environment: {},
    enabled: true,
    pipeline: [],
  };
}

/** What the tests change in the recipe. */
export interface RecipeOverrides {
  meta?: Partial<PackageMeta>;
  main?: Partial<CompiledPackage>;
  dev?: Partial<CompiledPackage>;
  /** Leave the subpackage out. */
  mainOnly?: boolean;
}

/**
 * The compiled recipe of `hello` 2.12-r3 and `hello-dev`.
 *
 * @param overrides - fields to replace
 * @returns what `emitPackages` takes as `compiled`
 */
export function helloRecipe(overrides: RecipeOverrides = {}): {
  package: PackageMeta;
  packages: CompiledPackage[];
  pipeline: CompiledStep[];
} {
  const meta: PackageMeta = {
    name: 'hello',
    version: '2.12',
    epoch: 3,
    description: 'the GNU hello program',
    url: 'https://www.gnu.org/software/hello/',
    copyright: [{ license: 'GPL-3.0-or-later', attestation: 'Copyright (C) Free Software Foundation' }],
    dependencies: { runtime: ['busybox'], provides: [], replaces: [] },
    options: noOptions,
    scriptlets: {},
    'target-architecture': [],
    checks: { disabled: [], enabled: [] },
    setcap: [],
    annotations: {},
    ...overrides.meta,
  };
  const main: CompiledPackage = {
    name: 'hello',
    main: true,
    description: meta.description,
    url: meta.url,
    dependencies: meta.dependencies,
    options: noOptions,
    scriptlets: {
      'post-install': '#!/bin/sh\necho installed\n',
      trigger: { script: '#!/bin/sh\necho triggered\n', paths: ['/usr/share/hello', '/usr/lib/hello'] },
    },
    checks: { disabled: [], enabled: [] },
    setcap: [],
    pipeline: [],
    ...overrides.main,
  };
  const dev: CompiledPackage = {
    name: 'hello-dev',
    main: false,
    description: 'hello development files',
    dependencies: {
      runtime: ['hello'],
      provides: [],
      replaces: ['hello-old-dev'],
      'provider-priority': '10',
    },
    options: noOptions,
    scriptlets: {},
    checks: { disabled: [], enabled: [] },
    setcap: [],
    pipeline: [],
    ...overrides.dev,
  };
  return {
    package: meta,
    packages: overrides.mainOnly === true ? [main] : [main, dev],
    pipeline: [
      fetchStep(
        'https://ftp.gnu.org/gnu/hello/hello-2.12.tar.gz',
        'cf04af86dc085268c5f4470fbae49b18afbc221b78096aab842d934a76bad0ab',
      ),
    ],
  };
}
