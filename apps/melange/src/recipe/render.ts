/**
 * The compiled configuration written into every package as `.melange.yaml` (melange.md §6.6; melange
 * `pkg/build/package.go` encodes its `Configuration` struct with 2-space YAML).
 *
 * Keys follow melange's struct field order; maps (`vars`, `with`, `environment`, annotations, options) are
 * sorted; empty values are left out as Go's `omitempty` does (`package.epoch` is always written). `uses`
 * steps appear expanded inline, with only the `with` values that differ from the definition's defaults.
 * When the build passes the locked guest packages, the build environment lists them as `name=version`.
 *
 * Secrets: the configuration comes from {@link CompiledRecipe.recipe}, which never holds a variable that came
 * only from an `--env-file` (not even its name; melange #2624 writes their values into every apk). A
 * rebuild from the embedded file therefore needs the same `--env-file` again.
 */
import { stringify } from 'yaml';
import type { ImageConfig } from '@tk/apko';
import type {
  CompiledRecipe,
  Dependencies,
  PackageMeta,
  PackageOptions,
  PipelineStep,
  Recipe,
  Scriptlets,
  Setcap,
  Subpackage,
  TestSpec,
} from './types.ts';

/** Options of {@link renderCompiledRecipe}. */
export interface RenderOptions {
  /** The resolved build environment, package name → version (written as `name=version`, sorted). */
  locked?: Readonly<Record<string, string>>;
}

type Value = string | number | boolean | Value[] | { [key: string]: Value };
type Obj = { [key: string]: Value };

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return false;
}

/** An object in the given key order, without empty values (Go `omitempty`). */
function obj(entries: [string, Value | undefined][]): Obj {
  const out: Obj = {};
  for (const [k, v] of entries) if (!isEmpty(v)) out[k] = v as Value;
  return out;
}

function sorted(record: Readonly<Record<string, string>> | undefined): Obj {
  const out: Obj = {};
  for (const k of Object.keys(record ?? {}).sort()) out[k] = (record ?? {})[k] ?? '';
  return out;
}

function dependencies(d: Dependencies): Obj {
  return obj([
    ['runtime', d.runtime],
    ['provides', d.provides],
    ['replaces', d.replaces],
    ['provider-priority', d['provider-priority']],
    ['replaces-priority', d['replaces-priority']],
  ]);
}

function packageOptions(o: PackageOptions): Obj {
  return obj([
    ['no-provides', o['no-provides']],
    ['no-depends', o['no-depends']],
    ['no-commands', o['no-commands']],
    ['no-versioned-shlib-deps', o['no-versioned-shlib-deps']],
  ]);
}

function scriptlets(s: Scriptlets): Obj {
  return obj([
    [
      'trigger',
      s.trigger === undefined
        ? undefined
        : obj([
            ['script', s.trigger.script],
            ['paths', s.trigger.paths],
          ]),
    ],
    ['pre-install', s['pre-install']],
    ['post-install', s['post-install']],
    ['pre-deinstall', s['pre-deinstall']],
    ['post-deinstall', s['post-deinstall']],
    ['pre-upgrade', s['pre-upgrade']],
    ['post-upgrade', s['post-upgrade']],
  ]);
}

function checks(c: { disabled: string[]; enabled: string[] }): Obj {
  return obj([
    ['disabled', c.disabled],
    ['enabled', c.enabled],
  ]);
}

function setcap(caps: readonly Setcap[]): Value[] {
  return caps.map((c) =>
    obj([
      ['path', c.path],
      ['add', sorted(c.add)],
      ['reason', c.reason],
    ]),
  );
}

function resources(r: PackageMeta['resources']): Obj | undefined {
  return r === undefined
    ? undefined
    : obj([
        ['cpu', r.cpu],
        ['cpumodel', r.cpumodel],
        ['memory', r.memory],
        ['disk', r.disk],
      ]);
}

