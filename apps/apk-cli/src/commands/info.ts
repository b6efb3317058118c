import { readFile } from 'node:fs/promises';
import { readApk, type ApkPackage } from '@tk/apk';
import { stringifyCanonical, toHex, type JsonValue, type Logger } from '@tk/core';

/**
 * Read a package for `tk apk info`.
 *
 * @param file - the `.apk`
 * @param logger - parse warnings
 * @returns the parsed package
 */
export async function readPackageInfo(file: string, logger: Logger): Promise<ApkPackage> {
  return readApk(new Uint8Array(await readFile(file)), { source: file, logger });
}

function modeString(type: string, mode: number): string {
  const t =
    { directory: 'd', symlink: 'l', hardlink: 'h', char: 'c', block: 'b', fifo: 'p', file: '-' }[type] ?? '?';
  const bits = ['r', 'w', 'x', 'r', 'w', 'x', 'r', 'w', 'x'].map((c, i) => ((mode >> (8 - i)) & 1 ? c : '-'));
  if (mode & 0o4000) bits[2] = bits[2] === 'x' ? 's' : 'S';
  if (mode & 0o2000) bits[5] = bits[5] === 'x' ? 's' : 'S';
  if (mode & 0o1000) bits[8] = bits[8] === 'x' ? 't' : 'T';
  return t + bits.join('');
}

/**
 * Render a package the way `apk info -a` lays out an installed package: one titled section per field.
 *
 * @param pkg - the package
 * @returns the text
 */
export function formatPackageInfo(pkg: ApkPackage): string {
  const info = pkg.pkginfo;
  const id = `${info.pkgname}-${info.pkgver}`;
  const sections: [string, string[]][] = [
    ['description', [info.pkgdesc ?? '']],
    ['webpage', [info.url ?? '']],
    ['installed size', [`${info.size ?? 0} B`]],
    ['arch', [info.arch ?? '']],
    ['license', [info.license ?? '']],
    ['origin', [info.origin ?? '']],
    ['maintainer', [info.maintainer ?? '']],
    ['commit', [info.commit ?? '']],
    ['build date', [info.builddate === undefined ? '' : String(info.builddate)]],
    ['depends on', info.depend],
    ['provides', info.provides],
    ['install if', info.install_if],
    ['replaces', info.replaces],
    ['triggers', info.triggers],
    ['scripts', Object.keys(pkg.scripts)],
    ['checksum (C:)', [pkg.identity]],
    [
      'datahash',
      [
        `${info.datahash ?? '(none)'}${info.datahash === pkg.dataHash ? '' : ` (data hashes to ${pkg.dataHash})`}`,
      ],
    ],
    ['signatures', pkg.signatures.map((s) => `${s.scheme} ${s.keyName}`)],
    [
      'contains',
      pkg.files.map(
        (f) =>
          `${modeString(f.type, f.mode)} ${f.uid}:${f.gid} ${f.path}${f.type === 'symlink' ? ` -> ${f.linkname}` : f.type === 'hardlink' ? ` => ${f.linkname}` : ''}`,
      ),
    ],
  ];
  return sections
    .filter(([, lines]) => lines.length > 0 && !(lines.length === 1 && lines[0] === ''))
    .map(([title, lines]) => `${id} ${title}:\n${lines.join('\n')}\n`)
    .join('\n');
}

/**
 * The package as canonical JSON (`tk apk info --json`).
 *
 * @param pkg - the package
 * @returns JSON text with a final newline
 */
export function packageInfoJson(pkg: ApkPackage): string {
  const { other, ...fields } = pkg.pkginfo;
  const doc: JsonValue = {
    pkginfo: { ...fields, other: other.map(([k, v]) => [k, v]) },
    identity: pkg.identity,
    dataHash: pkg.dataHash,
    fileSize: pkg.fileSize,
    sections: {
      signature: pkg.sections.signature === undefined ? undefined : { ...pkg.sections.signature },
      control: { ...pkg.sections.control },
      data: { ...pkg.sections.data },
      dataMembers: pkg.sections.dataMembers,
    },
    signatures: pkg.signatures.map((s) => ({
      scheme: s.scheme,
      keyName: s.keyName,
      signature: toHex(s.signature),
    })),
    scripts: Object.keys(pkg.scripts),
    files: pkg.files.map((f) => ({
      path: f.path,
      type: f.type,
      mode: f.mode,
      uid: f.uid,
      gid: f.gid,
      size: f.data.length,
      linkname: f.linkname === '' ? undefined : f.linkname,
      sha1: f.sha1,
      xattrs:
        Object.keys(f.xattrs).length === 0
          ? undefined
          : Object.fromEntries(Object.entries(f.xattrs).map(([k, v]) => [k, toHex(v)])),
    })),
  };
  return stringifyCanonical(doc, { indent: 2, finalNewline: true, htmlEscape: false });
}
