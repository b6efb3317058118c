/**
 * Test helper: build small, valid ELF files byte by byte (any class, byte order and machine), so that the
 * ELF reader and SCA can be tested on architectures the host cannot compile for, and without a compiler.
 *
 * Layout written (offsets in the file):
 *
 *     ELF header | program headers: PT_LOAD (whole file at vaddr BASE), [PT_INTERP], PT_DYNAMIC |
 *     interpreter string | dynamic string table | dynamic array | [section headers: null, .dynstr, .dynamic]
 *
 * With `sectionsOnly`, the program headers are left out and only the section headers describe the dynamic
 * data (as in a relocatable object), which exercises the reader's fallback.
 */

/** What to put into the file. */
export interface ElfSpec {
  bits?: 32 | 64;
  endian?: 'little' | 'big';
  /** e_type; default 3 (ET_DYN). */
  type?: number;
  /** e_machine; default 62 (x86_64). */
  machine?: number;
  interpreter?: string;
  needed?: readonly string[];
  soname?: string;
  /** Describe the dynamic data with section headers only (no program headers). */
  sectionsOnly?: boolean;
}

const BASE = 0x400000;

/** Offsets of the interesting fields in the built file, for tests that corrupt them. */
export interface ElfLayout {
  phoff: number;
  shoff: number;
  dynstrOffset: number;
  dynamicOffset: number;
  interpOffset: number;
}

/**
 * Build an ELF file.
 *
 * @param spec - class, byte order, machine, interpreter, DT_NEEDED and DT_SONAME
 * @returns the bytes and where the tables are
 */
export function buildElf(spec: ElfSpec): { bytes: Uint8Array; layout: ElfLayout } {
  const bits = spec.bits ?? 64;
  const little = (spec.endian ?? 'little') === 'little';
  const is64 = bits === 64;
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const shentsize = is64 ? 64 : 40;
  const dynsize = is64 ? 16 : 8;

  // String table: "\0" + names.
  const names = [...(spec.needed ?? []), ...(spec.soname === undefined ? [] : [spec.soname])];
  const strOffsets = new Map<string, number>();
  let dynstr = '\0';
  for (const n of names) {
    if (!strOffsets.has(n)) {
      strOffsets.set(n, dynstr.length);
      dynstr += `${n}\0`;
    }
  }
  const interp = spec.interpreter === undefined ? '' : `${spec.interpreter}\0`;
  const dynEntries: [number, number][] = [];
  for (const n of spec.needed ?? []) dynEntries.push([1, strOffsets.get(n)!]);
  if (spec.soname !== undefined) dynEntries.push([14, strOffsets.get(spec.soname)!]);

  const phnum = spec.sectionsOnly === true ? 0 : spec.interpreter === undefined ? 2 : 3;
  const phoff = phnum === 0 ? 0 : ehsize;
  const interpOffset = ehsize + phnum * phentsize;
  const dynstrOffset = interpOffset + interp.length;
  const dynamicOffset = align(dynstrOffset + dynstr.length, 8);
  // DT_STRTAB, DT_STRSZ, entries, DT_NULL.
  const dynamicCount = dynEntries.length + 3;
  const shoff = align(dynamicOffset + dynamicCount * dynsize, 8);
  const shnum = 3;
  const total = shoff + shnum * shentsize;

  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  const u16 = (o: number, v: number): void => view.setUint16(o, v, little);
  const u32 = (o: number, v: number): void => view.setUint32(o, v, little);
  const word = (o: number, v: number): void => {
    if (is64) view.setBigUint64(o, BigInt(v), little);
    else view.setUint32(o, v, little);
  };

  bytes.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, little ? 1 : 2, 1], 0);
  u16(16, spec.type ?? 3);
  u16(18, spec.machine ?? 62);
  u32(20, 1);
  word(24, 0); // e_entry
  word(is64 ? 32 : 28, phoff);
  word(is64 ? 40 : 32, shoff);
  u16(is64 ? 52 : 40, ehsize);
  u16(is64 ? 54 : 42, phentsize);
  u16(is64 ? 56 : 44, phnum);
  u16(is64 ? 58 : 46, shentsize);
  u16(is64 ? 60 : 48, shnum);
  u16(is64 ? 62 : 50, 0);

  const phdr = (index: number, type: number, offset: number, size: number): void => {
    const at = phoff + index * phentsize;
    u32(at, type);
    if (is64) {
      u32(at + 4, 4); // p_flags
      word(at + 8, offset);
      word(at + 16, BASE + offset);
      word(at + 24, BASE + offset);
      word(at + 32, size);
      word(at + 40, size);
      word(at + 48, 8);
    } else {
      word(at + 4, offset);
      word(at + 8, BASE + offset);
      word(at + 12, BASE + offset);
      word(at + 16, size);
      word(at + 20, size);
      u32(at + 24, 4);
      word(at + 28, 8);
    }
  };
  if (phnum > 0) {
    let i = 0;
    phdr(i++, 1, 0, total); // PT_LOAD: the whole file
    if (spec.interpreter !== undefined) phdr(i++, 3, interpOffset, interp.length);
    phdr(i++, 2, dynamicOffset, dynamicCount * dynsize);
  }
  for (let i = 0; i < interp.length; i++) bytes[interpOffset + i] = interp.charCodeAt(i);
  for (let i = 0; i < dynstr.length; i++) bytes[dynstrOffset + i] = dynstr.charCodeAt(i);

  const dyn = (index: number, tag: number, value: number): void => {
    word(dynamicOffset + index * dynsize, tag);
    word(dynamicOffset + index * dynsize + dynsize / 2, value);
  };
  dyn(0, 5, BASE + dynstrOffset); // DT_STRTAB (an address)
  dyn(1, 10, dynstr.length); // DT_STRSZ
  dynEntries.forEach(([tag, value], i) => dyn(i + 2, tag, value));
  dyn(dynEntries.length + 2, 0, 0); // DT_NULL

  const shdr = (
    index: number,
    type: number,
    offset: number,
    size: number,
    link: number,
    entsize: number,
  ): void => {
    const at = shoff + index * shentsize;
    u32(at + 4, type);
    if (is64) {
      word(at + 24, offset);
      word(at + 32, size);
      u32(at + 40, link);
      word(at + 56, entsize);
    } else {
      word(at + 16, offset);
      word(at + 20, size);
      u32(at + 24, link);
      word(at + 36, entsize);
    }
  };
  shdr(1, 3, dynstrOffset, dynstr.length, 0, 0); // .dynstr (SHT_STRTAB)
  shdr(2, 6, dynamicOffset, dynamicCount * dynsize, 1, dynsize); // .dynamic (SHT_DYNAMIC) → link 1
  return { bytes, layout: { phoff, shoff, dynstrOffset, dynamicOffset, interpOffset } };
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
