/**
 * Loading an apko configuration: read the file (bounded), parse the YAML with positions, check it against
 * the schema, follow `include:` (cycles and depth bounded), merge as apko's MergeInto does, run the
 * semantic checks on the merged result, and apply defaults. Every problem of every file is collected and
 * thrown as one ConfigError.
 *
 * The schema check runs on the plain-data shape first (`shape.ts`); zod (`zod-check.ts`) is loaded only
 * when that check is not sure, and then gives the verdict and the messages. A configuration that
 * validates never loads zod.
 */
import { open } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import { silentLogger, type Logger } from '@tk/core';
import { parseArch, type Arch } from './arch.ts';
import { ConfigError, throwIssues, type ConfigIssue } from './errors.ts';
import { mergeConfigs, type PositionedValue } from './merge.ts';
import { formatRepositoryLine, parseRepositoryLine } from './repository.ts';
import type { ImageConfig, ParsedImageConfigFile, PathMutation } from './schema.ts';
import { IMAGE_CONFIG_SHAPE, parseShape, shapeGuide, UNSURE } from './shape.ts';
import { checkSemantics, issueReporter, type Reporter } from './validate.ts';
import { readYaml, type NodePosition } from './yaml.ts';

/** Largest configuration file read (each file of an include chain): 1 MiB. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Longest include chain (the top file plus 16 includes). */
export const MAX_INCLUDE_DEPTH = 16;

/** Options of {@link loadImageConfig}. */
export interface LoadImageConfigOptions {
  /**
   * Reads a file (default: node:fs, refusing files over the size limit before reading them). Must reject
   * with an error whose `code` is `ENOENT` for a missing file.
   */
  readFile?: (path: string) => Promise<Uint8Array>;
  /** Further directories searched for `include:` files, after the including file's directory. */
  includePaths?: readonly string[];
  /** Receives warnings about keys that have no effect. */
  logger?: Logger;
}

/** One file read while loading, in reading order (top file first), for the lock file's config checksum. */
export interface ConfigFile {
  path: string;
  bytes: Uint8Array;
}

/** The result of {@link loadImageConfig}. */
export interface LoadedImageConfig {
  config: ImageConfig;
  files: ConfigFile[];
}

/** @internal One configuration file, read. */
export interface FileDoc extends PositionedValue {
  file: string;
  issues: ConfigIssue[];
  include?: { path: string; pos: NodePosition | undefined };
  /** The shape check was not sure of the value: it still needs {@link SchemaCheck}. */
  unchecked: boolean;
}

/**
 * @internal zod's check of a value (`zod-check.ts`): its output, or undefined after reporting every issue.
 */
export type SchemaCheck = (value: unknown, report: Reporter) => ParsedImageConfigFile | undefined;

/** @internal Loads zod's check, only when a value needs it. */
export async function loadSchemaCheck(): Promise<SchemaCheck> {
  return (await import('./zod-check.ts')).checkWithZod;
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function decode(bytes: Uint8Array, file: string): string {
  if (bytes.length > MAX_CONFIG_BYTES) {
    throw new ConfigError(
      'CONFIG_TOO_LARGE',
      `${file}: ${bytes.length} bytes is over the ${MAX_CONFIG_BYTES}-byte limit for a configuration file`,
      { hint: 'an apko configuration is a few kilobytes; check that this is the right file', data: { file } },
    );
  }
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    throw new ConfigError('CONFIG_YAML_SYNTAX', `${file}: the file is not valid UTF-8`, {
      hint: 'save the file as UTF-8',
      cause,
      data: { file },
    });
  }
}

/** @internal Read one file; the schema check of its value is left to {@link checkDocument}. */
export function readDocument(bytes: Uint8Array, file: string): FileDoc {
  const text = decode(bytes, file);
  const doc = readYaml(text, file, shapeGuide(IMAGE_CONFIG_SHAPE));
  const issues = [...doc.issues];
  const report = issueReporter(issues, doc.positions, file);
  let value = doc.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    report([], 'the configuration must be a mapping of keys (contents:, entrypoint:, …)');
    value = {};
  }
  const include = (value as { include?: unknown }).include;
  return {
    file,
    value,
    positions: doc.positions,
    issues,
    unchecked: parseShape(IMAGE_CONFIG_SHAPE, value) === UNSURE,
    ...(typeof include === 'string' && include !== ''
      ? { include: { path: include, pos: doc.positions.get(['include']) } }
      : {}),
  };
}

/** @internal Run zod on a document the shape check was not sure of, adding its issues to the document's. */
export function checkDocument(doc: FileDoc, check: SchemaCheck): void {
  if (doc.unchecked) check(doc.value, issueReporter(doc.issues, doc.positions, doc.file));
}

/** `@tag  url/` → `@tag url`: apko trims trailing slashes; tk also normalises the blank between fields. */
function trimRepository(line: string): string {
  return formatRepositoryLine(parseRepositoryLine(line));
}

