/**
 * The two ELF facts the `strip` and `binaryarch` linters need: `e_machine` and the section names. A separate,
 * smaller reader than `package/elf.ts` (which reads the dynamic section for SCA): it reads the ELF header,
 * the section header table and the section-name string table (`e_shstrndx`), nothing else.
 *
 * Layout (System V gABI, https://refspecs.linuxfoundation.org/elf/gabi4+/ch4.eheader.html and ch4.sheader.html):
 *
 *     e_ident[16]  magic 7f 'E' 'L' 'F', EI_CLASS (1 = 32-bit, 2 = 64-bit), EI_DATA (1 = LSB, 2 = MSB)
 *     e_machine    u16 at 18
 *     e_shoff      u32 at 32 (32-bit) / u64 at 40 (64-bit)
 *     e_shentsize, e_shnum, e_shstrndx   u16 at 46/48/50 (32-bit), 58/60/62 (64-bit)
 *     section header  sh_name (u32 at 0: offset into the name table), sh_offset and sh_size
 *                     (u32 at 16/20, or u64 at 24/32)
 *
 * Extended numbering: `e_shnum == 0` with a section table means the count is section 0's `sh_size`;
 * `e_shstrndx == SHN_XINDEX` means the index is section 0's `sh_link`.
 *
 * Hostile input: every offset and size is checked against the file, counts are capped, names are cut at
 * 256 bytes. A file that is not ELF, or whose tables are damaged, gives `undefined` (the linters then skip
 * it), never an exception.
 */

const EI_CLASS = 4;
const EI_DATA = 5;
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ELFDATA2MSB = 2;
const EHDR32_SIZE = 52;
const EHDR64_SIZE = 64;
const SHDR32_SIZE = 40;
const SHDR64_SIZE = 64;
const SHN_XINDEX = 0xffff;
/** Most sections looked at (real files have a few dozen). */
const MAX_SECTIONS = 65_536;
/** Longest section name read. */
const MAX_NAME_LENGTH = 256;

/** `e_machine` values the `binaryarch` linter names (Go `debug/elf` constants). */
export const EM = {
  I386: 3,
  MIPS: 8,
  PPC64: 21,
  S390: 22,
  ARM: 40,
  X86_64: 62,
  AARCH64: 183,
  RISCV: 243,
} as const;

/** What {@link readElfSections} reads. */
export interface ElfSections {
  machine: number;
  /** Section names in table order (the null section 0 gives `''`). */
  sections: string[];
}

function startsWithMagic(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
}

/**
 * Read an ELF file's machine and section names.
 *
 * @param bytes - the whole file
 * @returns the facts, or undefined when the bytes are not a well-formed ELF file
 * @example
 * readElfSections(bytes)?.sections.includes('.debug_info');
 */
export function readElfSections(bytes: Uint8Array): ElfSections | undefined {
  if (!startsWithMagic(bytes) || bytes.length < 16) return undefined;
  const cls = bytes[EI_CLASS];
  const data = bytes[EI_DATA];
  if ((cls !== ELFCLASS32 && cls !== ELFCLASS64) || (data !== ELFDATA2LSB && data !== ELFDATA2MSB))
    return undefined;
  const is64 = cls === ELFCLASS64;
  const little = data === ELFDATA2LSB;
  if (bytes.length < (is64 ? EHDR64_SIZE : EHDR32_SIZE)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = bytes.byteLength;
  const inFile = (offset: number, length: number): boolean =>
    Number.isSafeInteger(offset) && offset >= 0 && length >= 0 && offset + length <= size;
  const u16 = (o: number): number => view.getUint16(o, little);
  const u32 = (o: number): number => view.getUint32(o, little);
  const word = (o: number): number => {
    if (!is64) return u32(o);
    const v = view.getBigUint64(o, little);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(v);
  };

  const machine = u16(18);
  const shoff = word(is64 ? 40 : 32);
  const shentsize = u16(is64 ? 58 : 46);
  let shnum = u16(is64 ? 60 : 48);
  let shstrndx = u16(is64 ? 62 : 50);
  const minEntry = is64 ? SHDR64_SIZE : SHDR32_SIZE;
  if (shoff === 0) return { machine, sections: [] };
  if (shoff < 0 || shentsize < minEntry || !inFile(shoff, minEntry)) return undefined;
  // Section 0 holds the real count and name-table index when they do not fit the header.
  if (shnum === 0) shnum = word(shoff + (is64 ? 32 : 20));
  if (shstrndx === SHN_XINDEX) shstrndx = u32(shoff + (is64 ? 40 : 24));
  if (shnum <= 0 || shnum > MAX_SECTIONS || !inFile(shoff, shnum * shentsize)) return undefined;

  const header = (i: number): { name: number; offset: number; size: number } => {
    const at = shoff + i * shentsize;
    return is64
      ? { name: u32(at), offset: word(at + 24), size: word(at + 32) }
      : { name: u32(at), offset: u32(at + 16), size: u32(at + 20) };
  };
  if (shstrndx >= shnum) return undefined;
  const strtab = header(shstrndx);
  if (!inFile(strtab.offset, strtab.size)) return undefined;
  const end = strtab.offset + strtab.size;

  const sections: string[] = [];
  for (let i = 0; i < shnum; i++) {
    const { name } = header(i);
    const start = strtab.offset + name;
    if (name >= strtab.size) return undefined;
    let j = start;
    while (j < end && j - start < MAX_NAME_LENGTH && bytes[j] !== 0) j++;
    let text = '';
    for (let k = start; k < j; k++) text += String.fromCharCode(bytes[k]!);
    sections.push(text);
  }
  return { machine, sections };
}
