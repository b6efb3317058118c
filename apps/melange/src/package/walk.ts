/**
 * Reading a package's output folder (`<workspace>/melange-out/<name>/`) into the apk writer's input, the way
 * melange's tarball writer walks it:
 *
 * - lexical directory-walk order (component by component, `comparePaths`), the root itself left out;
 * - symlinks are never followed (`lstat`): a symlink to a directory is stored as a symlink, and its target
 *   is stored as written, absolute or relative;
 * - a file with more than one link is stored once, under the path that sorts first; its other names are
 *   hard links to that path (matched by device and inode);
 * - permission bits as on disk, setuid/setgid/sticky included; character and block devices with their
 *   numbers; sockets and FIFOs are refused (`MELANGE_PACKAGE_UNSUPPORTED_FILE`);
 * - owners through the caller's `mapOwner` (the build user, uid 1000 inside the sandbox, is the invoking
 *   user outside; melange maps it to root) and names from the guest's `/etc/passwd` and `/etc/group`;
 * - names must be valid UTF-8 without control characters (apk-tools refuses control characters as
 *   "malicious", and a name with a newline would corrupt the installed database): `MELANGE_PACKAGE_BAD_NAME`.
 *
 * Extended attributes on disk are not read (Node has no xattr API): the only xattrs a package gets are the
 * recipe's `setcap` capabilities. melange notes that stray xattrs break reproducibility anyway.
 */
import type { BigIntStats } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { comparePaths, type ApkInputFile } from '@tk/apk';
import { linkStaysInside } from '@tk/tar';
import { MelangeError } from '../errors.ts';
import type { Setcap } from '../recipe/types.ts';
import { applySetcap } from './capability.ts';

/** uid → user name or gid → group name, as read from the guest's `/etc/passwd` and `/etc/group`. */
export type OwnerNames = ReadonlyMap<number, string> | Readonly<Record<number, string>>;

/** Maps an owner on disk to the owner stored in the package. */
export type OwnerMapper = (uid: number, gid: number) => { uid: number; gid: number };

/** Options of {@link walkPackageDir}. */
export interface WalkOptions {
  /** Owner mapping; default: as on disk. */
  mapOwner?: OwnerMapper;
  /** User names by uid (after mapping); uid 0 defaults to `root`, others to an empty name. */
  users?: OwnerNames;
  /** Group names by gid (after mapping); gid 0 defaults to `root`. */
  groups?: OwnerNames;
  /** The package's `setcap:` entries. */
  setcap?: readonly Setcap[];
  /** The package name, for messages. Default: the folder. */
  packageName?: string;
}

const S_IFMT = 0o170000n;
const PERMISSION_BITS = 0o7777;
// C0 controls and DEL: apk-tools drops such names as malicious; a newline would also break its database.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function nameOf(names: OwnerNames | undefined, id: number): string {
  let name: string | undefined;
  if (names instanceof Map) name = (names as ReadonlyMap<number, string>).get(id);
  else if (names !== undefined) name = (names as Readonly<Record<number, string>>)[id];
  return name ?? (id === 0 ? 'root' : '');
}

function readFailed(path: string, error: unknown): MelangeError {
  const code = (error as { code?: string }).code;
  return new MelangeError(
    'MELANGE_PACKAGE_READ_FAILED',
    `cannot read ${path}${code === undefined ? '' : ` (${code})`}: ${(error as Error).message}`,
    {
      hint: 'check that the build left the output folder readable by the user running tk',
      cause: error,
      data: { path },
    },
  );
}

function badName(where: string, what: string, pkg: string): MelangeError {
  return new MelangeError('MELANGE_PACKAGE_BAD_NAME', `package ${pkg}: ${where} ${what}`, {
    hint: 'rename the file in the build (apk can only store UTF-8 names without control characters)',
    data: { path: where, package: pkg },
  });
}

/**
 * Decode a name from readdir/readlink bytes, refusing what apk cannot store.
 *
 * @param raw - the bytes
 * @param label - how to name the thing in a message, given its (lossily) decoded text
 * @param pkg - the package, for messages
 */
function decodeName(raw: Uint8Array, label: (text: string) => string, pkg: string): string {
  let text: string;
  try {
    text = UTF8.decode(raw);
  } catch {
    throw badName(label(Buffer.from(raw).toString('latin1')), 'is not valid UTF-8', pkg);
  }
  if (CONTROL.test(text)) throw badName(label(text), 'contains a newline or control character', pkg);
  return text;
}

/** Linux `major()`/`minor()` of a device number (glibc's encoding, 64-bit). */
function deviceNumbers(rdev: bigint): { devmajor: number; devminor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { devmajor: Number(major & 0xffffffffn), devminor: Number(minor & 0xffffffffn) };
}

interface Found {
  path: string;
  abs: string;
  stats: BigIntStats;
}

