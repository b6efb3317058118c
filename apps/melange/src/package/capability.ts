/**
 * File capabilities from a recipe's `setcap:` entries, as the `security.capability` extended attribute.
 *
 * The value is the kernel's `struct vfs_ns_cap_data` (include/uapi/linux/capability.h), little-endian:
 *
 *     offset 0   magic_etc     VFS_CAP_REVISION_3 (0x03000000) | VFS_CAP_FLAGS_EFFECTIVE (0x1) when any
 *                              capability is effective
 *     offset 4   data[0].permitted     capabilities 0-31
 *     offset 8   data[0].inheritable
 *     offset 12  data[1].permitted     capabilities 32-63
 *     offset 16  data[1].inheritable
 *     offset 20  rootid        (revision 3 only) uid that owns the capabilities; 0
 *
 * Revision 2 is the same without `rootid` (20 bytes). tk writes revision 3 with rootid 0, byte for byte what
 * melange writes (`config.EncodeCapability`), so the same recipe gives the same package with either tool. The
 * kernel accepts both: a v3 value whose rootid maps to the root of the filesystem's user namespace behaves
 * like v2 (and is stored as v2 when written from the initial namespace, `cap_convert_nscap`), which is what
 * apk-tools and container runtimes do when they extract the package as root. {@link encodeCapabilityXattr}
 * can produce revision 2 for callers that want it.
 *
 * Only the capabilities melange allows in recipes are accepted (`validCapabilities` in melange
 * `pkg/config/config.go`); the flag text is read like melange does: each of `e`, `p`, `i` anywhere in it
 * sets that set (so `+ep`, `=ep` and `ep` are the same).
 */
import type { ApkInputFile } from '@tk/apk';
import { MelangeError } from '../errors.ts';
import type { Setcap } from '../recipe/types.ts';

/** The extended attribute that holds file capabilities. */
export const CAPABILITY_XATTR = 'security.capability';

const VFS_CAP_REVISION_2 = 0x02000000;
const VFS_CAP_REVISION_3 = 0x03000000;
const VFS_CAP_FLAGS_EFFECTIVE = 0x000001;
const XATTR_CAPS_SZ_2 = 20;
const XATTR_CAPS_SZ_3 = 24;

/** Capabilities a recipe may set, with their bit numbers (linux/capability.h). */
export const ALLOWED_CAPABILITIES: Readonly<Record<string, number>> = {
  cap_net_bind_service: 10,
  cap_net_admin: 12,
  cap_net_raw: 13,
  cap_ipc_lock: 14,
  cap_sys_admin: 21,
};

/** The three capability sets of one file, as bit masks over capabilities 0-31. */
export interface CapabilitySets {
  effective: number;
  permitted: number;
  inheritable: number;
}

/**
 * Encode capability sets as a `security.capability` value.
 *
 * @param sets - bit masks (capabilities 0-31; the allowed ones all are)
 * @param revision - 3 (default, as melange) or 2
 * @returns the attribute value (24 or 20 bytes)
 * @example
 * encodeCapabilityXattr({ effective: 1 << 13, permitted: 1 << 13, inheritable: 0 });
 * // 01 00 00 03  00 20 00 00  00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00
 */
export function encodeCapabilityXattr(sets: CapabilitySets, revision: 2 | 3 = 3): Uint8Array {
  const out = new Uint8Array(revision === 3 ? XATTR_CAPS_SZ_3 : XATTR_CAPS_SZ_2);
  const view = new DataView(out.buffer);
  const magic =
    (revision === 3 ? VFS_CAP_REVISION_3 : VFS_CAP_REVISION_2) |
    (sets.effective !== 0 ? VFS_CAP_FLAGS_EFFECTIVE : 0);
  view.setUint32(0, magic >>> 0, true);
  view.setUint32(4, sets.permitted >>> 0, true);
  view.setUint32(8, sets.inheritable >>> 0, true);
  // data[1] (capabilities 32-63) and rootid stay 0.
  return out;
}

function invalid(message: string, data: Record<string, unknown>): MelangeError {
  return new MelangeError('MELANGE_SETCAP_INVALID', message, {
    hint: `setcap paths name regular files of the package (e.g. /usr/bin/ping); capabilities are ${Object.keys(ALLOWED_CAPABILITIES).join(', ')}`,
    data,
  });
}

/** A setcap path as a package-relative path: leading `/` removed, no `.`/`..`/empty components. */
function packagePath(path: string, pkg: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.includes('..'))
    throw invalid(`setcap path ${JSON.stringify(path)} of package ${pkg} is not a path inside the package`, {
      path,
      package: pkg,
    });
  return parts.join('/');
}

/**
 * Collect the capability sets per path from setcap entries (several entries for one path add up).
 *
 * @param entries - the package's `setcap:` list
 * @param pkg - the package name, for messages
 * @returns sets by package-relative path, in first-seen order
 * @throws {MelangeError} MELANGE_SETCAP_INVALID for an unknown capability or a path outside the package
 */
export function parseSetcap(entries: readonly Setcap[], pkg: string): Map<string, CapabilitySets> {
  const byPath = new Map<string, CapabilitySets>();
  for (const entry of entries) {
    const path = packagePath(entry.path, pkg);
    const sets = byPath.get(path) ?? { effective: 0, permitted: 0, inheritable: 0 };
    for (const [names, flags] of Object.entries(entry.add)) {
      for (const raw of names.split(',')) {
        const name = raw.trim().toLowerCase();
        const bit = ALLOWED_CAPABILITIES[name];
        if (bit === undefined)
          throw invalid(
            `setcap for ${entry.path} in package ${pkg}: unknown or disallowed capability ${JSON.stringify(raw)}`,
            {
              path: entry.path,
              package: pkg,
              capability: raw,
            },
          );
        const mask = 1 << bit;
        if (flags.includes('e')) sets.effective |= mask;
        if (flags.includes('p')) sets.permitted |= mask;
        if (flags.includes('i')) sets.inheritable |= mask;
      }
    }
    byPath.set(path, sets);
  }
  return byPath;
}

/**
 * Put each setcap entry's `security.capability` xattr on its file. A hard link's capabilities go on the
 * entry it links to (they share an inode, so both names get them).
 *
 * @param files - the walked package files (not modified)
 * @param entries - the package's `setcap:` list
 * @param pkg - the package name, for messages
 * @returns the files with xattrs added
 * @throws {MelangeError} MELANGE_SETCAP_INVALID when a path is missing or not a regular file, or a capability is unknown
 */
export function applySetcap(
  files: readonly ApkInputFile[],
  entries: readonly Setcap[],
  pkg: string,
): ApkInputFile[] {
  if (entries.length === 0) return [...files];
  const byPath = new Map(files.map((f, i) => [f.path, i] as const));
  const out = [...files];
  for (const [path, sets] of parseSetcap(entries, pkg)) {
    let index = byPath.get(path);
    let file = index === undefined ? undefined : out[index];
    if (file?.type === 'hardlink' && file.linkname !== undefined) {
      index = byPath.get(file.linkname);
      file = index === undefined ? undefined : out[index];
    }
    if (file === undefined || index === undefined)
      throw invalid(`setcap path /${path} does not exist in package ${pkg}`, { path, package: pkg });
    if (file.type !== 'file')
      throw invalid(`setcap path /${path} in package ${pkg} is a ${file.type}, not a regular file`, {
        path,
        package: pkg,
      });
    out[index] = { ...file, xattrs: { ...file.xattrs, [CAPABILITY_XATTR]: encodeCapabilityXattr(sets) } };
  }
  return out;
}
