/**
 * Accounts (apko `accounts:`; apk-and-apko.md §5.5): users and groups are merged into the image's
 * /etc/passwd, /etc/group and /etc/shadow (a configured entry replaces a package's entry of the same
 * name), home directories are created (0700, owned by the user), and `run-as` becomes a numeric uid
 * when it names a configured or existing user.
 */
import { fromUtf8, utf8 } from '@tk/core';
import { RootfsError } from './errors.ts';
import { meta, type FsTree } from './tree.ts';

/** A configured user. */
export interface UserAccount {
  username: string;
  uid: number;
  /** Default: the uid. */
  gid?: number;
  /** Default `/bin/sh`. */
  shell?: string;
  /** Default `/home/<username>`. */
  homedir?: string;
}

/** A configured group. */
export interface GroupAccount {
  groupname: string;
  gid: number;
  members?: readonly string[];
}

/** Options for {@link applyAccounts}. */
export interface AccountsOptions {
  users: readonly UserAccount[];
  groups: readonly GroupAccount[];
  /** `run-as` as configured (a name or a number), if any. */
  runAs?: string;
  mtime: number;
}

function readLines(tree: FsTree, path: string): string[] {
  const node = tree.get(path, { follow: true });
  if (node?.kind !== 'file') return [];
  let text: string;
  try {
    text = fromUtf8(node.data);
  } catch {
    throw new RootfsError('ROOTFS_BAD_STEP', `/${path} is not valid UTF-8`, {
      hint: 'a package installed a corrupt account file',
    });
  }
  return text.split('\n').filter((line) => line !== '');
}

function upsert(lines: string[], name: string, line: string): string[] {
  const index = lines.findIndex((l) => l.split(':')[0] === name);
  if (index < 0) return [...lines, line];
  const copy = [...lines];
  copy[index] = line;
  return copy;
}

function writeLines(tree: FsTree, path: string, lines: readonly string[], mode: number, mtime: number): void {
  const existing = tree.get(path, { follow: true });
  const fileMeta = existing?.kind === 'file' ? existing.meta : meta(mode, mtime);
  tree.mkdirAll('etc', meta(0o755, mtime));
  tree.put(path, { kind: 'file', meta: fileMeta, data: utf8(lines.map((l) => `${l}\n`).join('')) });
}

/**
 * Apply accounts to a root.
 *
 * @param tree - the root (packages already installed)
 * @param options - users, groups, run-as, timestamp
 * @returns the image's user for the OCI config (numeric when resolvable), or undefined
 * @throws {RootfsError} ROOTFS_BAD_STEP for unusable account data
 */
export function applyAccounts(tree: FsTree, options: AccountsOptions): string | undefined {
  const { mtime } = options;
  if (options.groups.length > 0) {
    let groups = readLines(tree, 'etc/group');
    for (const g of options.groups)
      groups = upsert(groups, g.groupname, `${g.groupname}:x:${g.gid}:${(g.members ?? []).join(',')}`);
    writeLines(tree, 'etc/group', groups, 0o644, mtime);
  }
  let passwd = readLines(tree, 'etc/passwd');
  let shadow = readLines(tree, 'etc/shadow');
  for (const u of options.users) {
    const gid = u.gid ?? u.uid;
    const home = u.homedir ?? `/home/${u.username}`;
    passwd = upsert(
      passwd,
      u.username,
      `${u.username}:x:${u.uid}:${gid}:Account created by tk:${home}:${u.shell ?? '/bin/sh'}`,
    );
    shadow = upsert(shadow, u.username, `${u.username}:!:::::::`);
    if (tree.get(home, { follow: true }) === undefined) {
      const dir = tree.mkdirAll(home, { ...meta(0o700, mtime), uid: u.uid, gid }, meta(0o755, mtime));
      dir.meta.uid = u.uid;
      dir.meta.gid = gid;
    }
  }
  writeLines(tree, 'etc/passwd', passwd, 0o644, mtime);
  if (options.users.length > 0) writeLines(tree, 'etc/shadow', shadow, 0o640, mtime);
  if (options.runAs === undefined || options.runAs === '') return undefined;
  if (/^[0-9]+(:[0-9]+)?$/.test(options.runAs)) return options.runAs;
  const entry = passwd.map((l) => l.split(':')).find((f) => f[0] === options.runAs);
  return entry?.[2] ?? options.runAs;
}

/**
 * Names for uids and gids, from the image's own /etc/passwd and /etc/group (for layer headers).
 *
 * @param tree - the root
 * @returns lookups that return '' for unknown ids
 */
export function accountNames(tree: FsTree): { user(uid: number): string; group(gid: number): string } {
  const table = (path: string): Map<number, string> => {
    const map = new Map<number, string>();
    for (const line of readLines(tree, path)) {
      const f = line.split(':');
      const id = Number(f[2]);
      if (f[0] !== undefined && Number.isSafeInteger(id) && !map.has(id)) map.set(id, f[0]);
    }
    return map;
  };
  const users = table('etc/passwd');
  const groups = table('etc/group');
  return { user: (uid) => users.get(uid) ?? '', group: (gid) => groups.get(gid) ?? '' };
}