function defaultPermissions(p: ParsedImageConfigFile['paths'][number]): PathMutation {
  const out: PathMutation = { path: p.path, type: p.type };
  if (p.uid !== undefined) out.uid = p.uid;
  if (p.gid !== undefined) out.gid = p.gid;
  const permissions =
    p.permissions ?? (p.type === 'directory' ? 0o755 : p.type === 'empty-file' ? 0o644 : undefined);
  if (permissions !== undefined) out.permissions = permissions;
  if (p.source !== undefined) out.source = p.source;
  if (p.recursive !== undefined) out.recursive = p.recursive;
  return out;
}

/** Turn a validated zod output into tk's ImageConfig: apko's normalisations and tk's defaults. */
function finish(parsed: ParsedImageConfigFile): ImageConfig {
  const c = parsed.contents;
  const config: ImageConfig = {
    contents: {
      repositories: c.repositories.map(trimRepository),
      build_repositories: c.build_repositories.map(trimRepository),
      runtime_repositories: c.runtime_repositories.map(trimRepository),
      keyring: [...c.keyring],
      runtime_keyring: c.runtime_keyring.map((k) => ({ name: k.name, content: k.content })),
      packages: [...c.packages],
    },
    entrypoint: {},
    accounts: {
      users: parsed.accounts.users.map((u) => ({
        username: u.username,
        uid: u.uid,
        ...(u.gid === undefined ? {} : { gid: u.gid }),
        ...(u.shell === undefined ? {} : { shell: u.shell }),
        homedir: u.homedir === undefined || u.homedir === '' ? `/home/${u.username}` : u.homedir,
      })),
      groups: parsed.accounts.groups.map((g) => ({
        groupname: g.groupname,
        gid: g.gid,
        members: [...g.members],
      })),
    },
    environment: { ...parsed.environment },
    paths: parsed.paths.map(defaultPermissions),
    archs: parsed.archs.map((a) => parseArch(a)).filter((a): a is Arch => a !== undefined),
    annotations: { ...parsed.annotations },
    volumes: [...parsed.volumes],
    format: 'tar',
  };
  const e = parsed.entrypoint;
  if (e.type !== undefined) config.entrypoint.type = e.type;
  if (e.command !== undefined) config.entrypoint.command = e.command;
  if (e['shell-fragment'] !== undefined) config.entrypoint['shell-fragment'] = e['shell-fragment'];
  if (e.services !== undefined) config.entrypoint.services = { ...e.services };
  if (parsed.accounts['run-as'] !== undefined) config.accounts['run-as'] = parsed.accounts['run-as'];
  if (parsed.cmd !== undefined) config.cmd = parsed.cmd;
  if (parsed['work-dir'] !== undefined) config['work-dir'] = parsed['work-dir'];
  if (parsed['stop-signal'] !== undefined) config['stop-signal'] = parsed['stop-signal'];
  if (parsed.include !== undefined) config.include = parsed.include;
  if (parsed['vcs-url'] !== undefined) config['vcs-url'] = parsed['vcs-url'];
  if (parsed.certificates !== undefined) {
    config.certificates = {
      additional: parsed.certificates.additional.map((a) => ({ name: a.name, content: a.content })),
      providers: [...parsed.certificates.providers],
    };
  }
  return config;
}

/** @internal A merged value that passed the semantic checks but not the shape check: zod must judge it. */
export interface PendingConfig {
  value: unknown;
  issues: ConfigIssue[];
  report: Reporter;
  subject: string;
}

/**
 * @internal Check a merged value and turn it into an ImageConfig, or throw every issue found; or, when
 * the shape check is not sure of it, return it for {@link concludeWithZod}.
 */
export function conclude(
  merged: PositionedValue,
  fileIssues: ConfigIssue[],
  subject: string,
  logger: Logger,
): ImageConfig | PendingConfig {
  const issues = [...fileIssues];
  const report = issueReporter(issues, merged.positions, subject);
  checkSemantics(merged.value, report, logger);
  if (issues.length > 0) throwIssues(issues, subject);
  const parsed = parseShape(IMAGE_CONFIG_SHAPE, merged.value);
  if (parsed !== UNSURE) return finish(parsed as ParsedImageConfigFile);
  return { value: merged.value, issues, report, subject };
}

/** @internal zod's verdict on a value {@link conclude} was not sure of. */
export function concludeWithZod(pending: PendingConfig, check: SchemaCheck): ImageConfig {
  const data = check(pending.value, pending.report);
  if (data === undefined) throwIssues(pending.issues, pending.subject);
  return finish(data);
}

function isPending(result: ImageConfig | PendingConfig): result is PendingConfig {
  return 'report' in result;
}

async function defaultReadFile(path: string): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size > MAX_CONFIG_BYTES) {
      throw new ConfigError(
        'CONFIG_TOO_LARGE',
        `${path}: ${size} bytes is over the ${MAX_CONFIG_BYTES}-byte limit for a configuration file`,
        {
          hint: 'an apko configuration is a few kilobytes; check that this is the right file',
          data: { file: path },
        },
      );
    }
    // Read at most one byte past the limit, in case the file grows between stat and read.
    const buffer = new Uint8Array(Math.min(size, MAX_CONFIG_BYTES) + 1);
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

