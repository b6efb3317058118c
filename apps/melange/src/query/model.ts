/**
 * The configuration `melange query` renders its template over: the recipe as melange's `ParseConfiguration`
 * leaves it (melange `pkg/config/config.go`), shown with melange's Go field names.
 *
 * Parse-time substitution, as melange does it: `${{package.name}}`, `${{package.version}}`,
 * `${{package.epoch}}`, `${{package.full-version}}`, `${{package.description}}`, `${{vars.*}}` (as written)
 * and the var-transforms' results are replaced everywhere; other variables (`${{targets.destdir}}`…) stay as
 * written. Range subpackages are expanded (with `${{range.key}}`/`${{range.value}}`), `data` is cleared, the
 * build user and group and the default environment variables are added, and a step's `working-directory`
 * and `environment` flow down into its nested steps.
 *
 * Where tk's recipe model cannot tell "absent" from "empty", pointers are nil when empty: `Package.Options`
 * when every option is false, `Scriptlets` when there are none. Like melange, a range subpackage loses its
 * `Range` and `SetCap` in this view (melange.md §1.5).
 */
import { sbomLicenseExpression, copyrightText } from '../package/metadata.ts';
import { expandRanges } from '../recipe/expand.ts';
import { applyVarTransforms } from '../recipe/transforms.ts';
import type {
  Dependencies,
  PackageOptions,
  PipelineStep,
  Recipe,
  Scriptlets,
  Subpackage,
  TestSpec,
} from '../recipe/types.ts';
import { emptyImageConfig, type ImageConfig } from '@tk/apko';
import { GoDuration, GoMap, GoPointer, GoSlice, GoStruct, type GoValue } from './values.ts';

type Replace = (text: string) => string;

const REFERENCE = /\$\{\{([A-Za-z0-9._-]+)\}\}/g;

function replacer(vars: ReadonlyMap<string, string>): Replace {
  return (text) =>
    text.includes('${{') ? text.replace(REFERENCE, (all, name: string) => vars.get(name) ?? all) : text;
}

function deep<T>(value: T, replace: Replace): T {
  if (typeof value === 'string') return replace(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => deep(v, replace)) as T;
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = deep(v, replace);
    return out as T;
  }
  return value;
}

const DEFAULT_ENV: readonly [string, string][] = [
  ['HOME', '/home/build'],
  ['GOPATH', '/home/build/.cache/go'],
  ['GOMODCACHE', '/var/cache/melange/gomodcache'],
  ['UV_CACHE_DIR', '/var/cache/melange/uv'],
  ['PIP_CACHE_DIR', '/var/cache/melange/pip'],
  ['COMPOSER_CACHE_DIR', '/var/cache/melange/composer'],
  ['npm_config_cache', '/var/cache/melange/npm'],
];

function withBuildAccount(env: ImageConfig): ImageConfig {
  const groups = env.accounts.groups.some((g) => g.groupname === 'build')
    ? env.accounts.groups
    : [...env.accounts.groups, { groupname: 'build', gid: 1000, members: ['build'] }];
  const users = env.accounts.users.some((u) => u.username === 'build')
    ? env.accounts.users
    : [...env.accounts.users, { username: 'build', uid: 1000, gid: 1000, homedir: '' }];
  return { ...env, accounts: { ...env.accounts, groups, users } };
}

function propagate(steps: readonly PipelineStep[], depth = 0): PipelineStep[] {
  return steps.map((s) => ({
    ...s,
    pipeline:
      depth > 32
        ? s.pipeline
        : propagate(
            s.pipeline.map((c) => ({
              ...c,
              ...(c['working-directory'] === undefined && s['working-directory'] !== undefined
                ? { 'working-directory': s['working-directory'] }
                : {}),
              environment: { ...s.environment, ...c.environment },
            })),
            depth + 1,
          ),
  }));
}

function testWithAccount(test: TestSpec | undefined, always: boolean): TestSpec | undefined {
  if (test === undefined || (!always && test.pipeline.length === 0)) return test;
  return { ...test, environment: withBuildAccount(test.environment ?? emptyImageConfig()) };
}

