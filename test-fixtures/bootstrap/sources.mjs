#!/usr/bin/env node
// Fetches pinned upstream source tarballs from Debian's source archive (the only source reachable here)
// and lays them out as a melange source cache. See README.md ("Source tarballs").
//
//   node test-fixtures/bootstrap/sources.mjs [--out DIR] [--refresh] [--check]
//
// Writes <out>/sources/ (apt-get source --download-only), <out>/melange-cache/sha256:<hex> and
// <out>/sources.json. Nothing is downloaded when the files are present and correct.
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { aptSetup, runApt } from './lib/apt.mjs';
import { findSourceParagraphs, origTarball, pickVersion, sourceFiles } from './lib/sources.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, '../..');
const CONFIG = JSON.parse(readFileSync(join(HERE, 'packages.json'), 'utf8'));

class Failure extends Error {}

function fail(message) {
  throw new Failure(message);
}

function log(message) {
  process.stdout.write(`${message}\n`);
}

function sha256File(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Whether `path` is a regular file of the given size and sha256. */
function fileMatches(path, size, sha256) {
  try {
    return statSync(path).isFile() && statSync(path).size === size && sha256File(path) === sha256;
  } catch {
    return false;
  }
}

function writeIfChanged(path, text) {
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return false;
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
  return true;
}

function sourcesFiles(aptInfo) {
  const lists = join(aptInfo.dir, 'lists');
  return readdirSync(lists)
    .filter((f) => f.endsWith('_Sources'))
    .sort()
    .map((f) => join(lists, f));
}

/** The Sources indexes of the private deb-src configuration, updated when missing or with --refresh. */
function loadSources(out, refresh, check) {
  // Source packages are the same for every architecture; apt needs one as its native architecture.
  const aptInfo = aptSetup(join(out, 'apt', 'source'), {
    arch: 'amd64',
    lines: CONFIG.sources,
    keyring: CONFIG.keyring,
    type: 'deb-src',
  });
  if (!check && (refresh || sourcesFiles(aptInfo).length < CONFIG.sources.length)) {
    const start = performance.now();
    log(`[sources] apt-get update (deb-src, private configuration in ${aptInfo.dir})`);
    const r = runApt(aptInfo, 'apt-get', ['update'], aptInfo.dir);
    if (r.status !== 0 || /^(E:|W: Failed)/m.test(r.stderr))
      fail(`[sources] apt-get update failed:\n${r.stdout}${r.stderr}`);
    log(`[sources] Sources indexes updated in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  }
  const files = sourcesFiles(aptInfo);
  if (files.length < CONFIG.sources.length)
    fail(
      `[sources] expected ${CONFIG.sources.length} Sources files in ${aptInfo.dir}/lists, found ${files.length}` +
        (check ? ' (run without --check to download them)' : ''),
    );
  return { aptInfo, texts: files.map((f) => readFileSync(f, 'utf8')) };
}

/** Place `file` in the melange cache as sha256:<hex>: a hard link, or a copy across file systems. */
function cacheLink(cacheDir, file, sha256, size) {
  mkdirSync(cacheDir, { recursive: true });
  const target = join(cacheDir, `sha256:${sha256}`);
  if (fileMatches(target, size, sha256)) return { target, placed: false };
  rmSync(target, { force: true });
  try {
    linkSync(file, target);
  } catch {
    copyFileSync(file, target);
  }
  return { target, placed: true };
}

function main() {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      refresh: { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    log(
      readFileSync(fileURLToPath(import.meta.url), 'utf8')
        .split('\n')
        .slice(1, 8)
        .join('\n')
        .replace(/^\/\/ ?/gm, ''),
    );
    return;
  }
  const start = performance.now();
  const out = resolve(values.out ?? join(REPO_ROOT, '.cache/bootstrap'));
  const sourcesDir = join(out, 'sources');
  const cacheDir = join(out, 'melange-cache');
  mkdirSync(sourcesDir, { recursive: true });
  const pins = CONFIG.sourcePackages.packages;
  const { aptInfo, texts } = loadSources(out, values.refresh, values.check);
  const found = findSourceParagraphs(
    texts,
    pins.map((p) => p.name),
  );
  const manifest = [];
  let downloaded = 0;
  for (const pin of pins) {
    let paragraph;
    try {
      paragraph = pickVersion(found.get(pin.name), pin.name, pin.version);
    } catch (error) {
      fail(
        `[sources] ${error.message}\n  hint: see APT_CONFIG=${aptInfo.conf} apt-cache showsrc ${pin.name}, then ` +
          'fix the pin in packages.json "sourcePackages" (or run with --refresh)',
      );
    }
    const files = sourceFiles(paragraph);
    const orig = origTarball(files, pin.name, pin.version);
    const bad = () => files.filter((f) => !fileMatches(join(sourcesDir, f.file), f.size, f.sha256));
    const missing = bad();
    if (missing.length > 0) {
      if (values.check)
        fail(`[sources] ${pin.name} ${pin.version}: missing or wrong: ${missing.map((f) => f.file).join(', ')}`);
      for (const f of missing) rmSync(join(sourcesDir, f.file), { force: true });
      log(`[sources] apt-get source --download-only ${pin.name}=${pin.version}`);
      const r = runApt(aptInfo, 'apt-get', ['source', '--download-only', `${pin.name}=${pin.version}`], sourcesDir);
      const still = bad();
      if (r.status !== 0 || still.length > 0)
        fail(
          `[sources] ${pin.name} ${pin.version}: apt-get source gave status ${r.status}; ` +
            `not matching the Sources index: ${still.map((f) => f.file).join(', ') || 'none'}\n${r.stdout}${r.stderr}` +
            '  hint: check that deb.debian.org is reachable, or run with --refresh',
        );
      downloaded += missing.length;
    }
    if (orig.sha256 !== pin.origSha256)
      fail(
        `[sources] ${orig.file}: sha256 ${orig.sha256} in the Sources index, but packages.json expects ` +
          `${pin.origSha256} (${pin.upstream})\n  hint: Debian's tarball is not the upstream release the pin names`,
      );
    const cache = cacheLink(cacheDir, join(sourcesDir, orig.file), orig.sha256, orig.size);
    manifest.push({
      package: pin.name,
      version: pin.version,
      file: orig.file,
      sha256: orig.sha256,
      size: orig.size,
      upstream: pin.upstream,
      melangeCache: `melange-cache/sha256:${orig.sha256}`,
      otherFiles: files.filter((f) => f.file !== orig.file),
    });
    log(
      `[sources] ${pin.name} ${pin.version}: ${orig.file} ${orig.sha256} (${orig.size} bytes)` +
        `${cache.placed ? ', placed in the melange cache' : ''}`,
    );
  }
  const text = `${JSON.stringify({ suite: CONFIG.suite, sources: manifest }, null, 2)}\n`;
  if (values.check) {
    const path = join(out, 'sources.json');
    if (!existsSync(path) || readFileSync(path, 'utf8') !== text) fail(`[sources] ${path} is missing or stale`);
  } else writeIfChanged(join(out, 'sources.json'), text);
  log(
    `[sources] ${manifest.length} source tarballs ready (${downloaded} files downloaded) in ` +
      `${((performance.now() - start) / 1000).toFixed(1)} s: ${cacheDir}`,
  );
}

try {
  main();
} catch (error) {
  if (error instanceof Failure) process.stderr.write(`error: ${error.message}\n`);
  else process.stderr.write(`error: ${error?.stack ?? error}\n`);
  process.exitCode = 1;
}
