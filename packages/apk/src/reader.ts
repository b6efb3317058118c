/**
 * Reading apk v2 packages.
 *
 * Layout (apk-tools 2.14 `src/package.c`, apko `pkg/apk/expandapk/split.go`):
 *
 *     [ gzip: signature tar ][ gzip: control tar ][ gzip: data tar ]…
 *
 * The signature member is optional (unsigned packages have two members); the signature and control tars
 * end without an end-of-archive marker, so that all members read as one tar stream; the data tar may span
 * several gzip members. A package's identity (the index `C:` field) is `Q1` + base64(SHA-1 of the raw
 * control member); `.PKGINFO` `datahash` is the hex SHA-256 of the raw data members.
 *
 * The reader refuses anything apk-tools would misread or that could harm an installer: entries in the
 * wrong member, end-of-archive markers that hide the data, unsafe paths, hard links to later or outside
 * entries, relative symlinks that climb out of the root, and files whose content does not match their
 * `APK-TOOLS.checksum.SHA1` record.
 */
import { digest, fromUtf8, sha256Hex, toBase64, toHex, type Logger } from '@tk/core';
import { splitGzipMembers, splitGzipMembersAsync, type GzipMember } from '@tk/gzip';
import { parseSignatureEntryName, type SignatureAlgorithm, type SignatureScheme } from '@tk/keys';
import {
  checkEntryPath,
  linkStaysInside,
  readTar,
  TarError,
  type TarEntry,
  type TarEntryType,
} from '@tk/tar';
import { ApkError } from './errors.ts';
import { parsePkgInfo, type PkgInfo } from './pkginfo.ts';

/** The control entries that are install scripts, in apk-tools' order. */
export const SCRIPT_NAMES = [
  '.pre-install',
  '.post-install',
  '.pre-upgrade',
  '.post-upgrade',
  '.pre-deinstall',
  '.post-deinstall',
  '.trigger',
] as const;
/** An install script's control-entry name. */
export type ScriptName = (typeof SCRIPT_NAMES)[number];

/** PAX record holding a file's SHA-1 (hex), as melange and abuild write it. */
export const CHECKSUM_PAX_KEY = 'APK-TOOLS.checksum.SHA1';

/** A raw byte range of the package file. */
export interface ByteRange {
  start: number;
  end: number;
}

/** One `.SIGN.*` entry. */
export interface ApkSignature {
  /** The entry name, e.g. `.SIGN.RSA256.melange.rsa.pub`. */
  entryName: string;
  scheme: SignatureScheme;
  algorithm: SignatureAlgorithm | 'unsupported';
  /** File name of the public key that made it. */
  keyName: string;
  signature: Uint8Array;
}

/** A file, directory, link or device of the data section. */
export interface ApkFile {
  /** Safe relative path, no leading `./` or trailing `/`. */
  path: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  /** Symlink target or hard-link source path. */
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Readonly<Record<string, Uint8Array>>;
  /** Hex SHA-1 from the `APK-TOOLS.checksum.SHA1` record (content for files, target for symlinks). */
  sha1?: string;
  /** File content (empty for non-files); a view into the decompressed data. */
  data: Uint8Array;
}

/** A parsed package. */
export interface ApkPackage {
  /** Size of the package file in bytes (the index `S:` field). */
  fileSize: number;
  signatures: ApkSignature[];
  sections: {
    signature?: ByteRange;
    control: ByteRange;
    /** All data members together. */
    data: ByteRange;
    /** How many gzip members the data section has (apk-tools warns when more than one). */
    dataMembers: number;
  };
  pkginfo: PkgInfo;
  /** Every control entry (`.PKGINFO`, scripts, `.melange.yaml`…), in order. */
  control: TarEntry[];
  scripts: Partial<Record<ScriptName, Uint8Array>>;
  files: ApkFile[];
  /** `Q1` + base64(SHA-1(raw control member)): the index and installed-DB `C:` value. */
  identity: string;
  /** Hex SHA-256 of the raw data members, to compare with `pkginfo.datahash`. */
  dataHash: string;
}

/** Limits and modes for {@link readApk}. */
export interface ReadApkOptions {
  /** Largest decompressed signature + control section. Default 16 MiB. */
  maxControlBytes?: number;
  /** Largest decompressed data section. Default 2 GiB. */
  maxDataBytes?: number;
  /** Check each file against its SHA-1 record. Default true. */
  verifyFileChecksums?: boolean;
  /** Refuse (rather than warn about) a file whose parent directory has no entry before it. Default false. */
  strict?: boolean;
  /** Where to send warnings. */
  logger?: Logger;
  /** File name for messages. */
  source?: string;
}