/**
 * The recipe after melange's parse-time substitution and defaults.
 *
 * @param recipe - a parsed recipe
 * @returns a new recipe
 * @throws {MelangeError} MELANGE_BAD_REGEX, MELANGE_UNKNOWN_VARIABLE from the var-transforms
 */
export function parsedView(recipe: Recipe): Recipe {
  const pkg = recipe.package;
  const scope = new Map<string, string>([
    ['package.name', pkg.name],
    ['package.version', pkg.version],
    ['package.description', pkg.description ?? ''],
    ['package.epoch', String(pkg.epoch)],
    ['package.full-version', `${pkg.version}-r${pkg.epoch}`],
  ]);
  for (const [k, v] of Object.entries(recipe.vars)) scope.set(`vars.${k}`, v);
  applyVarTransforms(recipe['var-transforms'], scope, 'var-transforms');
  const replace = replacer(scope);
  const subpackages: Subpackage[] = expandRanges(recipe, '').map(({ subpackage, range }) => {
    const own =
      range === undefined
        ? replace
        : replacer(new Map([...scope, ['range.key', range.key], ['range.value', range.value]]));
    const { range: _range, setcap: _setcap, ...rest } = subpackage;
    const sub = deep({ ...rest, setcap: range === undefined ? subpackage.setcap : [] }, own);
    return {
      ...sub,
      pipeline: propagate(sub.pipeline),
      ...(sub.test === undefined ? {} : { test: testWithAccount(sub.test, false)! }),
    };
  });
  const environment = withBuildAccount(deep(recipe.environment, replace));
  const env = { ...environment.environment };
  for (const [k, v] of DEFAULT_ENV) if ((env[k] ?? '') === '') env[k] = v;
  const test = testWithAccount(deep(recipe.test, replace), true);
  return {
    ...recipe,
    package: { ...deep(pkg, replace), epoch: pkg.epoch },
    environment: { ...environment, environment: env },
    pipeline: propagate(deep(recipe.pipeline, replace)),
    subpackages,
    data: [],
    ...(test === undefined ? {} : { test }),
    ...(recipe.update === undefined ? {} : { update: deep(recipe.update, replace) }),
  };
}

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const strs = (v: readonly unknown[] | undefined): GoSlice => new GoSlice('[]string', (v ?? []).map(str));
const smap = (v: Readonly<Record<string, unknown>> | undefined): GoMap =>
  new GoMap(
    'map[string]string',
    Object.entries(v ?? {}).map(([k, x]) => [k, str(x)]),
  );
const ptr = (type: string, s: GoStruct | null): GoPointer => new GoPointer(`*${type}`, s);
const slice = <T>(type: string, items: readonly T[] | undefined, f: (x: T) => GoValue): GoSlice =>
  new GoSlice(`[]${type}`, (items ?? []).map(f));

/** A Go duration text (`1h30m`) in milliseconds; 0 when absent or unreadable. */
function durationMs(text: string | undefined): number {
  if (text === undefined) return 0;
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    μs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  let total = 0;
  for (const m of text.matchAll(/([0-9.]+)(ns|us|µs|μs|ms|s|m|h)/g)) total += Number(m[1]) * units[m[2]!]!;
  return Number.isFinite(total) ? Math.round(total) : 0;
}

function dependencies(d: Dependencies): GoStruct {
  return new GoStruct('config.Dependencies', [
    ['Runtime', strs(d.runtime)],
    ['Provides', strs(d.provides)],
    ['Replaces', strs(d.replaces)],
    ['ProviderPriority', str(d['provider-priority'])],
    ['ReplacesPriority', str(d['replaces-priority'])],
    ['Vendored', strs([])],
  ]);
}

