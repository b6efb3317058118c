/**
 * `tk melange bump FILE VERSION` (melange `pkg/cli/bump.go`, `pkg/renovate/bump/bump.go`): move a recipe to a
 * new upstream version, the way melange does it:
 *
 * - `package.version` becomes the new version, double-quoted; `package.epoch` becomes 0, or the old epoch + 1
 *   when the version does not change (a re-tagged upstream); an absent `epoch:` is added after `version:`;
 * - var-transforms are run again with the new version, for the URIs below;
 * - every `fetch` step of the main pipeline (at any depth) gets its `expected-sha256`/`expected-sha512` (the
 *   keys it already has) from the bytes of its new URI;
 * - with `--expected-commit`, the `expected-commit` of the `git-checkout` step is set (with several
 *   `git-checkout` steps, only those whose `tag` follows `package.version`; a templated value is left alone).
 *
 * The file is edited in place, byte for byte: the `yaml` package's Document API locates each scalar, and only
 * those characters are replaced, so comments, blank lines, quoting and key order stay as they were (melange
 * re-encodes the whole file). The result is parsed again before it is written, atomically, with the file's
 * mode; a failed download or check leaves the file untouched.
 *
 * Sources and the cache (`--cache-dir`, melange's layout `sha256:<hex>` / `sha512:<hex>`): when a fetch
 * step's URI does not change (an epoch bump) and the cache holds the file its checksum names, the checksums
 * are taken from that file, without the network. Otherwise the URI is downloaded (`source/download.ts`:
 * streamed, size-capped, retried); with a cache dir the download is kept there under its checksum names, so
 * the next build finds it offline.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, link, mkdir, open, realpath, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidVersion } from '@tk/apk';
import { silentLogger, writeFileAtomic, type Logger } from '@tk/core';
import { redactUrl } from '@tk/repo';
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  type Document,
  type Node as YamlNode,
  type Scalar,
  type YAMLMap,
} from 'yaml';
import { MelangeError } from '../errors.ts';
import { loadRecipe, parseRecipe } from '../recipe/load.ts';
import { apkArchOf, goarchOf, substitute } from '../recipe/subst.ts';
import { applyVarTransforms } from '../recipe/transforms.ts';
import type { Recipe } from '../recipe/types.ts';
import { downloadSource, type SourceFetch } from '../source/download.ts';

/** Options of {@link bumpRecipe}. */
export interface BumpOptions {
  /** The recipe file (rewritten in place). */
  configPath: string;
  /** The new upstream version (a valid apk version without `-rN`). */
  version: string;
  /** `--expected-commit`: the commit the new tag points at (40 or 64 hex digits). */
  expectedCommit?: string;
  /** `--cache-dir`: melange's source cache; checksums come from it when possible, downloads are kept in it. */
  cacheDir?: string;
  /** Folder for downloads when there is no cache dir. */
  tempDir: string;
  /** The arch for `${{build.arch}}` in URIs (default x86_64). */
  arch?: string;
  /** Only compute the new text; do not write the file. */
  dryRun?: boolean;
  /** The HTTP client (tests); default undici. */
  fetch?: SourceFetch;
  /** Largest source accepted (default 2 GiB). */
  maxBytes?: number;
  /** Longest wait for a response or between two chunks (default 60 s). */
  timeoutMs?: number;
  /** Retries of a failed download (default 4), first after `retryDelayMs` (default 1 s). */
  retries?: number;
  retryDelayMs?: number;
  logger?: Logger;
}

/** One fetch step's new checksums. */
export interface BumpedSource {
  /** The step (`pipeline[0]`). */
  where: string;
  /** The evaluated URI (credentials redacted). */
  uri: string;
  sha256?: string;
  sha512?: string;
  /** True when the checksums came from the cache, without a download. */
  fromCache: boolean;
}

/** What {@link bumpRecipe} did. */
export interface BumpResult {
  path: string;
  from: { version: string; epoch: number };
  to: { version: string; epoch: number };
  sources: BumpedSource[];
  /** `git-checkout` steps whose `expected-commit` was set. */
  commits: { where: string; commit: string }[];
  /** The new file content. */
  text: string;
  /** False when the content did not change (nothing was written). */
  changed: boolean;
}