function packageMeta(p: PackageMeta): Obj {
  const out = obj([
    ['name', p.name],
    ['version', p.version],
  ]);
  out['epoch'] = p.epoch;
  return {
    ...out,
    ...obj([
      ['description', p.description],
      ['annotations', sorted(p.annotations)],
      ['url', p.url],
      ['commit', p.commit],
      ['target-architecture', p['target-architecture']],
      [
        'copyright',
        p.copyright.map((c) =>
          obj([
            ['paths', c.paths],
            ['attestation', c.attestation],
            ['license', c.license],
            ['license-path', c['license-path']],
            ['detection-override', c['detection-override']],
          ]),
        ),
      ],
      ['dependencies', dependencies(p.dependencies)],
      ['options', packageOptions(p.options)],
      ['scriptlets', scriptlets(p.scriptlets)],
      ['checks', checks(p.checks)],
      [
        'cpe',
        p.cpe === undefined
          ? undefined
          : obj([
              ['part', p.cpe.part],
              ['vendor', p.cpe.vendor],
              ['product', p.cpe.product],
              ['edition', p.cpe.edition],
              ['language', p.cpe.language],
              ['sw_edition', p.cpe.sw_edition],
              ['target_sw', p.cpe.target_sw],
              ['target_hw', p.cpe.target_hw],
              ['other', p.cpe.other],
            ]),
      ],
      ['setcap', setcap(p.setcap)],
      ['timeout', p.timeout],
      ['resources', resources(p.resources)],
      ['test-resources', resources(p['test-resources'])],
    ]),
  };
}

function imageConfig(env: ImageConfig, packages?: readonly string[]): Obj {
  const c = env.contents;
  return obj([
    [
      'contents',
      obj([
        ['build_repositories', c.build_repositories],
        ['runtime_repositories', c.runtime_repositories],
        ['repositories', c.repositories],
        ['keyring', c.keyring],
        [
          'runtime_keyring',
          c.runtime_keyring.map((k) =>
            obj([
              ['name', k.name],
              ['content', k.content],
            ]),
          ),
        ],
        ['packages', [...(packages ?? c.packages)]],
      ]),
    ],
    [
      'entrypoint',
      obj([
        ['type', env.entrypoint.type],
        ['command', env.entrypoint.command],
        ['shell-fragment', env.entrypoint['shell-fragment']],
        ['services', sorted(env.entrypoint.services)],
      ]),
    ],
    ['cmd', env.cmd],
    ['stop-signal', env['stop-signal']],
    ['work-dir', env['work-dir']],
    [
      'accounts',
      obj([
        ['run-as', env.accounts['run-as']],
        [
          'users',
          env.accounts.users.map((u) => {
            const user: Obj = { username: u.username, uid: u.uid };
            if (u.gid !== undefined) user['gid'] = u.gid;
            return {
              ...user,
              ...obj([
                ['shell', u.shell],
                ['homedir', u.homedir],
              ]),
            };
          }),
        ],
        [
          'groups',
          env.accounts.groups.map((g) => ({
            groupname: g.groupname,
            gid: g.gid,
            ...obj([['members', g.members]]),
          })),
        ],
      ]),
    ],
    ['archs', [...env.archs]],
    ['environment', sorted(env.environment)],
    [
      'paths',
      env.paths.map((p) => {
        const out: Obj = { path: p.path, type: p.type };
        if (p.uid !== undefined) out['uid'] = p.uid;
        if (p.gid !== undefined) out['gid'] = p.gid;
        if (p.permissions !== undefined) out['permissions'] = p.permissions;
        return {
          ...out,
          ...obj([
            ['source', p.source],
            ['recursive', p.recursive],
          ]),
        };
      }),
    ],
    ['vcs-url', env['vcs-url']],
    ['annotations', sorted(env.annotations)],
    ['include', env.include],
    ['volumes', [...env.volumes]],
  ]);
}

function step(s: PipelineStep): Obj {
  return obj([
    ['if', s.if],
    ['name', s.name],
    ['uses', s.uses],
    ['with', sorted(s.with)],
    ['runs', s.runs],
    ['pipeline', s.pipeline.map(step)],
    ['needs', s.needs === undefined ? undefined : obj([['packages', s.needs.packages]])],
    ['label', s.label],
    [
      'assertions',
      s.assertions?.['required-steps'] === undefined
        ? undefined
        : { 'required-steps': s.assertions['required-steps'] },
    ],
    ['working-directory', s['working-directory']],
    ['environment', sorted(s.environment)],
  ]);
}

