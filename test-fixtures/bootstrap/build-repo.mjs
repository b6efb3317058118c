#!/usr/bin/env node
// Builds tk's offline bootstrap apk repository from Debian 12 binary packages. See README.md.
//
//   node test-fixtures/bootstrap/build-repo.mjs [--out DIR] [--arch amd64|arm64] [--refresh] [--check] [--smoke]
//     [--smoke-tools] [--smoke-languages] [--emulated-builds]
//
// Run `pnpm build` (or `pnpm tsc -b`) from the repository root first: this script uses the built packages.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  buildApk,
  closeGzipWorkers,
  createKeyring,
  indexEntryFromApk,
  isDependencySatisfied,
  mergeIndexEntries,
  parseDependency,
  parseProvide,
  readApk,
  readIndexArchive,
  readPrivateKey,
  readPublicKey,
  verifyApk,
  verifyIndexArchive,
  versionMatches,
  writeIndexArchive,
} from './lib/tk.mjs';
import { aptSetup, runApt } from './lib/apt.mjs';
import { indexPackages, readDebControl, readDebData, sourceVersion } from './lib/deb.mjs';
import { debianToApkVersion } from './lib/debver.mjs';
import { resolveClosure } from './lib/resolve.mjs';
import {
  ANALYSIS_VERSION,
  CONVERTER_VERSION,
  analyseFiles,
  baselayoutFiles,
  caBundle,
  debPkgInfo,
  dependencyToken,
  filesDigest,
  filesFromTar,
  installedSize,
  licenseFromCopyright,
  packageProvides,
  soDepends,
} from './lib/convert.mjs';
import {
  alternativeLinks,
  apkNameOf as specialApkName,
  appletLinks,
  cargoAuditableShimPackage,
  compilerAliasPackage,
  handmadePkgInfo,
  isBundleOnly,
  linkCommands,
  metaPackage,
  noteFiles,
  specialProvides,
  toolchainAliasPackage,
  versionSourceOf,
} from './lib/special.mjs';
import {
  Failure,
  LANGUAGE_ROOTS,
  MELANGE_PATH,
  TOOLS_ROOTS,
  checkLanguagesOutput,
  checkToolsOutput,
  howItRan,
  languagesScript,
  prepareRoot,
  sandbox,
  toolsScript,
  writeLanguagesProject,
  writeToolsProject,
} from './lib/smoke.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, '../..');
const CONFIG = JSON.parse(readFileSync(join(HERE, 'packages.json'), 'utf8'));
const KEY_PATH = join(HERE, 'keys/tk-bootstrap.rsa');
const KEY_NAME = 'tk-bootstrap.rsa.pub';

function log(message) {
  process.stdout.write(`${message}\n`);
}

function fail(message) {
  throw new Failure(message);
}

