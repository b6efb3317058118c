/**
 * Deterministic apk v2 writing (the recipe of apk-and-apko.md §1.8, as melange does it):
 *
 * 1. data tar: entries in directory-walk order (component-wise lexical, parents first, missing parents
 *    added), every mtime = SOURCE_DATE_EPOCH, owners as declared (names `root` for 0), each file and
 *    symlink with an `APK-TOOLS.checksum.SHA1` PAX record, closed with an end-of-archive marker; gzip it:
 *    `datahash` = SHA-256 of the compressed bytes;
 * 2. `.PKGINFO` (with size and datahash), scripts and extra control files in a tar without an
 *    end-of-archive marker; gzip it;
 * 3. optionally sign the compressed control member (RSA-SHA256 by default, RSA-SHA1 for Alpine's tools)
 *    into a one-entry `.SIGN.RSA256.<key>` tar without end-of-archive; gzip it;
 * 4. the package is signature ‖ control ‖ data.
 *
 * Nothing here reads a clock or the environment: the same input gives the same bytes.
 */
import { concatBytes, digest, sha256Hex, toHex, utf8 } from '@tk/core';
import { gzip, type GzipOptions } from '@tk/gzip';
import { signatureEntryName, signBytes, type PrivateKey, type SignatureAlgorithm } from '@tk/keys';
import { checkEntryPath, TarWriter, type TarEntryType } from '@tk/tar';
import { ApkError } from './errors.ts';
import { serializePkgInfo, type PkgInfo } from './pkginfo.ts';
import { CHECKSUM_PAX_KEY, identityChecksum, SCRIPT_NAMES, type ScriptName } from './reader.ts';

/** A file tree entry to package. */
export interface ApkInputFile {
  /** Relative path inside the package (`usr/bin/hello`). */
  path: string;
  type: TarEntryType;
  /** Permission bits incl. setuid/setgid/sticky; default 0644 files, 0755 directories, 0777 symlinks. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Default `root` for id 0, otherwise empty. */
  uname?: string;
  gname?: string;
  /** Symlink target, or the path of an earlier file for a hard link. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Readonly<Record<string, Uint8Array>>;
  /** Content of a regular file. */
  data?: Uint8Array;
}

/** How to sign. */
export interface ApkSigner {
  key: PrivateKey;
  /** Name of the public key as installed in `/etc/apk/keys` (melange: basename of the private key + `.pub`). */
  keyName: string;
  /** `sha256` (RSA256, default) or `sha1` (RSA, for apk-tools before 2.14 and Alpine's own packages). */
  algorithm?: SignatureAlgorithm;
}

/** Everything that goes into a package. */
export interface ApkBuildInput {
  /** Metadata; `size` defaults to the sum of file sizes and symlink target lengths; `datahash` is always computed. */
  pkginfo: PkgInfo;
  files: readonly ApkInputFile[];
  scripts?: Partial<Record<ScriptName, Uint8Array | string>>;
  /** Extra control files such as `.melange.yaml` (names start with `.`, no `/`). */
  extraControl?: readonly { name: string; data: Uint8Array | string }[];
  /** Timestamp of every entry (Unix seconds). */
  sourceDateEpoch: number;
  signer?: ApkSigner;
  /** Compression settings; they change the bytes, so keep them fixed for reproducibility. */
  gzip?: GzipOptions;
  /** Comment tool name in `.PKGINFO`. */
  generator?: string;
}

/** A written package. */
export interface ApkBuildResult {
  bytes: Uint8Array;
  /** The `.PKGINFO` that went in, with size and datahash filled. */
  pkginfo: PkgInfo;
  /** `Q1…` identity checksum (index `C:`). */
  identity: string;
  sections: {
    signature?: { start: number; end: number };
    control: { start: number; end: number };
    data: { start: number; end: number };
  };
}