function formatError(source: string, message: string, offset?: number): ApkError {
  return new ApkError('APK_BAD_FORMAT', `${source}: ${message}`, {
    hint: 'the file is not a valid apk v2 package (or was cut or altered); rebuild or download it again',
    data: offset === undefined ? { source } : { source, offset },
  });
}

/** apk entries carry a checksum and a few xattrs in PAX records; anything near this size is an attack. */
const MAX_EXTENSION_SIZE = 256 * 1024;

function readSectionTar(
  member: Uint8Array,
  source: string,
  what: string,
): { entries: TarEntry[]; endOfArchive: boolean } {
  try {
    return readTar(member, { maxExtensionSize: MAX_EXTENSION_SIZE });
  } catch (error) {
    if (error instanceof TarError) {
      throw new ApkError('APK_BAD_ENTRY', `${source}: ${what}: ${error.message}`, {
        cause: error,
        hint: error.hint,
        data: { source },
      });
    }
    throw error;
  }
}

function isControlName(name: string): boolean {
  return name.startsWith('.') && !name.includes('/');
}

/**
 * Parse a package from its bytes.
 *
 * @param bytes - the whole `.apk` file
 * @param options - limits, checksum checking, strictness, warnings
 * @returns the parsed package; nothing is verified against keys (see `verifyApk`)
 * @throws {ApkError} APK_BAD_FORMAT (member layout), APK_BAD_ENTRY (unsafe or malformed entries),
 *   APK_BAD_PKGINFO, APK_FILE_CHECKSUM_MISMATCH, APK_TOO_LARGE; {@link GzipError}s are wrapped as APK_BAD_FORMAT
 * @example
 * const pkg = readApk(await readFile('hello-2.12-r0.apk'));
 * pkg.pkginfo.pkgname; // 'hello'
 */
export function readApk(bytes: Uint8Array, options: ReadApkOptions = {}): ApkPackage {
  const limits = memberLimits(options);
  let members: GzipMember[];
  try {
    members = splitGzipMembers(bytes, { maxOutputBytes: limits.maxOutputBytes });
  } catch (error) {
    throw splitError(error, limits);
  }
  return readMembers(bytes, members, options);
}

/**
 * {@link readApk}, with the gzip members inflated on libuv's thread pool (`splitGzipMembersAsync`), so that
 * several packages read at once use several cores. Same results and errors.
 *
 * @param bytes - the whole `.apk` file
 * @param options - limits, checksum checking, strictness, warnings
 * @returns the parsed package; nothing is verified against keys (see `verifyApk`)
 * @throws {ApkError} as {@link readApk}
 * @example
 * const pkg = await readApkAsync(await readFile('hello-2.12-r0.apk'));
 */
export async function readApkAsync(bytes: Uint8Array, options: ReadApkOptions = {}): Promise<ApkPackage> {
  const limits = memberLimits(options);
  let members: GzipMember[];
  try {
    members = await splitGzipMembersAsync(bytes, { maxOutputBytes: limits.maxOutputBytes });
  } catch (error) {
    throw splitError(error, limits);
  }
  return readMembers(bytes, members, options);
}

function memberLimits(options: ReadApkOptions): { source: string; maxOutputBytes: number } {
  const maxControl = options.maxControlBytes ?? 16 << 20;
  const maxData = options.maxDataBytes ?? 2 ** 31;
  return { source: options.source ?? 'package', maxOutputBytes: maxControl + maxData };
}

function splitError(error: unknown, limits: { source: string; maxOutputBytes: number }): ApkError {
  const code = (error as { code?: string }).code;
  if (code === 'GZIP_TOO_LARGE')
    return new ApkError(
      'APK_TOO_LARGE',
      `${limits.source}: decompresses to more than ${limits.maxOutputBytes} bytes`,
      {
        cause: error,
        hint: 'raise the size limit only for trusted packages',
      },
    );
  return formatError(limits.source, (error as Error).message);
}