const DEFAULTS = { maxBytes: 2 * 1024 ** 3, timeoutMs: 60_000, retries: 4, retryDelayMs: 1_000 } as const;

interface Edit {
  start: number;
  end: number;
  text: string;
}

function unsupported(file: string, message: string, hint: string): MelangeError {
  return new MelangeError('MELANGE_BUMP_UNSUPPORTED', `${file}: ${message}`, { hint, data: { file } });
}

/** A scalar node, or an error naming where it should be. */
function scalarAt(node: unknown, file: string, where: string): Scalar {
  if (isAlias(node))
    throw unsupported(file, `${where} is an alias (*name)`, `write the value of ${where} directly`);
  if (!isScalar(node) || node.range === undefined || node.range === null)
    throw unsupported(file, `${where} is not a plain value`, `write ${where} as a single-line value`);
  if (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED')
    throw unsupported(file, `${where} is a block scalar (| or >)`, `write ${where} on one line`);
  return node;
}

/** Replace a scalar's text, keeping its quoting (a plain scalar stays plain). */
function replaceScalar(node: Scalar, value: string): Edit {
  const [start, end] = node.range!;
  const text =
    node.type === 'QUOTE_DOUBLE'
      ? JSON.stringify(value)
      : node.type === 'QUOTE_SINGLE'
        ? `'${value.replace(/'/g, "''")}'`
        : value;
  return { start, end, text };
}

function mapAt(node: unknown): YAMLMap | undefined {
  return isMap(node) ? node : undefined;
}

function stringValue(node: unknown): string | undefined {
  if (!isScalar(node)) return undefined;
  const v: unknown = node.source ?? node.value;
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

/** Steps of the main pipeline with `uses: NAME`, at any depth, with their paths. */
function stepsUsing(doc: Document, name: string): { map: YAMLMap; where: string }[] {
  const out: { map: YAMLMap; where: string }[] = [];
  const walk = (node: unknown, where: string, depth: number): void => {
    if (!isSeq(node) || depth > 32) return;
    node.items.forEach((item, i) => {
      const map = mapAt(item);
      if (map === undefined) return;
      const here = `${where}[${i}]`;
      if (stringValue(map.get('uses', true)) === name) out.push({ map, where: here });
      walk(map.get('pipeline', true), `${here}.pipeline`, depth + 1);
    });
  };
  walk(doc.get('pipeline', true), 'pipeline', 0);
  return out;
}

/** The variables of the recipe's URIs for a given version and epoch (melange renovate `LoadConfig` + bump). */
function variablesFor(
  recipe: Recipe,
  version: string,
  epoch: number,
  arch: string,
  file: string,
): Map<string, string> {
  const scope = new Map<string, string>([
    ['package.name', recipe.package.name],
    ['package.version', version],
    ['package.epoch', String(epoch)],
    ['package.full-version', `${version}-r${epoch}`],
    ['package.description', recipe.package.description ?? ''],
    ['build.arch', apkArchOf(arch)],
    ['build.goarch', goarchOf(arch)],
  ]);
  for (const [k, v] of Object.entries(recipe.vars))
    scope.set(`vars.${k}`, substitute(v, scope, `${file}: vars.${k}`));
  applyVarTransforms(recipe['var-transforms'], scope, `${file}: var-transforms`);
  return scope;
}

/** Whether a `git-checkout` tag follows `package.version`, directly or through vars (melange `dependsOnVersion`). */
function tagFollowsVersion(tag: string | undefined, recipe: Recipe): boolean {
  if (tag === undefined) return true;
  const direct = '${{package.version}}';
  if (tag.includes(direct)) return true;
  for (const m of tag.matchAll(/\$\{\{vars\.([^}]+)\}\}/g)) {
    const name = m[1]!;
    if (recipe.vars[name]?.includes(direct) === true) return true;
    if (recipe['var-transforms'].some((t) => t.to === name && t.from.includes(direct))) return true;
  }
  return false;
}

async function hashFile(
  path: string,
  want512: boolean,
): Promise<{ sha256: string; sha512?: string } | undefined> {
  try {
    if (!(await stat(path)).isFile()) return undefined;
  } catch {
    return undefined;
  }
  const h256 = createHash('sha256');
  const h512 = want512 ? createHash('sha512') : undefined;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Uint8Array>) {
    h256.update(chunk);
    h512?.update(chunk);
  }
  return { sha256: h256.digest('hex'), ...(h512 === undefined ? {} : { sha512: h512.digest('hex') }) };
}