/** Directory-walk order: compare paths component by component, so `a/b` sorts before `a-b`. */
export function comparePaths(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

function bad(message: string): ApkError {
  return new ApkError('APK_BAD_INPUT', message, { hint: 'fix the package contents or metadata' });
}

function normaliseFiles(files: readonly ApkInputFile[]): ApkInputFile[] {
  const byPath = new Map<string, ApkInputFile>();
  for (const file of files) {
    let path: string;
    try {
      path = checkEntryPath(file.path);
    } catch (error) {
      throw bad(`cannot package ${JSON.stringify(file.path)}: ${(error as Error).message}`);
    }
    if (byPath.has(path)) throw bad(`path ${JSON.stringify(path)} is given twice`);
    if (file.data !== undefined && file.type !== 'file')
      throw bad(`${JSON.stringify(path)} is a ${file.type} but has content`);
    if ((file.type === 'symlink' || file.type === 'hardlink') && (file.linkname ?? '') === '')
      throw bad(`${JSON.stringify(path)} is a ${file.type} without a target`);
    byPath.set(path, { ...file, path });
  }
  // Add missing parent directories (0755, root), as a directory walk would have them.
  for (const path of [...byPath.keys()]) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const existing = byPath.get(parent);
      if (existing === undefined) byPath.set(parent, { path: parent, type: 'directory' });
      else if (existing.type !== 'directory')
        throw bad(`${JSON.stringify(path)} is inside ${JSON.stringify(parent)}, which is a ${existing.type}`);
    }
  }
  const sorted = [...byPath.values()].sort((a, b) => comparePaths(a.path, b.path));
  const written = new Set<string>();
  for (const file of sorted) {
    if (file.type === 'hardlink') {
      const target = file.linkname ?? '';
      if (byPath.get(target)?.type !== 'file' || !written.has(target)) {
        throw bad(
          `hard link ${JSON.stringify(file.path)} must point to a regular file that sorts before it, not ${JSON.stringify(target)}`,
        );
      }
    }
    written.add(file.path);
  }
  return sorted;
}

function ownerName(id: number, name: string | undefined): string {
  return name ?? (id === 0 ? 'root' : '');
}

/**
 * Write the data section's tar.
 *
 * @param files - normalised, sorted files
 * @param mtime - timestamp for every entry
 * @returns the tar chunks and the installed size
 */
function writeDataTar(files: readonly ApkInputFile[], mtime: number): { chunks: Uint8Array[]; size: number } {
  const tar = new TarWriter();
  let size = 0;
  for (const file of files) {
    const uid = file.uid ?? 0;
    const gid = file.gid ?? 0;
    let checksum: string | undefined;
    if (file.type === 'file') {
      const data = file.data ?? new Uint8Array(0);
      size += data.length;
      checksum = toHex(digest('sha1', data));
    } else if (file.type === 'symlink') {
      const target = utf8(file.linkname ?? '');
      // Counted in the installed size as melange does: apk-tools 2.14 skips unpacking a package whose
      // installed size is 0, which would silently empty a package of symlinks only.
      size += target.length;
      checksum = toHex(digest('sha1', target));
    }
    tar.add({
      name: file.path,
      type: file.type,
      ...(file.mode === undefined ? {} : { mode: file.mode }),
      uid,
      gid,
      uname: ownerName(uid, file.uname),
      gname: ownerName(gid, file.gname),
      mtime,
      ...(file.linkname === undefined ? {} : { linkname: file.linkname }),
      ...(file.devmajor === undefined ? {} : { devmajor: file.devmajor }),
      ...(file.devminor === undefined ? {} : { devminor: file.devminor }),
      ...(checksum === undefined ? {} : { pax: { [CHECKSUM_PAX_KEY]: checksum } }),
      ...(file.xattrs === undefined ? {} : { xattrs: file.xattrs }),
      ...(file.type === 'file' ? { data: file.data ?? new Uint8Array(0) } : {}),
    });
  }
  return { chunks: tar.finish({ endOfArchive: true }), size };
}

function controlEntryBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? utf8(data) : data;
}

/**
 * Build a signed control member for given control-tar bytes. Exposed for re-signing existing packages.
 *
 * @param controlMember - raw compressed control member
 * @param signer - key and name
 * @param mtime - the signature entry's timestamp
 * @param options - gzip settings
 * @returns the raw signature member
 */
export async function buildSignatureMember(
  controlMember: Uint8Array,
  signer: ApkSigner,
  mtime: number,
  options: GzipOptions = {},
): Promise<Uint8Array> {
  const algorithm = signer.algorithm ?? 'sha256';
  const signature = signBytes(signer.key, controlMember, algorithm);
  const tar = new TarWriter();
  tar.add({
    name: signatureEntryName(algorithm, signer.keyName),
    type: 'file',
    mode: 0o644,
    uname: 'root',
    gname: 'root',
    mtime,
    data: signature,
  });
  return gzip(tar.finish({ endOfArchive: false }), options);
}