function options(o: PackageOptions): GoPointer {
  const any = o['no-provides'] || o['no-depends'] || o['no-commands'] || o['no-versioned-shlib-deps'];
  return ptr(
    'config.PackageOption',
    any
      ? new GoStruct('config.PackageOption', [
          ['NoProvides', o['no-provides']],
          ['NoDepends', o['no-depends']],
          ['NoCommands', o['no-commands']],
          ['NoVersionedShlibDeps', o['no-versioned-shlib-deps']],
        ])
      : null,
  );
}

function scriptlets(s: Scriptlets): GoPointer {
  if (Object.keys(s).length === 0) return ptr('config.Scriptlets', null);
  return ptr(
    'config.Scriptlets',
    new GoStruct('config.Scriptlets', [
      [
        'Trigger',
        new GoStruct('config.Trigger', [
          ['Script', str(s.trigger?.script)],
          ['Paths', strs(s.trigger?.paths)],
        ]),
      ],
      ['PreInstall', str(s['pre-install'])],
      ['PostInstall', str(s['post-install'])],
      ['PreDeinstall', str(s['pre-deinstall'])],
      ['PostDeinstall', str(s['post-deinstall'])],
      ['PreUpgrade', str(s['pre-upgrade'])],
      ['PostUpgrade', str(s['post-upgrade'])],
    ]),
  );
}

const checks = (c: { disabled: string[] }): GoStruct =>
  new GoStruct('config.Checks', [['Disabled', strs(c.disabled)]]);

const setcap = (entries: Recipe['package']['setcap']): GoSlice =>
  slice(
    'config.Capability',
    entries,
    (c) =>
      new GoStruct('config.Capability', [
        ['Path', c.path],
        ['Add', smap(c.add)],
        ['Reason', c.reason],
      ]),
  );

function resources(r: Recipe['package']['resources'], always: boolean): GoPointer {
  if (r === undefined && !always) return ptr('config.Resources', null);
  return ptr(
    'config.Resources',
    new GoStruct('config.Resources', [
      ['CPU', str(r?.cpu)],
      ['CPUModel', str(r?.cpumodel)],
      ['Memory', str(r?.memory)],
      ['Disk', str(r?.disk)],
    ]),
  );
}

function pipeline(steps: readonly PipelineStep[]): GoSlice {
  return slice(
    'config.Pipeline',
    steps,
    (s) =>
      new GoStruct('config.Pipeline', [
        ['If', str(s.if)],
        ['Name', str(s.name)],
        ['Uses', str(s.uses)],
        ['With', smap(s.with)],
        ['Runs', str(s.runs)],
        ['Pipeline', pipeline(s.pipeline)],
        ['Inputs', new GoMap('map[string]config.Input', [], null)],
        [
          'Needs',
          ptr(
            'config.Needs',
            s.needs === undefined
              ? null
              : new GoStruct('config.Needs', [['Packages', strs(s.needs.packages)]]),
          ),
        ],
        ['Label', str(s.label)],
        [
          'Assertions',
          ptr(
            'config.PipelineAssertions',
            s.assertions === undefined
              ? null
              : new GoStruct('config.PipelineAssertions', [
                  ['RequiredSteps', s.assertions['required-steps'] ?? 0],
                ]),
          ),
        ],
        ['WorkDir', str(s['working-directory'])],
        ['Environment', smap(s.environment)],
      ]),
  );
}

