/**
 * Installing verified packages into an {@link FsTree}, with apk-tools' file-ownership rules
 * (apk-and-apko.md §5.2; apk-tools `database.c`):
 *
 * - a path nobody owns is written;
 * - the same content again (same SHA-1, or the same symlink target) is left as it is;
 * - a path owned by a package that `replaces` the new one keeps the old file;
 * - the new package overwrites when it `replaces` the old owner or both share an `origin`;
 * - anything else is a ROOTFS_FILE_CONFLICT naming both packages.
 *
 * Owners, modes (setuid/setgid/sticky included), xattrs (file capabilities) and mtimes come from the
 * package, never from the machine. Directories a package declares keep the first declaration's metadata;
 * an existing symlink to a directory (usr-merge: `bin -> usr/bin`) is kept and written through.
 * Ownership is tracked by canonical path, so `bin/x` and `usr/bin/x` through a symlink are one file.
 */
import { type ApkFile, type ApkPackage } from '@tk/apk';
import { RootfsError } from './errors.ts';
import { meta, type FileNode, type FsNode, type FsTree } from './tree.ts';

/** A package to install: parsed and already verified against its index entry. */
export interface InstallPackage {
  pkg: ApkPackage;
  /** The repository tag it came from, recorded as `s:` in the installed database (apk-tools). */
  tag?: string;
  /** The index checksum (`C:`) it must match; checked again here before anything is written. */
  expectedChecksum?: string;
}

/** What a package ended up owning. */
export interface InstalledPackage {
  pkg: ApkPackage;
  tag?: string;
  /** The package's entries that it still owns after every package is installed (paths as in the package). */
  files: ApkFile[];
}

/** Bookkeeping of one install run. */
export interface InstallState {
  installed: InstalledPackage[];
  /** Canonical path → index into `installed` of its owner. */
  owners: Map<string, number>;
}

/**
 * A fresh install state.
 *
 * @returns empty bookkeeping
 */
export function createInstallState(): InstallState {
  return { installed: [], owners: new Map() };
}

function contentEqual(node: FsNode, file: ApkFile): boolean {
  if (node.kind === 'file' && file.type === 'file') return Buffer.compare(node.data, file.data) === 0;
  if (node.kind === 'symlink' && file.type === 'symlink') return node.target === file.linkname;
  return false;
}

function ident(pkg: ApkPackage): string {
  return `${pkg.pkginfo.pkgname}-${pkg.pkginfo.pkgver}`;
}

function replacesName(pkg: ApkPackage, name: string): boolean {
  return pkg.pkginfo.replaces.some((token) => token.replace(/^!/, '').split(/[<>=~]/)[0] === name);
}

/**
 * Install one package. Call in solver order.
 *
 * @param tree - the root being built
 * @param state - bookkeeping shared by the packages of this root
 * @param input - the package
 * @throws {RootfsError} ROOTFS_PACKAGE_MISMATCH, ROOTFS_FILE_CONFLICT, ROOTFS_BAD_PATH. On error the tree
 *   may hold part of this package; callers discard the whole tree (nothing is on disk yet).
 */
export function installPackage(tree: FsTree, state: InstallState, input: InstallPackage): void {
  const { pkg } = input;
  if (input.expectedChecksum !== undefined && input.expectedChecksum !== pkg.identity) {
    throw new RootfsError(
      'ROOTFS_PACKAGE_MISMATCH',
      `${ident(pkg)}: control checksum ${pkg.identity} is not the index's ${input.expectedChecksum}`,
      {
        hint: 'the package does not match the repository index; refresh the cache or rebuild the index',
      },
    );
  }
  if (pkg.pkginfo.datahash !== undefined && pkg.pkginfo.datahash !== pkg.dataHash) {
    throw new RootfsError(
      'ROOTFS_PACKAGE_MISMATCH',
      `${ident(pkg)}: data hashes to ${pkg.dataHash}, not its datahash ${pkg.pkginfo.datahash}`,
      {
        hint: 'the package is corrupt or was tampered with',
      },
    );
  }
  const index = state.installed.length;
  const record: InstalledPackage = { pkg, ...(input.tag === undefined ? {} : { tag: input.tag }), files: [] };
  state.installed.push(record);
  const firstFile = new Map<string, FileNode>(); // package path → node, for hard links
  for (const file of pkg.files) {
    const fileMeta = {
      mode: file.mode,
      uid: file.uid,
      gid: file.gid,
      mtime: file.mtime,
      xattrs: { ...file.xattrs },
    };
    if (file.type === 'directory') {
      tree.mkdirAll(file.path, fileMeta, meta(0o755, file.mtime));
      record.files.push(file);
      continue;
    }
    const { dir, name, canonical } = tree.resolveParent(file.path, { create: meta(0o755, file.mtime) });
    const existing = dir.children.get(name);
    const ownerIndex = state.owners.get(canonical);
    if (existing !== undefined) {
      if (existing.kind === 'dir') {
        throw new RootfsError(
          'ROOTFS_FILE_CONFLICT',
          `${ident(pkg)} installs a ${file.type} at ${file.path}, where a directory exists`,
          { data: { path: file.path } },
        );
      }
      const owner = ownerIndex === undefined ? undefined : state.installed[ownerIndex];
      if (contentEqual(existing, file)) continue; // identical content: keep the first copy and owner
      if (owner !== undefined && owner.pkg.pkginfo.pkgname !== pkg.pkginfo.pkgname) {
        const oldInfo = owner.pkg.pkginfo;
        if (replacesName(owner.pkg, pkg.pkginfo.pkgname)) continue; // the installed owner replaces us: keep its file
        const sameOrigin = oldInfo.origin !== undefined && oldInfo.origin === pkg.pkginfo.origin;
        if (!replacesName(pkg, oldInfo.pkgname) && !sameOrigin) {
          throw new RootfsError(
            'ROOTFS_FILE_CONFLICT',
            `${ident(pkg)} and ${ident(owner.pkg)} both install ${file.path}`,
            {
              hint: `add "replaces = ${oldInfo.pkgname}" to ${pkg.pkginfo.pkgname} (or the reverse), or do not install both`,
              data: { path: file.path, packages: [ident(owner.pkg), ident(pkg)] },
            },
          );
        }
        owner.files = owner.files.filter(
          (f) => f.path !== file.path && safeCanonical(tree, f.path) !== canonical,
        );
      }
    }
    let node: Exclude<FsNode, { kind: 'dir' }>;
    switch (file.type) {
      case 'file':
        node = { kind: 'file', meta: fileMeta, data: file.data };
        firstFile.set(file.path, node);
        break;
      case 'hardlink': {
        const target = firstFile.get(file.linkname);
        if (target === undefined)
          throw new RootfsError(
            'ROOTFS_BAD_PATH',
            `${ident(pkg)}: hard link ${file.path} to ${file.linkname}, which this package did not install`,
          );
        node = target;
        break;
      }
      case 'symlink':
        node = { kind: 'symlink', meta: fileMeta, target: file.linkname };
        break;
      case 'char':
      case 'block':
        node = { kind: file.type, meta: fileMeta, major: file.devmajor, minor: file.devminor };
        break;
      case 'fifo':
        node = { kind: 'fifo', meta: fileMeta };
        break;
    }
    dir.children.set(name, node);
    state.owners.set(canonical, index);
    record.files.push(file);
  }
}

function safeCanonical(tree: FsTree, path: string): string | undefined {
  try {
    return tree.canonical(path);
  } catch {
    return undefined;
  }
}
