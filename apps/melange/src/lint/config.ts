/**
 * Recipe-level lint (`tk melange lint recipe.yaml`): checks on the YAML itself, before anything is built.
 * melange has no merged equivalent (a `lint-config` command is open as PR #2075), so the names are tk's,
 * prefixed `config/`:
 *
 * | linter | default | checks |
 * |---|---|---|
 * | `config/schema` | require | the recipe parses and validates (unknown keys, wrong types, bad names…) |
 * | `config/version` | require | `package.version` is a valid apk version |
 * | `config/license` | require | `package.copyright` gives a licence (every entry has a `license`) |
 * | `config/empty` | require | every package has a pipeline, or sets `options.no-provides`, or has runtime dependencies (a meta-package) |
 * | `config/pipeline` | require | every `uses:` names a pipeline that exists, `with:` keys are its inputs, required inputs are given |
 * | `config/compile` | require | the recipe compiles (variables defined, conditions parse…) for its first target arch |
 * | `config/checks` | warn | `checks.disabled`/`checks.enabled` name known linters |
 *
 * `--lint-require`, `--lint-warn` and `--disable` override these levels for the names they list; the main
 * package's `checks.disabled` lowers a required one to warn.
 */
import { readFile } from 'node:fs/promises';
import { silentLogger, type Logger } from '@tk/core';
import { parseDocument } from 'yaml';
import { MelangeError } from '../errors.ts';
import { compileRecipe } from '../recipe/compile.ts';
import { formatRecipeIssue, loadRecipe, parseRecipe, type RecipeIssue } from '../recipe/load.ts';
import { createPipelineLoader } from '../recipe/pipelines.ts';
import type { PipelineStep, Recipe } from '../recipe/types.ts';
import { linterByName } from './linters.ts';
import type { LintSelection } from './run.ts';
import type { LintFinding, LintLevel, PackageLintResult } from './types.ts';

/** A recipe-level linter's name, default level and explanation. */
export interface ConfigLinter {
  name: string;
  defaultLevel: LintLevel;
  explain: string;
}

/** The recipe-level linters. */
export const CONFIG_LINTERS: readonly ConfigLinter[] = [
  {
    name: 'config/checks',
    defaultLevel: 'warn',
    explain: 'checks.disabled and checks.enabled take linter names (tk melange lint --help lists them)',
  },
  {
    name: 'config/compile',
    defaultLevel: 'require',
    explain: 'fix the recipe so that tk melange compile succeeds for this arch',
  },
  {
    name: 'config/empty',
    defaultLevel: 'require',
    explain:
      'give the package a pipeline, or set options.no-provides: true if it is a meta-package meant to be empty',
  },
  {
    name: 'config/license',
    defaultLevel: 'require',
    explain: 'declare the licence under package.copyright, e.g. "- license: Apache-2.0" (an SPDX expression)',
  },
  {
    name: 'config/pipeline',
    defaultLevel: 'require',
    explain:
      'check the spelling of uses: and with:, or pass the folder of custom pipelines with --pipeline-dir',
  },
  {
    name: 'config/schema',
    defaultLevel: 'require',
    explain: 'fix the listed problems; apps/melange/schema/melange.schema.json describes every key',
  },
  {
    name: 'config/version',
    defaultLevel: 'require',
    explain:
      'use a valid apk version (1.2.3, 1.2.3_rc1, 2.0a, 1.0_p20240101) without "-rN"; the release number goes in package.epoch',
  },
];

/** Names of the recipe-level linters. */
export const CONFIG_LINTER_NAMES: readonly string[] = CONFIG_LINTERS.map((l) => l.name);

/** Options of {@link lintRecipeFile}. */
export interface LintRecipeOptions extends LintSelection {
  /** `--pipeline-dir` folders (custom pipelines such as Wolfi's `test/tw/*`). */
  pipelineDirs?: string[];
  /** The system pipeline folder (default `/usr/share/melange/pipelines`; `null` to skip it). */
  systemPipelineDir?: string | null;
  /** tk's built-in pipeline folder (default: the package's `pipelines/`). */
  builtinPipelineDir?: string;
  logger?: Logger;
}

