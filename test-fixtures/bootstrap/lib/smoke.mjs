// Smoke tests of the repository: install packages into a temporary root with a minimal extractor, create
// the busybox applet links as an image builder would, and run programs in bubblewrap. `--smoke` runs GNU
// hello; `--smoke-tools` checks a build environment (autotools, cmake, meson, GNU tools over busybox
// applets) and builds three tiny projects with them as the build user.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseDependency, parseProvide, readApk } from './tk.mjs';

/** A failure the command reports as `error: <message>` (no stack trace). */
export class Failure extends Error {}

function fail(message) {
  throw new Failure(message);
}

/** melange's PATH inside the build sandbox (/usr/bin before /bin: see appletLinks in special.mjs). */
export const MELANGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin';

/** What `--smoke-tools` installs (a build environment as Wolfi's recipes and melange's pipelines ask). */
export const TOOLS_ROOTS = [
  'tk-baselayout',
  'busybox',
  'busybox-binsh',
  'build-base',
  'gcc-14-default',
  'autoconf',
  'automake',
  'libtool',
  'cmake',
  'ninja',
  'meson',
  'pkgconf',
  'perl',
  'patch',
  'xz',
  'bzip2',
  'gzip',
  'wget',
  'scanelf',
];

/**
 * The install closure of `roots` by name and provides (first provider in index order).
 *
 * @param {{ name: string, version: string, depends: string[], provides: string[] }[]} entries
 * @param {string[]} roots
 * @returns the entries to install, dependencies first
 */
export function installClosure(entries, roots) {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const byProvide = new Map();
  for (const e of entries)
    for (const p of e.provides) {
      const name = parseProvide(p).name;
      if (!byProvide.has(name)) byProvide.set(name, e);
    }
  const out = [];
  const seen = new Set();
  const visit = (name) => {
    const e = byName.get(name) ?? byProvide.get(name);
    if (e === undefined) fail(`smoke: nothing provides ${name}`);
    if (seen.has(e.name)) return;
    seen.add(e.name);
    for (const d of e.depends) visit(parseDependency(d).name);
    out.push(e);
  };
  roots.forEach(visit);
  return out;
}

/** Minimal installer: files, modes, owners, links. */
function extractInto(root, apkPath) {
  // Owners are applied when running as root; otherwise every file belongs to the caller.
  const lchown = process.getuid?.() === 0 ? lchownSync : () => {};
  const pkg = readApk(new Uint8Array(readFileSync(apkPath)), { source: apkPath });
  for (const f of pkg.files) {
    const target = join(root, f.path);
    if (f.type === 'directory') {
      mkdirSync(target, { recursive: true });
      chmodSync(target, f.mode);
      lchown(target, f.uid, f.gid);
      continue;
    }
    mkdirSync(dirname(target), { recursive: true });
    rmSync(target, { force: true });
    if (f.type === 'file') {
      writeFileSync(target, f.data);
      lchown(target, f.uid, f.gid);
      chmodSync(target, f.mode);
    } else if (f.type === 'symlink') {
      symlinkSync(f.linkname, target);
      lchown(target, f.uid, f.gid);
    } else if (f.type === 'hardlink') {
      linkSync(join(root, f.linkname), target);
    }
    if (f.type !== 'symlink') utimesSync(target, f.mtime, f.mtime);
  }
  return pkg;
}

/**
 * A temporary root with `roots` and their dependencies installed, and the busybox applet links an image
 * builder creates from /etc/busybox-paths.d (relative links to /bin/busybox; existing files are kept).
 *
 * @returns {{ root: string, packages: object[], appletLinks: number }}
 */
