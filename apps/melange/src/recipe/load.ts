/**
 * Reading melange recipes and pipeline definitions: bounded file reads, UTF-8, YAML with positions (read as
 * melange's yaml.v3 decoder reads scalars: `version: 5.0` is the text "5.0"), the zod schema, then the
 * semantic checks. Every problem is collected and thrown as one {@link MelangeError} whose message lists
 * `file:line:column: path: message` lines and whose `data.issues` holds them as {@link RecipeIssue}s.
 */
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ConfigError,
  describeValue,
  issueReporter,
  readYaml,
  reportZodIssues,
  sortIssues,
  type ConfigIssue,
  type Reporter,
  type YamlDocument,
  zodGuide,
} from '@tk/apko';
import { silentLogger, type Logger } from '@tk/core';
import type { z } from 'zod';
import { MelangeError, type MelangeErrorCode } from '../errors.ts';
import {
  checkPipelineDefinitionSemantics,
  checkRecipeSemantics,
  pipelineDefinitionSchema,
  recipeSchema,
} from './schema.ts';
import type { PipelineDefinition, Recipe } from './types.ts';

/** Largest recipe or pipeline definition read: 1 MiB (as for apko configurations). */
export const MAX_RECIPE_BYTES = 1024 * 1024;

/** The file names melange tries, in order, when no recipe is named (melange `pkg/build/build.go`). */
export const DEFAULT_RECIPE_NAMES = ['.melange.yaml', '.melange.yml', 'melange.yaml', 'melange.yml'] as const;

/**
 * One problem in a recipe or pipeline definition. `line`/`column` are 1-based (0 when not tied to a place).
 * The same shape as `@tk/apko`'s `ConfigIssue`, with melange codes.
 */
export interface RecipeIssue {
  /** Dotted path of the offending value, e.g. `subpackages[1].pipeline[0].with` (`''` for the document). */
  path: string;
  /** What is wrong, with the offending value. */
  message: string;
  /** The file as given to the loader (or the `source` given to the parser). */
  file: string;
  line: number;
  column: number;
  /** What the user can do about it, when there is something specific to say. */
  hint?: string;
  code: MelangeErrorCode;
}

/** Options of {@link parseRecipe}. */
export interface ParseRecipeOptions {
  /** File name used in issues (default `melange.yaml`). */
  source?: string;
  /** Receives warnings about keys that have no effect (default: silent). */
  logger?: Logger;
}

/** Options of {@link loadRecipe}. */
export interface LoadRecipeOptions {
  /** Receives warnings about keys that have no effect (default: silent). */
  logger?: Logger;
}

/** The result of {@link loadRecipe}. */
export interface LoadedRecipe {
  recipe: Recipe;
  /** The file's bytes, as read (for the embedded configuration and checksums). */
  bytes: Uint8Array;
  /** The path as given. */
  path: string;
}

type Kind = 'recipe' | 'pipeline';

const KIND_TEXT: Record<Kind, { noun: string; invalid: MelangeErrorCode; example: string }> = {
  recipe: {
    noun: 'melange recipe',
    invalid: 'MELANGE_RECIPE_INVALID',
    example: 'a recipe is a few kilobytes of plain YAML; check that this is the right file',
  },
  pipeline: {
    noun: 'pipeline definition',
    invalid: 'MELANGE_PIPELINE_INVALID',
    example: 'a pipeline definition is a few kilobytes of plain YAML; check that this is the right file',
  },
};

