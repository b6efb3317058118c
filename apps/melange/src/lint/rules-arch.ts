/**
 * Linters that read platform and arch names in paths (melange `nonlinux.go`, `unsupportedarch.go`). Only
 * files are looked at, and (unlike melange) not the package's own SBOM, whose name is the package's: a
 * package named `windows-exporter` is not "non-Linux" because of its SBOM file.
 */
import type { LinterContext, LinterFailure } from './rule.ts';
import { goBase, goDir, isIgnoredPath } from './tree.ts';

/** Platform → the spellings looked for, checked in this order (melange ranges over a Go map). */
const PLATFORMS: readonly [string, readonly string[]][] = [
  ['macos', ['darwin', 'macos', 'mac_os', 'mac-os', 'osx', 'os_x', 'os-x']],
  ['windows', ['windows', 'win32', 'win64']],
];

/** melange `nonlinux`: paths naming macOS or Windows. */
export const nonLinuxLinter = (ctx: LinterContext): LinterFailure | undefined => {
  const references: { path: string; platform: string }[] = [];
  for (const e of ctx.entries) {
    if (e.dir || isIgnoredPath(e.path)) continue;
    const dir = goDir(e.path).toLowerCase();
    const base = goBase(e.path).toLowerCase();
    const hit = PLATFORMS.find(([, variants]) => variants.some((v) => dir.includes(v) || base.includes(v)));
    if (hit !== undefined) references.push({ path: e.path, platform: hit[0] });
  }
  if (references.length === 0) return undefined;
  return {
    message: `${ctx.pkg.name} contains ${references.length} non-Linux reference(s)`,
    details: { references },
  };
};

const SUPPORTED = ['aarch64', 'arm64', 'amd64', 'x86_64', 'x86-64'];
const UNSUPPORTED = [
  'i386',
  'i686',
  'x86_32',
  'x86-32',
  'ppc64',
  'ppc64le',
  'powerpc',
  's390x',
  's390',
  'mips',
  'mipsel',
  'mips64',
  'riscv',
  'riscv64',
  'sparc',
  'sparc64',
  'ia64',
  'm68k',
];
const SEPARATORS = ['-', '_', '.'];

/**
 * The unsupported arch a path names, as melange decides it: a folder component starting with the arch name,
 * or a file name with the arch between separators (unless the path also names a supported arch).
 *
 * @param path - a package path
 * @returns the arch, or undefined
 */
export function unsupportedArchOf(path: string): string | undefined {
  const lower = path.toLowerCase();
  const dir = goDir(path).toLowerCase();
  const base = goBase(path).toLowerCase();
  for (const arch of UNSUPPORTED) {
    if (dir.includes(`/${arch}`)) return arch;
    for (const sep of SEPARATORS) {
      if (
        base.includes(`${sep}${arch}${sep}`) ||
        base.includes(`${sep}${arch}.`) ||
        base.endsWith(`${sep}${arch}`)
      ) {
        if (!SUPPORTED.some((s) => lower.includes(s))) return arch;
      }
    }
  }
  return undefined;
}

/** melange `unsupportedarch`: paths naming arches other than x86_64 and aarch64. */
export const unsupportedArchLinter = (ctx: LinterContext): LinterFailure | undefined => {
  const files: { path: string; arch: string }[] = [];
  for (const e of ctx.entries) {
    if (e.dir || isIgnoredPath(e.path)) continue;
    const arch = unsupportedArchOf(e.path);
    if (arch !== undefined) files.push({ path: e.path, arch });
  }
  if (files.length === 0) return undefined;
  return {
    message: `${ctx.pkg.name} contains ${files.length} unsupported architecture reference(s)`,
    details: { files },
  };
};
