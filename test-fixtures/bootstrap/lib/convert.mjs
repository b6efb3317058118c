// Debian package → apk: which files are kept, what .PKGINFO says, and the hand-made packages
// (tk-baselayout, busybox-binsh, build-base, ca-certificates-bundle's generated bundle).
import { comparePaths, parseProvide, sha256Hex } from './tk.mjs';
import { readElf } from './elf.mjs';
import { parseParagraphs, parseRelations, sourceName } from './deb.mjs';
import { apkOperator, debianToApkVersion, debianVersionSatisfies } from './debver.mjs';

/** Bump when the analysis of a .deb changes, so cached analyses are redone. */
export const ANALYSIS_VERSION = 1;

/** Bump when the conversion changes, so every apk is rebuilt. */
export const CONVERTER_VERSION = 2;

/** Multiarch triplets of the supported architectures. */
export const TRIPLETS = { amd64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

/** Trees left out of the apks: documentation, manual pages, translations, Debian tooling metadata. */
const SKIPPED_TREES = [
  'usr/share/doc',
  'usr/share/man',
  'usr/share/info',
  'usr/share/locale',
  'usr/share/lintian',
  'usr/share/bug',
  'usr/share/doc-base',
  'usr/share/gtk-doc',
];

/**
 * Whether a path from a Debian data tar goes into the apk. Copyright files stay (they are small and
 * the licences of the binaries ask for them), and so do `usr/share/doc/<pkg>` directories or symlinks
 * that lead to them.
 *
 * @param {string} path relative, no `./`
 * @returns {boolean}
 */
export function keepPath(path) {
  if (path === 'usr/share/doc') return true;
  const doc = /^usr\/share\/doc\/([^/]+)(\/copyright)?$/.exec(path);
  if (doc !== null) return true;
  return !SKIPPED_TREES.some((tree) => path === tree || path.startsWith(`${tree}/`));
}

/** Directories where the dynamic linker finds libraries by default: `so:` provides come from these. */
export function libraryDirs(arch) {
  const t = TRIPLETS[arch];
  return new Set(['lib', 'lib64', 'usr/lib', 'usr/lib64', `lib/${t}`, `usr/lib/${t}`]);
}

const BIN_DIRS = new Set(['bin', 'sbin', 'usr/bin', 'usr/sbin']);

function dirname(path) {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

function basename(path) {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Whether `name` can be a provide/dependency name (`cmd:[` cannot). */
function validName(name) {
  try {
    parseProvide(name);
    return !/\s/.test(name);
  } catch {
    return false;
  }
}

/** Version part of a soname for `so:` provides, as melange writes it (`libc.so.6` → `6`). */
export function sonameVersion(soname) {
  const m = /\.so\.([0-9]+(?:\.[0-9]+)*)$/.exec(soname);
  return m === null ? undefined : m[1];
}

// --- tar entries → apk files -------------------------------------------------------------------------

/**
 * Normalise Debian data-tar entries into apk input files: strip `./`, drop skipped trees, keep modes,
 * numeric owners and names, symlinks and hard links. A hard link whose target was dropped, or whose target
 * sorts after it in apk order, is re-pointed so the first path of each link set carries the data.
 *
 * @param {import('../../../packages/tar/dist/index.js').TarEntry[]} entries
 * @returns {object[]} ApkInputFile-shaped objects
 */
export function filesFromTar(entries) {
  const normal = (name) => name.replace(/^\.\//, '').replace(/\/+$/, '');
  const byPath = new Map();
  for (const entry of entries) {
    const path = normal(entry.name);
    if (path === '' || path === '.') continue;
    if (path.split('/').some((part) => part === '..' || part === '.' || part === ''))
      throw new Error(`unsafe path ${JSON.stringify(entry.name)} in data archive`);
    if (byPath.has(path)) throw new Error(`path ${path} appears twice in data archive`);
    byPath.set(path, entry);
  }
  const files = new Map();
  const linkGroups = new Map(); // path of the regular file → paths of the hard links to it
  for (const [path, entry] of byPath) {
    const base = {
      path,
      type: entry.type,
      mode: entry.mode & 0o7777,
      uid: entry.uid,
      gid: entry.gid,
      ...(entry.uname ? { uname: entry.uname } : {}),
      ...(entry.gname ? { gname: entry.gname } : {}),
    };
    if (entry.type === 'hardlink') {
      const target = normal(entry.linkname);
      if (byPath.get(target)?.type !== 'file')
        throw new Error(`hard link ${path} points to ${target}, not a regular file`);
      linkGroups.set(target, [...(linkGroups.get(target) ?? []), path]);
      continue;
    }
    if (!keepPath(path)) continue;
    if (entry.type === 'file') files.set(path, { ...base, data: entry.data });
    else if (entry.type === 'symlink') files.set(path, { ...base, linkname: entry.linkname });
    else if (entry.type === 'directory') files.set(path, base);
    else if (entry.type === 'char' || entry.type === 'block' || entry.type === 'fifo')
      files.set(path, { ...base, devmajor: entry.devmajor, devminor: entry.devminor });
  }
  // Hard-link sets: the first kept path in apk order holds the data, the others link to it (apk wants a
  // link's target earlier in the archive; Debian's tar order is not apk's order, and the target may sit in
  // a skipped tree).
  for (const [target, links] of linkGroups) {
    const kept = [target, ...links].filter(keepPath).sort(comparePaths);
    if (kept.length === 0) continue;
    const original = byPath.get(target);
    const [first, ...rest] = kept;
    const meta = (p) => {
      const e = byPath.get(p);
      return {
        path: p,
        mode: e.mode & 0o7777,
        uid: e.uid,
        gid: e.gid,
        ...(e.uname ? { uname: e.uname } : {}),
        ...(e.gname ? { gname: e.gname } : {}),
      };
    };
    files.set(first, { ...meta(first), type: 'file', data: original.data });
    for (const p of rest) files.set(p, { ...meta(p), type: 'hardlink', linkname: first });
  }
  return [...files.values()];
}

// --- analysis -----------------------------------------------------------------------------------------

/**
 * What the repository needs to know about a package before any apk is written: its `so:` and `cmd:`
 * provides, the sonames its ELF files need, and its licence. Cached per .deb (keyed by its sha256).
 *
 * @param {object[]} files from {@link filesFromTar}
 * @param {string} arch Debian architecture
 * @returns {{ sonames: {name: string, version?: string}[], needed: string[], cmds: string[], copyright: Record<string,string>, docLinks: Record<string,string> }}
 */
export function analyseFiles(files, arch) {
  const libDirs = libraryDirs(arch);
  const sonames = new Map();
  const needed = new Set();
  const cmds = new Set();
  const copyright = {};
  const docLinks = {};
  for (const f of files) {
    const dir = dirname(f.path);
    if (
      BIN_DIRS.has(dir) &&
      (f.type === 'symlink' || ((f.type === 'file' || f.type === 'hardlink') && (f.mode & 0o111) !== 0))
    ) {
      const name = `cmd:${basename(f.path)}`;
      if (validName(name)) cmds.add(basename(f.path));
    }
    const doc = /^usr\/share\/doc\/([^/]+)(\/copyright)?$/.exec(f.path);
    if (doc !== null && doc[2] !== undefined && f.type === 'file')
      copyright[doc[1]] = new TextDecoder().decode(f.data);
    if (doc !== null && doc[2] === undefined && f.type === 'symlink') docLinks[doc[1]] = f.linkname;
    if (f.type !== 'file' || f.data === undefined || f.data.length < 64) continue;
    const elf = readElf(f.data);
    if (elf === undefined) continue;
    for (const n of elf.needed) needed.add(n);
    if (elf.type === 'dyn' && elf.soname !== undefined && libDirs.has(dir) && validName(`so:${elf.soname}`)) {
      const version = sonameVersion(elf.soname);
      sonames.set(elf.soname, version === undefined ? { name: elf.soname } : { name: elf.soname, version });
    }
  }
  return {
    sonames: [...sonames.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
    needed: [...needed].sort(),
    cmds: [...cmds].sort(),
    copyright,
    docLinks,
  };
}

// --- licences -----------------------------------------------------------------------------------------

const SPDX = {
  'gpl-1': 'GPL-1.0-only',
  'gpl-1+': 'GPL-1.0-or-later',
  'gpl-2': 'GPL-2.0-only',
  'gpl-2+': 'GPL-2.0-or-later',
  'gpl-3': 'GPL-3.0-only',
  'gpl-3+': 'GPL-3.0-or-later',
  'lgpl-2': 'LGPL-2.0-only',
  'lgpl-2+': 'LGPL-2.0-or-later',
  'lgpl-2.1': 'LGPL-2.1-only',
  'lgpl-2.1+': 'LGPL-2.1-or-later',
  'lgpl-3': 'LGPL-3.0-only',
  'lgpl-3+': 'LGPL-3.0-or-later',
  'gfdl-1.3': 'GFDL-1.3-only',
  'gfdl-1.3+': 'GFDL-1.3-or-later',
  'bsd-2-clause': 'BSD-2-Clause',
  'bsd-3-clause': 'BSD-3-Clause',
  'bsd-4-clause': 'BSD-4-Clause',
  expat: 'MIT',
  mit: 'MIT',
  isc: 'ISC',
  zlib: 'Zlib',
  'apache-2.0': 'Apache-2.0',
  'mpl-2.0': 'MPL-2.0',
  'mpl-1.1': 'MPL-1.1',
  'mpl-1.1+': 'MPL-1.1',
  artistic: 'Artistic-1.0-Perl',
  'artistic-2.0': 'Artistic-2.0',
  curl: 'curl',
  'bsl-1.0': 'BSL-1.0',
  'psf-2': 'PSF-2.0',
  'cc0-1.0': 'CC0-1.0',
  unicode: 'Unicode-DFS-2016',
};

function spdxTerm(term) {
  const t = term.trim();
  const with_ = /^(\S+)\s+with\s+(\S+)\s+exception$/i.exec(t);
  if (with_ !== null) {
    const base = SPDX[with_[1].toLowerCase()];
    const exception = /^gcc(-runtime)?(-exception)?(-3\.1)?$/i.test(with_[2])
      ? 'GCC-exception-3.1'
      : undefined;
    if (base !== undefined && exception !== undefined) return `${base} WITH ${exception}`;
  }
  const known = SPDX[t.toLowerCase()];
  if (known !== undefined) return known;
  return `LicenseRef-Debian-${t.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '') || 'unknown'}`;
}

/**
 * The licence of a package from its Debian copyright file: the `License:` of the `Files: *` paragraph
 * of a machine-readable (DEP-5) file, as an SPDX expression; `NOASSERTION` for free-form files.
 *
 * @param {string | undefined} text
 * @returns {string}
 */
export function licenseFromCopyright(text) {
  if (text === undefined) return 'NOASSERTION';
  let paragraphs;
  try {
    paragraphs = parseParagraphs(text.replace(/\r/g, ''));
  } catch {
    return 'NOASSERTION';
  }
  if (!/copyright-format|dep5/i.test(paragraphs[0]?.get('format') ?? '')) return 'NOASSERTION';
  const files = paragraphs.find((p) => (p.get('files') ?? '').split(/\s+/).includes('*'));
  const license = files?.get('license')?.split('\n')[0]?.trim();
  if (license === undefined || license === '') return 'NOASSERTION';
  // DEP-5 expressions: "A or B", "A and B", "A, and B". Parentheses are rare; keep them as they are.
  return license
    .split(/\s*,?\s+(or|and)\s+/i)
    .map((part, i) => (i % 2 === 1 ? part.toUpperCase() : spdxTerm(part)))
    .join(' ');
}

// --- .PKGINFO -----------------------------------------------------------------------------------------

/** go-ini reads ` #` and ` ;` as the start of a comment: keep them out of values. */
function iniSafe(text) {
  return text.replace(/\s+/g, ' ').replace(/ #/g, ' -').replace(/ ;/g, ',').trim();
}

/**
 * Map one Debian relation to an apk dependency token, checking that the apk constraint accepts the
 * provider exactly when dpkg would. A constraint apk would judge differently is dropped (name kept).
 *
 * @param {{ name: string, op?: string, version?: string }} alt the alternative chosen
 * @param {string} targetApkName the apk package that satisfies it
 * @param {string} targetDebVersion that package's Debian version
 * @param {string} targetApkVersion that package's apk version
 * @param {(a: string, op: string, b: string) => boolean} apkMatches `versionMatches` from @tk/apk
 * @param {string[]} notes
 * @returns {string}
 */
export function dependencyToken(alt, targetApkName, targetDebVersion, targetApkVersion, apkMatches, notes) {
  if (alt.op === undefined || alt.name !== targetApkName) return targetApkName;
  const op = apkOperator(alt.op);
  const version = debianToApkVersion(alt.version).version;
  const deb = debianVersionSatisfies(targetDebVersion, alt.op, alt.version);
  const apk = apkMatches(targetApkVersion, op, version);
  if (!deb) throw new Error(`${alt.name} ${targetDebVersion} does not satisfy (${alt.op} ${alt.version})`);
  if (!apk) {
    notes.push(
      `constraint ${alt.name} (${alt.op} ${alt.version}) dropped: ${op}${version} rejects ${targetApkVersion}`,
    );
    return targetApkName;
  }
  return `${targetApkName}${op}${version}`;
}

/**
 * `.PKGINFO` of a converted Debian package (everything but size and datahash, which buildApk fills).
 *
 * @param {object} input
 * @returns {object} PkgInfo
 */
export function debPkgInfo({
  control,
  apkName,
  apkVersion,
  apkArch,
  sourceDateEpoch,
  license,
  depends,
  provides,
}) {
  const debVersion = control.get('version');
  const synopsis = (control.get('description') ?? '').split('\n')[0];
  const name = control.get('package');
  return {
    pkgname: apkName,
    pkgver: apkVersion,
    pkgdesc: iniSafe(`${synopsis} (Debian ${name} ${debVersion})`),
    url: iniSafe(control.get('homepage') ?? `https://packages.debian.org/bookworm/${name}`),
    builddate: sourceDateEpoch,
    arch: apkArch,
    origin: sourceName(control),
    maintainer: iniSafe(control.get('maintainer') ?? ''),
    license,
    depend: depends,
    provides,
    install_if: [],
    replaces: [],
    triggers: [],
    other: [],
  };
}

/**
 * Debian `Provides:` as apk provides (versioned ones mapped), leaving out names that are real packages.
 *
 * @param {Map<string,string>} control
 * @param {Set<string>} realNames apk names in the repository
 * @returns {string[]}
 */
export function debianProvides(control, realNames) {
  const out = [];
  for (const group of parseRelations(control.get('provides'))) {
    for (const p of group) {
      if (realNames.has(p.name) || !validName(p.name)) continue;
      out.push(p.op === '=' ? `${p.name}=${debianToApkVersion(p.version).version}` : p.name);
    }
  }
  return out;
}

/**
 * The provides of a converted package: `so:<soname>=<ver>` for its libraries, `cmd:<name>=<version>` for
 * its commands, and Debian's own Provides.
 *
 * @param {{ sonames: {name: string, version?: string}[], cmds: string[] }} facts from {@link analyseFiles}
 * @param {string} apkVersion
 * @param {Map<string,string>} control
 * @param {Set<string>} realNames
 * @returns {string[]}
 */
export function packageProvides(facts, apkVersion, control, realNames) {
  return [
    ...facts.sonames.map((s) => (s.version === undefined ? `so:${s.name}` : `so:${s.name}=${s.version}`)),
    ...facts.cmds.map((c) => `cmd:${c}=${apkVersion}`),
    ...debianProvides(control, realNames),
  ];
}

/**
 * `so:` dependencies for the sonames a package's ELF files need and another package provides (melange's
 * SCA does the same). Sonames the package satisfies itself are skipped: its own libraries, and files it
 * ships anywhere (glibc's gconv modules need libCNS.so and friends from their own directory, found
 * through RUNPATH $ORIGIN).
 *
 * @param {{ sonames: {name: string}[], needed: string[] }} facts
 * @param {string[]} paths the package's non-directory paths
 * @param {Map<string, string[]>} soProviders soname → apk names providing it
 * @param {string[]} notes receives a line for each soname nobody provides
 * @param {string} name for notes
 * @returns {string[]}
 */
export function soDepends(facts, paths, soProviders, notes, name) {
  const own = new Set([...facts.sonames.map((s) => s.name), ...paths.map(basename)]);
  const out = [];
  for (const soname of facts.needed) {
    if (own.has(soname)) continue;
    if (soProviders.get(soname) === undefined) {
      notes.push(`${name}: needs ${soname}, which no package in the repository provides`);
      continue;
    }
    out.push(`so:${soname}`);
  }
  return out;
}

// --- generated content --------------------------------------------------------------------------------

/**
 * The CA bundle as Debian's update-ca-certificates writes it on a fresh install: every certificate the
 * package ships under /usr/share/ca-certificates (the postinst enables all of them), in the order of
 * /etc/ca-certificates.conf, which the postinst writes with `sort` (byte order of the relative paths),
 * each file followed by a newline if it lacks one (`sed -e '$a\'`).
 *
 * @param {object[]} files from {@link filesFromTar} (the ca-certificates .deb)
 * @returns {Uint8Array}
 */
export function caBundle(files) {
  const prefix = 'usr/share/ca-certificates/';
  const certs = files
    .filter((f) => f.type === 'file' && f.path.startsWith(prefix) && f.path.endsWith('.crt'))
    .map((f) => ({ key: Buffer.from(f.path.slice(prefix.length), 'utf8'), data: f.data }))
    .sort((a, b) => Buffer.compare(a.key, b.key));
  if (certs.length === 0)
    throw new Error('ca-certificates: no certificates under /usr/share/ca-certificates');
  const parts = [];
  for (const c of certs) {
    parts.push(Buffer.from(c.data));
    if (c.data.length > 0 && c.data[c.data.length - 1] !== 0x0a) parts.push(Buffer.from('\n'));
  }
  return new Uint8Array(Buffer.concat(parts));
}

/**
 * Files of the tk-baselayout package: accounts, os-release, name service config, the top-level
 * directories as real directories (Debian is not usr-merged: /bin, /lib, /lib64 hold files).
 *
 * @param {string} arch Debian architecture
 * @returns {object[]}
 */
export function baselayoutFiles(arch) {
  const text = (s) => new TextEncoder().encode(s);
  const dirs = [
    'bin',
    'dev',
    'etc',
    'home',
    'lib',
    'proc',
    'run',
    'sbin',
    'sys',
    'usr',
    'usr/bin',
    'usr/lib',
    'usr/local',
    'usr/local/bin',
    'usr/sbin',
    'usr/share',
    'var',
    'var/cache',
    'var/lib',
    'var/log',
    ...(arch === 'amd64' ? ['lib64'] : []),
  ];
  return [
    ...dirs.map((path) => ({ path, type: 'directory', mode: 0o755 })),
    { path: 'tmp', type: 'directory', mode: 0o1777 },
    { path: 'var/tmp', type: 'directory', mode: 0o1777 },
    { path: 'root', type: 'directory', mode: 0o700 },
    {
      path: 'home/build',
      type: 'directory',
      mode: 0o755,
      uid: 1000,
      gid: 1000,
      uname: 'build',
      gname: 'build',
    },
    {
      path: 'etc/passwd',
      type: 'file',
      mode: 0o644,
      data: text(
        'root:x:0:0:root:/root:/bin/sh\n' +
          'nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' +
          'build:x:1000:1000:build user:/home/build:/bin/sh\n',
      ),
    },
    {
      path: 'etc/group',
      type: 'file',
      mode: 0o644,
      data: text('root:x:0:\nnogroup:x:65534:\nbuild:x:1000:\n'),
    },
    {
      path: 'etc/shadow',
      type: 'file',
      mode: 0o640,
      data: text('root:*:19723:0:99999:7:::\nnobody:*:19723:0:99999:7:::\nbuild:!:19723:0:99999:7:::\n'),
    },
    {
      path: 'etc/os-release',
      type: 'file',
      mode: 0o644,
      data: text(
        'ID=tk\n' +
          'ID_LIKE=debian\n' +
          'NAME="tk bootstrap (Debian 12 packages)"\n' +
          'PRETTY_NAME="tk bootstrap (Debian 12 packages)"\n' +
          'VERSION_ID=12\n' +
          'HOME_URL="https://www.debian.org/"\n',
      ),
    },
    {
      path: 'etc/hosts',
      type: 'file',
      mode: 0o644,
      data: text('127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'),
    },
    {
      path: 'etc/nsswitch.conf',
      type: 'file',
      mode: 0o644,
      data: text(
        'passwd:         files\ngroup:          files\nshadow:         files\nhosts:          files dns\n' +
          'networks:       files\nprotocols:      files\nservices:       files\nethers:         files\nrpc:            files\n',
      ),
    },
  ];
}

/**
 * Installed size for `.PKGINFO`: regular file bytes plus symlink target lengths (what melange adds up from
 * lstat). Never 0 for a package with files: apk-tools 2.14 skips unpacking packages of installed size 0.
 *
 * @param {object[]} files
 * @returns {number}
 */
export function installedSize(files) {
  let size = 0;
  for (const f of files) {
    if (f.type === 'file') size += f.data?.length ?? 0;
    else if (f.type === 'symlink') size += Buffer.byteLength(f.linkname ?? '', 'utf8');
  }
  return size;
}

/** A stable digest of apk input files (for the incremental build's cache key). */
export function filesDigest(files) {
  const h = [];
  for (const f of [...files].sort((a, b) => comparePaths(a.path, b.path))) {
    h.push(
      JSON.stringify([
        f.path,
        f.type,
        f.mode,
        f.uid ?? 0,
        f.gid ?? 0,
        f.linkname ?? '',
        f.data ? sha256Hex(f.data) : '',
      ]),
    );
  }
  return sha256Hex(new TextEncoder().encode(h.join('\n')));
}