function imageConfig(env: ImageConfig | undefined): GoStruct {
  const e = env ?? emptyImageConfig();
  return new GoStruct('types.ImageConfiguration', [
    [
      'Contents',
      new GoStruct('types.ImageContents', [
        ['BuildRepositories', strs(e.contents.build_repositories)],
        ['RuntimeOnlyRepositories', strs(e.contents.runtime_repositories)],
        ['Repositories', strs(e.contents.repositories)],
        ['Keyring', strs(e.contents.keyring)],
        [
          'RuntimeKeyring',
          slice(
            'types.RuntimeKeyringEntry',
            e.contents.runtime_keyring,
            (k) =>
              new GoStruct('types.RuntimeKeyringEntry', [
                ['Name', k.name],
                ['Content', k.content],
              ]),
          ),
        ],
        ['Packages', strs(e.contents.packages)],
        ['BaseImage', ptr('types.BaseImageDescriptor', null)],
      ]),
    ],
    [
      'Entrypoint',
      new GoStruct('types.ImageEntrypoint', [
        ['Type', str(e.entrypoint.type)],
        ['Command', str(e.entrypoint.command)],
        ['ShellFragment', str(e.entrypoint['shell-fragment'])],
        ['Services', smap(e.entrypoint.services)],
      ]),
    ],
    ['Cmd', str(e.cmd)],
    ['StopSignal', str(e['stop-signal'])],
    ['WorkDir', str(e['work-dir'])],
    [
      'Accounts',
      new GoStruct('types.ImageAccounts', [
        ['RunAs', str(e.accounts['run-as'])],
        [
          'Users',
          slice(
            'types.User',
            e.accounts.users,
            (u) =>
              new GoStruct('types.User', [
                ['UserName', u.username],
                ['UID', u.uid],
                ['GID', u.gid ?? null],
                ['Shell', str(u.shell)],
                ['HomeDir', str(u.homedir)],
              ]),
          ),
        ],
        [
          'Groups',
          slice(
            'types.Group',
            e.accounts.groups,
            (g) =>
              new GoStruct('types.Group', [
                ['GroupName', g.groupname],
                ['GID', g.gid],
                ['Members', strs(g.members)],
              ]),
          ),
        ],
      ]),
    ],
    ['Archs', strs(e.archs)],
    ['Environment', smap(e.environment)],
    [
      'Paths',
      slice(
        'types.PathMutation',
        e.paths,
        (p) =>
          new GoStruct('types.PathMutation', [
            ['Path', p.path],
            ['Type', p.type],
            ['UID', p.uid ?? null],
            ['GID', p.gid ?? null],
            ['Permissions', p.permissions ?? 0],
            ['Source', str(p.source)],
            ['Recursive', p.recursive ?? false],
          ]),
      ),
    ],
    ['VCSUrl', str(e['vcs-url'])],
    ['Annotations', smap(e.annotations)],
    ['Include', str(e.include)],
    ['Volumes', strs(e.volumes)],
    ['Layering', ptr('types.Layering', null)],
    ['Format', ''],
    ['Certificates', ptr('types.ImageCertificates', null)],
  ]);
}

function test(t: TestSpec | undefined): GoPointer {
  return ptr(
    'config.Test',
    t === undefined
      ? null
      : new GoStruct('config.Test', [
          ['Environment', imageConfig(t.environment)],
          ['Pipeline', pipeline(t.pipeline)],
        ]),
  );
}

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Raw) : undefined;
const bool = (v: unknown): boolean => v === true || v === 'true';
const int = (v: unknown): number => (typeof v === 'number' ? v : /^-?[0-9]+$/.test(str(v)) ? Number(v) : 0);

function monitor(type: string, v: unknown, fields: [string, string, 'str' | 'int' | 'bool'][]): GoPointer {
  const o = obj(v);
  if (o === undefined) return ptr(type, null);
  return ptr(
    type,
    new GoStruct(
      type,
      fields.map(([go, key, kind]) => [
        go,
        kind === 'str' ? str(o[key]) : kind === 'int' ? int(o[key]) : bool(o[key]),
      ]),
    ),
  );
}