function tooLarge(file: string, size: number, kind: Kind): MelangeError {
  return new MelangeError(
    'MELANGE_RECIPE_TOO_LARGE',
    `${file}: ${size} bytes is over the ${MAX_RECIPE_BYTES}-byte limit for a ${KIND_TEXT[kind].noun}`,
    { hint: KIND_TEXT[kind].example, data: { file } },
  );
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function decode(text: string | Uint8Array, file: string, kind: Kind): string {
  if (typeof text === 'string') {
    // Measured in UTF-8 bytes, as the file would be.
    const size = Buffer.byteLength(text, 'utf8');
    if (size > MAX_RECIPE_BYTES) throw tooLarge(file, size, kind);
    return text;
  }
  if (text.length > MAX_RECIPE_BYTES) throw tooLarge(file, text.length, kind);
  try {
    return decoder.decode(text);
  } catch (cause) {
    throw new MelangeError('MELANGE_RECIPE_YAML_SYNTAX', `${file}: the file is not valid UTF-8`, {
      hint: 'save the file as UTF-8',
      cause,
      data: { file, issues: [] },
    });
  }
}

function issueCode(code: ConfigIssue['code'], kind: Kind): MelangeErrorCode {
  switch (code) {
    case 'CONFIG_UNSUPPORTED':
      return 'MELANGE_RECIPE_UNSUPPORTED';
    case 'CONFIG_YAML_SYNTAX':
      return 'MELANGE_RECIPE_YAML_SYNTAX';
    default:
      return KIND_TEXT[kind].invalid;
  }
}

function toRecipeIssue(issue: ConfigIssue, kind: Kind): RecipeIssue {
  return {
    path: issue.path,
    message: issue.message,
    file: issue.file,
    line: issue.line,
    column: issue.column,
    ...(issue.hint === undefined ? {} : { hint: issue.hint }),
    code: issueCode(issue.code, kind),
  };
}

/**
 * Render one issue as `file:line:column: path: message (hint: …)`.
 *
 * @param issue - the issue
 * @returns one line of text
 */
export function formatRecipeIssue(issue: RecipeIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.column}: ` : `${issue.file}: `;
  const path = issue.path === '' ? '' : `${issue.path}: `;
  const hint = issue.hint === undefined ? '' : ` (hint: ${issue.hint})`;
  return `${where}${path}${issue.message}${hint}`;
}

function throwIssues(configIssues: readonly ConfigIssue[], file: string, kind: Kind): never {
  const issues = sortIssues(configIssues).map((i) => toRecipeIssue(i, kind));
  const first = issues[0]?.code ?? KIND_TEXT[kind].invalid;
  const code = issues.every((i) => i.code === first) ? first : KIND_TEXT[kind].invalid;
  const noun = issues.length === 1 ? 'problem' : 'problems';
  const lines = issues.map((i) => `  ${formatRecipeIssue(i)}`);
  const hint =
    code === 'MELANGE_RECIPE_UNSUPPORTED'
      ? 'remove the listed keys from the environment: tk does not implement them yet'
      : code === 'MELANGE_RECIPE_YAML_SYNTAX'
        ? 'fix the YAML at the positions shown'
        : 'fix the listed problems; apps/melange/schema/melange.schema.json describes every key';
  throw new MelangeError(
    code,
    `${file}: ${issues.length} ${noun} in the ${KIND_TEXT[kind].noun}:\n${lines.join('\n')}`,
    { hint, data: { file, issues } },
  );
}

/** readYaml's several-documents message speaks of apko; melange, too, would read only the first document. */
function inMelangeWords(message: string, kind: Kind): string {
  return message.replace(
    'a configuration is one document (apko would silently read only the first)',
    `a ${KIND_TEXT[kind].noun} is one document (melange would silently read only the first)`,
  );
}

/** readYaml with its ConfigErrors (syntax, several documents, limits) turned into MelangeErrors. */
function readDocument(text: string, file: string, schema: z.ZodType, kind: Kind): YamlDocument {
  try {
    return readYaml(text, file, zodGuide(schema));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    if (error.code === 'CONFIG_TOO_LARGE') {
      throw new MelangeError('MELANGE_RECIPE_TOO_LARGE', error.message, {
        hint: KIND_TEXT[kind].example,
        cause: error,
        data: { file },
      });
    }
    const issues = ((error.data?.issues as ConfigIssue[] | undefined) ?? []).map((i) =>
      toRecipeIssue({ ...i, message: inMelangeWords(i.message, kind) }, kind),
    );
    throw new MelangeError('MELANGE_RECIPE_YAML_SYNTAX', inMelangeWords(error.message, kind), {
      hint: error.hint ?? 'fix the YAML at the positions shown',
      cause: error,
      data: { file, issues },
    });
  }
}

/** Zod issues that the semantic checks already report with a position (see schema.ts). */
function reportedBySemantics(issue: z.core.$ZodIssue): boolean {
  return (
    issue.code === 'custom' &&
    (issue.params as { reportedBySemantics?: boolean } | undefined)?.reportedBySemantics === true
  );
}

function validate<T>(
  text: string | Uint8Array,
  file: string,
  kind: Kind,
  schema: z.ZodType<T>,
  semantics: (value: unknown, report: Reporter, logger: Logger) => void,
  logger: Logger,
): T | undefined {
  const doc = readDocument(decode(text, file, kind), file, schema, kind);
  const value = doc.value;
  const issues: ConfigIssue[] = [];
  const report = issueReporter(issues, doc.positions, file);
  const empty = doc.issues.find((i) => i.path === '' && i.message === 'the configuration is empty');
  if (empty !== undefined) {
    // readYaml's "the configuration is empty": melange skips an empty pipeline definition.
    if (kind === 'pipeline') return undefined;
    const hint = 'a recipe needs at least package.name and package.version';
    throwIssues([{ ...empty, message: 'the recipe is empty', hint }], file, kind);
  }
  issues.push(...doc.issues);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    report([], `the ${KIND_TEXT[kind].noun} must be a mapping of keys, got ${describeValue(value)}`, {
      hint:
        kind === 'recipe'
          ? 'start with package: (name:, version:, epoch:)'
          : 'start with name:, inputs: and pipeline:',
    });
    throwIssues(issues, file, kind);
  }
  semantics(value, report, logger);
  const result = schema.safeParse(value);
  if (!result.success) {
    reportZodIssues(
      result.error.issues.filter((i) => !reportedBySemantics(i)),
      schema,
      value,
      report,
    );
  }
  if (issues.length > 0 || !result.success) {
    if (issues.length === 0) report([], 'the value does not match the schema');
    throwIssues(issues, file, kind);
  }
  return result.data;
}

/**
 * Parse and validate a melange recipe given as text.
 *
 * @param text - YAML text or its UTF-8 bytes
 * @param options - the name to report issues under, a logger
 * @returns the validated recipe with defaults applied (before substitution)
 * @throws {MelangeError} MELANGE_RECIPE_INVALID / MELANGE_RECIPE_UNSUPPORTED with `data.issues` listing
 *   every problem; MELANGE_RECIPE_YAML_SYNTAX; MELANGE_RECIPE_TOO_LARGE
 * @example
 * const recipe = parseRecipe('package:\n  name: hello\n  version: 2.12\n', { source: 'hello.yaml' });
 * recipe.package.version; // '2.12'
 */
export function parseRecipe(text: string | Uint8Array, options: ParseRecipeOptions = {}): Recipe {
  const file = options.source ?? 'melange.yaml';
  const recipe = validate(
    text,
    file,
    'recipe',
    recipeSchema,
    checkRecipeSemantics,
    options.logger ?? silentLogger,
  );
  // validate returns undefined only for an empty pipeline definition.
  if (recipe === undefined) {
    throw new MelangeError('MELANGE_RECIPE_INVALID', `${file}: the recipe is empty`, {
      hint: 'a recipe needs at least package.name and package.version',
      data: { file, issues: [] },
    });
  }
  return recipe;
}

/**
 * Parse and validate a pipeline definition file (the target of `uses:`). An empty file is an empty
 * definition, as in melange.
 *
 * @param text - YAML text or its UTF-8 bytes
 * @param file - the file name, used in issues
 * @param options - a logger for warnings
 * @returns the definition, defaults applied (input defaults written as YAML booleans or numbers are text)
 * @throws {MelangeError} MELANGE_PIPELINE_INVALID with `data.issues`; MELANGE_RECIPE_YAML_SYNTAX;
 *   MELANGE_RECIPE_TOO_LARGE
 * @example
 * const def = parsePipelineDefinition(readFileSync(path), 'pipelines/autoconf/make.yaml');
 * def.inputs.dir?.default; // '.'
 */
export function parsePipelineDefinition(
  text: string | Uint8Array,
  file: string,
  options: { logger?: Logger } = {},
): PipelineDefinition {
  const definition = validate(
    text,
    file,
    'pipeline',
    pipelineDefinitionSchema,
    checkPipelineDefinitionSemantics,
    options.logger ?? silentLogger,
  );
  return definition ?? { needs: { packages: [] }, inputs: {}, pipeline: [] };
}

function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

async function readBounded(path: string): Promise<Uint8Array> {
  // Refuse directories, FIFOs and devices before opening: opening a FIFO would block, /dev/zero never ends.
  if (!(await stat(path)).isFile()) {
    throw new MelangeError('MELANGE_RECIPE_READ_FAILED', `recipe ${path} is not a regular file`, {
      hint: 'name the recipe file (a YAML file), not a directory or a device',
      data: { file: path },
    });
  }
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size > MAX_RECIPE_BYTES) throw tooLarge(path, size, 'recipe');
    // Read at most one byte past the limit, in case the file grows between stat and read.
    const buffer = new Uint8Array(Math.min(size, MAX_RECIPE_BYTES) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) break;
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

/**
 * Read, parse and validate a recipe file.
 *
 * @param path - the recipe file
 * @param options - a logger for warnings
 * @returns the recipe, the file's bytes and the path as given
 * @throws {MelangeError} MELANGE_RECIPE_NOT_FOUND, MELANGE_RECIPE_READ_FAILED, MELANGE_RECIPE_TOO_LARGE,
 *   MELANGE_RECIPE_YAML_SYNTAX, MELANGE_RECIPE_INVALID, MELANGE_RECIPE_UNSUPPORTED
 * @example
 * const { recipe } = await loadRecipe('hello.yaml');
 */
export async function loadRecipe(path: string, options: LoadRecipeOptions = {}): Promise<LoadedRecipe> {
  let bytes: Uint8Array;
  try {
    bytes = await readBounded(path);
  } catch (error) {
    if (error instanceof MelangeError) throw error;
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new MelangeError('MELANGE_RECIPE_NOT_FOUND', `recipe ${path} does not exist`, {
        hint: 'check the path, or run from the directory that holds the recipe',
        cause: error,
        data: { file: path },
      });
    }
    throw new MelangeError(
      'MELANGE_RECIPE_READ_FAILED',
      `cannot read recipe ${path}: ${(error as Error).message}`,
      {
        hint: 'check that the path names a readable file',
        cause: error,
        data: { file: path, errno: code },
      },
    );
  }
  const recipe = parseRecipe(bytes, {
    source: path,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  return { recipe, bytes, path };
}

/**
 * The recipe melange uses when none is named: the first of `.melange.yaml`, `.melange.yml`, `melange.yaml`,
 * `melange.yml` in `dir` that is a file.
 *
 * @param dir - the directory to look in (the caller's working directory)
 * @returns the path of the recipe (`dir` joined with the name)
 * @throws {MelangeError} MELANGE_RECIPE_NOT_FOUND when there is none
 */
export async function findDefaultRecipe(dir: string): Promise<string> {
  for (const name of DEFAULT_RECIPE_NAMES) {
    const path = join(dir, name);
    try {
      if ((await stat(path)).isFile()) return path;
    } catch (error) {
      const code = errnoCode(error);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') {
        throw new MelangeError(
          'MELANGE_RECIPE_READ_FAILED',
          `cannot look for ${path}: ${(error as Error).message}`,
          {
            hint: 'check the permissions of the directory',
            cause: error,
            data: { file: path, errno: code },
          },
        );
      }
    }
  }
  throw new MelangeError(
    'MELANGE_RECIPE_NOT_FOUND',
    `no recipe named on the command line, and none of ${DEFAULT_RECIPE_NAMES.join(', ')} is in ${dir}`,
    {
      hint: 'name the recipe file, e.g. tk melange build hello.yaml',
      data: { file: dir },
    },
  );
}