function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

async function readConfigFile(
  path: string,
  readFile: (path: string) => Promise<Uint8Array>,
): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new ConfigError('CONFIG_READ_FAILED', `cannot read ${path}: ${(error as Error).message}`, {
      hint: 'check that the path names a readable file',
      cause: error,
      data: { file: path, errno: code },
    });
  }
}

function includeIssue(doc: FileDoc, message: string, code: ConfigIssue['code'], hint: string): ConfigIssue {
  const pos = doc.include?.pos;
  return {
    path: 'include',
    message,
    file: doc.file,
    line: pos?.value.line ?? 0,
    column: pos?.value.column ?? 0,
    code,
    hint,
  };
}

/**
 * Load an apko configuration file: follow `include:` (relative to the including file's directory, then
 * each of `includePaths`), merge as apko's MergeInto does, validate everything and apply defaults.
 *
 * @param path - the configuration file
 * @param options - a file reader (for tests), include search paths, a logger
 * @returns the configuration and the bytes of every file read, top file first
 * @throws {ConfigError} CONFIG_NOT_FOUND (the file or an include is missing), CONFIG_READ_FAILED,
 *   CONFIG_TOO_LARGE, CONFIG_YAML_SYNTAX, CONFIG_INCLUDE_CYCLE, CONFIG_INCLUDE_TOO_DEEP, CONFIG_INVALID,
 *   CONFIG_UNSUPPORTED; issue lists are in `data.issues`
 * @example
 * const { config, files } = await loadImageConfig('apko.yaml', { includePaths: ['/etc/apko'] });
 */
export async function loadImageConfig(
  path: string,
  options: LoadImageConfigOptions = {},
): Promise<LoadedImageConfig> {
  const readFile = options.readFile ?? defaultReadFile;
  const logger = options.logger ?? silentLogger;
  const files: ConfigFile[] = [];
  const docs: FileDoc[] = [];
  const includeIssues: ConfigIssue[] = [];

  const rootBytes = await readConfigFile(path, readFile);
  if (rootBytes === undefined) {
    throw new ConfigError('CONFIG_NOT_FOUND', `configuration file ${path} does not exist`, {
      hint: 'check the path, or run from the directory that holds the configuration',
      data: { file: path },
    });
  }
  files.push({ path, bytes: rootBytes });
  let doc = readDocument(rootBytes, path);
  docs.push(doc);
  const chain = [normalize(path)];

  while (doc.include !== undefined) {
    const include = doc.include.path;
    if (docs.length > MAX_INCLUDE_DEPTH) {
      includeIssues.push(
        includeIssue(
          doc,
          `includes are nested more than ${MAX_INCLUDE_DEPTH} deep`,
          'CONFIG_INCLUDE_TOO_DEEP',
          'flatten the include chain',
        ),
      );
      break;
    }
    const candidates = isAbsolute(include)
      ? [include]
      : [join(dirname(doc.file), include), ...(options.includePaths ?? []).map((dir) => join(dir, include))];
    let found: { file: string; bytes: Uint8Array } | undefined;
    let cycle: string | undefined;
    for (const candidate of candidates) {
      const key = normalize(candidate);
      if (chain.includes(key)) {
        cycle = [...chain.slice(chain.indexOf(key)), key].join(' → ');
        break;
      }
      const bytes = await readConfigFile(candidate, readFile);
      if (bytes !== undefined) {
        found = { file: candidate, bytes };
        break;
      }
    }
    if (cycle !== undefined) {
      includeIssues.push(
        includeIssue(doc, `include cycle: ${cycle}`, 'CONFIG_INCLUDE_CYCLE', 'remove one of the includes'),
      );
      break;
    }
    if (found === undefined) {
      const remote = /^[a-z0-9.-]+\.[a-z]+\/.+@[^/]+$/i.test(include);
      includeIssues.push(
        includeIssue(
          doc,
          `"${include}" not found (looked for ${candidates.join(', ')})`,
          'CONFIG_NOT_FOUND',
          remote
            ? 'tk, like current apko, includes local files only; download the file and include its path'
            : 'give a path relative to this file, or add its directory with --include-paths',
        ),
      );
      break;
    }
    logger.debug(`including ${found.file} for configuration`);
    files.push({ path: found.file, bytes: found.bytes });
    chain.push(normalize(found.file));
    doc = readDocument(found.bytes, found.file);
    docs.push(doc);
  }

  let check = docs.some((d) => d.unchecked) ? await loadSchemaCheck() : undefined;
  if (check !== undefined) for (const d of docs) checkDocument(d, check);
  const issues = [...docs.flatMap((d) => d.issues), ...includeIssues];
  let merged: PositionedValue = docs[docs.length - 1]!;
  for (let i = docs.length - 2; i >= 0; i--) merged = mergeConfigs(merged, docs[i]!);
  const result = conclude(merged, issues, path, logger);
  if (!isPending(result)) return { config: result, files };
  check ??= await loadSchemaCheck();
  return { config: concludeWithZod(result, check), files };
}
