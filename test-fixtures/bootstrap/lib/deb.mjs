// Debian metadata: control paragraphs (deb822), Packages indexes, relation fields, and .deb contents read
// through dpkg-deb (which knows every compression Debian uses).
import { spawnSync } from 'node:child_process';
import { readTar } from './tk.mjs';
import { compareDebianVersions, parseDebianVersion } from './debver.mjs';

/** Largest tar that dpkg-deb may hand us (the biggest Debian package in the closure, gcc-12, is ~100 MB). */
const MAX_TAR_BYTES = 1 << 30;

/**
 * Parse deb822 paragraphs (control files, Packages indexes).
 *
 * @param {string} text
 * @returns {Map<string, string>[]} field names lowercased; continuation lines joined with '\n'
 */
export function parseParagraphs(text) {
  const paragraphs = [];
  let current = new Map();
  let last;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (current.size > 0) paragraphs.push(current);
      current = new Map();
      last = undefined;
      continue;
    }
    if (line.startsWith('#')) continue;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (last === undefined) throw new Error(`continuation line without a field: ${JSON.stringify(line)}`);
      current.set(last, `${current.get(last)}\n${line.slice(1)}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`malformed control line: ${JSON.stringify(line)}`);
    last = line.slice(0, colon).toLowerCase();
    current.set(last, line.slice(colon + 1).trim());
  }
  if (current.size > 0) paragraphs.push(current);
  return paragraphs;
}

/**
 * Parse a relation field (Depends, Pre-Depends, Provides).
 *
 * @param {string | undefined} value e.g. `libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0`
 * @returns {{ name: string, op?: string, version?: string }[][]} groups of alternatives
 */
export function parseRelations(value) {
  if (value === undefined || value.trim() === '') return [];
  return value.split(',').map((group) =>
    group.split('|').map((alt) => {
      const m =
        /^\s*([a-z0-9][a-z0-9+.-]*)(?::([a-z0-9-]+))?\s*(?:\(\s*(<<|<=|=|>=|>>|<|>)\s*([^)\s]+)\s*\))?\s*(?:\[[^\]]*\])?\s*(?:<[^>]*>\s*)*$/.exec(
          alt,
        );
      if (m === null) throw new Error(`cannot parse relation ${JSON.stringify(alt.trim())}`);
      const [, name, , op, version] = m;
      return op === undefined ? { name } : { name, op, version };
    }),
  );
}

/**
 * Read Packages files into a per-name map of the highest version (what apt's candidate is with default pins),
 * plus a map of virtual names to the packages that provide them.
 *
 * @param {string[]} texts contents of Packages files (one per suite)
 * @returns {{ packages: Map<string, Map<string,string>>, providers: Map<string, string[]> }}
 */
export function indexPackages(texts) {
  const packages = new Map();
  for (const text of texts) {
    for (const p of parseParagraphs(text)) {
      const name = p.get('package');
      const version = p.get('version');
      if (name === undefined || version === undefined) continue;
      const existing = packages.get(name);
      if (existing === undefined || compareDebianVersions(version, existing.get('version')) > 0)
        packages.set(name, p);
    }
  }
  const providers = new Map();
  for (const [name, p] of packages) {
    for (const group of parseRelations(p.get('provides'))) {
      for (const alt of group) {
        const list = providers.get(alt.name) ?? [];
        list.push(name);
        providers.set(alt.name, list);
      }
    }
  }
  for (const list of providers.values()) list.sort();
  return { packages, providers };
}

/** The Debian source package name of a binary package paragraph (`Source: glibc (2.36-9+deb12u14)` → glibc). */
export function sourceName(paragraph) {
  const source = paragraph.get('source');
  if (source === undefined) return paragraph.get('package');
  return source.split(/\s+/)[0];
}

/** The Debian source version (differs from the binary version for binNMUs). */
export function sourceVersion(paragraph) {
  const m = /\(([^)]+)\)/.exec(paragraph.get('source') ?? '');
  return m === null ? paragraph.get('version') : m[1];
}

function run(command, args, what) {
  const result = spawnSync(command, args, { maxBuffer: MAX_TAR_BYTES, encoding: 'buffer' });
  if (result.error !== undefined) throw new Error(`${what}: cannot run ${command}: ${result.error.message}`);
  if (result.status !== 0)
    throw new Error(
      `${what}: ${command} ${args.join(' ')} exited with ${result.status}: ${result.stderr.toString().trim()}`,
    );
  return new Uint8Array(result.stdout.buffer, result.stdout.byteOffset, result.stdout.byteLength);
}

/**
 * Read a .deb's control archive: the control paragraph, the maintainer scripts and the time dpkg-deb gave
 * the control files (Debian builds set it from the changelog date: SOURCE_DATE_EPOCH).
 *
 * @param {string} path
 * @returns {{ control: Map<string,string>, mtime: number, scripts: Record<string, string>, files: string[] }}
 */
export function readDebControl(path) {
  const { entries } = readTar(run('dpkg-deb', ['--ctrl-tarfile', path], path));
  let control;
  let mtime;
  const scripts = {};
  const files = [];
  for (const entry of entries) {
    const name = entry.name.replace(/^\.\//, '');
    if (entry.type !== 'file') continue;
    files.push(name);
    if (name === 'control') {
      control = parseParagraphs(new TextDecoder().decode(entry.data))[0];
      mtime = entry.mtime;
    } else if (['preinst', 'postinst', 'prerm', 'postrm', 'triggers', 'conffiles'].includes(name)) {
      scripts[name] = new TextDecoder().decode(entry.data);
    }
  }
  if (control === undefined || mtime === undefined)
    throw new Error(`${path}: no control file in its control archive`);
  parseDebianVersion(control.get('version') ?? '');
  return { control, mtime, scripts, files: files.sort() };
}

/**
 * Read a .deb's data archive (the file system tree) as tar entries.
 *
 * @param {string} path
 * @returns {import('../../../packages/tar/dist/index.js').TarEntry[]}
 */
export function readDebData(path) {
  return readTar(run('dpkg-deb', ['--fsys-tarfile', path], path), { maxExtensionSize: 1 << 20 }).entries;
}
