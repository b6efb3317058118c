// Runs tk's CommonJS bundle (apps/tk/bundle/tk.cjs) compiled with a V8 code cache, the way Node 22's
// module.enableCompileCache would: the functions a command ran last time are neither parsed nor compiled
// again (docs/performance.md, decision 26).
//
// Each task (`apko build`, `melange build`, `--help`, …) has its own cache, since V8 reads a whole cache
// before running anything: `tk --help` should not pay for the build's functions. A cache is one file in the
// bundle's `code-cache/` folder, named by the Node version, the CPU arch, the bundle's SHA-256 (V8 itself
// checks a cache against the source's length only) and the task. It holds a header (the bundle's size and
// mtime when the cache was made, the payload's SHA-256) and V8's payload. A process writes its task's cache
// when it exits if there was none or V8 rejected it. Writes are atomic (temporary file, rename); any failure
// (a read-only install, a full disk) only costs speed.
'use strict';
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const { createRequire } = require('node:module');
const { dirname, join } = require('node:path');
const { Script } = require('node:vm');

const { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } = fs;

const MAGIC = 'tk-code-cache 1\n';
/**
 * How a bundle's code is wrapped to run as a CommonJS module body. scripts/bundle.mjs writes the wrapper
 * into the file, so the source is compiled as read, without a concatenated copy (1.7 MB less memory).
 */
const WRAPPER_START = '(function (exports, require, module, __filename, __dirname) {';
/** No new cache file is written into a folder that holds this many: unknown words cannot fill a disk. */
const MAX_FILES = 64;

/**
 * @typedef {{ size: number, mtimeMs: number, payloadSha256: string }} CacheHeader
 */

/**
 * Read a cache file. Any doubt (missing, malformed, another bundle file, a payload that does not match its
 * digest) is "no cache": V8 does not verify a payload's checksum in release builds, so a damaged payload
 * must never reach it.
 *
 * @param {string} path the cache file
 * @param {{ size: number, mtimeMs: number }} bundleStat the bundle file now
 * @returns {{ header: CacheHeader, payload: Buffer } | undefined}
 */
function readCodeCache(path, bundleStat) {
  let bytes;
  try {
    bytes = readFileSync(path);
  } catch {
    return undefined;
  }
  if (bytes.length < MAGIC.length || bytes.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined;
  const end = bytes.indexOf(10, MAGIC.length);
  if (end < 0 || end - MAGIC.length > 65536) return undefined;
  let header;
  try {
    header = JSON.parse(bytes.toString('utf8', MAGIC.length, end));
  } catch {
    return undefined;
  }
  if (
    typeof header !== 'object' ||
    header === null ||
    header.size !== bundleStat.size ||
    header.mtimeMs !== bundleStat.mtimeMs ||
    typeof header.payloadSha256 !== 'string'
  )
    return undefined;
  const payload = bytes.subarray(end + 1);
  if (createHash('sha256').update(payload).digest('hex') !== header.payloadSha256) return undefined;
  return { header, payload };
}

/**
 * Write a cache file atomically. Failures are ignored.
 *
 * @param {string} path the cache file
 * @param {Omit<CacheHeader, 'payloadSha256'>} header what the cache describes
 * @param {Buffer} payload V8's cached data
 * @returns {boolean} whether it was written
 */
function writeCodeCache(path, header, payload) {
  const text = JSON.stringify({
    ...header,
    payloadSha256: createHash('sha256').update(payload).digest('hex'),
  });
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    if (readdirSync(dirname(path)).length >= MAX_FILES) return false;
    writeFileSync(temporary, Buffer.concat([Buffer.from(`${MAGIC}${text}\n`), payload]));
    renameSync(temporary, path);
    return true;
  } catch {
    try {
      unlinkSync(temporary);
    } catch {
      // nothing was written
    }
    return false;
  }
}

/**
 * The `require` a bundle runs with: Node's, from the bundle's folder, except for the side bundles named in
 * `sides`, which load once each through {@link loadBundle} with their own code cache.
 *
 * @param {string} bundlePath absolute path of the bundle
 * @param {string} task the task, for the side bundles' caches
 * @param {boolean} useCache whether to use code caches
 * @param {Record<string, unknown>} sides relative name → SHA-256
 * @returns {NodeJS.Require}
 */
function bundleRequire(bundlePath, task, useCache, sides) {
  const base = createRequire(bundlePath);
  const loaded = new Map();
  const load = (id) => {
    const sha256 = Object.hasOwn(sides, id) ? sides[id] : undefined;
    if (typeof sha256 !== 'string') return base(id);
    if (!loaded.has(id))
      loaded.set(id, loadBundle(join(dirname(bundlePath), id), sha256, task, useCache).exports);
    return loaded.get(id);
  };
  return Object.assign(load, {
    resolve: base.resolve,
    cache: base.cache,
    main: base.main,
    extensions: base.extensions,
  });
}

/**
 * Load the bundle and return its exports. With `useCache`, compile it with the cache when there is a good
 * one, and arrange for this process to write a better one when it exits.
 *
 * @param {string} bundlePath absolute path of tk.cjs
 * @param {string} sha256 its SHA-256, from inputs.json
 * @param {string} task what this process does: command words such as `apko build`, or empty
 * @param {boolean} useCache false to compile from source and write nothing
 * @param {Record<string, unknown>} [sides] bundles the bundle requires by relative name (`./zod.cjs`), with
 *   their SHA-256: loaded the same way (with a code cache) on first use
 * @returns {{ exports: Record<string, unknown>, cache: 'hit' | 'miss' | 'rejected' | 'off' }}
 */
function loadBundle(bundlePath, sha256, task, useCache, sides = {}) {
  const source = readFileSync(bundlePath, 'latin1');
  const bundleStat = statSync(bundlePath);
  const name = /^[a-z][a-z0-9-]{0,31}( [a-z][a-z0-9-]{0,31})?$/.test(task) ? task.replace(' ', '.') : 'other';
  const cachePath = join(
    dirname(bundlePath),
    'code-cache',
    `${process.version}-${process.arch}-${sha256.slice(0, 32)}-${name}.bin`,
  );
  const cached = useCache ? readCodeCache(cachePath, bundleStat) : undefined;
  const script = new Script(
    source.startsWith(WRAPPER_START) ? source : `${WRAPPER_START}${source}\n})`,
    cached === undefined ? { filename: bundlePath } : { filename: bundlePath, cachedData: cached.payload },
  );
  const cache = !useCache
    ? 'off'
    : cached === undefined
      ? 'miss'
      : script.cachedDataRejected
        ? 'rejected'
        : 'hit';
  if (cache === 'miss' || cache === 'rejected') {
    process.once('exit', () => {
      writeCodeCache(
        cachePath,
        { size: bundleStat.size, mtimeMs: bundleStat.mtimeMs },
        script.createCachedData(),
      );
    });
  }
  const bundleModule = { exports: {} };
  script.runInThisContext()(
    bundleModule.exports,
    bundleRequire(bundlePath, task, useCache, sides),
    bundleModule,
    bundlePath,
    dirname(bundlePath),
  );
  return { exports: bundleModule.exports, cache };
}

module.exports = { readCodeCache, writeCodeCache, loadBundle, WRAPPER_START };