/**
 * Write a package.
 *
 * @param input - metadata, files, scripts, timestamp, signer
 * @returns the package bytes, final metadata and identity
 * @throws {ApkError} APK_BAD_INPUT for unsafe paths, duplicates, bad links or control names
 * @example
 * const { bytes } = await buildApk({
 *   pkginfo: { ...emptyPkgInfo('hello', '1.0-r0'), arch: 'x86_64' },
 *   files: [{ path: 'usr/bin/hello', type: 'file', mode: 0o755, data }],
 *   sourceDateEpoch: 0,
 *   signer: { key, keyName: 'melange.rsa.pub' },
 * });
 */
export async function buildApk(input: ApkBuildInput): Promise<ApkBuildResult> {
  if (!Number.isSafeInteger(input.sourceDateEpoch) || input.sourceDateEpoch < 0)
    throw bad(`sourceDateEpoch must be a non-negative integer, got ${input.sourceDateEpoch}`);
  const mtime = input.sourceDateEpoch;
  const files = normaliseFiles(input.files);
  const data = writeDataTar(files, mtime);
  const dataMember = await gzip(data.chunks, input.gzip);
  const pkginfo: PkgInfo = {
    ...input.pkginfo,
    size: input.pkginfo.size ?? data.size,
    datahash: sha256Hex(dataMember),
  };

  const control = new TarWriter();
  control.add({
    name: '.PKGINFO',
    type: 'file',
    mode: 0o644,
    uname: 'root',
    gname: 'root',
    mtime,
    data: utf8(serializePkgInfo(pkginfo, input.generator)),
  });
  for (const name of SCRIPT_NAMES) {
    const script = input.scripts?.[name];
    if (script !== undefined)
      control.add({
        name,
        type: 'file',
        mode: 0o755,
        uname: 'root',
        gname: 'root',
        mtime,
        data: controlEntryBytes(script),
      });
  }
  for (const extra of input.extraControl ?? []) {
    if (
      !/^\.[A-Za-z0-9._-]+$/.test(extra.name) ||
      extra.name === '.PKGINFO' ||
      extra.name.startsWith('.SIGN.') ||
      (SCRIPT_NAMES as readonly string[]).includes(extra.name)
    ) {
      throw bad(`invalid extra control file name ${JSON.stringify(extra.name)}`);
    }
    control.add({
      name: extra.name,
      type: 'file',
      mode: 0o644,
      uname: 'root',
      gname: 'root',
      mtime,
      data: controlEntryBytes(extra.data),
    });
  }
  const controlMember = await gzip(control.finish({ endOfArchive: false }), input.gzip);
  const signatureMember =
    input.signer === undefined
      ? undefined
      : await buildSignatureMember(controlMember, input.signer, mtime, input.gzip);
  const bytes = concatBytes(
    signatureMember === undefined
      ? [controlMember, dataMember]
      : [signatureMember, controlMember, dataMember],
  );
  const controlStart = signatureMember?.length ?? 0;
  return {
    bytes,
    pkginfo,
    identity: identityChecksum(controlMember),
    sections: {
      ...(signatureMember === undefined ? {} : { signature: { start: 0, end: signatureMember.length } }),
      control: { start: controlStart, end: controlStart + controlMember.length },
      data: { start: controlStart + controlMember.length, end: bytes.length },
    },
  };
}

/**
 * Replace (or add) a package's signature, keeping its control and data members byte for byte.
 * melange `sign`: the signature entry's mtime is the package's builddate (0 when it has none).
 *
 * @param bytes - the package
 * @param pkg - the same package parsed
 * @param signer - the new key
 * @returns the re-signed package
 */
export async function resignApk(
  bytes: Uint8Array,
  pkg: { sections: { control: { start: number; end: number } }; pkginfo: PkgInfo },
  signer: ApkSigner,
): Promise<Uint8Array> {
  const rest = bytes.subarray(pkg.sections.control.start);
  const controlMember = bytes.subarray(pkg.sections.control.start, pkg.sections.control.end);
  const signature = await buildSignatureMember(controlMember, signer, pkg.pkginfo.builddate ?? 0);
  return concatBytes([signature, rest]);
}