function test(t: TestSpec | undefined): Obj | undefined {
  if (t === undefined) return undefined;
  return obj([
    ['environment', t.environment === undefined ? undefined : imageConfig(t.environment)],
    ['pipeline', t.pipeline.map(step)],
  ]);
}

function subpackage(s: Subpackage): Obj {
  return obj([
    ['if', s.if],
    ['range', s.range],
    ['name', s.name],
    ['pipeline', s.pipeline.map(step)],
    ['dependencies', dependencies(s.dependencies)],
    ['options', packageOptions(s.options)],
    ['scriptlets', scriptlets(s.scriptlets)],
    ['description', s.description],
    ['annotations', sorted(s.annotations)],
    ['url', s.url],
    ['commit', s.commit],
    ['checks', checks(s.checks)],
    ['test', test(s.test)],
    ['setcap', setcap(s.setcap)],
  ]);
}

function toValue(v: unknown): Value {
  if (Array.isArray(v)) return v.map(toValue);
  if (v !== null && typeof v === 'object') {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = toValue(x);
    return out;
  }
  if (typeof v === 'number' || typeof v === 'boolean') return v;
  return String(v);
}

/**
 * The compiled configuration as a plain object in melange's key order (what {@link renderCompiledRecipe}
 * writes).
 *
 * @param recipe - {@link CompiledRecipe.recipe}
 * @param options - locked package versions
 * @returns a JSON-compatible object
 */
export function compiledConfigObject(recipe: Recipe, options: RenderOptions = {}): Record<string, unknown> {
  const locked = options.locked;
  const packages =
    locked === undefined
      ? undefined
      : Object.keys(locked)
          .sort()
          .map((n) => `${n}=${locked[n] ?? ''}`);
  return obj([
    ['package', packageMeta(recipe.package)],
    ['environment', imageConfig(recipe.environment, packages)],
    [
      'capabilities',
      obj([
        ['add', recipe.capabilities.add],
        ['drop', recipe.capabilities.drop],
        ['networking', recipe.capabilities.networking],
      ]),
    ],
    ['pipeline', recipe.pipeline.map(step)],
    ['subpackages', recipe.subpackages.map(subpackage)],
    ['update', recipe.update === undefined ? undefined : toValue(recipe.update)],
    ['vars', sorted(recipe.vars)],
    [
      'var-transforms',
      recipe['var-transforms'].map((t) => ({ from: t.from, match: t.match, replace: t.replace, to: t.to })),
    ],
    [
      'options',
      Object.fromEntries(
        Object.keys(recipe.options)
          .sort()
          .map((name) => {
            const o = recipe.options[name];
            const pk = o?.environment.contents.packages;
            return [
              name,
              obj([
                ['vars', sorted(o?.vars)],
                [
                  'environment',
                  obj([
                    [
                      'contents',
                      obj([
                        [
                          'packages',
                          obj([
                            ['add', pk?.add],
                            ['remove', pk?.remove],
                          ]),
                        ],
                      ]),
                    ],
                  ]),
                ],
              ]),
            ];
          }),
      ) as Obj,
    ],
    ['test', test(recipe.test)],
  ]);
}

/**
 * Render the `.melange.yaml` embedded in each package.
 *
 * @param compiled - from `compileRecipe`
 * @param options - the locked build environment (`name → version`)
 * @returns 2-space YAML text ending in a newline; the same input always gives the same bytes
 * @example
 * const text = renderCompiledRecipe(compiled, { locked: { busybox: '1.37.0-r0' } });
 */
export function renderCompiledRecipe(compiled: CompiledRecipe, options: RenderOptions = {}): string {
  return stringify(compiledConfigObject(compiled.recipe, options), {
    indent: 2,
    lineWidth: 0,
    minContentWidth: 0,
    aliasDuplicateObjects: false,
  });
}