function update(u: Raw | undefined): GoStruct {
  const o = u ?? {};
  const strip: [string, string, 'str'][] = [
    ['StripPrefix', 'strip-prefix', 'str'],
    ['StripSuffix', 'strip-suffix', 'str'],
  ];
  const schedule = obj(o['schedule']);
  const versionData = obj(o['version_data']);
  return new GoStruct('config.Update', [
    ['Enabled', bool(o['enabled'])],
    ['Manual', bool(o['manual'])],
    ['RequireSequential', bool(o['require-sequential'])],
    ['Shared', bool(o['shared'])],
    ['VersionSeparator', str(o['version-separator'])],
    [
      'IgnoreRegexPatterns',
      strs(Array.isArray(o['ignore-regex-patterns']) ? o['ignore-regex-patterns'] : []),
    ],
    [
      'ReleaseMonitor',
      monitor('config.ReleaseMonitor', o['release-monitor'], [
        ['Identifier', 'identifier', 'int'],
        ...strip,
        ['VersionFilterContains', 'version-filter-contains', 'str'],
        ['VersionFilterPrefix', 'version-filter-prefix', 'str'],
      ]),
    ],
    [
      'GitHubMonitor',
      monitor('config.GitHubMonitor', o['github'], [
        ['Identifier', 'identifier', 'str'],
        ...strip,
        ['TagFilter', 'tag-filter', 'str'],
        ['TagFilterPrefix', 'tag-filter-prefix', 'str'],
        ['TagFilterContains', 'tag-filter-contains', 'str'],
        ['UseTags', 'use-tag', 'bool'],
      ]),
    ],
    [
      'GitMonitor',
      monitor('config.GitMonitor', o['git'], [
        ...strip,
        ['TagFilterPrefix', 'tag-filter-prefix', 'str'],
        ['TagFilterContains', 'tag-filter-contains', 'str'],
      ]),
    ],
    [
      'OCIMonitor',
      monitor('config.OCIMonitor', o['oci'], [
        ['Identifier', 'identifier', 'str'],
        ...strip,
        ['TagFilterPrefix', 'tag-filter-prefix', 'str'],
        ['TagFilterContains', 'tag-filter-contains', 'str'],
      ]),
    ],
    [
      'VersionDataMonitor',
      ptr(
        'config.VersionDataMonitor',
        versionData === undefined
          ? null
          : new GoStruct('config.VersionDataMonitor', [
              ['Format', str(versionData['version_format'])],
              [
                'Sources',
                slice(
                  'config.VersionDataSource',
                  Array.isArray(versionData['sources']) ? versionData['sources'] : [],
                  (s) => {
                    const x = obj(s) ?? {};
                    return new GoStruct('config.VersionDataSource', [
                      ['Name', str(x['name'])],
                      ['Stream', str(x['stream'])],
                      ['Ignore', strs(Array.isArray(x['ignore']) ? x['ignore'] : [])],
                      ['CommitSource', str(x['commit_source'])],
                      ['UseRelease', bool(x['use_release'])],
                    ]);
                  },
                ),
              ],
            ]),
      ),
    ],
    [
      'VersionTransform',
      slice(
        'config.VersionTransform',
        Array.isArray(o['version-transform']) ? o['version-transform'] : [],
        (t) => {
          const x = obj(t) ?? {};
          return new GoStruct('config.VersionTransform', [
            ['Match', str(x['match'])],
            ['Replace', str(x['replace'])],
          ]);
        },
      ),
    ],
    ['ExcludeReason', str(o['exclude-reason'])],
    [
      'Schedule',
      ptr(
        'config.Schedule',
        schedule === undefined
          ? null
          : new GoStruct('config.Schedule', [
              ['Reason', str(schedule['reason'])],
              ['Period', str(schedule['period'])],
            ]),
      ),
    ],
    ['EnablePreReleaseTags', bool(o['enable-prerelease-tags'])],
  ]);
}

/**
 * The Go view of a recipe (after {@link parsedView}): `config.Configuration` with melange's field names.
 *
 * @param recipe - the recipe, already through {@link parsedView}
 * @returns the root value of a query
 */