/** The part of {@link readApk} after the split: members, signatures, control, data. */
function readMembers(bytes: Uint8Array, members: GzipMember[], options: ReadApkOptions): ApkPackage {
  const source = options.source ?? 'package';
  const maxControl = options.maxControlBytes ?? 16 << 20;
  const maxData = options.maxDataBytes ?? 2 ** 31;
  if (members.length < 2)
    throw formatError(
      source,
      `has ${members.length} gzip member(s); an apk has a control and a data member at least`,
    );

  // Member 1: signatures, if its first entry is a .SIGN. file (apko's rule).
  let index = 0;
  const signatures: ApkSignature[] = [];
  let signatureRange: ByteRange | undefined;
  const first = members[0]!;
  const firstTar = readSectionTar(first.data, source, 'first member');
  if (firstTar.entries[0]?.name.startsWith('.SIGN.') === true) {
    for (const entry of firstTar.entries) {
      const parsed = parseSignatureEntryName(entry.name);
      if (parsed === null || entry.type !== 'file') {
        throw formatError(
          source,
          `entry ${JSON.stringify(entry.name)} in the signature member is not a signature (a member boundary is in the wrong place)`,
          first.start,
        );
      }
      signatures.push({ entryName: entry.name, ...parsed, signature: entry.data });
    }
    if (firstTar.endOfArchive)
      throw formatError(
        source,
        'the signature member ends with an end-of-archive marker, which hides the rest of the package from apk-tools',
        first.start,
      );
    signatureRange = { start: first.start, end: first.end };
    index = 1;
  }

  // Control member.
  const controlMember = members[index];
  if (controlMember === undefined || index + 1 >= members.length)
    throw formatError(source, 'has no data member after its control member');
  if (controlMember.data.length > maxControl)
    throw new ApkError(
      'APK_TOO_LARGE',
      `${source}: control section is ${controlMember.data.length} bytes, over the ${maxControl}-byte limit`,
    );
  const controlTar = index === 0 ? firstTar : readSectionTar(controlMember.data, source, 'control member');
  if (controlTar.endOfArchive)
    throw formatError(
      source,
      'the control member ends with an end-of-archive marker, which hides the data from apk-tools',
      controlMember.start,
    );
  const scripts: Partial<Record<ScriptName, Uint8Array>> = {};
  let pkginfoEntry: TarEntry | undefined;
  for (const entry of controlTar.entries) {
    if (entry.name.startsWith('.SIGN.'))
      throw formatError(
        source,
        `signature ${JSON.stringify(entry.name)} outside the first member`,
        controlMember.start,
      );
    if (!isControlName(entry.name))
      throw formatError(
        source,
        `data entry ${JSON.stringify(entry.name)} inside the control member (a member boundary is in the wrong place)`,
        controlMember.start,
      );
    if (entry.type !== 'file')
      throw formatError(
        source,
        `control entry ${JSON.stringify(entry.name)} is a ${entry.type}, not a file`,
        controlMember.start,
      );
    if (entry.name === '.PKGINFO') pkginfoEntry = entry;
    else if ((SCRIPT_NAMES as readonly string[]).includes(entry.name))
      scripts[entry.name as ScriptName] = entry.data;
    else if (entry.name === '.INSTALL')
      options.logger?.warn(`${source}: obsolete .INSTALL script ignored`, 'APK_OBSOLETE_INSTALL');
  }
  if (pkginfoEntry === undefined)
    throw new ApkError('APK_BAD_PKGINFO', `${source}: control member has no .PKGINFO`, {
      hint: 'the package is malformed; rebuild it',
    });
  let pkginfoText: string;
  try {
    pkginfoText = fromUtf8(pkginfoEntry.data);
  } catch {
    throw new ApkError('APK_BAD_PKGINFO', `${source}: .PKGINFO is not valid UTF-8`);
  }
  const pkginfo = parsePkgInfo(pkginfoText, {
    source: `${source}: .PKGINFO`,
    ...(options.logger === undefined ? {} : { warn: (m: string, c: string) => options.logger?.warn(m, c) }),
  });

  // Data members: one logical tar across them.
  const dataMembers = members.slice(index + 1);
  const dataStart = dataMembers[0]!.start;
  const dataLength = dataMembers.reduce((n, m) => n + m.data.length, 0);
  if (dataLength > maxData)
    throw new ApkError(
      'APK_TOO_LARGE',
      `${source}: data section is ${dataLength} bytes, over the ${maxData}-byte limit`,
    );
  const dataTarBytes =
    dataMembers.length === 1 ? dataMembers[0]!.data : Buffer.concat(dataMembers.map((m) => m.data));
  const dataTar = readSectionTar(dataTarBytes, source, 'data section');
  const files = checkDataEntries(dataTar.entries, source, options);

  return {
    fileSize: bytes.length,
    signatures,
    sections: {
      ...(signatureRange === undefined ? {} : { signature: signatureRange }),
      control: { start: controlMember.start, end: controlMember.end },
      data: { start: dataStart, end: bytes.length },
      dataMembers: dataMembers.length,
    },
    pkginfo,
    control: controlTar.entries,
    scripts,
    files,
    identity: identityChecksum(bytes.subarray(controlMember.start, controlMember.end)),
    dataHash: sha256Hex(bytes.subarray(dataStart)),
  };
}

