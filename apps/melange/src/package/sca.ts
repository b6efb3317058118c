/**
 * Software composition analysis: the dependencies and provides a package gets from its own files, as
 * melange computes them (`pkg/sca/sca.go`, reference melange.md §6.4), over the walked files of the package
 * (and of the other packages of the same build, for symlinked libraries and `etc/ld.so.conf.d`).
 *
 * - ELF (any regular file with the ELF magic): `PT_INTERP` → `so:<basename>` (`ld-musl…` → `libc.musl…`);
 *   each `DT_NEEDED` containing `.so.` → `so:<lib>`; the `DT_SONAME` of a shared object (no interpreter, or a
 *   name containing `.so.` or ending in `.so`) → `so:<soname>=<libver>` and `so-ver:<soname>=<version>`
 *   provides when the file is directly in a library directory, else the same as "vendored" (recorded as
 *   `# vendored` comments and used to drop generated dependencies the package satisfies itself).
 *   `libver` is what follows the first `.so.` when it is only digits and dots, else `0`.
 * - Library directories: `lib/`, `usr/lib/`, `lib64/`, `usr/lib64/`, the paths listed in
 *   `etc/ld.so.conf.d/*.conf` of any package of the build, and (tk, on by default) Debian's multiarch
 *   directories `lib/<triplet>/` and `usr/lib/<triplet>/` (`x86_64-linux-gnu`…): tk's bootstrap is built from
 *   Debian packages, whose libraries live there.
 * - A symlink whose name contains `.so` → `so:<soname>` of the library it names, looked up by basename in the
 *   library directories of every package of the build (the `-dev` package's `libfoo.so` → `so:libfoo.so.1`).
 * - Commands: a regular file with r-x for everyone (mode & 0555 = 0555) directly in `bin/`, `sbin/`,
 *   `usr/bin/`, `usr/sbin/` → `cmd:<name>=<version>`.
 * - Shebangs of files under `usr/bin/`, `usr/local/bin/`, `usr/local/sbin/` → `cmd:<interpreter basename>`
 *   (`/usr/bin/env X` and `/usr/bin/env -S X` give X; python, python3, sh, awk and luajit are ignored).
 * - pkg-config: a `.pc` file directly in `usr/lib/pkgconfig/`, `usr/lib64/pkgconfig/`, `usr/share/pkgconfig/`,
 *   `usr/local/lib/pkgconfig/`, `usr/local/share/pkgconfig/` (and, tk, `usr/lib/<triplet>/pkgconfig/`) →
 *   `pc:<name>=<version>`, its `Requires`, `Requires.private` and `Requires.internal` → `pc:<module>`;
 *   elsewhere it is vendored.
 * - Perl modules (`usr/lib/perlN/*_perl`) → `perl~N`; Python `pythonX.Y/site-packages` → `python-X.Y-base`;
 *   Ruby `usr/lib/ruby/gems/X.Y.Z/gems` → `ruby-X.Y` (each unless a dependency of that kind is declared);
 *   a `*-doc` package with files in `usr/share/man` → `man-db`, in `usr/share/info` → `texinfo`.
 * - Options: `no-commands` drops `cmd:` entries, `no-depends` every generated dependency, `no-provides` every
 *   generated provide. The result is merged with the declared lists, sorted, deduplicated, and dependencies
 *   the package provides itself are dropped.
 *
 * Not done (documented gaps): kernel modules (`linux:` provides), Go FIPS detection, versioned shlib
 * dependencies (`so-ver:X>=V`, behind an env var and broken in melange itself).
 */
import { posix } from 'node:path';
import type { ApkInputFile } from '@tk/apk';
import { compareCodePoints, isTkError, silentLogger, type Logger } from '@tk/core';
import type { PackageOptions } from '../recipe/types.ts';
import { isElf, parseElf, type ElfInfo } from './elf.ts';
import { MAX_PC_BYTES, parsePkgConfig } from './pkgconfig.ts';