export function configurationValue(recipe: Recipe): GoStruct {
  const p = recipe.package;
  const pkg = new GoStruct(
    'config.Package',
    [
      ['Name', p.name],
      ['Version', p.version],
      ['Epoch', p.epoch],
      ['Description', str(p.description)],
      ['Annotations', smap(p.annotations)],
      ['URL', str(p.url)],
      ['Commit', str(p.commit)],
      ['TargetArchitecture', strs(p['target-architecture'])],
      [
        'Copyright',
        slice(
          'config.Copyright',
          p.copyright,
          (c) =>
            new GoStruct('config.Copyright', [
              ['Paths', strs(c.paths)],
              ['Attestation', str(c.attestation)],
              ['License', str(c.license)],
              ['LicensePath', str(c['license-path'])],
              ['DetectionOverride', str(c['detection-override'])],
            ]),
        ),
      ],
      ['Dependencies', dependencies(p.dependencies)],
      ['Options', options(p.options)],
      ['Scriptlets', scriptlets(p.scriptlets)],
      ['Checks', checks(p.checks)],
      [
        'CPE',
        new GoStruct('config.CPE', [
          ['Part', str(p.cpe?.part)],
          ['Vendor', str(p.cpe?.vendor)],
          ['Product', str(p.cpe?.product)],
          ['Edition', str(p.cpe?.edition)],
          ['Language', str(p.cpe?.language)],
          ['SWEdition', str(p.cpe?.sw_edition)],
          ['TargetSW', str(p.cpe?.target_sw)],
          ['TargetHW', str(p.cpe?.target_hw)],
          ['Other', str(p.cpe?.other)],
        ]),
      ],
      ['SetCap', setcap(p.setcap)],
      ['Timeout', new GoDuration(durationMs(p.timeout))],
      ['Resources', resources(p.resources, true)],
      ['TestResources', resources(p['test-resources'], false)],
    ],
    {
      FullVersion: () => `${p.version}-r${p.epoch}`,
      LicenseExpression: () => sbomLicenseExpression(p.copyright) ?? '',
      FullCopyright: () => copyrightText(p.copyright) ?? '',
    },
  );
  const subpackages = slice(
    'config.Subpackage',
    recipe.subpackages,
    (s) =>
      new GoStruct('config.Subpackage', [
        ['If', str(s.if)],
        ['Range', str(s.range)],
        ['Name', s.name],
        ['Pipeline', pipeline(s.pipeline)],
        ['Dependencies', dependencies(s.dependencies)],
        ['Options', options(s.options)],
        ['Scriptlets', scriptlets(s.scriptlets)],
        ['Description', str(s.description)],
        ['Annotations', smap(s.annotations)],
        ['URL', str(s.url)],
        ['Commit', str(s.commit)],
        ['Checks', checks(s.checks)],
        ['Test', test(s.test)],
        ['SetCap', setcap(s.setcap)],
      ]),
  );
  const buildOptions = new GoMap(
    'map[string]config.BuildOption',
    Object.entries(recipe.options).map(([name, o]) => [
      name,
      new GoStruct('config.BuildOption', [
        ['Vars', smap(o.vars)],
        [
          'Environment',
          new GoStruct('config.EnvironmentOption', [
            [
              'Contents',
              new GoStruct('config.ContentsOption', [
                [
                  'Packages',
                  new GoStruct('config.ListOption', [
                    ['Add', strs(o.environment.contents.packages.add)],
                    ['Remove', strs(o.environment.contents.packages.remove)],
                  ]),
                ],
              ]),
            ],
          ]),
        ],
      ]),
    ]),
    null,
  );
  return new GoStruct(
    'config.Configuration',
    [
      ['Package', pkg],
      ['Environment', imageConfig(recipe.environment)],
      [
        'Capabilities',
        new GoStruct('config.Capabilities', [
          ['Add', strs(recipe.capabilities.add)],
          ['Drop', strs(recipe.capabilities.drop)],
        ]),
      ],
      ['Pipeline', pipeline(recipe.pipeline)],
      ['Subpackages', subpackages],
      ['Data', new GoSlice('[]config.RangeData', [])],
      ['Update', update(recipe.update)],
      ['Vars', smap(recipe.vars)],
      [
        'VarTransforms',
        slice(
          'config.VarTransforms',
          recipe['var-transforms'],
          (t) =>
            new GoStruct('config.VarTransforms', [
              ['From', t.from],
              ['Match', t.match],
              ['Replace', t.replace],
              ['To', t.to],
            ]),
        ),
      ],
      ['Options', buildOptions],
      ['Test', test(recipe.test)],
    ],
    { Name: () => p.name },
  );
}
