/**
 * The apk database, written as apk-tools 2.14 writes it (`database.c` apk_db_write_fdb,
 * `package.c` apk_pkg_write_index_header), so that apk-tools and scanners (trivy, grype, syft) read it:
 *
 *     lib/apk/db/installed    per package: C P V A S I T U L o m t c k D p i, then r q s, then for each
 *                             directory F:<dir> [M:uid:gid:mode], for each file R:<name> [a:uid:gid:mode]
 *                             Z:Q1<sha1>; a blank line after each package
 *     lib/apk/db/scripts.tar  `<name>-<ver>.<Q1…>.<script>` entries (closed tar)
 *     lib/apk/db/triggers     `Q1… <glob> <glob>…` one line per package with triggers
 *     etc/apk/world, etc/apk/repositories, etc/apk/arch, etc/apk/keys/<name>
 *
 * Modes are octal without padding (`755`), written only when not the default (0755 directories,
 * 0644 files, owned by root). The database lives in `lib/apk/db` (apk-tools' place; scanners look there),
 * not apko's `usr/lib/apk/db` behind a symlink, which scanners do not follow.
 */
import { toBase64, utf8 } from '@tk/core';
import { TarWriter } from '@tk/tar';
import { concatBytes } from '@tk/core';
import type { InstalledPackage } from './install.ts';
import { meta, type FsTree } from './tree.ts';

/** Where apk-tools keeps its database, relative to the root. */
export const APK_DB_DIR = 'lib/apk/db';

function hexToQ1(hex: string): string {
  return `Q1${toBase64(Buffer.from(hex, 'hex'))}`;
}

function aclLine(
  letter: 'M' | 'a',
  uid: number,
  gid: number,
  mode: number,
  isDefault: boolean,
): string | undefined {
  return isDefault ? undefined : `${letter}:${uid}:${gid}:${(mode & 0o7777).toString(8)}`;
}

/**
 * The `installed` text for the given packages.
 *
 * @param installed - packages in install order, each with the files it still owns
 * @returns the file's content
 */
export function serializeInstalledDb(installed: readonly InstalledPackage[]): string {
  const out: string[] = [];
  for (const { pkg, tag, files } of installed) {
    const info = pkg.pkginfo;
    const put = (letter: string, value: string | number | undefined, always = false): void => {
      if (!always && (value === undefined || value === '')) return;
      out.push(`${letter}:${value ?? ''}`);
    };
    put('C', pkg.identity);
    put('P', info.pkgname);
    put('V', info.pkgver);
    put('A', info.arch);
    put('S', pkg.fileSize);
    put('I', info.size);
    // apk-tools writes T, U and L even when empty.
    put('T', info.pkgdesc, true);
    put('U', info.url, true);
    put('L', info.license, true);
    put('o', info.origin);
    put('m', info.maintainer);
    put('t', info.builddate === 0 ? undefined : info.builddate);
    put('c', info.commit);
    put('k', info.provider_priority === 0 ? undefined : info.provider_priority);
    put('D', info.depend.join(' '));
    put('p', info.provides.join(' '));
    put('i', info.install_if.join(' '));
    put('r', info.replaces.join(' '));
    put('q', info.replaces_priority);
    put('s', tag);
    // Files grouped by directory, directories in package order, as apk-tools lists a package's dirs.
    const dirs = new Map<string, { acl?: string; files: string[] }>();
    const dirOf = (path: string): string => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');
    for (const file of files) {
      if (file.type === 'directory') {
        const entry = dirs.get(file.path) ?? { files: [] };
        const acl = aclLine(
          'M',
          file.uid,
          file.gid,
          file.mode,
          file.uid === 0 && file.gid === 0 && file.mode === 0o755,
        );
        if (acl !== undefined) entry.acl = acl;
        dirs.set(file.path, entry);
        continue;
      }
      const dir = dirOf(file.path);
      const entry = dirs.get(dir) ?? { files: [] };
      dirs.set(dir, entry);
      const name = file.path.slice(dir === '' ? 0 : dir.length + 1);
      entry.files.push(`R:${name}`);
      const acl = aclLine(
        'a',
        file.uid,
        file.gid,
        file.mode,
        file.uid === 0 && file.gid === 0 && (file.mode === 0o644 || file.type === 'symlink'),
      );
      if (acl !== undefined) entry.files.push(acl);
      if (file.sha1 !== undefined) entry.files.push(`Z:${hexToQ1(file.sha1)}`);
    }
    // Root-level files come under a bare "F:" line; keep it first, then directories in package order.
    const root = dirs.get('');
    if (root !== undefined && root.files.length > 0) out.push('F:', ...root.files);
    for (const [dir, entry] of dirs) {
      if (dir === '') continue;
      out.push(`F:${dir}`);
      if (entry.acl !== undefined) out.push(entry.acl);
      out.push(...entry.files);
    }
    out.push('');
  }
  return out.length === 0 ? '' : out.join('\n') + '\n';
}

