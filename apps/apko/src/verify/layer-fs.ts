/**
 * The file system an image's layers make, as a map from path to entry, built from the uncompressed layer
 * tars base first (image-spec layer.md, "Applying changesets"):
 *
 * - names are normalised (`./usr/bin/` → `usr/bin`, `/etc//x` → `etc/x`); the root entry itself is dropped;
 * - `.wh.<name>` deletes `<name>` (and everything below it) from the layers below; `.wh..wh..opq` deletes
 *   everything below its directory from the layers below; whiteouts never touch entries of their own layer;
 * - a later entry replaces an earlier one at the same path; a non-directory replacing a directory hides
 *   everything below it;
 * - entries whose names (or hard-link targets) contain a `..` component or a NUL byte are not applied: they
 *   are reported as issues, since an extractor would write them outside the root or refuse them.
 *
 * Lookups resolve symlinks the way the image builder does (`@tk/rootfs` FsTree): chroot semantics (`..` at
 * the root stays there, absolute targets restart at the root), at most 40 links per lookup.
 */
import { createHash } from 'node:crypto';
import type { TarEntry } from '@tk/tar';

/** Kinds of layer entries. */
export type LayerEntryKind = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/** One entry of the flattened file system. */
export interface LayerEntry {
  /** Normalised path (`usr/bin/hello`). */
  path: string;
  type: LayerEntryKind;
  /** Permission bits plus setuid/setgid/sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  /** Content length of regular files (0 for everything else). */
  size: number;
  /** Symlink target as stored; for hard links the normalised path of the target. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Content of regular files (a view into the layer). */
  data: Uint8Array;
  /** Index of the layer the entry comes from (0 = base). */
  layer: number;
}

/** An entry that was not applied. */
export interface LayerIssue {
  /** The name as stored in the tar. */
  name: string;
  layer: number;
  message: string;
}

/** The most symlinks one lookup follows (Linux's MAXSYMLINKS). */
export const MAX_SYMLINK_HOPS = 40;

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_WHITEOUT = '.wh..wh..opq';

/**
 * Normalise a tar name.
 *
 * @param name - the name as stored
 * @returns the path (`''` for the root), or undefined when it is unsafe (a `..` component, a NUL byte)
 */
export function normalizeLayerPath(name: string): string | undefined {
  if (name.includes('\0')) return undefined;
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return undefined;
  return parts.join('/');
}

function splitPath(path: string): string[] {
  return path.split('/').filter((p) => p !== '');
}

/** The flattened file system of one image. */
export class LayerFs {
  /** Path → entry, in the order entries were first written. */
  readonly entries = new Map<string, LayerEntry>();
  /** Entries that were not applied (unsafe names). */
  readonly issues: LayerIssue[] = [];
  #layers = 0;
  readonly #sha1 = new Map<LayerEntry, string>();