function levelOf(
  name: string,
  selection: LintSelection,
  lowered: readonly string[],
): 'require' | 'warn' | 'off' {
  if (selection.disable?.includes(name) === true) return 'off';
  let level: LintLevel = CONFIG_LINTERS.find((l) => l.name === name)?.defaultLevel ?? 'off';
  if (selection.warn?.includes(name) === true) level = 'warn';
  if (selection.require?.includes(name) === true) level = 'require';
  if (level === 'require' && lowered.includes(name)) level = 'warn';
  return level;
}

interface Draft {
  linter: string;
  message: string;
  lines?: string[];
  details?: unknown;
}

function issueDrafts(issues: readonly RecipeIssue[]): Draft[] {
  const version = issues.filter((i) => i.path === 'package.version');
  const other = issues.filter((i) => i.path !== 'package.version');
  const out: Draft[] = [];
  for (const i of version) {
    out.push({
      linter: 'config/version',
      message: formatRecipeIssue(i),
      details: { issues: [formatRecipeIssue(i)] },
    });
  }
  if (other.length > 0) {
    const lines = other.map(formatRecipeIssue);
    out.push({
      linter: 'config/schema',
      message: `${other.length} ${other.length === 1 ? 'problem' : 'problems'} in the recipe`,
      lines,
      details: { issues: lines },
    });
  }
  return out;
}

/** Parse again with the version replaced, so that the other checks still run on a recipe with a bad version. */
function withPlaceholderVersion(text: string, file: string): Recipe | undefined {
  try {
    const doc = parseDocument(text, { uniqueKeys: false });
    if (doc.errors.length > 0) return undefined;
    doc.setIn(['package', 'version'], '0');
    return parseRecipe(doc.toString(), { source: file });
  } catch {
    return undefined;
  }
}

function licenseDrafts(recipe: Recipe): Draft[] {
  const name = recipe.package.name;
  if (recipe.package.copyright.length === 0)
    return [
      {
        linter: 'config/license',
        message: `${name} declares no licence: package.copyright is missing or empty`,
      },
    ];
  const unlicensed = recipe.package.copyright
    .map((c, i) => ({ c, i }))
    .filter(({ c }) => (c.license ?? '').trim() === '')
    .map(({ i }) => `package.copyright[${i}]`);
  if (unlicensed.length === 0) return [];
  return [
    {
      linter: 'config/license',
      message: `${name}: ${unlicensed.join(', ')} ${unlicensed.length === 1 ? 'has' : 'have'} no license`,
      details: { paths: unlicensed },
    },
  ];
}

function emptyDrafts(recipe: Recipe): Draft[] {
  // A package with runtime dependencies and no files is a meta-package (Wolfi's py3-supported-*): not empty.
  const isEmpty = (
    pipeline: readonly PipelineStep[],
    options: Recipe['package']['options'],
    runtime: readonly string[],
  ) => pipeline.length === 0 && !options['no-provides'] && runtime.length === 0;
  const empty: string[] = [];
  const main = recipe.package;
  if (isEmpty(recipe.pipeline, main.options, main.dependencies.runtime)) empty.push(main.name);
  for (const s of recipe.subpackages) {
    if (isEmpty(s.pipeline, s.options, s.dependencies.runtime)) empty.push(s.name);
  }
  if (empty.length === 0) return [];
  return [
    {
      linter: 'config/empty',
      message: `${empty.join(', ')}: no pipeline and no options.no-provides, so ${empty.length === 1 ? 'the package would be' : 'the packages would be'} empty`,
      details: { packages: empty },
    },
  ];
}

