/**
 * The recipe compiler (melange.md §3, §4.1; melange `pkg/build/compile.go`, `pkg/build/pipeline.go`): turns a
 * parsed {@link Recipe} into the per-arch {@link CompiledRecipe} the build runs.
 *
 * Steps, in order:
 * 1. `--vars-file` and `--build-option`s merged into `vars` and the build packages; var-transforms applied.
 * 2. Subpackages expanded (`range` clones in sorted key order), their names substituted and checked, their
 *    `if` evaluated (false drops them).
 * 3. Every pipeline (main, each subpackage, each test) compiled: `uses` definitions loaded and expanded with
 *    their inputs, every `${{…}}` substituted against the full map of its context, `if` evaluated.
 * 4. `needs.packages` of the enabled steps gathered into the build environment (main and subpackage
 *    pipelines) or into the test's `needs`; the build user, group and cache variables added.
 *
 * Scoping of `${{inputs.*}}`: inside a `uses` definition, `inputs.*` are exactly that definition's inputs
 * (the step's `with`, else the input's default). A nested `uses` inside a definition gets only what its own
 * `with` forwards (`with: { opts: ${{inputs.opts}} }`); plain nested steps see their parent's inputs.
 * (melange also leaks the caller's inputs into nested definitions.) A step's `with` values and its `if` are
 * resolved in the caller's scope.
 *
 * Differences from melange, on purpose: a step's `environment` values are fully substituted (melange leaves
 * `${{targets.*}}` literal there); a step whose `if` is false is not expanded further (its definition is not
 * loaded and its children are not compiled); shell scripts are not re-printed (melange strips comments with a
 * shell parser); `--env-file` values reach the build environment but never {@link CompiledRecipe.recipe}.
 */
import { posix } from 'node:path';
import { emptyImageConfig, type ImageConfig, type ImageGroup, type ImageUser } from '@tk/apko';
import { MelangeError } from '../errors.ts';
import type {
  CompiledPackage,
  CompiledRecipe,
  CompiledStep,
  PipelineDefinition,
  PipelineStep,
  Recipe,
  Subpackage,
  TestSpec,
} from './types.ts';
import { evaluateCondition, resolveCondition } from './cond.ts';
import {
  checkPackageNames,
  expandRanges,
  mergeOptions,
  substituteImageConfig,
  substitutePackageMeta,
  substituteSubpackageMeta,
} from './expand.ts';
import {
  cachePipelineLoader,
  createPipelineLoader,
  validatePipelineName,
  type PipelineLoader,
} from './pipelines.ts';
import {
  apkArchOf,
  buildSubstitutionMap,
  layerLookup,
  substitute,
  substitutePartial,
  WORKSPACE_DIR,
  type Libc,
  type SubstitutionMapOptions,
  type VariableLookup,
} from './subst.ts';
import { applyVarTransforms } from './transforms.ts';

/** Options of {@link compileRecipe}. */
export interface CompileOptions {
  /** The arch to compile for (apk name such as `x86_64`; OCI names are accepted too). */
  arch: string;
  /** `--pipeline-dir` folders, searched first for `uses`. */
  pipelineDirs?: string[];
  /** `--build-option` names, in order. */
  buildOptions?: string[];
  /** `--vars-file` values, merged over `vars`. */
  varsFile?: Record<string, string>;
  /**
   * `--env-file` (dotenv) values: put under the recipe's `environment.environment` (recipe keys win) in
   * {@link CompiledRecipe.environment}; never written into {@link CompiledRecipe.recipe} (the embedded
   * `.melange.yaml`), not even their names (melange #2624 leaks them into every apk).
   */
  envFileVars?: Record<string, string>;
  /** `host.triplet.*` flavour (`--override-host-triplet-libc-substitution-flavor`); default `gnu`. */
  hostTripletLibc?: Libc;
  /** Accepted for symmetry with the build; compiling does not depend on time. */
  sourceDateEpoch?: number;
  /** Loads `uses` definitions (tests inject one); default: search the folders below. Cached per compile. */
  loadPipeline?: PipelineLoader;
  /** The system pipeline folder (default `/usr/share/melange/pipelines`; `null` to skip it). */
  systemPipelineDir?: string | null;
  /** tk's built-in pipeline folder (default `apps/melange/pipelines/`). */
  builtinPipelineDir?: string;
  /** The recipe file, to prefix messages with. */
  source?: string;
  /** The git commit to use when `package.commit` is absent (melange's auto-detected HEAD). */
  commit?: string;
}

