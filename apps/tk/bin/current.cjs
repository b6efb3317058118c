// Whether a bundle made by scripts/bundle.mjs is current: every input file it lists still has the size and
// mtime it had when the bundle was made. Any doubt (no manifest, unreadable, malformed, a file gone) is "no".
'use strict';
const { readFileSync, statSync } = require('node:fs');

/**
 * The bundle's manifest when the bundle is current, undefined otherwise.
 *
 * @param {URL} manifestUrl the bundle's inputs.json
 * @param {URL} rootUrl the folder its paths are relative to (ending in a slash)
 * @returns {{ inputs: unknown[], entry?: unknown, sha256?: unknown, sides?: unknown } | undefined}
 */
function currentBundle(manifestUrl, rootUrl) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestUrl, 'utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(manifest?.inputs) || manifest.inputs.length === 0) return undefined;
  for (const input of manifest.inputs) {
    if (!Array.isArray(input) || typeof input[0] !== 'string') return undefined;
    const [path, size, mtimeMs] = input;
    let stat;
    try {
      stat = statSync(new URL(path, rootUrl));
    } catch {
      return undefined;
    }
    if (!stat.isFile() || stat.size !== size || stat.mtimeMs !== mtimeMs) return undefined;
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