/** Library directories melange searches (`sca.LibDirs`). */
export const LIB_DIRS = ['lib/', 'usr/lib/', 'lib64/', 'usr/lib64/'] as const;
/** Command directories (`sca.BinDirs`). */
export const BIN_DIRS = ['bin/', 'sbin/', 'usr/bin/', 'usr/sbin/'] as const;
/** pkg-config directories melange provides `pc:` names from. */
export const PKGCONFIG_DIRS = [
  'usr/local/lib/pkgconfig/',
  'usr/local/share/pkgconfig/',
  'usr/lib/pkgconfig/',
  'usr/lib64/pkgconfig/',
  'usr/share/pkgconfig/',
] as const;
/** Debian multiarch library directory (`usr/lib/x86_64-linux-gnu`). */
const MULTIARCH_LIB = /^(usr\/)?lib\/[a-z0-9_]+-linux-[a-z0-9_]+$/;
const MULTIARCH_PKGCONFIG = /^usr\/lib\/[a-z0-9_]+-linux-[a-z0-9_]+\/pkgconfig$/;
const SHEBANG_PREFIXES = ['usr/bin/', 'usr/local/bin/', 'usr/local/sbin/'] as const;
const SHEBANG_IGNORED = new Set(['python3', 'python', 'sh', 'awk', 'luajit']);
/** How many bytes of a script melange reads for its `#!` line. */
const SHEBANG_BYTES = 80;
/** Libraries the host's NVIDIA driver injects: never depended on nor provided (melange `isHostProvidedLibrary`). */
const HOST_PROVIDED = new Set([
  'libEGL_nvidia.so.1',
  'libGLESv1_CM_nvidia.so.1',
  'libGLESv2_nvidia.so.1',
  'libGLX_nvidia.so.1',
  'libcuda.so.1',
  'libcudadebugger.so.1',
  'libnvcuvid.so.1',
  'libnvidia-allocator.so.1',
  'libnvidia-cfg.so.1',
  'libnvidia-eglcore.so.1',
  'libnvidia-encode.so.1',
  'libnvidia-fbc.so.1',
  'libnvidia-glcore.so.1',
  'libnvidia-glsi.so.1',
  'libnvidia-glvkspirv.so.1',
  'libnvidia-gpucomp.so.1',
  'libnvidia-ml.so.1',
  'libnvidia-ngx.so.1',
  'libnvidia-nvvm.so.1',
  'libnvidia-opencl.so.1',
  'libnvidia-opticalflow.so.1',
  'libnvidia-pkcs11-openssl3.so.1',
  'libnvidia-pkcs11.so.1',
  'libnvidia-ptxjitcompiler.so.1',
  'libnvidia-rtcore.so.1',
  'libnvidia-tls.so.1',
  'libnvoptix.so.1',
]);
/** A name that can go into a dependency token (no spaces, operators or control characters). */
const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.+@-]*$/;
/** Symlink hops followed when resolving a library inside a package. */
const MAX_LINK_HOPS = 16;

/** What {@link analyze} needs besides the files. */
export interface ScaContext {
  packageName: string;
  /** Full version with the epoch (`1.2.3-r0`): the version of `cmd:`, `pc:` and `so-ver:` provides. */
  version: string;
  options?: Partial<PackageOptions>;
  /** The recipe's declared lists, merged into the result. */
  declared?: { runtime?: readonly string[]; provides?: readonly string[] };
  /**
   * Every package of the build by name, this one included, in build order (main package first): used for
   * symlinked libraries and `etc/ld.so.conf.d`. Default: only this package.
   */
  relatives?: ReadonlyMap<string, readonly ApkInputFile[]>;
  /** Also count Debian multiarch directories as library and pkg-config directories. Default true. */
  multiarch?: boolean;
  logger?: Logger;
}

/** The outcome of {@link analyze}. */
export interface ScaResult {
  /** Final `depend` lines: declared + generated (minus self-satisfied), sorted, unique. */
  depends: string[];
  /** Final `provides` lines: declared + generated, sorted, unique. */
  provides: string[];
  /** Libraries and pkg-config files the package carries outside the standard directories (`# vendored`). */
  vendored: string[];
  /** What the analysis found before merging (melange's dependency log). */
  generated: { depends: string[]; provides: string[]; vendored: string[] };
}

function sortUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort(compareCodePoints);
}

/** melange `isInDir`: the file's directory is one of `dirs` (a `dir/...` entry matches recursively). */
function isInDir(path: string, dirs: readonly string[]): boolean {
  const dir = posix.dirname(path);
  return dirs.some((d) => {
    if (d.endsWith('/...')) {
      const prefix = d.slice(0, -4);
      return dir === prefix || dir.startsWith(`${prefix}/`);
    }
    return dir === d || `${dir}/` === d;
  });
}

/**
 * melange `sonameLibver`: the part after the first `.so.` when it is only digits and dots, else `0`.
 *
 * @param soname - e.g. `libfoo.so.1.2`
 * @returns e.g. `1.2`
 */
export function sonameLibver(soname: string): string {
  const at = soname.indexOf('.so.');
  if (at < 0) return '0';
  const rest = soname.slice(at + 4).split('.so.')[0]!;
  return /^[0-9.]*$/.test(rest) ? rest : '0';
}

/**
 * melange `getShbang`: the interpreter a script's `#!` line names, or undefined (no `#!`, an ignored
 * interpreter). Only the first 80 bytes are looked at.
 *
 * @param head - the first bytes of the file
 * @returns the interpreter path or name
 * @throws {Error} for `#!/usr/bin/env` without a usable program name (the caller warns)
 */
export function shebangInterpreter(head: Uint8Array): string | undefined {
  const bytes = head.subarray(0, SHEBANG_BYTES);
  if (bytes.length < 2 || bytes[0] !== 0x23 || bytes[1] !== 0x21) return undefined;
  let line = Buffer.from(bytes.subarray(2)).toString('latin1');
  const nl = line.indexOf('\n');
  if (nl >= 0) line = line.slice(0, nl);
  const tokens = line.split(/[ \t\r\v\f]+/).filter((t) => t !== '');
  if (tokens.length === 0) return undefined;
  let bin = tokens[0]!;
  if (bin === '/usr/bin/env') {
    if (tokens.length === 1) throw new Error("a shebang of only '/usr/bin/env'");
    if (tokens.length === 2) bin = tokens[1]!;
    else if (tokens[1] === '-S' && !tokens[2]!.startsWith('-')) bin = tokens[2]!;
    else throw new Error(`a shebang of '/usr/bin/env' with ${tokens.length} arguments (${tokens.join(' ')})`);
  }
  return SHEBANG_IGNORED.has(posix.basename(bin)) ? undefined : bin;
}

/** A package's files by path, with hard links answering with their target's content. */
class FileIndex {
  readonly files: readonly ApkInputFile[];
  readonly #byPath: Map<string, ApkInputFile>;
  constructor(files: readonly ApkInputFile[]) {
    this.files = files;
    this.#byPath = new Map(files.map((f) => [f.path, f]));
  }

  /** Content of a regular file or hard link (undefined for anything else). */
  content(file: ApkInputFile): Uint8Array | undefined {
    if (file.type === 'file') return file.data ?? new Uint8Array(0);
    if (file.type === 'hardlink' && file.linkname !== undefined) {
      const target = this.#byPath.get(file.linkname);
      return target?.type === 'file' ? (target.data ?? new Uint8Array(0)) : undefined;
    }
    return undefined;
  }

  /** Follow symlinks inside the package (like `stat`), giving the regular file at the end, if any. */
  resolve(path: string): ApkInputFile | undefined {
    let current = posix.normalize(path);
    for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
      if (current.startsWith('../') || current === '..') return undefined;
      const file = this.#byPath.get(current.replace(/^\/+/, ''));
      if (file === undefined) return undefined;
      if (file.type !== 'symlink') return file;
      const target = file.linkname ?? '';
      current = target.startsWith('/')
        ? posix.normalize(target.replace(/^\/+/, ''))
        : posix.normalize(posix.join(posix.dirname(file.path), target));
    }
    return undefined;
  }
}

