// Whether a bundle made by scripts/bundle.mjs is current: every guard file it lists (or, in a manifest
// without guards, every input file) still has the size and mtime it had when the bundle was made. The guards
// are the tsconfig.tsbuildinfo of each compiled project, pnpm's node_modules/.modules.yaml and the inputs
// that neither covers (scripts/bundle.mjs, guardOf). Any doubt (no manifest, unreadable, malformed, a file
// gone) is "no".
'use strict';
const { readFileSync, statSync } = require('node:fs');
const { fileURLToPath } = require('node:url');

/**
 * The bundle's manifest when the bundle is current, undefined otherwise.
 *
 * @param {URL} manifestUrl the bundle's inputs.json
 * @param {URL} rootUrl the folder its paths are relative to (ending in a slash)
 * @returns {{ inputs: unknown[], guards?: unknown[], entry?: unknown, sha256?: unknown, sides?: unknown } | undefined}
 */
function currentBundle(manifestUrl, rootUrl) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestUrl, 'utf8'));
  } catch {
    return undefined;
  }
  const checked = manifest?.guards ?? manifest?.inputs;
  if (!Array.isArray(checked) || checked.length === 0) return undefined;
  // Plain path strings: a URL per file costs more than the stat call itself.
  const root = fileURLToPath(rootUrl);
  for (const input of checked) {
    if (!Array.isArray(input) || typeof input[0] !== 'string') return undefined;
    const [path, size, mtimeMs] = input;
    if (path.startsWith('/') || path.includes('\0')) return undefined;
    let stat;
    try {
      stat = statSync(root + path, { throwIfNoEntry: false });
    } catch {
      return undefined;
    }
    if (stat === undefined || !stat.isFile() || stat.size !== size || stat.mtimeMs !== mtimeMs)
      return undefined;
  }
  return manifest;
}

/**
 * @param {URL} manifestUrl the bundle's inputs.json
 * @param {URL} rootUrl the folder its paths are relative to (ending in a slash)
 * @returns {boolean}
 */
function bundleIsCurrent(manifestUrl, rootUrl) {
  return currentBundle(manifestUrl, rootUrl) !== undefined;
}

module.exports = { bundleIsCurrent, currentBundle };
