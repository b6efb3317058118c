// Debian source packages: finding a pinned version in Sources indexes, the files it consists of, and its
// upstream tarball (`<name>_<upstream>.orig.tar.<ext>`).
import { parseParagraphs } from './deb.mjs';
import { parseDebianVersion } from './debver.mjs';

/**
 * The paragraphs of `names` in Sources index texts. Only paragraphs that start with `Package: <name>` are
 * parsed (a Sources index of bookworm main is ~45 MB; parsing all of it would take seconds).
 *
 * @param {string[]} texts Sources files
 * @param {string[]} names source package names
 * @returns {Map<string, Map<string, string>[]>} name → its paragraphs (every version in every suite)
 */
export function findSourceParagraphs(texts, names) {
  const wanted = new Set(names);
  const found = new Map(names.map((n) => [n, []]));
  for (const text of texts) {
    for (const block of text.split(/\n[ \t]*\n/)) {
      const m = /^Package:[ \t]*(\S+)[ \t]*$/m.exec(block.slice(0, 200));
      if (m === null || !wanted.has(m[1])) continue;
      for (const p of parseParagraphs(block)) if (p.get('package') === m[1]) found.get(m[1]).push(p);
    }
  }
  return found;
}

/**
 * The files of a source package paragraph, from `Checksums-Sha256` (` <sha256> <size> <name>` lines).
 * File names must be plain names (no `/`, no `..`): they are written into a download folder.
 *
 * @param {Map<string, string>} paragraph
 * @returns {{ file: string, sha256: string, size: number }[]}
 * @throws {Error} on a missing field or a malformed line
 */
export function sourceFiles(paragraph) {
  const field = paragraph.get('checksums-sha256');
  const what = `${paragraph.get('package')} ${paragraph.get('version')}`;
  if (field === undefined) throw new Error(`${what}: no Checksums-Sha256 field in the Sources index`);
  const files = [];
  for (const line of field.split('\n')) {
    if (line.trim() === '') continue;
    const m = /^\s*([0-9a-f]{64})\s+([0-9]{1,15})\s+(\S+)\s*$/.exec(line);
    if (m === null) throw new Error(`${what}: malformed Checksums-Sha256 line ${JSON.stringify(line)}`);
    const [, sha256, size, file] = m;
    if (file.includes('/') || file === '.' || file === '..' || file.startsWith('.'))
      throw new Error(`${what}: unsafe file name ${JSON.stringify(file)} in the Sources index`);
    files.push({ file, sha256, size: Number(size) });
  }
  if (files.length === 0) throw new Error(`${what}: Checksums-Sha256 lists no files`);
  return files;
}

/**
 * The main upstream tarball of a source package: `<name>_<upstream version>.orig.tar.<ext>` (the epoch and
 * the Debian revision are not part of the name; `.orig-<component>` tarballs are extra components).
 *
 * @param {{ file: string }[]} files
 * @param {string} name
 * @param {string} version Debian version, e.g. `2.10-3`
 * @returns {{ file: string, sha256: string, size: number }}
 * @throws {Error} for a native package (no orig tarball) or several candidates
 */
export function origTarball(files, name, version) {
  const { upstream, revision } = parseDebianVersion(version);
  if (revision === '')
    throw new Error(`${name} ${version} is a native Debian package: it has no upstream (.orig) tarball`);
  const prefix = `${name}_${upstream}.orig.tar.`;
  const found = files.filter((f) => f.file.startsWith(prefix) && /^[a-z0-9]+$/.test(f.file.slice(prefix.length)));
  if (found.length !== 1)
    throw new Error(
      `${name} ${version}: expected one ${prefix}* file, found ${found.length} (${files.map((f) => f.file).join(', ')})`,
    );
  return found[0];
}

/**
 * The paragraph of exactly `version` among a name's paragraphs.
 *
 * @param {Map<string, string>[]} paragraphs from {@link findSourceParagraphs}
 * @param {string} name
 * @param {string} version
 * @returns {Map<string, string>}
 * @throws {Error} naming the versions that are there
 */
export function pickVersion(paragraphs, name, version) {
  const match = paragraphs.find((p) => p.get('version') === version);
  if (match !== undefined) return match;
  const have = [...new Set(paragraphs.map((p) => p.get('version')))].join(', ') || 'none';
  throw new Error(`source package ${name} ${version} is not in the Sources index (versions there: ${have})`);
}
