/**
 * Small inputs of a build: `--env-file` (dotenv), `--vars-file` (a YAML map), the build time
 * (SOURCE_DATE_EPOCH, `--build-date`, the recipe's git commit time) and the recipe's git commit.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Logger } from '@tk/core';
import { MelangeError } from '../errors.ts';

/** Largest env or vars file read (they are a few lines). */
const MAX_VARS_FILE_BYTES = 1024 * 1024;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function badFile(file: string, line: number, message: string): MelangeError {
  return new MelangeError('MELANGE_BAD_VARS_FILE', `${file}:${line}: ${message}`, {
    hint: 'each line is NAME=value, optionally prefixed with `export`; # starts a comment',
    data: { file, line },
  });
}

/**
 * Parse dotenv text as melange's godotenv does: `NAME=value` or `export NAME=value`, `#` comments, values in
 * single quotes (literal) or double quotes (with `\n`, `\"`, `\\` escapes), unquoted values trimmed and cut
 * at ` #`.
 *
 * @param text - the file's content
 * @param file - its name, for messages
 * @returns the variables in file order (later lines win)
 * @throws {MelangeError} MELANGE_BAD_VARS_FILE for a malformed line
 */
export function parseDotenv(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const body = line.replace(/^export\s+/, '');
    const eq = body.indexOf('=');
    if (eq <= 0) throw badFile(file, i + 1, `expected NAME=value, got ${JSON.stringify(raw.slice(0, 80))}`);
    const name = body.slice(0, eq).trim();
    if (!ENV_NAME.test(name)) throw badFile(file, i + 1, `invalid variable name ${JSON.stringify(name)}`);
    let value = body.slice(eq + 1).trim();
    if (value.startsWith("'")) {
      const end = value.indexOf("'", 1);
      if (end < 0) throw badFile(file, i + 1, 'unterminated single quote');
      value = value.slice(1, end);
    } else if (value.startsWith('"')) {
      let out2 = '';
      let j = 1;
      for (; j < value.length && value[j] !== '"'; j++) {
        if (value[j] === '\\' && j + 1 < value.length) {
          const next = value[++j]!;
          out2 += next === 'n' ? '\n' : next === 't' ? '\t' : next;
        } else out2 += value[j];
      }
      if (j >= value.length) throw badFile(file, i + 1, 'unterminated double quote');
      value = out2;
    } else {
      const hash = value.search(/\s#/);
      if (hash >= 0) value = value.slice(0, hash).trim();
    }
    if (name === '__proto__') continue;
    out[name] = value;
  }
  return out;
}

async function readSmall(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new MelangeError('MELANGE_BAD_VARS_FILE', `cannot read ${file}: ${(error as Error).message}`, {
      hint: 'check the path given to --env-file / --vars-file',
      cause: error,
      data: { file },
    });
  }
  if (bytes.length > MAX_VARS_FILE_BYTES)
    throw badFile(file, 0, `${bytes.length} bytes is over the 1 MiB limit`);
  return bytes.toString('utf8');
}

/**
 * Read `--env-file` files in order; later files win.
 *
 * @param files - dotenv files
 * @returns the merged variables
 */
export async function readEnvFiles(files: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const file of files) Object.assign(out, parseDotenv(await readSmall(file), file));
  return out;
}

/**
 * Read a `--vars-file`: a YAML map of strings (scalars are taken by their text).
 *
 * @param file - the file
 * @returns the variables
 */