/** Put a downloaded file into the cache under `name`, unless it is there already. */
async function keepInCache(temp: string, cacheDir: string, names: readonly string[]): Promise<void> {
  const [first, ...rest] = names;
  const target = join(cacheDir, first!);
  await rename(temp, target);
  for (const name of rest) {
    const other = join(cacheDir, name);
    await rm(other, { force: true });
    try {
      await link(target, other);
    } catch {
      await copyFile(target, other);
    }
  }
}

interface Checksums {
  sha256: string;
  sha512?: string;
  fromCache: boolean;
}

async function download(
  uri: string,
  want512: boolean,
  options: BumpOptions,
  file: string,
): Promise<Checksums> {
  const shown = redactUrl(uri);
  let url: URL;
  try {
    url = new URL(uri);
  } catch (cause) {
    throw new MelangeError(
      'MELANGE_SOURCE_BAD_INPUT',
      `${file}: fetch uri ${JSON.stringify(shown)} is not a valid URI`,
      {
        hint: 'give an absolute http://, https:// or file:// URI',
        cause,
        data: { uri: shown },
      },
    );
  }
  const dir = options.cacheDir ?? options.tempDir;
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.bump-${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o644);
  let kept = false;
  try {
    let result: { hash: string };
    try {
      result = await downloadSource(url, handle, {
        algorithm: 'sha256',
        maxBytes: options.maxBytes ?? DEFAULTS.maxBytes,
        idleTimeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
        retries: options.retries ?? DEFAULTS.retries,
        retryDelayMs: options.retryDelayMs ?? DEFAULTS.retryDelayMs,
        ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
        ...(options.logger === undefined ? {} : { logger: options.logger }),
        progress: { id: `bump:${shown}`, label: `download ${shown}` },
      });
      await handle.sync();
    } finally {
      await handle.close();
    }
    const sha512 = want512 ? (await hashFile(temp, true))?.sha512 : undefined;
    if (options.cacheDir !== undefined) {
      await keepInCache(temp, options.cacheDir, [
        `sha256:${result.hash}`,
        ...(sha512 === undefined ? [] : [`sha512:${sha512}`]),
      ]);
      kept = true;
    }
    return { sha256: result.hash, ...(sha512 === undefined ? {} : { sha512 }), fromCache: false };
  } finally {
    if (!kept) await rm(temp, { force: true });
  }
}

/** Checksums of an unchanged URI from the cache file its current checksum names (verified), if present. */
async function fromCache(
  cacheDir: string,
  current: { algorithm: 'sha256' | 'sha512'; hash: string },
  want512: boolean,
): Promise<Checksums | undefined> {
  if (!/^[0-9a-f]+$/.test(current.hash)) return undefined;
  const found = await hashFile(
    join(cacheDir, `${current.algorithm}:${current.hash}`),
    want512 || current.algorithm === 'sha512',
  );
  if (found === undefined) return undefined;
  const actual = current.algorithm === 'sha256' ? found.sha256 : found.sha512;
  if (actual !== current.hash) return undefined;
  return { ...found, fromCache: true };
}

function checkInputs(options: BumpOptions): { version: string; commit?: string } {
  const version = options.version.trim();
  if (
    version === '' ||
    version.includes('${{') ||
    !isValidVersion(version) ||
    !isValidVersion(`${version}-r0`)
  ) {
    throw new MelangeError(
      'MELANGE_BUMP_BAD_INPUT',
      `${JSON.stringify(options.version)} is not a valid apk version`,
      {
        hint: /-r[0-9]+$/.test(version)
          ? 'give the upstream version without "-rN"; bump sets the epoch'
          : 'apk versions look like 1.2.3, 1.2.3_rc1, 2.0a or 1.0_p20240101',
        data: { version: options.version },
      },
    );
  }
  const commit = options.expectedCommit?.trim();
  if (commit !== undefined && commit !== '' && !/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(commit)) {
    throw new MelangeError(
      'MELANGE_BUMP_BAD_INPUT',
      `--expected-commit ${JSON.stringify(commit)} is not a full commit hash`,
      {
        hint: 'give the 40 hex digits of the commit (git rev-parse <tag>^{commit})',
        data: { commit },
      },
    );
  }
  return { version, ...(commit === undefined || commit === '' ? {} : { commit }) };
}