function checksDrafts(recipe: Recipe): Draft[] {
  const unknown: string[] = [];
  const look = (owner: string, checks: { disabled: string[]; enabled: string[] }): void => {
    for (const [key, names] of [
      ['disabled', checks.disabled],
      ['enabled', checks.enabled],
    ] as const) {
      for (const n of names) {
        if (linterByName(n) === undefined && !CONFIG_LINTER_NAMES.includes(n))
          unknown.push(`${owner}.checks.${key}: ${n}`);
      }
    }
  };
  look('package', recipe.package.checks);
  recipe.subpackages.forEach((s, i) => look(`subpackages[${i}]`, s.checks));
  if (unknown.length === 0) return [];
  return [
    {
      linter: 'config/checks',
      message: `${unknown.length} unknown linter ${unknown.length === 1 ? 'name' : 'names'} in checks`,
      lines: unknown,
      details: { issues: unknown },
    },
  ];
}

/** Every step of the recipe with where it is, nested steps included. */
function* stepsOf(recipe: Recipe): Generator<{ step: PipelineStep; where: string }> {
  function* walk(
    steps: readonly PipelineStep[],
    where: string,
    depth: number,
  ): Generator<{ step: PipelineStep; where: string }> {
    if (depth > 32) return;
    for (const [i, step] of steps.entries()) {
      yield { step, where: `${where}[${i}]` };
      yield* walk(step.pipeline, `${where}[${i}].pipeline`, depth + 1);
    }
  }
  yield* walk(recipe.pipeline, 'pipeline', 0);
  yield* walk(recipe.test?.pipeline ?? [], 'test.pipeline', 0);
  for (const [i, s] of recipe.subpackages.entries()) {
    yield* walk(s.pipeline, `subpackages[${i}].pipeline`, 0);
    yield* walk(s.test?.pipeline ?? [], `subpackages[${i}].test.pipeline`, 0);
  }
}

async function pipelineDrafts(recipe: Recipe, options: LintRecipeOptions): Promise<Draft[]> {
  const load = createPipelineLoader({
    ...(options.pipelineDirs === undefined ? {} : { pipelineDirs: options.pipelineDirs }),
    ...(options.systemPipelineDir === undefined ? {} : { systemDir: options.systemPipelineDir }),
    ...(options.builtinPipelineDir === undefined ? {} : { builtinDir: options.builtinPipelineDir }),
  });
  const problems: string[] = [];
  for (const { step, where } of stepsOf(recipe)) {
    if (step.uses === undefined) continue;
    const label = `${where} (uses: ${step.uses})`;
    let def;
    try {
      def = await load(step.uses);
    } catch (error) {
      if (!(error instanceof MelangeError)) throw error;
      problems.push(
        error.code === 'MELANGE_PIPELINE_NOT_FOUND'
          ? `${label}: no such pipeline`
          : `${label}: ${error.message.split('\n')[0]!}`,
      );
      continue;
    }
    for (const key of Object.keys(step.with)) {
      if (!Object.hasOwn(def.inputs, key)) {
        const known = Object.keys(def.inputs).sort();
        problems.push(
          `${label}: with.${key} is not an input (inputs: ${known.length > 0 ? known.join(', ') : 'none'})`,
        );
      }
    }
    for (const [key, input] of Object.entries(def.inputs)) {
      if (input.required && (input.default ?? '') === '' && (step.with[key] ?? '') === '')
        problems.push(`${label}: the required input ${key} is not given`);
    }
  }
  if (problems.length === 0) return [];
  return [
    {
      linter: 'config/pipeline',
      message: `${problems.length} pipeline ${problems.length === 1 ? 'problem' : 'problems'}`,
      lines: problems,
      details: { issues: problems },
    },
  ];
}

