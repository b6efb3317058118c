// Whether a bundle made by scripts/bundle.mjs is current: every input file it lists still has the size and
// mtime it had when the bundle was made. Any doubt (no manifest, unreadable, malformed, a file gone) is "no".
'use strict';
const { readFileSync, statSync } = require('node:fs');

/**
 * @param {URL} manifestUrl the bundle's inputs.json
 * @param {URL} rootUrl the folder its paths are relative to (ending in a slash)
 * @returns {boolean}
 */
function bundleIsCurrent(manifestUrl, rootUrl) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestUrl, 'utf8'));
  } catch {
    return false;
  }
  if (!Array.isArray(manifest?.inputs) || manifest.inputs.length === 0) return false;
  for (const input of manifest.inputs) {
    if (!Array.isArray(input) || typeof input[0] !== 'string') return false;
    const [path, size, mtimeMs] = input;
    let stat;
    try {
      stat = statSync(new URL(path, rootUrl));
    } catch {
      return false;
    }
    if (!stat.isFile() || stat.size !== size || stat.mtimeMs !== mtimeMs) return false;
  }
  return true;
}

module.exports = { bundleIsCurrent };