class Analysis {
  readonly runtime: string[] = [];
  readonly provides: string[] = [];
  readonly vendored: string[] = [];
  readonly #log: Logger;
  readonly #ctx: ScaContext;
  readonly #self: FileIndex;
  readonly #relatives: Map<string, FileIndex>;
  readonly #libDirs: string[];
  readonly #multiarch: boolean;

  constructor(files: readonly ApkInputFile[], ctx: ScaContext) {
    this.#ctx = ctx;
    this.#log = ctx.logger ?? silentLogger;
    this.#self = new FileIndex(files);
    this.#relatives = new Map();
    for (const [name, list] of ctx.relatives ?? [])
      this.#relatives.set(name, name === ctx.packageName ? this.#self : new FileIndex(list));
    if (!this.#relatives.has(ctx.packageName)) this.#relatives.set(ctx.packageName, this.#self);
    this.#multiarch = ctx.multiarch ?? true;
    this.#libDirs = [...LIB_DIRS, ...this.#ldSoConfPaths()];
  }

  #warn(message: string): void {
    this.#log.warn(`${this.#ctx.packageName}: ${message}`, 'MELANGE_SCA_WARNING');
  }

  #isLibDir(path: string): boolean {
    return isInDir(path, this.#libDirs) || (this.#multiarch && MULTIARCH_LIB.test(posix.dirname(path)));
  }

