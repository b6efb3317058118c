/**
 * Finding `uses: NAME` pipeline definitions (melange.md §2; melange `pkg/build/compile.go` `readUses`,
 * `pkg/build/usescache.go`). The file is `<dir>/<NAME>.yaml`, looked up in each `--pipeline-dir` in order, then
 * `/usr/share/melange/pipelines`, then tk's built-in folder `apps/melange/pipelines/`.
 *
 * NAME must be relative and must not contain `..` (as in melange), so a recipe cannot read YAML from
 * anywhere else on the machine; tk also refuses empty names, backslashes and NUL bytes.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MelangeError } from '../errors.ts';
import type { PipelineDefinition } from './types.ts';
import { parsePipelineDefinition } from './load.ts';

/** Loads one pipeline definition by its `uses` name. */
export type PipelineLoader = (name: string) => Promise<PipelineDefinition>;

/** melange's system-wide pipeline folder. */
export const SYSTEM_PIPELINE_DIR = '/usr/share/melange/pipelines';

/** Longest accepted `uses` name. */
const MAX_NAME_LENGTH = 255;

/**
 * tk's built-in pipelines (`apps/melange/pipelines/`), found relative to this module so that it works from
 * both `src/recipe/` and `dist/recipe/`.
 *
 * @returns an absolute folder path
 */
export function builtinPipelineDir(): string {
  return fileURLToPath(new URL('../../pipelines/', import.meta.url));
}

/**
 * Check a `uses` name.
 *
 * @param name - the name as written (`autoconf/make`)
 * @param where - context for messages
 * @throws {MelangeError} MELANGE_BAD_PIPELINE_NAME when the name is empty, absolute, contains `..`, a backslash
 *   or a NUL byte, or is too long
 */
export function validatePipelineName(name: string, where = 'uses'): void {
  let why: string | undefined;
  if (name === '') why = 'is empty';
  else if (name.startsWith('/')) why = 'is absolute';
  else if (name.includes('..')) why = 'contains ".."';
  else if (name.includes('\\') || name.includes('\0')) why = 'contains a backslash or a NUL byte';
  else if (name.length > MAX_NAME_LENGTH) why = `is longer than ${MAX_NAME_LENGTH} characters`;
  if (why !== undefined) {
    throw new MelangeError(
      'MELANGE_BAD_PIPELINE_NAME',
      `${where}: pipeline name ${JSON.stringify(name.slice(0, 80))} ${why}`,
      {
        hint: 'name a pipeline by its relative path without ".yaml", such as "autoconf/make" or "split/dev"',
        data: { where, name },
      },
    );
  }
}

/** How to look definitions up. */
export interface PipelineLoaderOptions {
  /** `--pipeline-dir` folders, searched first, in order. */
  pipelineDirs?: readonly string[];
  /** The system folder (default `/usr/share/melange/pipelines`; `null` to skip it, e.g. in tests). */
  systemDir?: string | null;
  /** The built-in folder (default {@link builtinPipelineDir}). */
  builtinDir?: string;
  /** Reads a file as UTF-8, or returns `undefined` when it does not exist (default: node:fs). */
  readText?: (path: string) => Promise<string | undefined>;
  /** Parses a definition (default: `parsePipelineDefinition` from `load.ts`). */
  parse?: (text: string, file: string) => PipelineDefinition;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw error;
  }
}

/**
 * The folders searched for `uses`, in order.
 *
 * @param options - loader options
 * @returns absolute or as-given folder paths
 */
export function pipelineSearchPath(options: PipelineLoaderOptions = {}): string[] {
  const dirs = [...(options.pipelineDirs ?? [])];
  const system = options.systemDir === undefined ? SYSTEM_PIPELINE_DIR : options.systemDir;
  if (system !== null) dirs.push(system);
  dirs.push(options.builtinDir ?? builtinPipelineDir());
  return dirs;
}

/**
 * A loader that searches the pipeline folders and caches each parsed definition (one loader per compile).
 *
 * @param options - folders, and injectable file reading and parsing
 * @returns the loader
 * @example
 * const load = createPipelineLoader({ pipelineDirs: ['./pipelines'] });
 * const def = await load('autoconf/make');
 */
export function createPipelineLoader(options: PipelineLoaderOptions = {}): PipelineLoader {
  const dirs = pipelineSearchPath(options);
  const read = options.readText ?? readIfExists;
  const parse = options.parse ?? parsePipelineDefinition;
  const load: PipelineLoader = async (name) => {
    validatePipelineName(name);
    for (const dir of dirs) {
      const file = join(dir, `${name}.yaml`);
      const text = await read(file);
      if (text !== undefined) return parse(text, file);
    }
    throw new MelangeError(
      'MELANGE_PIPELINE_NOT_FOUND',
      `pipeline "${name}" not found: looked for ${dirs.map((d) => join(d, `${name}.yaml`)).join(', ')}`,
      {
        hint: 'check the spelling of "uses:", or pass the folder that holds it with --pipeline-dir',
        data: { name, searched: dirs },
      },
    );
  };
  return cachePipelineLoader(load);
}

/**
 * Wrap a loader so that each name is loaded (and parsed) once; failures are not cached.
 *
 * @param load - the underlying loader
 * @returns a caching loader that also validates names
 */
export function cachePipelineLoader(load: PipelineLoader): PipelineLoader {
  const cache = new Map<string, Promise<PipelineDefinition>>();
  return async (name) => {
    validatePipelineName(name);
    let hit = cache.get(name);
    if (hit === undefined) {
      hit = load(name);
      cache.set(name, hit);
      hit.catch(() => cache.delete(name));
    }
    return hit;
  };
}