/** Where to add `epoch:` when the recipe has none: on the line after `version:`, at its indentation. */
function insertEpoch(text: string, pkg: YAMLMap, epoch: number, file: string): Edit {
  const pair = pkg.items.find((p) => stringValue(p.key) === 'version');
  const key = pair?.key as YamlNode | undefined;
  const value = pair?.value as YamlNode | undefined;
  if (key?.range == null || value?.range == null)
    throw unsupported(file, 'package.version has no position', 'add an epoch: line');
  const lineStart = text.lastIndexOf('\n', key.range[0] - 1) + 1;
  const indent = text.slice(lineStart, key.range[0]);
  if (!/^ *$/.test(indent))
    throw unsupported(
      file,
      'package is not a block mapping',
      'write package: as indented key: value lines, or add epoch: yourself',
    );
  const eol = text.indexOf('\n', value.range[1]);
  const at = eol < 0 ? text.length : eol + 1;
  return { start: at, end: at, text: `${eol < 0 ? '\n' : ''}${indent}epoch: ${epoch}\n` };
}

/**
 * Bump a recipe to a new version.
 *
 * @param options - the recipe, the version, the expected commit, the cache and download settings
 * @returns what changed and the new text (written unless `dryRun`)
 * @throws {MelangeError} MELANGE_BUMP_BAD_INPUT, MELANGE_BUMP_UNSUPPORTED, MELANGE_BUMP_WRITE_FAILED; the
 *   recipe loader's codes; MELANGE_SOURCE_DOWNLOAD, MELANGE_SOURCE_TOO_LARGE, MELANGE_SOURCE_BAD_INPUT;
 *   MELANGE_UNKNOWN_VARIABLE / MELANGE_BAD_REGEX from URIs and var-transforms. On any error the file is untouched.
 * @example
 * await bumpRecipe({ configPath: 'zstd.yaml', version: '1.5.8', expectedCommit: 'f8745da6…', tempDir: '/tmp' });
 */