  /**
   * Apply one layer on top of the ones applied so far.
   *
   * @param tarEntries - the layer's entries, in tar order
   */
  applyLayer(tarEntries: readonly TarEntry[]): void {
    const layer = this.#layers++;
    const whiteouts: { dir: string; name: string | undefined }[] = [];
    const entries: LayerEntry[] = [];
    for (const e of tarEntries) {
      const path = normalizeLayerPath(e.name);
      if (path === undefined) {
        this.issues.push({ name: e.name, layer, message: 'the name is not a safe relative path' });
        continue;
      }
      if (path === '') continue; // the root itself
      const slash = path.lastIndexOf('/');
      const dir = slash < 0 ? '' : path.slice(0, slash);
      const base = path.slice(slash + 1);
      if (base === OPAQUE_WHITEOUT) {
        whiteouts.push({ dir, name: undefined });
        continue;
      }
      if (base.startsWith(WHITEOUT_PREFIX)) {
        whiteouts.push({ dir, name: base.slice(WHITEOUT_PREFIX.length) });
        continue;
      }
      let linkname = e.linkname;
      if (e.type === 'hardlink') {
        const target = normalizeLayerPath(e.linkname);
        if (target === undefined || target === '') {
          this.issues.push({
            name: e.name,
            layer,
            message: `hard link to unsafe path ${JSON.stringify(e.linkname)}`,
          });
          continue;
        }
        linkname = target;
      }
      entries.push({
        path,
        type: e.type,
        mode: e.mode & 0o7777,
        uid: e.uid,
        gid: e.gid,
        size: e.type === 'file' ? e.data.byteLength : 0,
        linkname,
        devmajor: e.devmajor,
        devminor: e.devminor,
        data: e.type === 'file' ? e.data : new Uint8Array(0),
        layer,
      });
    }
    // What this layer removes from the layers below: whited-out paths with everything under them, the
    // contents of opaque directories, and what was under a directory this layer replaces with a
    // non-directory. One pass over the map, checking each path's ancestors (no per-whiteout scan, so a
    // layer of many whiteouts stays linear).
    const removed = new Set<string>();
    const emptied = new Set<string>();
    for (const w of whiteouts) {
      if (w.name === undefined) emptied.add(w.dir);
      else removed.add(w.dir === '' ? w.name : `${w.dir}/${w.name}`);
    }
    for (const entry of entries) {
      if (entry.type !== 'directory' && this.entries.get(entry.path)?.type === 'directory')
        emptied.add(entry.path);
    }
    if (removed.size > 0 || emptied.size > 0) {
      for (const path of [...this.entries.keys()]) {
        if (removed.has(path) || emptied.has('')) {
          this.entries.delete(path);
          continue;
        }
        for (let at = path.lastIndexOf('/'); at > 0; at = path.lastIndexOf('/', at - 1)) {
          const ancestor = path.slice(0, at);
          if (removed.has(ancestor) || emptied.has(ancestor)) {
            this.entries.delete(path);
            break;
          }
        }
      }
    }
    // A later entry at the same path replaces the earlier one and keeps its position in the map.
    for (const entry of entries) this.entries.set(entry.path, entry);
  }

  /**
   * The entry at a path, without following a final symlink (lstat), after resolving the parents.
   *
   * @param path - a path from the root
   * @returns the entry, or undefined
   */
  lstat(path: string): LayerEntry | undefined {
    const canonical = this.resolve(path, false);
    return canonical === undefined ? undefined : this.entries.get(canonical);
  }

  /**
   * The canonical path of a path: parents resolved through symlinks, the last component followed only
   * when asked. Components that do not exist are kept as they are.
   *
   * @param path - a path from the root
   * @param followLast - follow a final symlink too
   * @returns the canonical path (`''` for the root), or undefined for a symlink loop
   */
  resolve(path: string, followLast: boolean): string | undefined {
    const pending = splitPath(path);
    const out: string[] = [];
    let hops = 0;
    while (pending.length > 0) {
      const part = pending.shift()!;
      if (part === '.') continue;
      if (part === '..') {
        out.pop();
        continue;
      }
      const candidate = out.length === 0 ? part : `${out.join('/')}/${part}`;
      const entry = this.entries.get(candidate);
      if (entry?.type === 'symlink' && (pending.length > 0 || followLast)) {
        if (++hops > MAX_SYMLINK_HOPS) return undefined;
        if (entry.linkname.startsWith('/')) out.length = 0;
        pending.unshift(...splitPath(entry.linkname));
        continue;
      }
      out.push(part);
    }
    return out.join('/');
  }

  /**
   * The content of a regular file or of a hard link's target.
   *
   * @param entry - a file or hard link
   * @returns the bytes, or undefined for other entries and dangling hard links
   */
  content(entry: LayerEntry): Uint8Array | undefined {
    let current: LayerEntry | undefined = entry;
    for (let hops = 0; current !== undefined && hops <= MAX_SYMLINK_HOPS; hops++) {
      if (current.type === 'file') return current.data;
      if (current.type !== 'hardlink') return undefined;
      current = this.entries.get(current.linkname);
    }
    return undefined;
  }

  /**
   * A hex digest of what an apk checksum covers: a file's content, or a symlink's target.
   *
   * @param entry - the entry
   * @param algorithm - `sha1` or `sha256`
   * @returns lowercase hex, or undefined for entries without content
   */
  digest(entry: LayerEntry, algorithm: 'sha1' | 'sha256'): string | undefined {
    const bytes = entry.type === 'symlink' ? Buffer.from(entry.linkname, 'utf8') : this.content(entry);
    if (bytes === undefined) return undefined;
    if (algorithm === 'sha1') {
      const cached = this.#sha1.get(entry);
      if (cached !== undefined) return cached;
      const hex = createHash('sha1').update(bytes).digest('hex');
      this.#sha1.set(entry, hex);
      return hex;
    }
    return createHash('sha256').update(bytes).digest('hex');
  }
}