export async function readVarsFile(file: string): Promise<Record<string, string>> {
  let value: unknown;
  try {
    value = parseYaml(await readSmall(file), { maxAliasCount: 100 });
  } catch (error) {
    if (error instanceof MelangeError) throw error;
    throw badFile(file, 0, `not valid YAML: ${(error as Error).message}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw badFile(file, 0, 'expected a mapping of names to values');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v === 'object' && v !== null) throw badFile(file, 0, `value of ${k} is not a scalar`);
    if (k !== '__proto__') out[k] = v === null ? '' : String(v as string | number | boolean);
  }
  return out;
}

/** The recipe's git repository state, when it is in one. */
export interface GitInfo {
  commit?: string;
  /** Commit time, Unix seconds. */
  time?: number;
  /** The recipe's path relative to the repository's top folder. */
  path?: string;
}

function git(args: string[]): Promise<string | undefined> {
  return new Promise((done) => {
    execFile(
      'git',
      args,
      { timeout: 10_000, env: { PATH: '/usr/bin:/bin', GIT_CONFIG_NOSYSTEM: '1', HOME: '/nonexistent' } },
      (error, stdout) => done(error === null ? stdout : undefined),
    );
  });
}

/**
 * The commit and commit time of the last change of the recipe's repository (HEAD), via `git`.
 *
 * @param recipePath - the recipe file
 * @returns what git reports, or `{}` outside a repository or without git
 */
export async function gitInfo(recipePath: string): Promise<GitInfo> {
  const dir = dirname(recipePath);
  const log = await git(['-C', dir, 'log', '-1', '--format=%H %ct']);
  const m = /^([0-9a-f]{40}) ([0-9]+)\s*$/.exec(log ?? '');
  if (m === null) return {};
  const prefix = (await git(['-C', dir, 'rev-parse', '--show-prefix']))?.trim();
  return {
    commit: m[1]!,
    time: Number(m[2]),
    ...(prefix === undefined ? {} : { path: `${prefix}${basename(recipePath)}` }),
  };
}

/**
 * The build time: SOURCE_DATE_EPOCH (an empty value is ignored with a warning, as melange does), else
 * `--build-date`, else the recipe's commit time, else 0.
 *
 * @param env - the process environment
 * @param buildDate - `--build-date` (RFC 3339)
 * @param commitTime - the recipe's commit time
 * @param logger - for the empty-variable warning
 * @returns Unix seconds
 * @throws {MelangeError} MELANGE_BAD_BUILD_DATE
 */
export function sourceDateEpoch(
  env: Readonly<Record<string, string | undefined>>,
  buildDate: string | undefined,
  commitTime: number | undefined,
  logger: Logger,
): number {
  const raw = env['SOURCE_DATE_EPOCH'];
  if (raw !== undefined && raw.trim() === '') {
    logger.warn('SOURCE_DATE_EPOCH is set but empty; ignoring it', 'MELANGE_EMPTY_SOURCE_DATE_EPOCH');
  } else if (raw !== undefined) {
    if (!/^[0-9]{1,12}$/.test(raw.trim()))
      throw new MelangeError(
        'MELANGE_BAD_BUILD_DATE',
        `SOURCE_DATE_EPOCH=${JSON.stringify(raw)} is not a number of seconds`,
        {
          hint: 'export SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)',
        },
      );
    return Number(raw.trim());
  }
  if (buildDate !== undefined) {
    const ms = Date.parse(buildDate);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(buildDate) || Number.isNaN(ms) || ms < 0)
      throw new MelangeError(
        'MELANGE_BAD_BUILD_DATE',
        `--build-date ${JSON.stringify(buildDate)} is not an RFC 3339 time`,
        {
          hint: 'for example --build-date 2024-01-01T00:00:00Z',
        },
      );
    return Math.floor(ms / 1000);
  }
  return commitTime ?? 0;
}

/** Variable names a `--secret` may set (shell-safe, not tk's own). */
const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Read `--secret NAME=FILE` values: each file's content, one trailing newline removed.
 *
 * @param specs - `NAME=FILE` strings
 * @returns the variables
 * @throws {MelangeError} MELANGE_BAD_VARS_FILE for a malformed spec or an unreadable file
 */
export async function readSecrets(specs: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const name = eq < 0 ? '' : spec.slice(0, eq);
    if (!SECRET_NAME.test(name) || eq === spec.length - 1) {
      throw new MelangeError('MELANGE_BAD_VARS_FILE', `--secret ${JSON.stringify(spec)} is not NAME=FILE`, {
        hint: 'for example --secret NPM_TOKEN=./npm-token.txt',
      });
    }
    out[name] = (await readSmall(spec.slice(eq + 1))).replace(/\r?\n$/, '');
  }
  return out;
}

/** Values shorter than this are not redacted (they would blank out ordinary words like `true`). */
export const MIN_REDACTED_LENGTH = 4;

/**
 * A function that replaces every occurrence of the given values with `***`.
 *
 * @param values - secret values
 * @returns the redactor (identity when there is nothing to hide)
 */
export function redactor(values: Iterable<string>): (text: string) => string {
  const hidden = [...new Set([...values].filter((v) => v.length >= MIN_REDACTED_LENGTH))].sort(
    (a, b) => b.length - a.length,
  );
  if (hidden.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const value of hidden) out = out.split(value).join('***');
    return out;
  };
}
