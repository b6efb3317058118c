// Names and extras that differ from a plain conversion: Wolfi's names for Debian packages (packages.json
// "special"), links that let real programs win over busybox applets, and the hand-made packages'
// .PKGINFO (tk-baselayout, busybox-binsh, build-base, gcc-14-default).
import { parseProvide } from './tk.mjs';

/** Directories whose programs are commands (`cmd:` provides), in the order the links below prefer them. */
const BIN_DIRS = ['usr/bin', 'bin', 'usr/sbin', 'sbin'];

function dirname(path) {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

function basename(path) {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * The apk name of a Debian package: `special[name].apkName` (Wolfi's name, e.g. ninja-build → ninja), or
 * the Debian name.
 *
 * @param {Record<string, { apkName?: string }>} special packages.json "special"
 * @param {string} debName
 * @returns {string}
 */
export function apkNameOf(special, debName) {
  return special[debName]?.apkName ?? debName;
}

/**
 * The Debian package whose version a package's apk takes: `special[name].versionOf` (Debian's golang-go
 * metapackage is `2:1.19~1`, which would map to the pre-release `1.19_pre1`; as Wolfi's `go` it takes the
 * version of the Go it installs, golang-1.19-go's `1.19.8-2`), or the package itself.
 *
 * @param {Record<string, { versionOf?: string }>} special
 * @param {string} debName
 * @returns {string}
 */
export function versionSourceOf(special, debName) {
  return special[debName]?.versionOf ?? debName;
}

/**
 * Whether a special package is reduced to the generated CA bundle (its Depends are not followed, it
 * gets no provides or depends).
 *
 * @param {Record<string, { caBundle?: boolean }>} special
 * @param {string} debName
 * @returns {boolean}
 */
export function isBundleOnly(special, debName) {
  return special[debName]?.caBundle === true;
}

/**
 * Extra provides of a renamed or special package, at the package's own version: the Debian name when the
 * apk name differs (so that recipes and dependencies naming it still resolve: `ninja-build=1.11.1-r…`),
 * then `special[name].provides` (e.g. pax-utils provides scanelf). Bundle-only packages get none: they
 * are not the Debian package.
 *
 * @param {Record<string, { apkName?: string, provides?: string[], caBundle?: boolean }>} special
 * @param {string} debName
 * @param {string} apkVersion
 * @param {Set<string>} realNames apk names in the repository (a provide never shadows a real package)
 * @returns {string[]}
 */
export function specialProvides(special, debName, apkVersion, realNames) {
  const entry = special[debName];
  if (entry === undefined || entry.caBundle === true) return [];
  const names = [...(apkNameOf(special, debName) !== debName ? [debName] : []), ...(entry.provides ?? [])];
  const out = [];
  for (const name of names) {
    if (realNames.has(name)) throw new Error(`${debName}: cannot provide ${name}, a package of that name exists`);
    const token = `${name}=${apkVersion}`;
    parseProvide(token);
    out.push(token);
  }
  return out;
}

/**
 * The relative symlink target from `path` to `target` (both relative to the root, no leading slash):
 * `usr/bin/bzip2` → `bin/bzip2` gives `../../bin/bzip2`. Relative links work wherever the root is mounted.
 *
 * @param {string} path
 * @param {string} target
 * @returns {string}
 */
export function relativeLink(path, target) {
  const from = dirname(path).split('/').filter(Boolean);
  const to = target.split('/');
  let common = 0;
  while (common < from.length && common < to.length - 1 && from[common] === to[common]) common++;
  return [...from.slice(common).map(() => '..'), ...to.slice(common)].join('/');
}

/**
 * The links a package's postinst would create with update-alternatives (packages.json
 * `special[name].alternatives`, master and slave links as `{ "/usr/bin/automake": "/usr/bin/automake-1.16" }`),
 * as direct relative symlinks: maintainer scripts are never run, and without these names autoreconf finds
 * no `aclocal` or `automake`. Each target must be a file or link the package ships.
 *
 * @param {Record<string, string> | undefined} alternatives link path → target, both absolute
 * @param {string[]} paths the package's non-directory paths
 * @param {string} debName for errors
 * @returns {{ path: string, type: 'symlink', linkname: string }[]} sorted by path
 */
export function alternativeLinks(alternatives, paths, debName) {
  const shipped = new Set(paths);
  const links = [];
  for (const [rawPath, rawTarget] of Object.entries(alternatives ?? {})) {
    const path = rawPath.replace(/^\/+/, '');
    const target = rawTarget.replace(/^\/+/, '');
    for (const p of [path, target])
      if (p === '' || p.split('/').some((part) => part === '' || part === '.' || part === '..'))
        throw new Error(`${debName}: alternative ${rawPath} -> ${rawTarget}: not a plain absolute path`);
    if (!shipped.has(target))
      throw new Error(`${debName}: alternative ${rawPath} -> ${rawTarget}: the package does not ship ${rawTarget}`);
    if (shipped.has(path))
      throw new Error(`${debName}: alternative ${rawPath}: the package already ships that path`);
    links.push({ path, type: 'symlink', linkname: relativeLink(path, target) });
  }
  return links.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Command names of links placed directly in a bin directory (for `cmd:` provides).
 *
 * @param {{ path: string }[]} links
 * @returns {string[]}
 */
export function linkCommands(links) {
  return links
    .filter((l) => BIN_DIRS.includes(dirname(l.path)))
    .map((l) => basename(l.path))
    .filter((name) => {
      try {
        parseProvide(`cmd:${name}`);
        return !/\s/.test(name);
      } catch {
        return false;
      }
    });
}

/**
 * Links that make a package's real programs win over busybox applets. Image builders create a link to
 * busybox at every path of `/etc/busybox-paths.d/busybox` that is still free, so a program Debian ships
 * in one directory is shadowed when busybox's applet of the same name sits in another directory that
 * comes first in PATH (Debian's bzip2 is /bin/bzip2, busybox's applet /usr/bin/bzip2; melange's PATH has
 * /usr/bin before /bin). For each such applet path, the package gets a relative symlink there to its own
 * program, so the path is taken when the package is installed and stays busybox's when it is not.
 *
 * @param {string[]} paths the package's non-directory paths
 * @param {string[]} cmds the package's commands (basenames of executables and links in bin directories)
 * @param {string[]} appletPaths busybox's applet paths (absolute or relative)
 * @param {Set<string>} taken paths shipped by any package in the repository, or already given a link
 *   (updated with the links returned)
 * @returns {{ path: string, type: 'symlink', linkname: string }[]} sorted by path
 */
export function appletLinks(paths, cmds, appletPaths, taken) {
  const cmdSet = new Set(cmds);
  const own = new Map(); // command → the path it is linked to (first bin directory in BIN_DIRS order)
  for (const dir of BIN_DIRS)
    for (const p of paths)
      if (dirname(p) === dir && cmdSet.has(basename(p)) && !own.has(basename(p))) own.set(basename(p), p);
  const links = [];
  for (const raw of [...appletPaths].sort()) {
    const path = raw.replace(/^\/+/, '');
    if (!BIN_DIRS.includes(dirname(path)) || taken.has(path)) continue;
    const target = own.get(basename(path));
    if (target === undefined || target === path) continue;
    links.push({ path, type: 'symlink', linkname: relativeLink(path, target) });
    taken.add(path);
  }
  return links.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * `.PKGINFO` of a hand-made package (everything but size and datahash, which buildApk fills).
 *
 * @param {{ pkgname: string, pkgver: string, pkgdesc: string, apkArch: string, builddate: number,
 *   origin?: string, license?: string, depend?: string[], provides?: string[] }} fields
 * @returns {object} PkgInfo
 */
export function handmadePkgInfo(fields) {
  const { apkArch, ...rest } = fields;
  return {
    url: 'https://www.debian.org/',
    arch: apkArch,
    origin: fields.pkgname,
    license: 'NOASSERTION',
    maintainer: 'tk bootstrap',
    depend: [],
    provides: [],
    install_if: [],
    replaces: [],
    triggers: [],
    other: [],
    ...rest,
  };
}

/**
 * The only content of a metapackage: `/usr/share/doc/<name>/README.tk` with a note saying what it is
 * (apk-tools 2.14 does not unpack a package of installed size 0, so an empty package would record nothing).
 *
 * @param {string} name
 * @param {string} note
 * @returns {object[]} ApkInputFile-shaped objects
 */
export function noteFiles(name, note) {
  return [
    { path: `usr/share/doc/${name}`, type: 'directory', mode: 0o755 },
    {
      path: `usr/share/doc/${name}/README.tk`,
      type: 'file',
      mode: 0o644,
      data: new TextEncoder().encode(note.endsWith('\n') ? note : `${note}\n`),
    },
  ];
}

/**
 * `gcc-14-default`, a virtual package under Wolfi's name for the default compiler: Wolfi's recipes (e.g.
 * glpk.yaml) list it in their build environment. Debian 12 has gcc 12, so this is gcc 12 under Wolfi's
 * name: it depends on build-base (gcc, cc, cpp, binutils, libc headers, make), takes gcc-12's version and
 * ships only a note saying so (apk-tools 2.14 does not unpack a package of installed size 0).
 *
 * @param {{ name: string, depends: string[], gcc: { pkgver: string, builddate: number, license: string },
 *   apkArch: string }} input
 * @returns {{ files: object[], pkginfo: object }}
 */
export function compilerAliasPackage({ name, depends, gcc, apkArch }) {
  const note =
    `${name} in the tk bootstrap repository is gcc 12 (Debian 12's gcc-12 ${gcc.pkgver}) under ` +
    "Wolfi's name, not gcc 14. It only depends on build-base, which brings gcc, cc and cpp.\n";
  return {
    files: noteFiles(name, note),
    pkginfo: handmadePkgInfo({
      pkgname: name,
      pkgver: gcc.pkgver,
      pkgdesc: `gcc 12 under Wolfi's name ${name} (Debian 12 has no gcc 14): depends on build-base`,
      apkArch,
      origin: 'gcc-12',
      license: gcc.license,
      builddate: gcc.builddate,
      depend: depends,
    }),
  };
}

/**
 * `rust`, Wolfi's name for the Rust toolchain. Wolfi's rust package holds rustc and cargo (it is built
 * with `--tools=cargo,src`), so recipes and melange's cargo/build name only `rust`; Debian splits the two
 * into rustc and cargo. This metapackage takes rustc's version and depends on both.
 *
 * @param {{ name: string, depends: string[], rustc: { pkgver: string, builddate: number, license: string },
 *   apkArch: string }} input
 * @returns {{ files: object[], pkginfo: object }}
 */
export function toolchainAliasPackage({ name, depends, rustc, apkArch }) {
  const note =
    `${name} in the tk bootstrap repository is a metapackage: Wolfi's rust holds rustc and cargo, Debian 12 ` +
    `splits them. It depends on ${depends.join(' and ')} (rustc ${rustc.pkgver}).\n`;
  return {
    files: noteFiles(name, note),
    pkginfo: handmadePkgInfo({
      pkgname: name,
      pkgver: rustc.pkgver,
      pkgdesc: `The Rust toolchain under Wolfi's name ${name}: depends on ${depends.join(' and ')}`,
      apkArch,
      origin: 'rustc',
      license: rustc.license,
      builddate: rustc.builddate,
      depend: depends,
    }),
  };
}

/** The shim's script: `cargo auditable build …` calls `cargo-auditable auditable build …`. */
export const CARGO_AUDITABLE_SHIM = `#!/bin/sh
# cargo-auditable in the tk bootstrap repository is a shim: Debian 12 has no cargo-auditable.
# cargo runs \`cargo auditable build ...\` as \`cargo-auditable auditable build ...\`; this runs
# \`cargo build ...\` instead, so the binaries carry no embedded list of their dependencies.
if [ "\${1-}" = auditable ]; then shift; fi
case "\${1-}" in
  -V | --version)
    echo "cargo-auditable 0 (tk bootstrap shim: runs plain cargo, embeds no dependency list)"
    exit 0
    ;;
esac
echo "cargo-auditable (tk bootstrap shim): running plain 'cargo $*', no dependency list is embedded" >&2
exec cargo "$@"
`;

/**
 * `cargo-auditable`, a shim under Wolfi's name: melange's cargo/build needs the package and runs
 * `cargo auditable build`, and Debian 12 has no cargo-auditable. `/usr/bin/cargo-auditable` says so on
 * stderr and runs plain cargo with the same arguments.
 *
 * @param {{ name: string, pkgver: string, depends: string[], builddate: number, apkArch: string }} input
 * @returns {{ files: object[], pkginfo: object }}
 */
export function cargoAuditableShimPackage({ name, pkgver, depends, builddate, apkArch }) {
  const note =
    `${name} in the tk bootstrap repository is a shim, not cargo-auditable: Debian 12 has none. ` +
    '/usr/bin/cargo-auditable runs plain cargo, so binaries built with `cargo auditable build` carry no ' +
    'embedded dependency list.\n';
  return {
    files: [
      ...noteFiles(name, note),
      {
        path: 'usr/bin/cargo-auditable',
        type: 'file',
        mode: 0o755,
        data: new TextEncoder().encode(CARGO_AUDITABLE_SHIM),
      },
    ],
    pkginfo: handmadePkgInfo({
      pkgname: name,
      pkgver,
      pkgdesc: `A shim under the name ${name} (Debian 12 has no cargo-auditable): runs plain cargo`,
      apkArch,
      builddate,
      depend: depends,
      provides: [`cmd:cargo-auditable=${pkgver}`],
    }),
  };
}

/**
 * A metapackage that only depends on others and ships a note (`wolfi-base`: the base layout, busybox
 * with /bin/sh and the CA bundle, which melange's python/import and python/test pipelines need).
 *
 * @param {{ name: string, pkgver: string, depends: string[], pkgdesc: string, note: string,
 *   builddate: number, apkArch: string }} input
 * @returns {{ files: object[], pkginfo: object }}
 */
export function metaPackage({ name, pkgver, depends, pkgdesc, note, builddate, apkArch }) {
  return {
    files: noteFiles(name, note),
    pkginfo: handmadePkgInfo({ pkgname: name, pkgver, pkgdesc, apkArch, builddate, depend: depends }),
  };
}