/** Deepest nesting of steps (definitions using definitions included). */
export const MAX_COMPILED_DEPTH = 32;
/** Most steps one recipe may compile to (all pipelines, definitions expanded). */
export const MAX_COMPILED_STEPS = 10000;

/** The build user and group melange adds to build and test environments. */
export const BUILD_USER: ImageUser = { username: 'build', uid: 1000, gid: 1000, homedir: WORKSPACE_DIR };
/** See {@link BUILD_USER}. */
export const BUILD_GROUP: ImageGroup = { groupname: 'build', gid: 1000, members: ['build'] };

/** Environment variables set when absent or empty (melange `ParseConfiguration`). */
export const DEFAULT_BUILD_ENV: Readonly<Record<string, string>> = {
  HOME: WORKSPACE_DIR,
  GOPATH: '/home/build/.cache/go',
  GOMODCACHE: '/var/cache/melange/gomodcache',
  UV_CACHE_DIR: '/var/cache/melange/uv',
  PIP_CACHE_DIR: '/var/cache/melange/pip',
  COMPOSER_CACHE_DIR: '/var/cache/melange/composer',
  npm_config_cache: '/var/cache/melange/npm',
};

interface Scope {
  /** The context's variables (no `inputs.*`). */
  ctx: ReadonlyMap<string, string>;
  /** `inputs.<k>` of the enclosing definition. */
  inputs: ReadonlyMap<string, string>;
  workdir: string;
  env: Record<string, string>;
  chain: readonly string[];
  depth: number;
}

interface State {
  load: PipelineLoader;
  steps: number;
}

interface StepResult {
  compiled: CompiledStep;
  rendered: PipelineStep;
  needs: string[];
}

const HEX = /^[0-9a-fA-F]+$/;
const HASH_LENGTHS: Record<string, number> = {
  'expected-sha256': 64,
  'expected-sha512': 128,
  'expected-commit': 40,
};

function lookupOf(scope: Scope): VariableLookup {
  return scope.inputs.size === 0 ? scope.ctx : layerLookup(scope.ctx, scope.inputs);
}

function substRecord(
  values: Readonly<Record<string, string>>,
  lookup: VariableLookup,
  where: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) out[k] = substitute(v, lookup, `${where}.${k}`);
  return out;
}

/**
 * Resolve a working directory: absolute paths are normalised, relative ones are taken from `/home/build`
 * (as melange does, whatever the parent's directory).
 *
 * @param dir - the directory as written (after substitution)
 * @returns an absolute guest path
 */
export function resolveWorkdir(dir: string): string {
  const abs = dir.startsWith('/') ? posix.normalize(dir) : posix.join(WORKSPACE_DIR, dir);
  return abs.length > 1 && abs.endsWith('/') ? abs.slice(0, -1) : abs;
}

