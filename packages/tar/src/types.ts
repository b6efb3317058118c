/**
 * Tar entry model shared by the reader and the writer (POSIX.1-2001 ustar + pax;
 * https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_06).
 */

/** Kinds of entries tk reads and writes. */
export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo';

/** The typeflag byte of each entry type. */
export const TYPEFLAGS: Readonly<Record<TarEntryType, string>> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  directory: '5',
  fifo: '6',
};

/** An entry's metadata. Strings are UTF-8; times are whole Unix seconds. */
export interface TarHeader {
  /** Path as stored (relative, no trailing `/` in what tk writes). */
  name: string;
  type: TarEntryType;
  /** Permission bits plus setuid/setgid/sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  /** Target of a symlink or hard link. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /**
   * PAX records carried by the entry other than the ones folded into the fields above and the xattrs
   * (`APK-TOOLS.checksum.SHA1`, …), in key order.
   */
  pax: Readonly<Record<string, string>>;
  /** Extended attributes from `SCHILY.xattr.<name>` PAX records, as raw bytes (capabilities are binary). */
  xattrs: Readonly<Record<string, Uint8Array>>;
}

/** An entry read from an archive. */
export interface TarEntry extends TarHeader {
  /** The entry's content (a view into the archive; empty for non-files). */
  data: Uint8Array;
  /** Byte offset of the entry's first header block (its PAX or long-name header, if it has one). */
  offset: number;
}

/** What the writer needs; omitted fields take the defaults Go's archive/tar would write. */
export interface TarWriteEntry {
  name: string;
  type: TarEntryType;
  /** Default 0644 for files, 0755 for directories, 0777 for symlinks. */
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  pax?: Readonly<Record<string, string>>;
  /** Extended attributes, written as `SCHILY.xattr.<name>` PAX records. */
  xattrs?: Readonly<Record<string, Uint8Array>>;
  /** File content (files only). */
  data?: Uint8Array;
}