  #safe(name: string, what: string, path: string): boolean {
    if (SAFE_NAME.test(name)) return true;
    this.#warn(`${path}: ${what} ${JSON.stringify(name)} cannot be a dependency name; ignored`);
    return false;
  }

  /** melange `getLdSoConfDLibPaths`: absolute lines of `etc/ld.so.conf.d/**.conf` in every package of the build. */
  #ldSoConfPaths(): string[] {
    const paths: string[] = [];
    for (const index of this.#relatives.values()) {
      for (const file of index.files) {
        if (
          !file.path.startsWith('etc/ld.so.conf.d/') ||
          !file.path.endsWith('.conf') ||
          file.type !== 'file'
        )
          continue;
        const text = Buffer.from(file.data ?? new Uint8Array(0)).toString('utf8');
        for (const raw of text.split('\n')) {
          const line = raw.replace(/\s+$/, '');
          if (line.startsWith('/') && line.length > 1) paths.push(line.slice(1));
        }
      }
    }
    return paths;
  }

  #readElf(path: string, data: Uint8Array): ElfInfo | undefined {
    if (!isElf(data)) return undefined;
    try {
      return parseElf(data, { source: path });
    } catch (error) {
      if (!isTkError(error)) throw error;
      this.#warn(`${error.message}; not analysed`);
      return undefined;
    }
  }

  elf(file: ApkInputFile, data: Uint8Array): void {
    const info = this.#readElf(file.path, data);
    if (info === undefined) return;
    const base = posix.basename(file.path);
    if (info.interpreter !== undefined) {
      const interp = posix.basename(info.interpreter).replace(/^ld-musl/, 'libc.musl');
      if (this.#safe(interp, 'interpreter', file.path)) this.runtime.push(`so:${interp}`);
    }
    for (const lib of info.needed) {
      if (HOST_PROVIDED.has(lib) || !lib.includes('.so.')) continue;
      if (this.#safe(lib, 'DT_NEEDED', file.path)) this.runtime.push(`so:${lib}`);
    }
    // An executable with an interpreter is not a library, unless its name says so (libc.so.6 runs too).
    if (info.interpreter !== undefined && !base.includes('.so.') && !base.endsWith('.so')) return;
    for (const soname of info.sonames) {
      if (HOST_PROVIDED.has(soname) || !this.#safe(soname, 'DT_SONAME', file.path)) continue;
      const entries = [`so:${soname}=${sonameLibver(soname)}`, `so-ver:${soname}=${this.#ctx.version}`];
      (this.#isLibDir(file.path) ? this.provides : this.vendored).push(...entries);
    }
  }

  /** melange `processSymlinkSo`: a `.so` symlink depends on the SONAME of the library it names. */
  symlinkSo(file: ApkInputFile): void {
    if (!file.path.includes('.so') || file.linkname === undefined) return;
    const real = posix.basename(file.linkname);
    const dirs = [...this.#libDirs];
    // tk: also the symlink's own directory when it is a multiarch library directory.
    const own = posix.dirname(file.path);
    if (this.#multiarch && MULTIARCH_LIB.test(own)) dirs.push(`${own}/`);
    for (const index of this.#relatives.values()) {
      for (const dir of dirs) {
        const candidate = index.resolve(posix.join(dir, real));
        if (candidate === undefined) continue;
        const data = index.content(candidate);
        const info = data === undefined ? undefined : this.#readElf(candidate.path, data);
        for (const soname of info?.sonames ?? []) {
          if (HOST_PROVIDED.has(soname) || !this.#safe(soname, 'DT_SONAME', candidate.path)) continue;
          this.runtime.push(`so:${soname}`);
        }
        return;
      }
    }
  }

  commands(file: ApkInputFile): void {
    if (((file.mode ?? 0o644) & 0o555) === 0o555 && isInDir(file.path, BIN_DIRS)) {
      const name = posix.basename(file.path);
      if (this.#safe(name, 'command', file.path)) this.provides.push(`cmd:${name}=${this.#ctx.version}`);
    }
  }

  shebang(file: ApkInputFile, data: Uint8Array, found: Map<string, string>): void {
    if (!SHEBANG_PREFIXES.some((p) => file.path.startsWith(p))) return;
    let interp: string | undefined;
    try {
      interp = shebangInterpreter(data);
    } catch (error) {
      this.#warn(`error reading shebang from ${file.path}: ${(error as Error).message}`);
      return;
    }
    if (interp === undefined) return;
    const name = posix.basename(interp);
    if (this.#safe(name, 'shebang interpreter', file.path) && !found.has(name)) found.set(name, file.path);
  }

  pkgconfig(file: ApkInputFile, data: Uint8Array): void {
    if (!file.path.endsWith('.pc')) return;
    if (data.length > MAX_PC_BYTES)
      return this.#warn(`${file.path} is larger than ${MAX_PC_BYTES} bytes; not analysed`);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(data);
    } catch {
      return this.#warn(`${file.path} is not UTF-8 text; not analysed as a pkg-config file`);
    }
    const pc = parsePkgConfig(text);
    for (const problem of pc.problems) this.#warn(`${file.path}: ${problem}`);
    const name = posix.basename(file.path).slice(0, -'.pc'.length);
    if (!this.#safe(name, 'pkg-config name', file.path)) return;
    const standard =
      isInDir(file.path, PKGCONFIG_DIRS) ||
      (this.#multiarch && MULTIARCH_PKGCONFIG.test(posix.dirname(file.path)));
    if (!standard) {
      this.vendored.push(`pc:${name}=${this.#ctx.version}`);
      return;
    }
    this.provides.push(`pc:${name}=${this.#ctx.version}`);
    for (const dep of pc.requires)
      if (this.#safe(dep, 'pkg-config requirement', file.path)) this.runtime.push(`pc:${dep}`);
  }

  languages(): void {
    const declared = this.#ctx.declared?.runtime ?? [];
    const paths = this.#self.files.map((f) => f.path);
    // Perl: usr/lib/perlN/*_perl (melange's glob also covers lib/perlN/*_perl).
    const perl = paths.find((p) => /^(usr\/)?lib\/perl[0-9][^/]*\/[^/]*_perl$/.test(p));
    if (perl !== undefined && !declared.includes('perl')) {
      const component = perl.split('/')[perl.startsWith('usr/') ? 2 : 1]!;
      this.runtime.push(`perl~${component.slice('perl'.length)}`);
    }
    // Python: a site-packages directory inside pythonX.Y (the last one in walk order wins, as in melange).
    let python: string | undefined;
    for (const file of this.#self.files) {
      if (file.type !== 'directory' || posix.basename(file.path) !== 'site-packages') continue;
      const parent = posix.basename(posix.dirname(file.path));
      if (parent.startsWith('python')) python = parent.slice('python'.length);
    }
    if (python !== undefined && python !== '' && !declared.some((d) => d.startsWith('python')))
      this.runtime.push(`python-${python}-base`);
    // Ruby: usr/lib/ruby/gems/X.Y.Z/gems (melange's glob, `[0.9]` typo included) → ruby-X.Y.
    const ruby = paths
      .filter((p) => /^(usr\/)?lib\/ruby\/gems\/[0-9][^/]*\.[0-9][^/]*\.[0.9][^/]*\/gems$/.test(p))
      .sort((a, b) => Number(b.startsWith('usr/')) - Number(a.startsWith('usr/')))[0];
    if (ruby !== undefined && !declared.some((d) => d.startsWith('ruby-') || d === 'ruby')) {
      const version = posix.basename(posix.dirname(ruby));
      const dot = version.lastIndexOf('.');
      const majorMinor = dot < 0 ? version : version.slice(0, dot);
      if (majorMinor !== '') this.runtime.push(`ruby-${majorMinor}`);
    }
    // Documentation packages.
    if (this.#ctx.packageName.endsWith('-doc')) {
      if (paths.some((p) => posix.dirname(p) === 'usr/share/man')) this.runtime.push('man-db');
      if (paths.some((p) => posix.dirname(p) === 'usr/share/info')) this.runtime.push('texinfo');
    }
  }

  run(): void {
    const shebangs = new Map<string, string>();
    for (const file of this.#self.files) {
      if (file.type === 'symlink') {
        this.symlinkSo(file);
        continue;
      }
      const data = this.#self.content(file);
      if (data === undefined) continue;
      this.elf(file, data);
      this.commands(file);
      this.pkgconfig(file, data);
      this.shebang(file, data, shebangs);
    }
    for (const name of shebangs.keys()) this.runtime.push(`cmd:${name}`);
    this.languages();
  }
}

/** The name part of a dependency or provide (`so:libc.so.6=6` → `so:libc.so.6`; `so-ver:x>=1` → `so-ver:x`). */
function providedName(entry: string): string {
  return entry.split('=')[0]!;
}

/** melange `removeSelfProvidedDeps`: drop dependencies whose whole text is the name of something provided. */
function removeSelfProvided(runtime: readonly string[], provided: readonly string[]): string[] {
  const names = new Set(provided.map(providedName));
  return runtime.filter((dep) => !names.has(dep.startsWith('so-ver:') ? dep.split('>=')[0]! : dep));
}

/**
 * Analyse a package's files and merge the findings with its declared dependencies and provides.
 *
 * @param files - the package's walked files (`walkPackageDir`)
 * @param context - name, full version, options, declared lists, the build's other packages, logger
 * @returns final depends/provides, vendored entries, and the raw findings
 * @example
 * const { depends, provides } = analyze(files, { packageName: 'hello', version: '2.12-r0' });
 * // depends: ['so:libc.so.6'], provides: ['cmd:hello=2.12-r0']
 */
export function analyze(files: readonly ApkInputFile[], context: ScaContext): ScaResult {
  const analysis = new Analysis(files, context);
  analysis.run();
  const options = context.options ?? {};
  let runtime = sortUnique(analysis.runtime);
  let provides = sortUnique(analysis.provides);
  const vendored = sortUnique(analysis.vendored);
  if (options['no-commands'] === true) {
    runtime = runtime.filter((d) => !d.startsWith('cmd:'));
    provides = provides.filter((p) => !p.startsWith('cmd:'));
  }
  if (options['no-depends'] === true) runtime = [];
  if (options['no-provides'] === true) provides = [];

  // Generated dependencies a vendored library satisfies are dropped; declared ones are kept (melange's escape
  // hatch), unless the package itself provides them.
  const unvendored = removeSelfProvided(runtime, vendored);
  const finalProvides = sortUnique([...(context.declared?.provides ?? []), ...provides]);
  const finalDepends = removeSelfProvided(
    sortUnique([...(context.declared?.runtime ?? []), ...unvendored]),
    finalProvides,
  );
  return {
    depends: finalDepends,
    provides: finalProvides,
    vendored,
    generated: { depends: runtime, provides, vendored },
  };
}