async function collect(root: string, pkg: string): Promise<Found[]> {
  const found: Found[] = [];
  const visit = async (dirAbs: string, dirRel: string): Promise<void> => {
    let names: Buffer[];
    try {
      names = await readdir(dirAbs, { encoding: 'buffer' });
    } catch (error) {
      throw readFailed(dirAbs, error);
    }
    for (const raw of names) {
      const name = decodeName(raw, (t) => JSON.stringify(dirRel === '' ? t : `${dirRel}/${t}`), pkg);
      // readdir never returns these, but the path is used to build the archive: make sure.
      if (name === '' || name === '.' || name === '..' || name.includes('/'))
        throw badName(JSON.stringify(name), 'is not a plain file name', pkg);
      const path = dirRel === '' ? name : `${dirRel}/${name}`;
      const abs = join(dirAbs, name);
      let stats: BigIntStats;
      try {
        stats = await lstat(abs, { bigint: true });
      } catch (error) {
        throw readFailed(abs, error);
      }
      found.push({ path, abs, stats });
      if (stats.isDirectory()) await visit(abs, path);
    }
  };
  await visit(root, '');
  return found.sort((a, b) => comparePaths(a.path, b.path));
}

/**
 * Read a package's output folder into apk writer input.
 *
 * @param root - the folder (`<workspace>/melange-out/<name>`); a missing folder is an empty package
 * @param options - owner mapping and names, setcap entries, package name for messages
 * @returns the entries in walk order (directories before their contents, hard links after their target)
 * @throws {MelangeError} MELANGE_PACKAGE_READ_FAILED, MELANGE_PACKAGE_BAD_NAME, MELANGE_PACKAGE_UNSUPPORTED_FILE,
 *   MELANGE_SETCAP_INVALID
 * @example
 * const files = await walkPackageDir('/ws/melange-out/hello', {
 *   mapOwner: (uid, gid) => ({ uid: uid === 1000 ? 0 : uid, gid: gid === 1000 ? 0 : gid }),
 * });
 */
export async function walkPackageDir(root: string, options: WalkOptions = {}): Promise<ApkInputFile[]> {
  const pkg = options.packageName ?? root;
  let rootStats: BigIntStats;
  try {
    rootStats = await lstat(root, { bigint: true });
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return applySetcap([], options.setcap ?? [], pkg);
    throw readFailed(root, error);
  }
  if (!rootStats.isDirectory())
    throw new MelangeError('MELANGE_PACKAGE_READ_FAILED', `package ${pkg}: ${root} is not a directory`, {
      hint: 'the build must leave melange-out/<package> as a plain directory',
      data: { path: root },
    });

  const mapOwner = options.mapOwner ?? ((uid: number, gid: number) => ({ uid, gid }));
  const firstPathOfInode = new Map<string, string>();
  const files: ApkInputFile[] = [];
  for (const { path, abs, stats } of await collect(root, pkg)) {
    const owner = mapOwner(Number(stats.uid), Number(stats.gid));
    const base = {
      path,
      mode: Number(stats.mode) & PERMISSION_BITS,
      uid: owner.uid,
      gid: owner.gid,
      uname: nameOf(options.users, owner.uid),
      gname: nameOf(options.groups, owner.gid),
    };
    const kind = stats.mode & S_IFMT;
    if (stats.isDirectory()) {
      files.push({ ...base, type: 'directory' });
    } else if (stats.isSymbolicLink()) {
      let target: Buffer;
      try {
        target = await readlink(abs, { encoding: 'buffer' });
      } catch (error) {
        throw readFailed(abs, error);
      }
      const linkname = decodeName(target, (t) => `the target ${JSON.stringify(t)} of symlink ${path}`, pkg);
      // apk-tools and tk's installer refuse a relative target that climbs above the root; refuse it here,
      // at build time, rather than write a package nobody can install.
      if (!linkStaysInside(path, linkname)) {
        throw new MelangeError(
          'MELANGE_PACKAGE_UNSUPPORTED_FILE',
          `package ${pkg}: symlink ${path} -> ${linkname} climbs above the root of the package`,
          {
            hint: 'use an absolute target, or as many ../ as the link is deep',
            data: { path, target: linkname },
          },
        );
      }
      files.push({ ...base, type: 'symlink', linkname });
    } else if (stats.isFile()) {
      const key = `${stats.dev}:${stats.ino}`;
      const first = stats.nlink > 1n ? firstPathOfInode.get(key) : undefined;
      if (first !== undefined) {
        files.push({ ...base, type: 'hardlink', linkname: first });
        continue;
      }
      if (stats.nlink > 1n) firstPathOfInode.set(key, path);
      let data: Uint8Array;
      try {
        const buffer = await readFile(abs);
        data = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      } catch (error) {
        throw readFailed(abs, error);
      }
      files.push({ ...base, type: 'file', data });
    } else if (stats.isCharacterDevice() || stats.isBlockDevice()) {
      files.push({
        ...base,
        type: stats.isCharacterDevice() ? 'char' : 'block',
        ...deviceNumbers(stats.rdev),
      });
    } else {
      const what = stats.isFIFO()
        ? 'a FIFO'
        : stats.isSocket()
          ? 'a socket'
          : `of unknown type ${kind.toString(8)}`;
      throw new MelangeError('MELANGE_PACKAGE_UNSUPPORTED_FILE', `package ${pkg}: ${path} is ${what}`, {
        hint: 'remove it in the build (sockets and FIFOs are created at run time, not shipped in packages)',
        data: { path, package: pkg },
      });
    }
  }
  return applySetcap(files, options.setcap ?? [], pkg);
}