/** The `scripts.tar` entries of the packages (apk-tools: `name-ver.Q1….post-install`). */
export function buildScriptsTar(installed: readonly InstalledPackage[], mtime: number): Uint8Array {
  const tar = new TarWriter();
  for (const { pkg } of installed) {
    for (const [script, data] of Object.entries(pkg.scripts)) {
      if (data === undefined) continue;
      tar.add({
        name: `${pkg.pkginfo.pkgname}-${pkg.pkginfo.pkgver}.${pkg.identity}${script}`,
        type: 'file',
        mode: 0o755,
        uname: 'root',
        gname: 'root',
        mtime,
        data,
      });
    }
  }
  return concatBytes(tar.finish({ endOfArchive: true }));
}

/** The `triggers` file: one line per package with triggers. */
export function serializeTriggers(installed: readonly InstalledPackage[]): string {
  const lines: string[] = [];
  for (const { pkg } of installed) {
    const globs = pkg.pkginfo.triggers.flatMap((t) => t.split(/\s+/).filter(Boolean));
    if (globs.length > 0) lines.push(`${pkg.identity} ${globs.join(' ')}`);
  }
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}

/** What goes into `/etc/apk`. */
export interface ApkConfigFiles {
  arch: string;
  /** World constraints; written sorted. */
  world: readonly string[];
  /** Repository lines (`@tag url` allowed); written sorted, deduplicated. */
  repositories: readonly string[];
  /** Public keys to install under `/etc/apk/keys/<name>`. */
  keys: readonly { name: string; pem: string }[];
}

/**
 * Write the database and `/etc/apk` files into the tree.
 *
 * @param tree - the root
 * @param installed - installed packages in order
 * @param files - arch, world, repositories, keys
 * @param mtime - timestamp of the files tk creates
 */
export function writeApkDatabase(
  tree: FsTree,
  installed: readonly InstalledPackage[],
  files: ApkConfigFiles,
  mtime: number,
): void {
  const dirMeta = meta(0o755, mtime);
  tree.mkdirAll(APK_DB_DIR, dirMeta, dirMeta);
  tree.mkdirAll('etc/apk/keys', dirMeta, dirMeta);
  const put = (path: string, text: string | Uint8Array, mode = 0o644): void => {
    tree.put(path, {
      kind: 'file',
      meta: meta(mode, mtime),
      data: typeof text === 'string' ? utf8(text) : text,
    });
  };
  put(`${APK_DB_DIR}/installed`, serializeInstalledDb(installed));
  put(`${APK_DB_DIR}/scripts.tar`, buildScriptsTar(installed, mtime));
  put(`${APK_DB_DIR}/triggers`, serializeTriggers(installed));
  put(`${APK_DB_DIR}/lock`, '', 0o600);
  const sorted = (list: readonly string[]): string[] => [...new Set(list)].sort();
  put(
    'etc/apk/world',
    sorted(files.world)
      .map((w) => `${w}\n`)
      .join(''),
  );
  put(
    'etc/apk/repositories',
    sorted(files.repositories)
      .map((r) => `${r}\n`)
      .join(''),
  );
  put('etc/apk/arch', `${files.arch}\n`);
  for (const key of files.keys) put(`etc/apk/keys/${key.name}`, key.pem);
}