/**
 * The apk identity checksum of a raw control member: `Q1` + base64(SHA-1).
 *
 * @param controlMember - the raw compressed bytes of the control gzip member
 * @returns the 30-character `Q1…` string
 */
export function identityChecksum(controlMember: Uint8Array): string {
  return `Q1${toBase64(digest('sha1', controlMember))}`;
}

function checkDataEntries(entries: readonly TarEntry[], source: string, options: ReadApkOptions): ApkFile[] {
  const verifyChecksums = options.verifyFileChecksums ?? true;
  const seen = new Map<string, TarEntryType>();
  const files: ApkFile[] = [];
  const entryError = (path: string, message: string): ApkError =>
    new ApkError('APK_BAD_ENTRY', `${source}: ${JSON.stringify(path)}: ${message}`, {
      hint: 'the package is malformed or hostile; it was not installed',
      data: { source, path },
    });
  for (const entry of entries) {
    let path: string;
    try {
      path = checkEntryPath(entry.name);
    } catch (error) {
      throw new ApkError('APK_BAD_ENTRY', `${source}: ${(error as Error).message}`, {
        cause: error,
        hint: 'the package is malformed or hostile; it was not installed',
        data: { source, path: entry.name },
      });
    }
    if (seen.has(path)) throw entryError(path, 'appears twice in the data section');
    const slash = path.lastIndexOf('/');
    if (slash > 0) {
      const parent = path.slice(0, slash);
      const parentType = seen.get(parent);
      if (parentType !== undefined && parentType !== 'directory')
        throw entryError(path, `its parent ${JSON.stringify(parent)} is a ${parentType}, not a directory`);
      if (parentType === undefined) {
        if (options.strict === true)
          throw entryError(
            path,
            `its directory ${JSON.stringify(parent)} has no entry before it ("no dirent in archive")`,
          );
        options.logger?.warn(
          `${source}: ${path}: directory ${parent} has no entry before it`,
          'APK_NO_DIRENT',
        );
      }
    }
    if (entry.type === 'hardlink') {
      let target: string;
      try {
        target = checkEntryPath(entry.linkname);
      } catch {
        throw entryError(path, `hard link to unsafe path ${JSON.stringify(entry.linkname)}`);
      }
      if (seen.get(target) !== 'file')
        throw entryError(
          path,
          `hard link to ${JSON.stringify(entry.linkname)}, which is not an earlier file of this package`,
        );
    }
    if (
      entry.type === 'symlink' &&
      !entry.linkname.startsWith('/') &&
      !linkStaysInside(path, entry.linkname)
    ) {
      throw entryError(path, `symlink target ${JSON.stringify(entry.linkname)} climbs out of the root`);
    }
    if (entry.type === 'symlink' && entry.linkname === '')
      throw entryError(path, 'symlink with an empty target');
    const sha1 = entry.pax[CHECKSUM_PAX_KEY];
    if (sha1 !== undefined && !/^[0-9a-f]{40}$/.test(sha1))
      throw entryError(path, `malformed ${CHECKSUM_PAX_KEY} ${JSON.stringify(sha1)}`);
    if (verifyChecksums && sha1 !== undefined && (entry.type === 'file' || entry.type === 'symlink')) {
      const actual = toHex(
        digest('sha1', entry.type === 'file' ? entry.data : new TextEncoder().encode(entry.linkname)),
      );
      if (actual !== sha1) {
        throw new ApkError(
          'APK_FILE_CHECKSUM_MISMATCH',
          `${source}: ${JSON.stringify(path)} has SHA-1 ${actual}, but its checksum record says ${sha1}`,
          {
            hint: 'the package content was altered after it was built; do not install it',
            data: { source, path, expected: sha1, actual },
          },
        );
      }
    }
    seen.set(path, entry.type);
    files.push({
      path,
      type: entry.type,
      mode: entry.mode,
      uid: entry.uid,
      gid: entry.gid,
      uname: entry.uname,
      gname: entry.gname,
      mtime: entry.mtime,
      linkname: entry.linkname,
      devmajor: entry.devmajor,
      devminor: entry.devminor,
      xattrs: entry.xattrs,
      ...(sha1 === undefined ? {} : { sha1 }),
      data: entry.data,
    });
  }
  return files;
}
