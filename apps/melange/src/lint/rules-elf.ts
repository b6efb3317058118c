/**
 * Linters that read ELF files (melange `strip.go`, `binaryarch.go`). Candidates are regular files that are
 * executable or named like a library (`.a`, `.so`, `.dylib`…), start with the ELF magic, and parse. The ELF is
 * read by {@link readElfSections}, on any host: a foreign-arch binary is read the same way, never run.
 *
 * `strip` flags sections named `.debug`/`.zdebug` (melange's exact names) and also `.debug_*`/`.zdebug_*`
 * (DWARF): melange looks for the exact names only, which real compilers never emit, so it misses the
 * unstripped binaries it is meant to find (melange.md §8 marks this **[bug?]**). A file that claims to be ELF
 * but does not parse is skipped (melange's `strip` fails the linter on it; a damaged file is reported by SCA).
 */
import { EM, readElfSections, type ElfSections } from './elf-sections.ts';
import type { LinterContext, LinterFailure } from './rule.ts';
import { goExt, isIgnoredPath, plural, type LintEntry } from './tree.ts';

const OBJECT_EXT_REGEX = /\.(a|so|dylib)(\..*)?/;
const ANY_EXECUTE = 0o111;

function* elfFiles(ctx: LinterContext): Generator<{ entry: LintEntry; elf: ElfSections }> {
  for (const entry of ctx.entries) {
    if (!entry.regular || isIgnoredPath(entry.path) || entry.data.length < 4) continue;
    if ((entry.mode & ANY_EXECUTE) === 0 && !OBJECT_EXT_REGEX.test(goExt(entry.path))) continue;
    const elf = readElfSections(entry.data);
    if (elf !== undefined) yield { entry, elf };
  }
}

/**
 * Whether a section name is debug information.
 *
 * @param name - a section name
 * @returns true for `.debug`, `.zdebug`, `.debug_*` and `.zdebug_*`
 */
export function isDebugSection(name: string): boolean {
  return name === '.debug' || name === '.zdebug' || name.startsWith('.debug_') || name.startsWith('.zdebug_');
}

/** melange `strip`: ELF files with debug sections. */
export const stripLinter = (ctx: LinterContext): LinterFailure | undefined => {
  const binaries: string[] = [];
  for (const { entry, elf } of elfFiles(ctx)) {
    if (elf.sections.some(isDebugSection)) binaries.push(entry.path);
  }
  if (binaries.length === 0) return undefined;
  return {
    message: `${ctx.pkg.name} contains ${binaries.length} unstripped ${plural(binaries.length, 'binary', 'binaries')}`,
    details: { binaries },
  };
};

const ARCH_NAMES: Readonly<Record<number, string>> = {
  [EM.X86_64]: 'amd64',
  [EM.AARCH64]: 'arm64',
  [EM.I386]: 'i386',
  [EM.ARM]: 'arm',
  [EM.PPC64]: 'ppc64',
  [EM.S390]: 's390',
  [EM.MIPS]: 'mips',
  [EM.RISCV]: 'riscv',
};

/** melange `binaryarch`: ELF files for arches other than x86_64 and aarch64. */
export const binaryArchLinter = (ctx: LinterContext): LinterFailure | undefined => {
  const binaries: { path: string; arch: string }[] = [];
  for (const { entry, elf } of elfFiles(ctx)) {
    if (elf.machine === EM.X86_64 || elf.machine === EM.AARCH64) continue;
    binaries.push({ path: entry.path, arch: ARCH_NAMES[elf.machine] ?? `unknown (${elf.machine})` });
  }
  if (binaries.length === 0) return undefined;
  return {
    message: `${ctx.pkg.name} contains ${binaries.length} ${plural(binaries.length, 'binary', 'binaries')} compiled for unsupported architecture(s)`,
    details: { binaries },
  };
};