async function compileDrafts(recipe: Recipe, file: string, options: LintRecipeOptions): Promise<Draft[]> {
  const targets = recipe.package['target-architecture'].filter((a) => a !== 'all');
  const arch = targets[0] ?? 'x86_64';
  try {
    await compileRecipe(recipe, {
      arch,
      source: file,
      ...(options.pipelineDirs === undefined ? {} : { pipelineDirs: options.pipelineDirs }),
      ...(options.systemPipelineDir === undefined ? {} : { systemPipelineDir: options.systemPipelineDir }),
      ...(options.builtinPipelineDir === undefined ? {} : { builtinPipelineDir: options.builtinPipelineDir }),
    });
    return [];
  } catch (error) {
    if (!(error instanceof MelangeError)) throw error;
    const [first = '', ...rest] = error.message.split('\n');
    return [
      {
        linter: 'config/compile',
        message: `does not compile for ${arch}: [${error.code}] ${first}`,
        ...(rest.length > 0 ? { lines: rest } : {}),
        details: { arch, code: error.code, ...(error.hint === undefined ? {} : { hint: error.hint }) },
      },
    ];
  }
}

/**
 * Lint a recipe file.
 *
 * @param path - the recipe
 * @param options - levels, pipeline folders, logger
 * @returns the findings, named after the recipe's package (`name-version-rEPOCH`)
 * @throws {MelangeError} MELANGE_RECIPE_NOT_FOUND, MELANGE_RECIPE_READ_FAILED, MELANGE_RECIPE_TOO_LARGE (the
 *   file cannot be linted at all); problems in the recipe are findings, not errors
 * @example
 * const result = await lintRecipeFile('zstd.yaml', { pipelineDirs: ['./pipelines'] });
 */
export async function lintRecipeFile(
  path: string,
  options: LintRecipeOptions = {},
): Promise<PackageLintResult> {
  const logger = options.logger ?? silentLogger;
  const drafts: Draft[] = [];
  let recipe: Recipe | undefined;
  let versionValid = true;
  try {
    recipe = (await loadRecipe(path, { logger })).recipe;
  } catch (error) {
    if (!(error instanceof MelangeError)) throw error;
    const issues = (error.data?.['issues'] as RecipeIssue[] | undefined) ?? [];
    if (
      !['MELANGE_RECIPE_INVALID', 'MELANGE_RECIPE_UNSUPPORTED', 'MELANGE_RECIPE_YAML_SYNTAX'].includes(
        error.code,
      )
    )
      throw error;
    drafts.push(
      ...(issues.length > 0
        ? issueDrafts(issues)
        : [{ linter: 'config/schema', message: error.message.split('\n')[0]! }]),
    );
    if (issues.length > 0 && issues.every((i) => i.path === 'package.version')) {
      versionValid = false;
      recipe = withPlaceholderVersion(await readFile(path, 'utf8'), path);
    }
  }
  let name = '';
  let fullName = path;
  if (recipe !== undefined) {
    drafts.push(...licenseDrafts(recipe), ...emptyDrafts(recipe), ...checksDrafts(recipe));
    const pipeline = await pipelineDrafts(recipe, options);
    drafts.push(...pipeline);
    if (versionValid && pipeline.length === 0) drafts.push(...(await compileDrafts(recipe, path, options)));
    name = recipe.package.name;
    fullName = versionValid ? `${name}-${recipe.package.version}-r${recipe.package.epoch}` : name;
  }
  const lowered = recipe?.package.checks.disabled ?? [];
  const findings: LintFinding[] = [];
  for (const d of drafts) {
    const level = levelOf(d.linter, options, lowered);
    if (level === 'off') continue;
    findings.push({
      linter: d.linter,
      level,
      message: d.message,
      ...(d.lines === undefined || d.lines.length === 0 ? {} : { lines: d.lines }),
      explain: CONFIG_LINTERS.find((l) => l.name === d.linter)!.explain,
      ...(d.details === undefined ? {} : { details: d.details }),
    });
  }
  return {
    package: name,
    fullName,
    file: path,
    findings,
    failed: findings.filter((f) => f.level === 'require').map((f) => f.linter),
  };
}