export function prepareRoot(repoDir, entries, roots, label) {
  const packages = installClosure(entries, roots);
  const root = mkdtempSync(join(tmpdir(), `tk-bootstrap-${label}-`));
  try {
    for (const e of packages) extractInto(root, join(repoDir, `${e.name}-${e.version}.apk`));
    const applets = readFileSync(join(root, 'etc/busybox-paths.d/busybox'), 'utf8')
      .split('\n')
      .map((l) => l.trim().replace(/^\/+/, ''))
      .filter(Boolean);
    let appletLinks = 0;
    for (const p of applets) {
      const target = join(root, p);
      try {
        lstatSync(target);
        continue;
      } catch {
        mkdirSync(dirname(target), { recursive: true });
        const depth = p.split('/').length - 1;
        symlinkSync(`${'../'.repeat(depth)}bin/busybox`, target);
        appletLinks++;
      }
    }
    return { root, packages, appletLinks };
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}

/** How aarch64 programs run here: natively, through binfmt with the F flag, or by calling qemu. */
export function binfmtStatus(arch) {
  if (arch === 'amd64') return 'native';
  try {
    const text = readFileSync('/proc/sys/fs/binfmt_misc/qemu-aarch64', 'utf8');
    if (/^enabled/m.test(text) && /^flags:.*F/m.test(text)) return 'binfmt';
    return 'binfmt-without-F';
  } catch {
    return 'no-binfmt';
  }
}

const QEMU = '/usr/bin/qemu-aarch64-static';

/**
 * A runner for programs inside `root` under bubblewrap (`--bind ROOT /`), optionally as another user.
 *
 * @param {string} root
 * @param {string} arch Debian architecture
 * @param {{ uid?: number, path?: string, env?: Record<string,string>, chdir?: string }} [options]
 * @returns {{ mode: string, direct: boolean, run: (argv: string[]) => import('node:child_process').SpawnSyncReturns<string> }}
 */
export function sandbox(root, arch, options = {}) {
  const mode = binfmtStatus(arch);
  const direct = !(mode === 'native' || mode === 'binfmt');
  if (direct && !existsSync(QEMU))
    fail(`[${arch}] smoke: no binfmt registration for qemu-aarch64 and no ${QEMU}`);
  const prefix = direct ? [QEMU] : [];
  const bind = direct ? ['--ro-bind', QEMU, QEMU] : [];
  const user =
    options.uid === undefined
      ? []
      : ['--unshare-user', '--uid', String(options.uid), '--gid', String(options.uid)];
  const env = Object.entries({ PATH: options.path ?? '/usr/bin:/bin:/usr/sbin:/sbin', ...options.env }).flatMap(
    ([k, v]) => ['--setenv', k, v],
  );
  const run = (argv) =>
    spawnSync(
      'bwrap',
      [
        '--bind',
        root,
        '/',
        ...bind,
        '--proc',
        '/proc',
        '--dev',
        '/dev',
        ...user,
        '--clearenv',
        ...env,
        ...(options.chdir ? ['--chdir', options.chdir] : []),
        ...prefix,
        ...argv,
      ],
      { encoding: 'utf8', maxBuffer: 64 << 20 },
    );
  return { mode, direct, run };
}

export function howItRan(mode) {
  return (
    { native: 'natively', binfmt: 'under qemu-user via binfmt (F flag)' }[mode] ??
    `under ${QEMU} called directly (${mode}; see test-bench.md to register binfmt)`
  );
}

// --- the build-environment smoke test ---------------------------------------------------------------------

const text = (s) => new TextEncoder().encode(s);

/**
 * Three tiny projects for `--smoke-tools`: autotools with libtool and pkg.m4 (autoreconf, configure, make,
 * make dist), cmake with the Ninja generator, and meson. Paths relative to the project directory.
 */
export const TOOLS_PROJECT = {
  'autotools/configure.ac': `AC_INIT([tk-smoke], [1.0])
AC_CONFIG_SRCDIR([hello.c])
AM_INIT_AUTOMAKE([foreign])
AC_PROG_CC
LT_INIT
PKG_PROG_PKG_CONFIG
AC_CONFIG_FILES([Makefile])
AC_OUTPUT
`,
  'autotools/Makefile.am': `lib_LTLIBRARIES = libgreet.la
libgreet_la_SOURCES = greet.c greet.h
bin_PROGRAMS = hello
hello_SOURCES = hello.c
hello_LDADD = libgreet.la
`,
  'autotools/greet.h': 'const char *greeting(void);\n',
  'autotools/greet.c': '#include "greet.h"\nconst char *greeting(void) { return "autotools"; }\n',
  'autotools/hello.c':
    '#include <stdio.h>\n#include "greet.h"\nint main(void) { printf("hello from %s\\n", greeting()); return 0; }\n',
  'cmake/CMakeLists.txt':
    'cmake_minimum_required(VERSION 3.13)\nproject(tksmoke C)\nadd_executable(hello hello.c)\n',
  'cmake/hello.c': '#include <stdio.h>\nint main(void) { puts("hello from cmake and ninja"); return 0; }\n',
  'meson/meson.build': "project('tksmoke', 'c')\nexecutable('hello', 'hello.c')\n",
  'meson/hello.c': '#include <stdio.h>\nint main(void) { puts("hello from meson"); return 0; }\n',
};

/** Programs that must be the real ones (not busybox applets) wherever PATH finds them. */
export const REAL_PROGRAMS = ['tar', 'gzip', 'xz', 'lzma', 'bzip2', 'patch', 'wget', 'which', 'make', 'perl'];

/** Version lines: program → the command printing it and what the line must match. */
export const VERSION_CHECKS = [
  ['autoreconf', 'autoreconf --version', /^autoreconf \(GNU Autoconf\) 2\.\d+/],
  ['automake', 'automake --version', /^automake \(GNU automake\) 1\.\d+/],
  ['libtoolize', 'libtoolize --version', /^libtoolize \(GNU libtool\) 2\.\d+/],
  ['cmake', 'cmake --version', /^cmake version 3\.\d+/],
  ['meson', 'meson --version', /^1\.\d+\.\d+$/],
  ['ninja', 'ninja --version', /^1\.\d+\.\d+$/],
  ['pkgconf', 'pkgconf --version', /^1\.\d+\.\d+$/],
  ['pkg-config', 'pkg-config --version', /^1\.\d+\.\d+$/],
  ['xz', 'xz --version', /^xz \(XZ Utils\) 5\./],
  ['tar', 'tar --version', /^tar \(GNU tar\) 1\./],
  ['gzip', 'gzip --version', /^gzip 1\./],
  ['bzip2', 'bzip2 --help 2>&1', /^bzip2, a block-sorting file compressor/],
  ['patch', 'patch --version', /^GNU patch 2\./],
  ['make', 'make --version', /^GNU Make 4\./],
  ['perl', "perl -e 'print qq{perl $^V\\n}'", /^perl v5\.\d+/],
  ['wget', 'wget --version', /^GNU Wget 1\./],
  ['scanelf', 'scanelf -V', /^pax-utils-1\./],
  ['cc', 'cc --version', /^cc \(Debian 12\./],
];

/**
 * The shell script `--smoke-tools` runs as the build user: version lines (`version <name>: <line>`), where
 * each real program resolves (`real <name>: <PATH hit> -> <final target>`), then the three builds, each
 * ending in a marker line; a build's output goes to a log that is printed only when it fails.
 *
 * @param {string} dir the project directory inside the root
 * @param {{ builds: boolean }} options builds=false: version and path checks only
 * @returns {string}
 */
export function toolsScript(dir, options) {
  const lines = [
    'set -eu',
    'echo "uid: $(id -u)"',
    ...VERSION_CHECKS.map(
      ([name, command]) => `echo "version ${name}: $( (${command}) | head -n 1)"`,
    ),
    ...REAL_PROGRAMS.map(
      (name) => `p=$(command -v ${name}); echo "real ${name}: $p -> $(readlink -f "$p")"`,
    ),
  ];
  if (options.builds) {
    const step = (name, commands) =>
      `( cd ${dir}/${name} && ( ${commands} ) >${dir}/${name}.log 2>&1 ) || { echo "build ${name} failed:"; tail -n 40 ${dir}/${name}.log; exit 1; }`;
    lines.push(
      step('autotools', 'autoreconf -fi && ./configure && make && make dist'),
      `echo "run autotools: $(${dir}/autotools/hello)"`,
      `echo "dist autotools: $(tar -tzf ${dir}/autotools/tk-smoke-1.0.tar.gz | grep -c .) files"`,
      step('cmake', 'cmake -G Ninja -S . -B out && ninja -C out'),
      `echo "run cmake: $(${dir}/cmake/out/hello)"`,
      step('meson', 'meson setup out && meson compile -C out'),
      `echo "run meson: $(${dir}/meson/out/hello)"`,
    );
  }
  lines.push('echo "tools smoke: done"');
  return `${lines.join('\n')}\n`;
}

/**
 * Check the output of {@link toolsScript}: the build user's uid, every version line, every real program
 * resolving outside busybox, and (with builds) the three programs' greetings.
 *
 * @param {string} stdout
 * @param {{ uid: number, builds: boolean }} options
 * @returns {string[]} problems (empty when all is well)
 */
export function checkToolsOutput(stdout, options) {
  const problems = [];
  const lines = new Map();
  for (const line of stdout.split('\n')) {
    const m = /^([a-z]+(?: [a-z0-9+-]+)?): (.*)$/i.exec(line);
    if (m !== null && !lines.has(m[1])) lines.set(m[1], m[2]);
  }
  if (lines.get('uid') !== String(options.uid))
    problems.push(`expected uid ${options.uid}, got ${JSON.stringify(lines.get('uid'))}`);
  for (const [name, , pattern] of VERSION_CHECKS) {
    const line = lines.get(`version ${name}`);
    if (line === undefined || !pattern.test(line))
      problems.push(`${name}: version line ${JSON.stringify(line)} does not match ${pattern}`);
  }
  for (const name of REAL_PROGRAMS) {
    const line = lines.get(`real ${name}`);
    const m = line === undefined ? null : /^(\/\S+) -> (\/\S+)$/.exec(line);
    if (m === null) problems.push(`${name}: not found in PATH (${JSON.stringify(line)})`);
    else if (/\/busybox$/.test(m[2])) problems.push(`${name}: ${m[1]} is busybox's applet, not the real program`);
  }
  if (options.builds) {
    const expect = {
      'run autotools': /^hello from autotools$/,
      'dist autotools': /^[1-9]\d* files$/,
      'run cmake': /^hello from cmake and ninja$/,
      'run meson': /^hello from meson$/,
    };
    for (const [key, pattern] of Object.entries(expect))
      if (!pattern.test(lines.get(key) ?? ''))
        problems.push(`${key}: ${JSON.stringify(lines.get(key))} does not match ${pattern}`);
  }
  if (lines.get('tools smoke') !== 'done') problems.push('the script did not finish');
  return problems;
}

/**
 * Write {@link TOOLS_PROJECT} under `root/<dir>`, owned by the caller (outside), which bubblewrap maps to
 * the build user inside (`--uid 1000` maps 1000 to the caller's uid).
 */
export function writeToolsProject(root, dir) {
  for (const [path, content] of Object.entries(TOOLS_PROJECT)) {
    const target = join(root, dir, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text(content));
  }
}

// --- the language toolchains smoke test -------------------------------------------------------------------

/** What `--smoke-languages` installs: the needs of melange's go/*, cargo/build, python/* and ruby/* pipelines. */
export const LANGUAGE_ROOTS = [
  'tk-baselayout',
  'busybox',
  'busybox-binsh',
  'wolfi-base',
  'build-base',
  'ca-certificates-bundle',
  'go',
  'git',
  'rust',
  'cargo-auditable',
  'python3',
  'py3-pip',
  'py3-build',
  'py3-installer',
  'py3-wheel',
  'py3-setuptools',
  'ruby',
];

/** Go's and Rust's names of the architectures. */
const GOARCH = { amd64: 'amd64', arm64: 'arm64' };
const RUST_HOST = { amd64: 'x86_64-unknown-linux-gnu', arm64: 'aarch64-unknown-linux-gnu' };

/**
 * Version lines of the language toolchains: name → command and the pattern its first line must match
 * (`ARCH` is replaced by Go's name of the architecture, `HOST` by Rust's host triple).
 */
export const LANGUAGE_CHECKS = [
  ['go', 'go version', /^go version go1\.19\.\d+ linux\/ARCH$/],
  ['rustc', 'rustc --version', /^rustc 1\.63\.\d+/],
  ['rustc host', "rustc -vV | grep '^host:'", /^host: HOST$/],
  ['cargo', 'cargo --version', /^cargo 1\.\d+\.\d+/],
  ['cargo auditable', 'cargo auditable --version 2>&1', /^cargo-auditable .*shim/],
  ['python', 'python --version 2>&1', /^Python 3\.11\.\d+$/],
  ['build', 'python3 -m build --version', /^build 0\.9\.\d+/],
  ['installer', 'python3 -m installer --help', /^usage: .*installer/],
  ['pip', 'python3 -m pip --version', /^pip 23\.\d+/],
  [
    'setuptools wheel',
    "python3 -c 'import setuptools, wheel; print(setuptools.__version__, wheel.__version__)'",
    /^66\.\d+\.\d+ 0\.38\.\d+$/,
  ],
  ['ruby', 'ruby --version', /^ruby 3\.1\.\d+/],
  ['gem', 'gem --version', /^3\.3\.\d+$/],
  ['git', 'git --version', /^git version 2\.\d+/],
];

/** Three tiny projects for `--smoke-languages` builds: Go, Rust (no dependencies) and a Python wheel. */
export const LANGUAGE_PROJECT = {
  'go/go.mod': 'module example.com/smoke\n\ngo 1.19\n',
  'go/main.go': 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from go") }\n',
  'rust/Cargo.toml': '[package]\nname = "smoke"\nversion = "1.0.0"\nedition = "2021"\n',
  'rust/Cargo.lock':
    '# This file is automatically @generated by Cargo.\nversion = 3\n\n[[package]]\nname = "smoke"\nversion = "1.0.0"\n',
  'rust/src/main.rs': 'fn main() {\n    println!("hello from cargo");\n}\n',
  'python/pyproject.toml':
    '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n' +
    '[project]\nname = "tk-smoke"\nversion = "1.0"\n',
  'python/tk_smoke/__init__.py': 'GREETING = "hello from a wheel"\n',
};

function languagePattern(pattern, arch) {
  return new RegExp(pattern.source.replace('ARCH', GOARCH[arch]).replace('HOST', RUST_HOST[arch]));
}

/**
 * The shell script `--smoke-languages` runs as the build user: version lines, then (with builds) a static
 * Go program, a cargo build offline and a wheel built without isolation and installed, each run.
 *
 * @param {string} dir the project directory inside the root
 * @param {{ builds: boolean }} options
 * @returns {string}
 */
export function languagesScript(dir, options) {
  const lines = [
    'set -eu',
    'echo "uid: $(id -u)"',
    ...LANGUAGE_CHECKS.map(([name, command]) => `echo "version ${name}: $( (${command}) | head -n 1)"`),
  ];
  if (options.builds) {
    const step = (name, commands) =>
      `( cd ${dir}/${name} && ( ${commands} ) >${dir}/${name}.log 2>&1 ) || { echo "build ${name} failed:"; tail -n 40 ${dir}/${name}.log; exit 1; }`;
    lines.push(
      `export GOCACHE=${dir}/.gocache GOTOOLCHAIN=local CARGO_HOME=${dir}/.cargo CARGO_NET_OFFLINE=true`,
      step('go', 'CGO_ENABLED=0 go build -trimpath -o hello .'),
      `echo "run go: $(${dir}/go/hello)"`,
      step('rust', 'cargo auditable build --release'),
      `echo "run cargo: $(${dir}/rust/target/release/smoke)"`,
      step(
        'python',
        `python3 -m build --no-isolation && DEB_PYTHON_INSTALL_LAYOUT=deb_system python3 -m installer -d ${dir}/python/root dist/*.whl`,
      ),
      `echo "run wheel: $(PYTHONPATH=${dir}/python/root/usr/lib/python3/dist-packages python3 -c 'import tk_smoke; print(tk_smoke.GREETING)')"`,
    );
  }
  lines.push('echo "languages smoke: done"');
  return `${lines.join('\n')}\n`;
}

/**
 * Check the output of {@link languagesScript}.
 *
 * @param {string} stdout
 * @param {{ uid: number, builds: boolean, arch: string }} options arch: Debian architecture
 * @returns {string[]} problems (empty when all is well)
 */
export function checkLanguagesOutput(stdout, options) {
  const problems = [];
  const lines = new Map();
  for (const line of stdout.split('\n')) {
    const m = /^([a-z]+(?: [a-z0-9+ -]+?)?): (.*)$/i.exec(line);
    if (m !== null && !lines.has(m[1])) lines.set(m[1], m[2]);
  }
  if (lines.get('uid') !== String(options.uid))
    problems.push(`expected uid ${options.uid}, got ${JSON.stringify(lines.get('uid'))}`);
  for (const [name, , pattern] of LANGUAGE_CHECKS) {
    const line = lines.get(`version ${name}`);
    const want = languagePattern(pattern, options.arch);
    if (line === undefined || !want.test(line))
      problems.push(`${name}: version line ${JSON.stringify(line)} does not match ${want}`);
  }
  if (options.builds) {
    const expect = {
      'run go': /^hello from go$/,
      'run cargo': /^hello from cargo$/,
      'run wheel': /^hello from a wheel$/,
    };
    for (const [key, pattern] of Object.entries(expect))
      if (!pattern.test(lines.get(key) ?? ''))
        problems.push(`${key}: ${JSON.stringify(lines.get(key))} does not match ${pattern}`);
  }
  if (lines.get('languages smoke') !== 'done') problems.push('the script did not finish');
  return problems;
}

/** Write {@link LANGUAGE_PROJECT} under `root/<dir>` (see {@link writeToolsProject}). */
export function writeLanguagesProject(root, dir) {
  for (const [path, content] of Object.entries(LANGUAGE_PROJECT)) {
    const target = join(root, dir, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text(content));
  }
}