function dedup(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

function limitError(where: string, what: string): MelangeError {
  return new MelangeError('MELANGE_PIPELINE_LIMIT', `${where}: ${what}`, {
    hint: 'check the recipe and its pipeline definitions for runaway nesting',
    data: { where },
  });
}

async function loadDefinition(state: State, name: string, where: string): Promise<PipelineDefinition> {
  try {
    return await state.load(name);
  } catch (error) {
    if (error instanceof MelangeError) {
      const data = { ...(error.data ?? {}), where };
      throw new MelangeError(error.code, `${where}: ${error.message}`, {
        ...(error.hint === undefined ? {} : { hint: error.hint }),
        data,
        cause: error,
      });
    }
    throw new MelangeError(
      'MELANGE_PIPELINE_NOT_FOUND',
      `${where}: cannot read pipeline "${name}": ${(error as Error).message}`,
      {
        hint: 'check that the pipeline file is readable',
        data: { name, where },
        cause: error,
      },
    );
  }
}

/**
 * The values of a definition's inputs: given `with` values (already substituted in the caller's scope) win
 * when non-empty (as in melange, an empty value means "not given"), else defaults, substituted in the
 * definition's scope where `${{inputs.other}}` refers to another input.
 */
function inputValues(
  def: PipelineDefinition,
  given: Readonly<Record<string, string>>,
  ctx: ReadonlyMap<string, string>,
  uses: string,
  where: string,
  lenient = false,
): Record<string, string> {
  const values = new Map<string, string>();
  const visiting: string[] = [];
  const lookup: VariableLookup = {
    get: (name) => {
      if (name.startsWith('inputs.')) {
        const key = name.slice('inputs.'.length);
        return Object.hasOwn(def.inputs, key) ? resolve(key) : undefined;
      }
      return ctx.get(name);
    },
    keys: () => [...ctx.keys(), ...Object.keys(def.inputs).map((k) => `inputs.${k}`)],
  };
  const resolve = (key: string): string => {
    const done = values.get(key);
    if (done !== undefined) return done;
    const value = given[key];
    if (value !== undefined && value !== '') {
      values.set(key, value);
      return value;
    }
    if (visiting.includes(key)) {
      if (lenient) return '';
      throw new MelangeError(
        'MELANGE_BAD_INPUT',
        `${where}: the defaults of ${uses}'s inputs refer to each other in a cycle (${[...visiting, key].join(' → ')})`,
        { hint: `fix the inputs of the pipeline definition "${uses}"`, data: { where, uses, input: key } },
      );
    }
    visiting.push(key);
    const resolved = (lenient ? substitutePartial : substitute)(
      def.inputs[key]?.default ?? '',
      lookup,
      `${where} (${uses} input "${key}" default)`,
    );
    visiting.pop();
    values.set(key, resolved);
    return resolved;
  };
  const out: Record<string, string> = {};
  for (const key of Object.keys(def.inputs)) out[key] = resolve(key);
  return out;
}

/** Check required inputs and the form of hash inputs. */
function checkInputs(
  def: PipelineDefinition,
  values: Readonly<Record<string, string>>,
  uses: string,
  where: string,
): void {
  const missing = Object.keys(def.inputs).filter((k) => def.inputs[k]?.required === true && values[k] === '');
  if (missing.length > 0) {
    throw new MelangeError(
      'MELANGE_MISSING_INPUT',
      `${where}: pipeline "${uses}" requires input${missing.length === 1 ? '' : 's'} ${missing.map((k) => `"${k}"`).join(', ')}`,
      {
        hint: `add ${missing.map((k) => `${k}: …`).join(', ')} under the step's with:`,
        data: { where, uses, missing },
      },
    );
  }
  for (const [key, length] of Object.entries(HASH_LENGTHS)) {
    const value = values[key];
    if (value === undefined || value === '') continue;
    if (value.length !== length || !HEX.test(value)) {
      const shown = value.length > 140 ? `${value.slice(0, 137)}...` : value;
      throw new MelangeError(
        'MELANGE_BAD_INPUT',
        `${where}: ${key} must be ${length} hexadecimal digits, got ${JSON.stringify(shown)} (${value.length} characters)`,
        {
          hint:
            key === 'expected-commit'
              ? 'give the full 40-digit commit hash'
              : `give the ${key.slice('expected-'.length)} digest of the file in hex`,
          data: { where, uses, input: key, value },
        },
      );
    }
  }
}

async function compileSteps(
  steps: readonly PipelineStep[],
  scope: Scope,
  where: string,
  state: State,
): Promise<StepResult[]> {
  const out: StepResult[] = [];
  for (const [i, step] of steps.entries()) out.push(await compileStep(step, scope, `${where}[${i}]`, state));
  return out;
}

function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

async function compileStep(
  step: PipelineStep,
  scope: Scope,
  where: string,
  state: State,
): Promise<StepResult> {
  state.steps++;
  if (state.steps > MAX_COMPILED_STEPS)
    throw limitError(where, `the recipe expands to more than ${MAX_COMPILED_STEPS} steps`);
  if (scope.depth > MAX_COMPILED_DEPTH)
    throw limitError(where, `steps nest deeper than ${MAX_COMPILED_DEPTH} levels`);
  const lookup = lookupOf(scope);
  // A name is a label: unknown variables stay as written (melange does not substitute names at compile time,
  // and Wolfi's py/collect-wheels names a step after an input it does not declare).
  const name = step.name === undefined ? undefined : substitutePartial(step.name, lookup, `${where}.name`);
  const hasIf = step.if !== undefined && step.if !== '';
  const enabled = hasIf ? evaluateCondition(step.if ?? '', lookup, `${where}.if`) : true;
  const ifText = hasIf ? resolveCondition(step.if ?? '', lookup, `${where}.if`) : undefined;
  const withGiven = substRecord(step.with, lookup, `${where}.with`);
  const ownDir = step['working-directory'];
  const workdir =
    ownDir === undefined || ownDir === ''
      ? scope.workdir
      : resolveWorkdir(substitute(ownDir, lookup, `${where}.working-directory`));
  const ownEnv = substRecord(step.environment, lookup, `${where}.environment`);
  const env = { ...scope.env, ...ownEnv };
  const runs = step.runs === undefined ? undefined : substitute(step.runs, lookup, `${where}.runs`);
  const ownNeeds = (step.needs?.packages ?? []).map((p, i) =>
    substitute(p, lookup, `${where}.needs.packages[${i}]`),
  );
  const base = {
    name,
    uses: step.uses,
    runs,
    workingDirectory: workdir,
    environment: env,
    if: ifText,
    assertions: step.assertions === undefined ? undefined : { ...step.assertions },
  };
  const renderedBase = {
    name,
    uses: step.uses,
    runs,
    if: ifText,
    'working-directory': ownDir === undefined || ownDir === '' ? undefined : workdir,
    environment: ownEnv,
    assertions: step.assertions === undefined ? undefined : { ...step.assertions },
    label: step.label,
  };

  if (!enabled) {
    return {
      compiled: defined({ ...base, with: withGiven, enabled: false, pipeline: [] }),
      rendered: defined({ ...renderedBase, with: withGiven, pipeline: [] }),
      needs: [],
    };
  }

  if (step.uses !== undefined && step.pipeline.length === 0) {
    const uses = step.uses;
    validatePipelineName(uses, `${where}.uses`);
    if (scope.chain.includes(uses)) {
      const chain = [...scope.chain, uses];
      throw new MelangeError(
        'MELANGE_PIPELINE_CYCLE',
        `${where}: pipelines use each other in a cycle: ${chain.join(' → ')}`,
        {
          hint: `remove the "uses: ${uses}" that closes the cycle`,
          data: { where, chain },
        },
      );
    }
    const def = await loadDefinition(state, uses, `${where}.uses`);
    const unknown = Object.keys(withGiven).filter((k) => !Object.hasOwn(def.inputs, k));
    if (unknown.length > 0) {
      const known = Object.keys(def.inputs).sort();
      throw new MelangeError(
        'MELANGE_UNKNOWN_INPUT',
        `${where}: pipeline "${uses}" has no input${unknown.length === 1 ? '' : 's'} ${unknown.map((k) => `"${k}"`).join(', ')}`,
        {
          hint:
            known.length > 0
              ? `inputs of ${uses}: ${known.join(', ')}`
              : `${uses} takes no inputs: remove with:`,
          data: { where, uses, unknown, known },
        },
      );
    }
    const inputs = inputValues(def, withGiven, scope.ctx, uses, where);
    checkInputs(def, inputs, uses, where);
    const inner: Scope = {
      ctx: scope.ctx,
      inputs: new Map(Object.entries(inputs).map(([k, v]) => [`inputs.${k}`, v])),
      workdir,
      env,
      chain: [...scope.chain, uses],
      depth: scope.depth + 1,
    };
    const innerLookup = lookupOf(inner);
    const defNeeds = def.needs.packages.map((p, i) =>
      substitute(p, innerLookup, `${where} (${uses}).needs.packages[${i}]`),
    );
    const children = await compileSteps(def.pipeline, inner, `${where}.uses(${uses}).pipeline`, state);
    // Only to leave default values out of the embedded config: a default that cannot be resolved here (it is
    // overridden by the step) simply differs.
    const defaults = inputValues(def, {}, scope.ctx, uses, where, true);
    const nonDefault: Record<string, string> = {};
    for (const [k, v] of Object.entries(withGiven)) if (v !== '' && v !== defaults[k]) nonDefault[k] = v;
    return {
      compiled: defined({ ...base, with: inputs, enabled: true, pipeline: children.map((c) => c.compiled) }),
      rendered: defined({ ...renderedBase, with: nonDefault, pipeline: children.map((c) => c.rendered) }),
      needs: [...defNeeds, ...ownNeeds, ...children.flatMap((c) => c.needs)].filter((p) => p !== ''),
    };
  }

  const children = await compileSteps(
    step.pipeline,
    { ...scope, workdir, env, depth: scope.depth + 1 },
    `${where}.pipeline`,
    state,
  );
  return {
    compiled: defined({ ...base, with: withGiven, enabled: true, pipeline: children.map((c) => c.compiled) }),
    rendered: defined({ ...renderedBase, with: withGiven, pipeline: children.map((c) => c.rendered) }),
    needs: [...ownNeeds, ...children.flatMap((c) => c.needs)].filter((p) => p !== ''),
  };
}

/** Add the build group and user (unless present by name) and the default env vars (when absent or empty). */
function withBuildDefaults(env: ImageConfig): ImageConfig {
  const groups = env.accounts.groups.some((g) => g.groupname === BUILD_GROUP.groupname)
    ? env.accounts.groups
    : [...env.accounts.groups, { ...BUILD_GROUP, members: [...BUILD_GROUP.members] }];
  const users = env.accounts.users.some((u) => u.username === BUILD_USER.username)
    ? env.accounts.users
    : [...env.accounts.users, { ...BUILD_USER }];
  const vars = { ...env.environment };
  for (const [k, v] of Object.entries(DEFAULT_BUILD_ENV))
    if (vars[k] === undefined || vars[k] === '') vars[k] = v;
  return { ...env, accounts: { ...env.accounts, users, groups }, environment: vars };
}

interface CompiledTest {
  compiled: { environment?: ImageConfig; pipeline: CompiledStep[]; needs: string[] };
  rendered: TestSpec;
}

async function compileTest(
  test: TestSpec,
  ctx: ReadonlyMap<string, string>,
  where: string,
  state: State,
): Promise<CompiledTest> {
  const hasEnv = test.environment !== undefined;
  let environment = hasEnv
    ? substituteImageConfig(test.environment as ImageConfig, ctx, `${where}.environment`)
    : undefined;
  if (test.pipeline.length > 0) environment = withBuildDefaults(environment ?? emptyImageConfig());
  const steps = await compileSteps(test.pipeline, rootScope(ctx), `${where}.pipeline`, state);
  const needs = dedup(steps.flatMap((s) => s.needs));
  const renderedEnv =
    environment === undefined
      ? undefined
      : {
          ...environment,
          contents: {
            ...environment.contents,
            packages: dedup([...environment.contents.packages, ...needs]),
          },
        };
  return {
    compiled: defined({ environment, pipeline: steps.map((s) => s.compiled), needs }),
    rendered: defined({ environment: renderedEnv, pipeline: steps.map((s) => s.rendered) }),
  };
}

function rootScope(ctx: ReadonlyMap<string, string>): Scope {
  return { ctx, inputs: new Map(), workdir: WORKSPACE_DIR, env: {}, chain: [], depth: 0 };
}

/**
 * Compile a recipe for one arch.
 *
 * @param recipe - the parsed recipe (from `parseRecipe`/`loadRecipe`)
 * @param options - arch, pipeline folders, build options, vars file, env-file values, …
 * @returns the compiled recipe: substituted metadata, build environment, compiled pipelines per package, tests
 * @throws {MelangeError} MELANGE_UNKNOWN_VARIABLE, MELANGE_BAD_SUBSTITUTION, MELANGE_BAD_CONDITION,
 *   MELANGE_BAD_REGEX, MELANGE_BAD_PIPELINE_NAME, MELANGE_PIPELINE_NOT_FOUND, MELANGE_PIPELINE_CYCLE,
 *   MELANGE_PIPELINE_LIMIT, MELANGE_MISSING_INPUT, MELANGE_UNKNOWN_INPUT, MELANGE_BAD_INPUT,
 *   MELANGE_UNKNOWN_RANGE, MELANGE_UNKNOWN_BUILD_OPTION, MELANGE_BAD_SUBPACKAGE, MELANGE_UNKNOWN_ARCH
 * @example
 * const compiled = await compileRecipe(recipe, { arch: 'x86_64', pipelineDirs: ['./pipelines'] });
 * for (const step of compiled.pipeline) if (step.enabled) console.log(step.runs);
 */
export async function compileRecipe(recipe: Recipe, options: CompileOptions): Promise<CompiledRecipe> {
  const prefix = options.source === undefined ? '' : `${options.source}: `;
  const arch = apkArchOf(options.arch);
  const state: State = {
    load:
      options.loadPipeline === undefined
        ? createPipelineLoader({
            pipelineDirs: options.pipelineDirs ?? [],
            ...(options.systemPipelineDir === undefined ? {} : { systemDir: options.systemPipelineDir }),
            ...(options.builtinPipelineDir === undefined ? {} : { builtinDir: options.builtinPipelineDir }),
          })
        : cachePipelineLoader(options.loadPipeline),
    steps: 0,
  };

  // 1. vars, build options, var-transforms.
  const merged = mergeOptions(recipe, options.varsFile, options.buildOptions);
  const mapBase: SubstitutionMapOptions = {
    package: { name: recipe.package.name, version: recipe.package.version, epoch: recipe.package.epoch },
    arch,
    hostTripletLibc: options.hostTripletLibc,
    declaredOptions: Object.keys(recipe.options),
    enabledOptions: merged.enabled,
  };
  const transformScope = buildSubstitutionMap({ ...mapBase, vars: merged.vars });
  const vars = {
    ...merged.vars,
    ...applyVarTransforms(recipe['var-transforms'], transformScope, `${prefix}var-transforms`),
  };

  // 2. Subpackage names (range clones), then every package's context.
  const nameScope = buildSubstitutionMap({ ...mapBase, vars });
  const rawDescription = recipe.package.description;
  const expanded = expandRanges(recipe, prefix).map((e) => {
    const label = `${prefix}subpackages[${e.index}]${e.range === undefined ? '' : `{range.key=${e.range.key}}`}`;
    const scope =
      e.range === undefined ? nameScope : buildSubstitutionMap({ ...mapBase, vars, range: e.range });
    return { ...e, label, name: substitute(e.subpackage.name, scope, `${label}.name`) };
  });
  checkPackageNames(
    recipe.package.name,
    expanded.map((e) => ({ name: e.name, where: e.label })),
  );
  const packageNames = [recipe.package.name, ...expanded.map((e) => e.name)];
  const contextMap = (
    subpackage?: string,
    range?: { key: string; value: string },
    description?: string,
  ): Map<string, string> =>
    buildSubstitutionMap({
      ...mapBase,
      package: { ...mapBase.package, description },
      vars,
      packageNames,
      subpackage,
      range,
    });
  const preMain = contextMap(undefined, undefined, rawDescription);
  const pkg = substitutePackageMeta(recipe.package, preMain, prefix, options.commit);
  const mainCtx = contextMap(undefined, undefined, pkg.description);

  // 3. Pipelines.
  const mainSteps = await compileSteps(recipe.pipeline, rootScope(mainCtx), `${prefix}pipeline`, state);
  const mainTest =
    recipe.test === undefined ? undefined : await compileTest(recipe.test, mainCtx, `${prefix}test`, state);

  const subs: { compiled: CompiledPackage; rendered: Subpackage; needs: string[] }[] = [];
  for (const e of expanded) {
    const ctx = contextMap(e.name, e.range, pkg.description);
    const label = `${e.label}(${e.name})`;
    const sub = e.subpackage;
    if (sub.if !== undefined && sub.if !== '' && !evaluateCondition(sub.if, ctx, `${label}.if`)) continue;
    const meta = substituteSubpackageMeta({ ...sub, name: e.name }, ctx, label, pkg.commit);
    const steps = await compileSteps(sub.pipeline, rootScope(ctx), `${label}.pipeline`, state);
    const test =
      sub.test === undefined ? undefined : await compileTest(sub.test, ctx, `${label}.test`, state);
    subs.push({
      compiled: defined({
        name: e.name,
        main: false,
        description: meta.description,
        url: meta.url,
        commit: meta.commit,
        dependencies: meta.dependencies,
        options: { ...meta.options },
        scriptlets: meta.scriptlets,
        checks: meta.checks,
        setcap: meta.setcap,
        pipeline: steps.map((s) => s.compiled),
        test: test?.compiled,
      }),
      rendered: defined({
        ...meta,
        if: sub.if === undefined || sub.if === '' ? undefined : resolveCondition(sub.if, ctx, `${label}.if`),
        pipeline: steps.map((s) => s.rendered),
        test: test?.rendered,
      }),
      needs: steps.flatMap((s) => s.needs),
    });
  }

  // 4. Environments.
  const recipeEnv = substituteImageConfig(
    { ...recipe.environment, contents: { ...recipe.environment.contents, packages: merged.packages } },
    mainCtx,
    `${prefix}environment`,
  );
  const packages = dedup([
    ...recipeEnv.contents.packages,
    ...mainSteps.flatMap((s) => s.needs),
    ...subs.flatMap((s) => s.needs),
  ]);
  const buildEnv = withBuildDefaults({
    ...recipeEnv,
    contents: { ...recipeEnv.contents, packages },
    environment: { ...(options.envFileVars ?? {}), ...recipeEnv.environment },
  });
  // The embedded copy: the same, minus every variable whose value came from an env file.
  const fromEnvFile = new Set(
    Object.keys(options.envFileVars ?? {}).filter((k) => !Object.hasOwn(recipeEnv.environment, k)),
  );
  const embeddedEnv: ImageConfig = {
    ...buildEnv,
    environment: Object.fromEntries(
      Object.entries(buildEnv.environment).filter(([k]) => !fromEnvFile.has(k)),
    ),
  };

  const mainPackage: CompiledPackage = defined({
    name: pkg.name,
    main: true,
    description: pkg.description,
    url: pkg.url,
    commit: pkg.commit,
    dependencies: pkg.dependencies,
    options: { ...pkg.options },
    scriptlets: pkg.scriptlets,
    checks: pkg.checks,
    setcap: pkg.setcap,
    pipeline: [],
    test: mainTest?.compiled,
  });

  const embedded: Recipe = defined({
    package: pkg,
    environment: embeddedEnv,
    capabilities: {
      ...recipe.capabilities,
      add: [...recipe.capabilities.add],
      drop: [...recipe.capabilities.drop],
    },
    pipeline: mainSteps.map((s) => s.rendered),
    subpackages: subs.map((s) => s.rendered),
    data: [],
    vars,
    'var-transforms': recipe['var-transforms'].map((t) => ({ ...t })),
    options: structuredClone(recipe.options),
    update: recipe.update === undefined ? undefined : structuredClone(recipe.update),
    test: mainTest?.rendered,
  });

  return defined({
    recipe: embedded,
    arch,
    package: pkg,
    environment: buildEnv,
    pipeline: mainSteps.map((s) => s.compiled),
    packages: [mainPackage, ...subs.map((s) => s.compiled)],
    test: mainTest?.compiled,
    vars,
  });
}