export async function bumpRecipe(options: BumpOptions): Promise<BumpResult> {
  const logger = options.logger ?? silentLogger;
  const file = options.configPath;
  const { version, commit } = checkInputs(options);
  const { recipe, bytes } = await loadRecipe(file, { logger });
  const text = Buffer.from(bytes).toString('utf8');
  const doc = parseDocument(text, { uniqueKeys: false });
  const pkg = mapAt(doc.get('package', true));
  if (pkg === undefined) throw unsupported(file, 'package is not a mapping', 'write package: as a mapping');

  const from = { version: recipe.package.version, epoch: recipe.package.epoch };
  const to = { version, epoch: from.version === version ? from.epoch + 1 : 0 };
  const edits: Edit[] = [];
  const versionNode = scalarAt(pkg.get('version', true), file, 'package.version');
  edits.push({ start: versionNode.range![0], end: versionNode.range![1], text: JSON.stringify(version) });
  const epochNode = pkg.get('epoch', true);
  if (epochNode === undefined) edits.push(insertEpoch(text, pkg, to.epoch, file));
  else edits.push(replaceScalar(scalarAt(epochNode, file, 'package.epoch'), String(to.epoch)));

  const arch = options.arch ?? 'x86_64';
  const newVars = variablesFor(recipe, to.version, to.epoch, arch, file);
  const oldVars = variablesFor(recipe, from.version, from.epoch, arch, file);

  // fetch steps
  const sources: BumpedSource[] = [];
  const byUri = new Map<string, Checksums>();
  for (const { map, where } of stepsUsing(doc, 'fetch')) {
    const w = mapAt(map.get('with', true));
    const rawUri = stringValue(w?.get('uri', true));
    if (w === undefined || rawUri === undefined)
      throw unsupported(file, `${where} (fetch) has no with.uri`, 'give the fetch step a uri');
    const n256 = w.get('expected-sha256', true);
    const n512 = w.get('expected-sha512', true);
    if (n256 === undefined && n512 === undefined) {
      logger.info(`${where}: fetch without a checksum (expected-none); nothing to update`);
      continue;
    }
    const uri = substitute(rawUri, newVars, `${file}: ${where}.with.uri`).trim();
    const oldUri = substitute(rawUri, oldVars, `${file}: ${where}.with.uri`).trim();
    const want512 = n512 !== undefined;
    let sums = byUri.get(uri);
    if (sums === undefined || (want512 && sums.sha512 === undefined)) {
      const current =
        n256 !== undefined
          ? { algorithm: 'sha256' as const, hash: stringValue(n256) ?? '' }
          : { algorithm: 'sha512' as const, hash: stringValue(n512) ?? '' };
      if (options.cacheDir !== undefined && uri === oldUri)
        sums = await fromCache(options.cacheDir, current, want512);
      sums ??= await download(uri, want512, options, file);
      byUri.set(uri, sums);
    }
    if (n256 !== undefined)
      edits.push(replaceScalar(scalarAt(n256, file, `${where}.with.expected-sha256`), sums.sha256));
    if (n512 !== undefined)
      edits.push(replaceScalar(scalarAt(n512, file, `${where}.with.expected-sha512`), sums.sha512!));
    sources.push({
      where,
      uri: redactUrl(uri),
      ...(n256 === undefined ? {} : { sha256: sums.sha256 }),
      ...(n512 === undefined ? {} : { sha512: sums.sha512! }),
      fromCache: sums.fromCache,
    });
    logger.info(
      `${where}: ${redactUrl(uri)} ${sums.fromCache ? '(from the cache)' : '(downloaded)'}: sha256 ${sums.sha256}`,
    );
  }

  // git-checkout steps
  const commits: { where: string; commit: string }[] = [];
  const checkouts = stepsUsing(doc, 'git-checkout');
  for (const { map, where } of checkouts) {
    const w = mapAt(map.get('with', true));
    const tag = stringValue(w?.get('tag', true));
    if (checkouts.length > 1 && !tagFollowsVersion(tag, recipe)) {
      logger.info(
        `${where}: git-checkout tag ${JSON.stringify(tag)} does not follow package.version; left alone`,
      );
      continue;
    }
    const node = w?.get('expected-commit', true);
    if (node === undefined) continue;
    const current = stringValue(node) ?? '';
    if (current.includes('${{')) continue;
    if (commit === undefined) {
      if (from.version !== to.version)
        logger.warn(
          `${where}: expected-commit still names ${current}; pass --expected-commit with the new tag's commit`,
          'MELANGE_BUMP_STALE_COMMIT',
        );
      continue;
    }
    edits.push(replaceScalar(scalarAt(node, file, `${where}.with.expected-commit`), commit));
    commits.push({ where, commit });
  }
  if (commit !== undefined && commits.length === 0)
    logger.warn(
      `${file}: no git-checkout step with an expected-commit to set; --expected-commit was not used`,
      'MELANGE_BUMP_COMMIT_UNUSED',
    );

  // Apply, check, write.
  let out = text;
  for (const e of [...edits].sort((a, b) => b.start - a.start))
    out = out.slice(0, e.start) + e.text + out.slice(e.end);
  const check = parseRecipe(out, { source: file });
  if (check.package.version !== to.version || check.package.epoch !== to.epoch)
    throw unsupported(
      file,
      `the edited recipe reads as ${check.package.version}-r${check.package.epoch}, not ${to.version}-r${to.epoch}`,
      'edit the recipe by hand',
    );
  const changed = out !== text;
  if (changed && options.dryRun !== true) {
    try {
      const target = await realpath(file);
      const mode = (await stat(target)).mode & 0o7777;
      await writeFileAtomic(target, out, { mode });
    } catch (error) {
      throw new MelangeError(
        'MELANGE_BUMP_WRITE_FAILED',
        `cannot write ${file}: ${(error as Error).message}`,
        {
          hint: 'check the permissions of the recipe and its folder',
          cause: error,
          data: { file },
        },
      );
    }
  }
  logger.info(`${recipe.package.name}: ${from.version}-r${from.epoch} → ${to.version}-r${to.epoch}`);
  return { path: file, from, to, sources, commits, text: out, changed };
}
