/**
 * Test helper: build ELF files with chosen section names and machine, byte by byte (any class and byte
 * order), for the `strip` and `binaryarch` linters and the section reader. Layout:
 *
 *     ELF header | section-name string table | section headers: null, the named sections…, .shstrtab
 *
 * The named sections have no content (size 0); `e_shstrndx` points at `.shstrtab`, the last one.
 */

/** What to build. */
export interface SectionElfSpec {
  bits?: 32 | 64;
  endian?: 'little' | 'big';
  /** e_machine; default 62 (x86_64). */
  machine?: number;
  /** Section names (besides the null section and `.shstrtab`). */
  sections?: readonly string[];
  /** Use extended numbering: e_shnum 0 and e_shstrndx SHN_XINDEX, the real values in section 0. */
  extended?: boolean;
}

/** Offsets of the built file, for tests that damage it. */
export interface SectionElfLayout {
  shoff: number;
  shentsize: number;
  shnum: number;
  strtabOffset: number;
  /** Offset of e_shoff, e_shnum and e_shstrndx in the header. */
  shoffField: number;
  shnumField: number;
  shstrndxField: number;
}

/**
 * Build an ELF file with the given sections.
 *
 * @param spec - class, byte order, machine, section names
 * @returns the bytes and the layout
 */
export function buildSectionElf(spec: SectionElfSpec = {}): { bytes: Uint8Array; layout: SectionElfLayout } {
  const is64 = (spec.bits ?? 64) === 64;
  const little = (spec.endian ?? 'little') === 'little';
  const ehsize = is64 ? 64 : 52;
  const shentsize = is64 ? 64 : 40;
  const names = [...(spec.sections ?? []), '.shstrtab'];
  let strtab = '\0';
  const nameOffsets = names.map((n) => {
    const at = strtab.length;
    strtab += `${n}\0`;
    return at;
  });
  const strtabOffset = ehsize;
  const shoff = Math.ceil((strtabOffset + strtab.length) / 8) * 8;
  const shnum = names.length + 1;
  const bytes = new Uint8Array(shoff + shnum * shentsize);
  const view = new DataView(bytes.buffer);
  const u16 = (o: number, v: number): void => view.setUint16(o, v, little);
  const u32 = (o: number, v: number): void => view.setUint32(o, v, little);
  const word = (o: number, v: number): void => {
    if (is64) view.setBigUint64(o, BigInt(v), little);
    else view.setUint32(o, v, little);
  };
  bytes.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, little ? 1 : 2, 1], 0);
  u16(16, 1); // ET_REL
  u16(18, spec.machine ?? 62);
  u32(20, 1);
  const shoffField = is64 ? 40 : 32;
  const shnumField = is64 ? 60 : 48;
  const shstrndxField = is64 ? 62 : 50;
  word(shoffField, shoff);
  u16(is64 ? 52 : 40, ehsize);
  u16(is64 ? 58 : 46, shentsize);
  u16(shnumField, spec.extended === true ? 0 : shnum);
  u16(shstrndxField, spec.extended === true ? 0xffff : shnum - 1);
  for (let i = 0; i < strtab.length; i++) bytes[strtabOffset + i] = strtab.charCodeAt(i);
  if (spec.extended === true) {
    // Section 0: sh_size = count, sh_link = name table index.
    word(shoff + (is64 ? 32 : 20), shnum);
    u32(shoff + (is64 ? 40 : 24), shnum - 1);
  }
  names.forEach((_, i) => {
    const at = shoff + (i + 1) * shentsize;
    u32(at, nameOffsets[i]!);
    u32(at + 4, i === names.length - 1 ? 3 : 1); // SHT_STRTAB / SHT_PROGBITS
    const last = i === names.length - 1;
    word(at + (is64 ? 24 : 16), last ? strtabOffset : 0);
    word(at + (is64 ? 32 : 20), last ? strtab.length : 0);
  });
  return {
    bytes,
    layout: { shoff, shentsize, shnum, strtabOffset, shoffField, shnumField, shstrndxField },
  };
}