function sha256File(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function sha256Text(text) {
  return createHash('sha256').update(text).digest('hex');
}

function writeAtomic(path, data) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

function seconds(start) {
  return `${((performance.now() - start) / 1000).toFixed(1)} s`;
}

function mib(bytes) {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

// --- apt: a private configuration per architecture ----------------------------------------------------

function aptSetupArch(out, arch) {
  return aptSetup(join(out, 'apt', arch), { arch, lines: CONFIG.sources, keyring: CONFIG.keyring });
}

function apt(aptInfo, command, args, cwd) {
  try {
    return runApt(aptInfo, command, args, cwd);
  } catch (error) {
    return fail(error.message);
  }
}

function packagesFiles(aptInfo) {
  const lists = join(aptInfo.dir, 'lists');
  return readdirSync(lists)
    .filter((f) => f.endsWith('_Packages'))
    .sort()
    .map((f) => join(lists, f));
}

function loadIndex(out, arch, refresh) {
  const aptInfo = aptSetupArch(out, arch);
  if (refresh || packagesFiles(aptInfo).length < CONFIG.sources.length) {
    const start = performance.now();
    log(`[${arch}] apt-get update (private configuration in ${aptInfo.dir})`);
    const r = apt(aptInfo, 'apt-get', ['update'], aptInfo.dir);
    if (r.status !== 0 || /^(E:|W: Failed)/m.test(r.stderr))
      fail(`[${arch}] apt-get update failed:\n${r.stdout}${r.stderr}`);
    log(`[${arch}] package lists updated in ${seconds(start)}`);
  }
  const files = packagesFiles(aptInfo);
  if (files.length < CONFIG.sources.length)
    fail(
      `[${arch}] expected ${CONFIG.sources.length} Packages files in ${aptInfo.dir}/lists, found ${files.length}`,
    );
  return { aptInfo, index: indexPackages(files.map((f) => readFileSync(f, 'utf8'))) };
}

// --- downloads ----------------------------------------------------------------------------------------

function debFileName(paragraph) {
  return `${paragraph.get('package')}_${paragraph.get('version').replace(/:/g, '%3a')}_${paragraph.get('architecture')}.deb`;
}

/**
 * Download the exact resolved versions: one `apt-get download` call for everything missing (apt fetches
 * them over one connection, ~10 s for 100 MB here; a call per package took minutes), then one call per
 * package that is still missing, so that every failure is reported with apt's own message.
 */
function download(out, arch, aptInfo, index, names) {
  const dir = join(out, 'debs', arch);
  mkdirSync(dir, { recursive: true });
  const wanted = names.map((name) => {
    const p = index.packages.get(name);
    return { name, version: p.get('version'), size: Number(p.get('size')), sha256: p.get('sha256'), file: join(dir, debFileName(p)) };
  });
  const good = (w) => existsSync(w.file) && sha256File(w.file) === w.sha256;
  const todo = wanted.filter((w) => !good(w));
  for (const w of todo) rmSync(w.file, { force: true });
  const missing = [];
  if (todo.length > 0) {
    const start = performance.now();
    const bytes = todo.reduce((sum, w) => sum + w.size, 0);
    log(`[${arch}] download ${todo.length} of ${names.length} packages (${mib(bytes)})`);
    apt(aptInfo, 'apt-get', ['download', ...todo.map((w) => `${w.name}=${w.version}`)], dir);
    for (const w of todo.filter((x) => !good(x))) {
      rmSync(w.file, { force: true });
      const r = apt(aptInfo, 'apt-get', ['download', `${w.name}=${w.version}`], dir);
      if (r.status !== 0 || !existsSync(w.file))
        missing.push(`${w.name}=${w.version}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
      else if (!good(w)) missing.push(`${w.name}: downloaded file does not match the SHA256 of the Packages index`);
    }
    log(`[${arch}] downloaded in ${seconds(start)}`);
  }
  if (missing.length > 0)
    fail(
      `[${arch}] ${missing.length} package(s) could not be downloaded:\n  ${missing.join('\n  ')}\n` +
        '  hint: run with --refresh to update the package lists, and check that deb.debian.org is reachable',
    );
  log(`[${arch}] ${names.length} .deb files ready (${todo.length} downloaded) in ${dir}`);
  return new Map(wanted.map((w) => [w.name, w.file]));
}

// --- analysis (cached per .deb) -------------------------------------------------------------------------

function busyboxAppletList(out, arch, debPath, control, hostBusybox) {
  // Debian builds busybox with the same configuration on every architecture: the amd64 binary of the same
  // source version lists the applets of both. It runs here directly (Debian 12 host, same glibc).
  let amd64Deb = debPath;
  if (arch !== 'amd64') {
    amd64Deb = hostBusybox();
    const amd64Control = readDebControl(amd64Deb).control;
    if (sourceVersion(amd64Control) !== sourceVersion(control))
      fail(
        `busybox: amd64 source version ${sourceVersion(amd64Control)} differs from ${arch}'s ${sourceVersion(control)}`,
      );
  }
  const entry = readDebData(amd64Deb).find((e) => e.name.replace(/^\.\//, '') === 'bin/busybox');
  if (entry === undefined) fail(`${amd64Deb}: no bin/busybox`);
  const tmp = mkdtempSync(join(tmpdir(), 'tk-busybox-'));
  try {
    const bin = join(tmp, 'busybox');
    writeFileSync(bin, entry.data, { mode: 0o755 });
    const r = spawnSync(bin, ['--list-full'], { encoding: 'utf8' });
    if (r.status !== 0) fail(`busybox --list-full failed: ${r.stderr || r.error?.message}`);
    const paths = r.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '')
      .map((l) => `/${l.replace(/^\/+/, '')}`);
    if (paths.length < 100 || !paths.includes('/bin/sh'))
      fail(`busybox --list-full gave an unexpected list (${paths.length} lines)`);
    return {
      paths: [...new Set(paths)].sort(),
      from: `${debPath === amd64Deb ? '' : 'amd64 '}${amd64Deb.split('/').pop()}`,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function analyse(out, arch, name, debPath, hostBusybox) {
  const sha256 = sha256File(debPath);
  const cachePath = join(out, 'state', arch, 'analysis', `${debPath.split('/').pop()}.json`);
  const cached = readJson(cachePath);
  if (cached?.analysis === ANALYSIS_VERSION && cached.sha256 === sha256) return cached;
  const { control, mtime, scripts } = readDebControl(debPath);
  const files = filesFromTar(readDebData(debPath));
  const facts = analyseFiles(files, arch);
  const analysis = {
    analysis: ANALYSIS_VERSION,
    sha256,
    deb: debPath.split('/').pop(),
    control: [...control],
    sourceDateEpoch: mtime,
    scripts: Object.keys(scripts).sort(),
    paths: files
      .filter((f) => f.type !== 'directory')
      .map((f) => f.path)
      .sort(),
    ...facts,
  };
  if (name === 'busybox') analysis.busybox = busyboxAppletList(out, arch, debPath, control, hostBusybox);
  writeAtomic(cachePath, JSON.stringify(analysis));
  return analysis;
}

/**
 * The files of one side of a split: the matching ones and their parent directories (`keep`), or everything
 * else (`!keep`). Without a split, all files.
 */
function splitFiles(files, split) {
  if (split === undefined) return files;
  const match = new RegExp(split.match);
  if (!split.keep) return files.filter((f) => !match.test(f.path));
  const moved = files.filter((f) => match.test(f.path));
  const parents = new Set();
  for (const f of moved)
    for (let i = f.path.indexOf('/'); i > 0; i = f.path.indexOf('/', i + 1)) parents.add(f.path.slice(0, i));
  return files.filter((f) => match.test(f.path) || (f.type === 'directory' && parents.has(f.path)));
}

// --- the repository for one architecture --------------------------------------------------------------

async function buildArch(out, arch, options) {
  const apkArch = CONFIG.arches[arch];
  const started = performance.now();
  const { aptInfo, index } = loadIndex(out, arch, options.refresh);

  // 1. The closure. ca-certificates becomes a bundle-only package: its Depends are not followed.
  const roots = [...new Set(Object.values(CONFIG.purposes).flatMap((p) => p.packages))];
  const noFollow = new Set(Object.keys(CONFIG.special).filter((n) => isBundleOnly(CONFIG.special, n)));
  const restricted = {
    packages: new Map(
      [...index.packages].map(([n, p]) => {
        if (!noFollow.has(n)) return [n, p];
        const copy = new Map(p);
        copy.delete('depends');
        copy.delete('pre-depends');
        return [n, copy];
      }),
    ),
    providers: index.providers,
  };
  const closure = resolveClosure(restricted, roots, CONFIG.exclude);
  const purposeCounts = Object.entries(CONFIG.purposes).map(
    ([purpose, p]) => `${purpose} ${resolveClosure(restricted, p.packages, CONFIG.exclude).names.length}`,
  );
  log(`[${arch}] closure: ${closure.names.length} Debian packages (${purposeCounts.join(', ')})`);
  for (const d of closure.dropped) log(`[${arch}]   dropped "${d.group}" of ${d.from}: ${d.reason}`);
  for (const c of closure.choices) log(`[${arch}]   chose ${c}`);

  // 2. Downloads, one by one.
  const debs = download(out, arch, aptInfo, index, closure.names);
  let hostBusyboxDeb;
  const hostBusybox = () => {
    if (hostBusyboxDeb !== undefined) return hostBusyboxDeb;
    const host = loadIndex(out, 'amd64', false);
    hostBusyboxDeb = download(out, 'amd64', host.aptInfo, host.index, ['busybox']).get('busybox');
    return hostBusyboxDeb;
  };

  // 3. Analyses: provides, needed sonames, licences, file lists.
  const analyses = new Map();
  closure.names.forEach((name, i) => {
    const start = performance.now();
    const cached = existsSync(
      join(out, 'state', arch, 'analysis', `${debs.get(name).split('/').pop()}.json`),
    );
    const a = analyse(out, arch, name, debs.get(name), hostBusybox);
    if (!cached) log(`[${arch}] analyse ${i + 1}/${closure.names.length} ${name} (${seconds(start)})`);
    analyses.set(name, a);
  });

  // 4. Plan every apk: name, version, .PKGINFO.
  const apkNameOf = (debName) => specialApkName(CONFIG.special, debName);
  const handmadeNames = [
    'tk-baselayout',
    'busybox-binsh',
    'build-base',
    'gcc-14-default',
    'rust',
    'cargo-auditable',
    'wolfi-base',
  ];
  // Packages split out of a Debian package (libc6's gconv modules → libc6-iconv).
  const splitNames = closure.names.flatMap((n) => {
    const split = CONFIG.special[n]?.splitOut;
    return split === undefined ? [] : [split.apkName];
  });
  const realNames = new Set([...closure.names.map(apkNameOf), ...handmadeNames, ...splitNames]);
  if (realNames.size !== closure.names.length + handmadeNames.length + splitNames.length)
    fail(`[${arch}] two packages share an apk name: check packages.json "special" and "handmade"`);
  const soProviders = new Map();
  for (const [name, a] of analyses)
    for (const s of a.sonames) soProviders.set(s.name, [...(soProviders.get(s.name) ?? []), apkNameOf(name)]);
  const plans = [];
  const notes = [];
  // A renamed package may take another's version (`go`, Debian's golang-go 2:1.19~1, is Go 1.19.8).
  const apkVersionOf = (debName) => {
    const from = versionSourceOf(CONFIG.special, debName);
    if (!analyses.has(from)) fail(`${debName} takes the version of ${from}, which is not in the closure`);
    return debianToApkVersion(new Map(analyses.get(from).control).get('version'));
  };
  for (const name of closure.names) {
    const a = analyses.get(name);
    const control = new Map(a.control);
    const apkName = apkNameOf(name);
    const mapped = apkVersionOf(name);
    for (const n of mapped.notes) notes.push(`${name} ${control.get('version')} → ${mapped.version}: ${n}`);
    const special = isBundleOnly(CONFIG.special, name);
    // Depends: Debian's relations, then so: for needed sonames that another package provides.
    const depends = [];
    const depNames = new Set();
    if (!special) {
      for (const edge of closure.edges.get(name) ?? []) {
        const target = analyses.get(edge.target);
        const targetControl = new Map(target.control);
        const targetApk = apkNameOf(edge.target);
        if (depNames.has(targetApk) || targetApk === apkName) continue;
        depNames.add(targetApk);
        // A renamed target (ninja-build → ninja) keeps the constraint, under its apk name.
        const token = dependencyToken(
          edge.viaVirtual ? { name: edge.target } : { ...edge.alt, name: targetApk },
          targetApk,
          targetControl.get('version'),
          apkVersionOf(edge.target).version,
          versionMatches,
          notes,
        );
        depends.push(token);
      }
      depends.push(...soDepends(a, a.paths, soProviders, notes, name));
    }
    let license = licenseFromCopyright(a.copyright[name]);
    if (a.copyright[name] === undefined && a.docLinks[name] !== undefined) {
      const owner = [...analyses.values()].find((o) => o.copyright[a.docLinks[name]] !== undefined);
      license = licenseFromCopyright(owner?.copyright[a.docLinks[name]]);
    }
    // What the postinst's update-alternatives would have linked (automake, aclocal, cc, lzma…).
    const alternatives = alternativeLinks(CONFIG.special[name]?.alternatives, a.paths, name);
    const altCmds = linkCommands(alternatives).filter((c) => !a.cmds.includes(c));
    const provides = special
      ? []
      : [
          ...packageProvides(a, mapped.version, control, realNames),
          ...altCmds.map((c) => `cmd:${c}=${mapped.version}`),
          ...specialProvides(CONFIG.special, name, mapped.version, realNames),
        ];
    plans.push({
      kind: special ? 'special' : 'deb',
      debName: name,
      apkName,
      debPath: debs.get(name),
      analysis: a,
      ...(alternatives.length > 0 ? { extraFiles: alternatives } : {}),
      pkginfo: debPkgInfo({
        control,
        apkName,
        apkVersion: mapped.version,
        apkArch,
        sourceDateEpoch: a.sourceDateEpoch,
        license,
        depends,
        provides,
      }),
    });
  }

  // Split packages: the matching files of a Debian package go to a package of their own, which depends on
  // the rest at the same version. Dependencies were computed on the whole package first, so that sonames
  // the split files satisfy for each other (gconv's libCNS.so…) stay satisfied.
  for (const plan of [...plans]) {
    const split = CONFIG.special[plan.debName]?.splitOut;
    if (split === undefined) continue;
    const match = new RegExp(split.match);
    const moved = plan.analysis.paths.filter((path) => match.test(path));
    if (moved.length === 0) fail(`${plan.debName}: splitOut ${split.match} matches no file`);
    const version = plan.pkginfo.pkgver;
    plans.push({
      ...plan,
      apkName: split.apkName,
      analysis: { ...plan.analysis, paths: moved, cmds: [], sonames: [] },
      extraFiles: undefined,
      split: { match: split.match, keep: true },
      pkginfo: {
        ...plan.pkginfo,
        pkgname: split.apkName,
        pkgdesc: split.pkgdesc,
        depend: [`${plan.apkName}=${version}`],
        provides: (split.provides ?? []).map((p) => `${p}=${version}`),
      },
    });
    plan.analysis = { ...plan.analysis, paths: plan.analysis.paths.filter((path) => !match.test(path)) };
    plan.split = { match: split.match, keep: false };
  }

  // Hand-made packages.
  const busybox = plans.find((p) => p.debName === 'busybox');
  const handEpoch = CONFIG.handmade.sourceDateEpoch;
  plans.push({
    kind: 'handmade',
    apkName: 'tk-baselayout',
    files: baselayoutFiles(arch),
    sourceDateEpoch: handEpoch,
    pkginfo: handmadePkgInfo({
      pkgname: 'tk-baselayout',
      pkgver: CONFIG.handmade['tk-baselayout'].version,
      pkgdesc: 'tk bootstrap base layout: accounts, os-release, top-level directories',
      apkArch,
      builddate: handEpoch,
    }),
  });
  plans.push({
    kind: 'handmade',
    apkName: 'busybox-binsh',
    files: [{ path: 'bin/sh', type: 'symlink', linkname: 'busybox' }],
    sourceDateEpoch: busybox.pkginfo.builddate,
    pkginfo: handmadePkgInfo({
      pkgname: 'busybox-binsh',
      pkgver: busybox.pkginfo.pkgver,
      pkgdesc: '/bin/sh as a link to busybox',
      apkArch,
      origin: 'busybox',
      license: busybox.pkginfo.license,
      builddate: busybox.pkginfo.builddate,
      depend: ['busybox'],
      provides: ['/bin/sh', `cmd:sh=${busybox.pkginfo.pkgver}`],
    }),
  });
  const bb = CONFIG.handmade['build-base'];
  plans.push({
    kind: 'handmade',
    apkName: 'build-base',
    files: noteFiles(
      'build-base',
      'build-base in the tk bootstrap repository is a metapackage: it depends on Debian 12\'s binutils, ' +
        'gcc and cpp (gcc 12 as gcc, cc and cpp), libc6-dev, make, GNU tar, busybox and busybox-binsh.',
    ),
    sourceDateEpoch: handEpoch,
    pkginfo: handmadePkgInfo({
      pkgname: 'build-base',
      pkgver: bb.version,
      pkgdesc:
        'C build tools for tk melange build: gcc 12 (as gcc, cc and cpp), binutils, make, libc headers, GNU tar, busybox',
      apkArch,
      builddate: handEpoch,
      depend: bb.depends,
    }),
  });
  const alias = CONFIG.handmade['gcc-14-default'];
  const gccPlan = plans.find((p) => p.debName === alias.versionOf);
  if (gccPlan === undefined) fail(`gcc-14-default takes the version of ${alias.versionOf}, which is not in the closure`);
  const gccDefault = compilerAliasPackage({
    name: 'gcc-14-default',
    depends: alias.depends,
    gcc: gccPlan.pkginfo,
    apkArch,
  });
  plans.push({
    kind: 'handmade',
    apkName: 'gcc-14-default',
    files: gccDefault.files,
    sourceDateEpoch: gccDefault.pkginfo.builddate,
    pkginfo: gccDefault.pkginfo,
  });
  // rust: Wolfi's rust holds rustc and cargo; here a metapackage depending on both, at rustc's version.
  const rustAlias = CONFIG.handmade.rust;
  const rustcPlan = plans.find((p) => p.debName === rustAlias.versionOf);
  if (rustcPlan === undefined)
    fail(`rust takes the version of ${rustAlias.versionOf}, which is not in the closure`);
  const rust = toolchainAliasPackage({
    name: 'rust',
    depends: rustAlias.depends,
    rustc: rustcPlan.pkginfo,
    apkArch,
  });
  plans.push({
    kind: 'handmade',
    apkName: 'rust',
    files: rust.files,
    sourceDateEpoch: rust.pkginfo.builddate,
    pkginfo: rust.pkginfo,
  });
  // cargo-auditable: a shim that runs plain cargo (Debian 12 has no cargo-auditable).
  const shimConfig = CONFIG.handmade['cargo-auditable'];
  const shim = cargoAuditableShimPackage({
    name: 'cargo-auditable',
    pkgver: shimConfig.version,
    depends: shimConfig.depends,
    builddate: handEpoch,
    apkArch,
  });
  plans.push({
    kind: 'handmade',
    apkName: 'cargo-auditable',
    files: shim.files,
    sourceDateEpoch: handEpoch,
    pkginfo: shim.pkginfo,
  });
  // wolfi-base: Wolfi's base metapackage (melange's python/import and python/test need it).
  const wb = CONFIG.handmade['wolfi-base'];
  const wolfiBase = metaPackage({
    name: 'wolfi-base',
    pkgver: wb.version,
    depends: wb.depends,
    pkgdesc: "Wolfi's base metapackage in the tk bootstrap: base layout, busybox with /bin/sh, CA bundle",
    note:
      "wolfi-base in the tk bootstrap repository is a metapackage under Wolfi's name: it depends on " +
      `${wb.depends.join(', ')}.`,
    builddate: handEpoch,
    apkArch,
  });
  plans.push({
    kind: 'handmade',
    apkName: 'wolfi-base',
    files: wolfiBase.files,
    sourceDateEpoch: handEpoch,
    pkginfo: wolfiBase.pkginfo,
  });
  for (const [who, deps] of [
    ['build-base', bb.depends],
    ['gcc-14-default', alias.depends],
    ['rust', rustAlias.depends],
    ['cargo-auditable', shimConfig.depends],
    ['wolfi-base', wb.depends],
  ])
    for (const dep of deps)
      if (!realNames.has(dep)) fail(`${who} depends on ${dep}, which is not in the repository`);

  // Links at busybox applet paths to the real programs, so that these win whatever the PATH order.
  const taken = new Set(
    plans.flatMap((p) =>
      p.kind === 'handmade'
        ? p.files.filter((f) => f.type !== 'directory').map((f) => f.path)
        : p.kind === 'deb'
          ? [...p.analysis.paths, ...(p.extraFiles ?? []).map((f) => f.path)]
          : [],
    ),
  );
  const applets = busybox.analysis.busybox.paths;
  for (const p of plans) {
    if (p.kind !== 'deb' || p.debName === 'busybox') continue;
    const own = p.extraFiles ?? [];
    const links = appletLinks(
      [...p.analysis.paths, ...own.map((f) => f.path)],
      [...p.analysis.cmds, ...linkCommands(own)],
      applets,
      taken,
    );
    if (links.length > 0) p.extraFiles = [...own, ...links];
  }

  // Every token must parse as apk reads it (strict grammar), before anything is written.
  for (const p of plans) {
    for (const t of [...p.pkginfo.depend]) parseDependency(t);
    for (const t of p.pkginfo.provides) parseProvide(t);
  }

  // 5. Files shared between packages would make the installer refuse them.
  const owners = new Map();
  for (const p of plans) {
    const paths =
      p.kind === 'handmade'
        ? p.files.filter((f) => f.type !== 'directory').map((f) => f.path)
        : [...p.analysis.paths, ...(p.extraFiles ?? []).map((f) => f.path)];
    for (const path of paths) owners.set(path, [...(owners.get(path) ?? []), p.apkName]);
  }
  const clashes = [...owners].filter(([, o]) => o.length > 1);
  if (clashes.length > 0)
    fail(
      `[${arch}] files owned by several packages:\n  ${clashes.map(([f, o]) => `${f}: ${o.join(', ')}`).join('\n  ')}`,
    );

  // 6. Write the apks that changed.
  const repoDir = join(out, 'repo', apkArch);
  const stateDir = join(out, 'state', arch, 'apk');
  mkdirSync(repoDir, { recursive: true });
  const key = await readPrivateKey(KEY_PATH);
  const keyId = sha256File(`${KEY_PATH}.pub`);
  const entries = [];
  let built = 0;
  const wanted = new Set();
  for (const [i, plan] of plans.entries()) {
    const file = `${plan.pkginfo.pkgname}-${plan.pkginfo.pkgver}.apk`;
    wanted.add(file);
    const inputKey = sha256Text(
      JSON.stringify({
        converter: CONVERTER_VERSION,
        deb: plan.analysis?.sha256,
        files: plan.kind === 'handmade' ? filesDigest(plan.files) : undefined,
        busybox: plan.analysis?.busybox,
        extraFiles: plan.extraFiles,
        split: plan.split,
        pkginfo: plan.pkginfo,
        keyId,
      }),
    );
    const statePath = join(stateDir, `${plan.pkginfo.pkgname}.json`);
    const state = readJson(statePath);
    const apkPath = join(repoDir, file);
    if (
      state?.inputKey === inputKey &&
      state.file === file &&
      existsSync(apkPath) &&
      statSync(apkPath).size === state.size &&
      sha256File(apkPath) === state.sha256
    ) {
      entries.push(state.entry);
      continue;
    }
    const start = performance.now();
    let files;
    let sourceDateEpoch = plan.sourceDateEpoch;
    if (plan.kind === 'handmade') {
      files = plan.files;
    } else {
      const all = splitFiles(filesFromTar(readDebData(plan.debPath)), plan.split);
      sourceDateEpoch = plan.analysis.sourceDateEpoch;
      if (plan.debName === 'ca-certificates') {
        files = [
          ...all.filter((f) => /^usr\/share\/doc\/[^/]+(\/copyright)?$/.test(f.path)),
          { path: 'etc/ssl/certs/ca-certificates.crt', type: 'file', mode: 0o644, data: caBundle(all) },
        ];
      } else {
        files = [...all, ...(plan.extraFiles ?? [])];
        if (plan.debName === 'busybox') {
          // The applet list for image builders (apko reads /etc/busybox-paths.d/<pkgname>).
          const list = `${plan.analysis.busybox.paths.join('\n')}\n`;
          files = [
            ...files,
            {
              path: 'etc/busybox-paths.d/busybox',
              type: 'file',
              mode: 0o644,
              data: new TextEncoder().encode(list),
            },
          ];
        }
      }
    }
    const result = await buildApk({
      // apk-tools 2.14 does not unpack a package whose installed size is 0 (database.c apk_db_install_pkg),
      // so symlinks count with their target's length, as melange counts them (lstat sizes).
      pkginfo: { ...plan.pkginfo, size: installedSize(files) },
      files,
      sourceDateEpoch,
      signer: { key, keyName: KEY_NAME },
      generator: 'tk bootstrap (test-fixtures/bootstrap/build-repo.mjs)',
    });
    writeAtomic(apkPath, result.bytes);
    const entry = indexEntryFromApk(readApk(result.bytes, { source: file }));
    const sha256 = createHash('sha256').update(result.bytes).digest('hex');
    writeAtomic(statePath, JSON.stringify({ inputKey, file, size: result.bytes.length, sha256, entry }));
    entries.push(entry);
    built++;
    log(`[${arch}] apk ${i + 1}/${plans.length} ${file} (${mib(result.bytes.length)}, ${seconds(start)})`);
  }
  for (const f of readdirSync(repoDir)) {
    if (f.endsWith('.apk') && !wanted.has(f)) {
      rmSync(join(repoDir, f));
      log(`[${arch}] removed stale ${f}`);
    }
  }

  // 7. The signed index.
  const indexBytes = await writeIndexArchive(
    { entries: mergeIndexEntries([], entries), description: `tk bootstrap ${CONFIG.suite} ${arch}` },
    { signer: { key, keyName: KEY_NAME } },
  );
  const indexPath = join(repoDir, 'APKINDEX.tar.gz');
  if (!existsSync(indexPath) || Buffer.compare(readFileSync(indexPath), Buffer.from(indexBytes)) !== 0)
    writeAtomic(indexPath, indexBytes);
  writeAtomic(join(out, 'repo', KEY_NAME), readFileSync(`${KEY_PATH}.pub`));

  // 8. A manifest for people: what came from where.
  const manifest = {
    arch,
    apkArch,
    packages: plans.map((p) => ({
      apk: `${p.pkginfo.pkgname}-${p.pkginfo.pkgver}.apk`,
      name: p.pkginfo.pkgname,
      version: p.pkginfo.pkgver,
      ...(p.kind === 'handmade'
        ? { from: 'hand-made' }
        : {
            from: p.analysis.deb,
            debianVersion: new Map(p.analysis.control).get('version'),
            sha256: p.analysis.sha256,
          }),
      license: p.pkginfo.license,
      ...(p.extraFiles ? { addedLinks: p.extraFiles.map((f) => `/${f.path} -> ${f.linkname}`) } : {}),
      maintainerScripts: p.analysis?.scripts.filter((s) => /inst|rm$/.test(s)) ?? [],
    })),
    notes,
  };
  writeAtomic(join(out, `manifest.${arch}.json`), `${JSON.stringify(manifest, null, 2)}\n`);
  const size = readdirSync(repoDir).reduce((sum, f) => sum + statSync(join(repoDir, f)).size, 0);
  log(
    `[${arch}] repository ${repoDir}: ${plans.length} packages (${built} built, ${plans.length - built} up to date), ` +
      `${mib(size)}, ${notes.length} notes in manifest.${arch}.json, ${seconds(started)}`,
  );
}

// --- check ----------------------------------------------------------------------------------------------

async function checkArch(out, arch) {
  const repoDir = join(out, 'repo', CONFIG.arches[arch]);
  const indexPath = join(repoDir, 'APKINDEX.tar.gz');
  if (!existsSync(indexPath)) fail(`[${arch}] no repository at ${repoDir}: build it first`);
  const keyring = createKeyring();
  keyring.add(KEY_NAME, await readPublicKey(`${KEY_PATH}.pub`));
  const bytes = new Uint8Array(readFileSync(indexPath));
  const archive = readIndexArchive(bytes, { source: indexPath });
  const verdict = verifyIndexArchive(bytes, archive, keyring);
  if (verdict.status !== 'OK') fail(`[${arch}] ${indexPath}: ${verdict.status}: ${verdict.reason}`);
  const problems = [];
  const listed = new Map(archive.entries.map((e) => [`${e.name}-${e.version}.apk`, e]));
  const files = readdirSync(repoDir).filter((f) => f.endsWith('.apk'));
  for (const f of files) {
    const entry = listed.get(f);
    if (entry === undefined) {
      problems.push(`${f} is not in the index`);
      continue;
    }
    const apkBytes = new Uint8Array(readFileSync(join(repoDir, f)));
    const result = verifyApk(apkBytes, keyring, { source: f });
    if (result.status !== 'OK') {
      problems.push(`${f}: ${result.status}: ${result.reason}`);
      continue;
    }
    const pkg = readApk(apkBytes, { source: f, verifyFileChecksums: false });
    if (pkg.identity !== entry.checksum)
      problems.push(`${f}: identity ${pkg.identity} but the index says ${entry.checksum}`);
    if (pkg.fileSize !== entry.size)
      problems.push(`${f}: ${pkg.fileSize} bytes but the index says ${entry.size}`);
  }
  for (const name of listed.keys())
    if (!files.includes(name)) problems.push(`index lists ${name}, which is missing`);
  // Every dependency of every package resolves inside the repository.
  const candidates = (name) => [
    ...archive.entries.filter((e) => e.name === name).map((e) => ({ version: e.version })),
    ...archive.entries.flatMap((e) =>
      e.provides
        .map((p) => parseProvide(p))
        .filter((p) => p.name === name)
        .map((p) => (p.version ? { version: p.version } : {})),
    ),
  ];
  for (const e of archive.entries) {
    for (const token of e.depends) {
      const dep = parseDependency(token);
      if (!candidates(dep.name).some((c) => isDependencySatisfied(dep, c)))
        problems.push(`${e.name}: dependency ${token} has no provider in the repository`);
    }
  }
  if (problems.length > 0) fail(`[${arch}] check failed:\n  ${problems.join('\n  ')}`);
  log(
    `[${arch}] check ok: index signed by ${verdict.verifiedBy.join(', ')}, ${files.length} packages verify, every dependency resolves`,
  );
  return archive;
}

// --- smoke tests ----------------------------------------------------------------------------------------

function smokeArch(out, arch, archive) {
  const repoDir = join(out, 'repo', CONFIG.arches[arch]);
  const roots = ['tk-baselayout', 'busybox', 'busybox-binsh', 'hello'];
  const { root, packages } = prepareRoot(repoDir, archive.entries, roots, `smoke-${arch}`);
  try {
    const { mode, direct, run } = sandbox(root, arch);
    const hello = run(['/usr/bin/hello']);
    if (hello.status !== 0 || hello.stdout !== 'Hello, world!\n')
      fail(
        `[${arch}] smoke: /usr/bin/hello gave status ${hello.status}, stdout ${JSON.stringify(hello.stdout)}, stderr ${JSON.stringify(hello.stderr)}`,
      );
    let shell = 'shell not tried (no binfmt: child processes of the shell would not run)';
    if (!direct) {
      const sh = run(['/bin/sh', '-c', 'id -u; ls /usr/bin/hello; hello | tr a-z A-Z']);
      if (sh.status !== 0 || sh.stdout !== `${process.getuid?.() ?? 0}\n/usr/bin/hello\nHELLO, WORLD!\n`)
        fail(
          `[${arch}] smoke: /bin/sh gave status ${sh.status}, stdout ${JSON.stringify(sh.stdout)}, stderr ${JSON.stringify(sh.stderr)}`,
        );
      shell = '/bin/sh, busybox applets and a pipe work';
    }
    log(
      `[${arch}] smoke ok: ${packages.map((e) => e.name).join(', ')} → "Hello, world!" ${howItRan(mode)}; ${shell}`,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * A build environment as Wolfi's recipes ask for it, checked as the build user (uid 1000) with melange's
 * PATH: tool versions, real programs over busybox applets, and autotools, cmake+ninja and meson builds.
 * Under qemu-user (aarch64 on x86_64) the builds take minutes: they run there only with
 * --emulated-builds, otherwise the version and path checks do. Without binfmt (qemu called directly) only
 * the programs themselves could run, not their children: then it is skipped.
 */
function smokeToolsArch(out, arch, archive, { emulatedBuilds }) {
  const start = performance.now();
  const repoDir = join(out, 'repo', CONFIG.arches[arch]);
  const { root, packages, appletLinks } = prepareRoot(repoDir, archive.entries, TOOLS_ROOTS, `tools-${arch}`);
  try {
    const dir = '/home/build/smoke';
    writeToolsProject(root, dir);
    const { mode, direct, run } = sandbox(root, arch, {
      uid: 1000,
      path: MELANGE_PATH,
      env: { HOME: '/home/build', SOURCE_DATE_EPOCH: '1704067200' },
      chdir: dir,
    });
    if (direct) {
      log(`[${arch}] smoke-tools skipped: ${howItRan(mode)} cannot run a build's child processes`);
      return;
    }
    const builds = mode === 'native' || emulatedBuilds;
    const r = run(['/bin/sh', '-c', toolsScript(dir, { builds })]);
    const problems = checkToolsOutput(r.stdout, { uid: 1000, builds });
    if (r.status !== 0 || problems.length > 0)
      fail(
        `[${arch}] smoke-tools: status ${r.status}\n  ${problems.join('\n  ')}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`,
      );
    const versions = r.stdout
      .split('\n')
      .map((l) => /^version (autoreconf|cmake|meson|ninja|tar): (.*)$/.exec(l))
      .filter((m) => m !== null)
      .map(([, name, line]) => (line.includes(name) ? line : `${name} ${line}`));
    log(
      `[${arch}] smoke-tools ok: ${packages.length} packages, ${appletLinks} busybox links; as uid 1000 ${howItRan(mode)}: ` +
        `${versions.join('; ')}; GNU tools over busybox applets; ` +
        `${builds ? 'autotools+libtool, cmake+ninja and meson builds ran' : 'builds not run under emulation (--emulated-builds runs them)'} (${seconds(start)})`,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * The language toolchains as melange's go/*, cargo/build and python/* pipelines ask for them, checked as the
 * build user with melange's PATH: version lines (go reports the arch, rustc its host triple), then a static Go
 * program, an offline cargo build through the cargo-auditable shim and a wheel built without isolation and
 * installed with Debian's layout, each run. Under qemu-user the builds run only with --emulated-builds.
 */
function smokeLanguagesArch(out, arch, archive, { emulatedBuilds }) {
  const start = performance.now();
  const repoDir = join(out, 'repo', CONFIG.arches[arch]);
  const { root, packages } = prepareRoot(repoDir, archive.entries, LANGUAGE_ROOTS, `languages-${arch}`);
  try {
    const dir = '/home/build/smoke';
    writeLanguagesProject(root, dir);
    const { mode, direct, run } = sandbox(root, arch, {
      uid: 1000,
      path: MELANGE_PATH,
      env: { HOME: '/home/build', SOURCE_DATE_EPOCH: '1704067200' },
      chdir: dir,
    });
    if (direct) {
      log(`[${arch}] smoke-languages skipped: ${howItRan(mode)} cannot run a build's child processes`);
      return;
    }
    const builds = mode === 'native' || emulatedBuilds;
    const r = run(['/bin/sh', '-c', languagesScript(dir, { builds })]);
    const problems = checkLanguagesOutput(r.stdout, { uid: 1000, builds, arch });
    if (r.status !== 0 || problems.length > 0)
      fail(
        `[${arch}] smoke-languages: status ${r.status}\n  ${problems.join('\n  ')}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`,
      );
    const versions = r.stdout
      .split('\n')
      .map((l) => /^version (go|rustc|cargo|python|build|pip|ruby|git): (.*)$/.exec(l))
      .filter((m) => m !== null)
      .map(([, , line]) => line.replace(/ \(.*$/, ''));
    log(
      `[${arch}] smoke-languages ok: ${packages.length} packages; as uid 1000 ${howItRan(mode)}: ${versions.join('; ')}; ` +
        `${builds ? 'Go, cargo and wheel builds ran' : 'builds not run under emulation (--emulated-builds runs them)'} (${seconds(start)})`,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

// --- main -----------------------------------------------------------------------------------------------

async function main() {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      arch: { type: 'string', multiple: true },
      refresh: { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      'smoke-tools': { type: 'boolean', default: false },
      'smoke-languages': { type: 'boolean', default: false },
      'emulated-builds': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    log(
      readFileSync(fileURLToPath(import.meta.url), 'utf8')
        .split('\n')
        .slice(1, 7)
        .join('\n')
        .replace(/^\/\/ ?/gm, ''),
    );
    return;
  }
  const out = resolve(values.out ?? join(REPO_ROOT, '.cache/bootstrap'));
  // --arch takes Debian (amd64, arm64) or apk (x86_64, aarch64) names.
  const arches = (values.arch ?? Object.keys(CONFIG.arches)).map((a) => {
    const deb =
      CONFIG.arches[a] !== undefined ? a : Object.keys(CONFIG.arches).find((k) => CONFIG.arches[k] === a);
    if (deb === undefined) fail(`unknown --arch ${a}: use ${Object.keys(CONFIG.arches).join(' or ')}`);
    return deb;
  });
  const smokeTools = values['smoke-tools'];
  const smokeLanguages = values['smoke-languages'];
  for (const tool of [
    'dpkg-deb',
    'apt-get',
    ...(values.smoke || smokeTools || smokeLanguages ? ['bwrap'] : []),
  ])
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
      fail(
        `${tool} is not installed (Debian: apt-get install ${tool === 'bwrap' ? 'bubblewrap' : 'apt dpkg'})`,
      );
  const start = performance.now();
  for (const arch of arches) {
    if (!values.check) await buildArch(out, arch, { refresh: values.refresh });
    const archive = await checkArch(out, arch);
    if (values.smoke) smokeArch(out, arch, archive);
    if (smokeTools) smokeToolsArch(out, arch, archive, { emulatedBuilds: values['emulated-builds'] });
    if (smokeLanguages) smokeLanguagesArch(out, arch, archive, { emulatedBuilds: values['emulated-builds'] });
  }
  log(`done in ${seconds(start)}: ${join(out, 'repo')} (key ${join(out, 'repo', KEY_NAME)})`);
}

main()
  .catch((error) => {
    if (error instanceof Failure) process.stderr.write(`error: ${error.message}\n`);
    else if (typeof error?.code === 'string' && /^[A-Z]+_[A-Z_]+$/.test(error.code))
      process.stderr.write(
        `error [${error.code}] ${error.message}\n${error.hint ? `  hint: ${error.hint}\n` : ''}`,
      );
    else process.stderr.write(`error: ${error?.stack ?? error}\n`);
    process.exitCode = 1;
  })
  .finally(() => closeGzipWorkers());
