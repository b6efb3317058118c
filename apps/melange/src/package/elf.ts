/**
 * A small, bounds-checked ELF reader for software composition analysis: the file's class, byte order,
 * `e_type` and `e_machine`, the program interpreter (`PT_INTERP`), and the dynamic section's `DT_NEEDED`
 * and `DT_SONAME` strings. It runs on any host (an aarch64 binary reads the same on x86_64) and never
 * executes or maps anything.
 *
 * Layout (System V gABI, https://refspecs.linuxfoundation.org/elf/gabi4+/ch4.eheader.html and ch5):
 *
 *     ELF header   e_ident[16] (magic 7f 'E' 'L' 'F', class, data), e_type, e_machine, …, e_phoff, e_shoff,
 *                  e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
 *     program headers (e_phnum × e_phentsize at e_phoff): PT_LOAD maps file ranges to addresses,
 *                  PT_INTERP holds the interpreter path, PT_DYNAMIC the dynamic array
 *     dynamic array  (d_tag, d_val) pairs up to DT_NULL; DT_STRTAB is the ADDRESS of the string table
 *                  (mapped back to a file offset through the PT_LOAD segments), DT_STRSZ its size,
 *                  DT_NEEDED/DT_SONAME offsets into it
 *     section headers (fallback when there is no PT_DYNAMIC): SHT_DYNAMIC, whose sh_link names its
 *                  string table section
 *
 * Every offset, size and count read from the file is checked against the file's length before use, counts
 * are capped, strings are cut at 4 KiB, and 64-bit values above 2^53 count as out of range, so a truncated
 * or hostile file gives a `MELANGE_ELF_MALFORMED` error (or `undefined` when it is not ELF at all), never a
 * RangeError or a runaway loop.
 */
import { MelangeError } from '../errors.ts';

/** `\x7fELF`. */
const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46] as const;
const EI_CLASS = 4;
const EI_DATA = 5;
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ELFDATA2MSB = 2;
const EHDR32_SIZE = 52;
const EHDR64_SIZE = 64;
const PHDR32_SIZE = 32;
const PHDR64_SIZE = 56;
const SHDR32_SIZE = 40;
const SHDR64_SIZE = 64;
const DYN32_SIZE = 8;
const DYN64_SIZE = 16;

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const SHT_DYNAMIC = 6;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_STRSZ = 10;
const DT_SONAME = 14;
/** e_phnum value meaning "the real count is in section 0's sh_info" (gABI PN_XNUM). */
const PN_XNUM = 0xffff;

/** Most program headers, section headers or dynamic entries looked at. Real files have far fewer. */
const MAX_TABLE_ENTRIES = 65_536;
/** Longest string read (an interpreter path or a library name). */
const MAX_STRING_LENGTH = 4096;

/** `e_type` values. */
export const ELF_TYPES = { ET_REL: 1, ET_EXEC: 2, ET_DYN: 3, ET_CORE: 4 } as const;

/** `e_machine` values of the architectures apk packages exist for, with their apk arch names. */
export const ELF_MACHINES: Readonly<Record<number, string>> = {
  3: 'x86',
  8: 'mips',
  20: 'ppc',
  21: 'ppc64le',
  22: 's390x',
  40: 'armv7',
  62: 'x86_64',
  183: 'aarch64',
  243: 'riscv64',
  258: 'loongarch64',
};

/** What {@link parseElf} reads. */
export interface ElfInfo {
  /** 32- or 64-bit. */
  bits: 32 | 64;
  endian: 'little' | 'big';
  /** `e_type` (see {@link ELF_TYPES}). */
  type: number;
  /** `e_machine` (see {@link ELF_MACHINES}). */
  machine: number;
  /** The `PT_INTERP` path with trailing NULs removed, when there is one. */
  interpreter?: string;
  /** `DT_NEEDED` entries in file order. */
  needed: string[];
  /** `DT_SONAME` entries (normally zero or one). */
  sonames: string[];
  /** Where the dynamic strings came from: the program headers, the section headers, or nowhere. */
  dynamicFrom: 'segments' | 'sections' | 'none';
}

/** Options of {@link parseElf}. */
export interface ParseElfOptions {
  /** Name of the file, for messages. */
  source?: string;
}

interface Reader {
  bits: 32 | 64;
  little: boolean;
  view: DataView;
  size: number;
  u16(offset: number): number;
  u32(offset: number): number;
  /** A word (32 or 64 bits); 64-bit values above 2^53 - 1 come back as -1 (out of range). */
  word(offset: number): number;
}

function malformed(source: string, message: string): MelangeError {
  return new MelangeError('MELANGE_ELF_MALFORMED', `${source}: ${message}`, {
    hint: 'the file looks like ELF but its headers are damaged; rebuild it, or remove it from the package',
    data: { source },
  });
}

function makeReader(bytes: Uint8Array, bits: 32 | 64, little: boolean, source: string): Reader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = bytes.byteLength;
  const check = (offset: number, width: number): void => {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + width > size)
      throw malformed(source, `read of ${width} bytes at offset ${offset} is past the end (${size} bytes)`);
  };
  return {
    bits,
    little,
    view,
    size,
    u16(offset) {
      check(offset, 2);
      return view.getUint16(offset, little);
    },
    u32(offset) {
      check(offset, 4);
      return view.getUint32(offset, little);
    },
    word(offset) {
      if (bits === 32) {
        check(offset, 4);
        return view.getUint32(offset, little);
      }
      check(offset, 8);
      const value = view.getBigUint64(offset, little);
      return value > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(value);
    },
  };
}

/** True when `[offset, offset + length)` lies inside the file. */
function inFile(r: Reader, offset: number, length: number): boolean {
  return offset >= 0 && length >= 0 && Number.isSafeInteger(offset + length) && offset + length <= r.size;
}

/** A NUL-terminated string at `offset`, not reading past `limit` (exclusive) nor MAX_STRING_LENGTH bytes. */
function readString(r: Reader, offset: number, limit: number, source: string, what: string): string {
  const end = Math.min(limit, r.size);
  if (offset < 0 || offset >= end)
    throw malformed(source, `${what} at offset ${offset} is outside its table`);
  let i = offset;
  while (i < end && i - offset < MAX_STRING_LENGTH && r.view.getUint8(i) !== 0) i++;
  if (i >= end || r.view.getUint8(i) !== 0)
    throw malformed(source, `${what} at offset ${offset} has no terminating NUL within its table`);
  let text = '';
  for (let j = offset; j < i; j++) text += String.fromCharCode(r.view.getUint8(j));
  return text;
}

interface ProgramHeader {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

interface SectionHeader {
  type: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

function readProgramHeaders(
  r: Reader,
  phoff: number,
  phentsize: number,
  phnum: number,
  source: string,
): ProgramHeader[] {
  const minSize = r.bits === 64 ? PHDR64_SIZE : PHDR32_SIZE;
  if (phnum === 0) return [];
  if (phentsize < minSize) throw malformed(source, `e_phentsize ${phentsize} is smaller than ${minSize}`);
  if (phnum > MAX_TABLE_ENTRIES) throw malformed(source, `e_phnum ${phnum} is absurd`);
  if (!inFile(r, phoff, phentsize * phnum))
    throw malformed(
      source,
      `program headers (${phnum} × ${phentsize} at ${phoff}) are past the end of the file`,
    );
  const headers: ProgramHeader[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    headers.push(
      r.bits === 64
        ? { type: r.u32(at), offset: r.word(at + 8), vaddr: r.word(at + 16), filesz: r.word(at + 32) }
        : { type: r.u32(at), offset: r.word(at + 4), vaddr: r.word(at + 8), filesz: r.word(at + 16) },
    );
  }
  return headers;
}

function readSectionHeaders(
  r: Reader,
  shoff: number,
  shentsize: number,
  shnum: number,
  source: string,
): SectionHeader[] {
  const minSize = r.bits === 64 ? SHDR64_SIZE : SHDR32_SIZE;
  if (shnum === 0 || shoff === 0) return [];
  if (shentsize < minSize) throw malformed(source, `e_shentsize ${shentsize} is smaller than ${minSize}`);
  if (shnum > MAX_TABLE_ENTRIES) throw malformed(source, `e_shnum ${shnum} is absurd`);
  if (!inFile(r, shoff, shentsize * shnum))
    throw malformed(
      source,
      `section headers (${shnum} × ${shentsize} at ${shoff}) are past the end of the file`,
    );
  const headers: SectionHeader[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    headers.push(
      r.bits === 64
        ? {
            type: r.u32(at + 4),
            offset: r.word(at + 24),
            size: r.word(at + 32),
            link: r.u32(at + 40),
            entsize: r.word(at + 56),
          }
        : {
            type: r.u32(at + 4),
            offset: r.word(at + 16),
            size: r.word(at + 20),
            link: r.u32(at + 24),
            entsize: r.word(at + 36),
          },
    );
  }
  return headers;
}

/** Read (tag, value) pairs of a dynamic array in the file range given, up to DT_NULL. */
function readDynamic(r: Reader, offset: number, size: number, source: string): [number, number][] {
  const entSize = r.bits === 64 ? DYN64_SIZE : DYN32_SIZE;
  if (!inFile(r, offset, size))
    throw malformed(source, `dynamic array (${size} bytes at ${offset}) is past the end`);
  const count = Math.min(Math.floor(size / entSize), MAX_TABLE_ENTRIES);
  const entries: [number, number][] = [];
  for (let i = 0; i < count; i++) {
    const at = offset + i * entSize;
    // A tag above 2^53 is no tag we look for; word() gives -1 for it.
    const tag = r.word(at);
    if (tag === DT_NULL) break;
    entries.push([tag, r.word(at + entSize / 2)]);
  }
  return entries;
}

/** Map a virtual address to a file offset through the PT_LOAD segments (undefined when unmapped). */
function addressToOffset(loads: readonly ProgramHeader[], address: number): number | undefined {
  for (const load of loads) {
    if (load.vaddr < 0 || load.offset < 0 || load.filesz < 0) continue;
    if (address >= load.vaddr && address - load.vaddr < load.filesz)
      return load.offset + (address - load.vaddr);
  }
  return undefined;
}

function dynamicStrings(
  r: Reader,
  dynamic: readonly [number, number][],
  strtab: { offset: number; size: number },
  source: string,
): { needed: string[]; sonames: string[] } {
  if (!inFile(r, strtab.offset, 0))
    throw malformed(source, `dynamic string table at ${strtab.offset} is past the end`);
  const limit = strtab.offset + Math.min(strtab.size, r.size - strtab.offset);
  const needed: string[] = [];
  const sonames: string[] = [];
  for (const [tag, value] of dynamic) {
    if (tag !== DT_NEEDED && tag !== DT_SONAME) continue;
    if (value < 0) throw malformed(source, `dynamic string offset is out of range`);
    const text = readString(
      r,
      strtab.offset + value,
      limit,
      source,
      tag === DT_NEEDED ? 'DT_NEEDED' : 'DT_SONAME',
    );
    (tag === DT_NEEDED ? needed : sonames).push(text);
  }
  return { needed, sonames };
}

/**
 * Read an ELF file's identity, interpreter and dynamic dependencies.
 *
 * @param bytes - the whole file (or at least every part the headers point at)
 * @param options - the file's name for messages
 * @returns the facts, or undefined when the bytes do not start with the ELF magic
 * @throws {MelangeError} MELANGE_ELF_MALFORMED when the headers are truncated, point outside the file, or use
 *   a class or byte order that does not exist
 * @example
 * const info = parseElf(await readFile('/usr/bin/ls'));
 * info?.needed; // ['libselinux.so.1', 'libc.so.6']
 */
export function parseElf(bytes: Uint8Array, options: ParseElfOptions = {}): ElfInfo | undefined {
  const source = options.source ?? 'ELF file';
  if (bytes.length < ELF_MAGIC.length || ELF_MAGIC.some((b, i) => bytes[i] !== b)) return undefined;
  if (bytes.length < 16) throw malformed(source, `only ${bytes.length} bytes, shorter than e_ident`);
  const elfClass = bytes[EI_CLASS];
  const data = bytes[EI_DATA];
  if (elfClass !== ELFCLASS32 && elfClass !== ELFCLASS64)
    throw malformed(source, `unknown ELF class ${elfClass}`);
  if (data !== ELFDATA2LSB && data !== ELFDATA2MSB) throw malformed(source, `unknown ELF byte order ${data}`);
  const bits = elfClass === ELFCLASS64 ? 64 : 32;
  const little = data === ELFDATA2LSB;
  const r = makeReader(bytes, bits, little, source);
  if (bytes.length < (bits === 64 ? EHDR64_SIZE : EHDR32_SIZE))
    throw malformed(source, `only ${bytes.length} bytes, shorter than the ${bits}-bit ELF header`);

  const type = r.u16(16);
  const machine = r.u16(18);
  const phoff = r.word(bits === 64 ? 32 : 28);
  const shoff = r.word(bits === 64 ? 40 : 32);
  const phentsize = r.u16(bits === 64 ? 54 : 42);
  let phnum = r.u16(bits === 64 ? 56 : 44);
  const shentsize = r.u16(bits === 64 ? 58 : 46);
  const shnum = r.u16(bits === 64 ? 60 : 48);
  if (phoff < 0 || shoff < 0) throw malformed(source, 'header table offset is out of range');

  if (phnum === PN_XNUM) {
    // The real count lives in section 0's sh_info.
    if (shoff === 0 || !inFile(r, shoff, bits === 64 ? SHDR64_SIZE : SHDR32_SIZE))
      throw malformed(source, 'e_phnum is PN_XNUM but there is no section 0 to hold the count');
    phnum = r.u32(shoff + (bits === 64 ? 44 : 28));
  }
  const programs = readProgramHeaders(r, phoff, phentsize, phnum, source);

  const info: ElfInfo = {
    bits,
    endian: little ? 'little' : 'big',
    type,
    machine,
    needed: [],
    sonames: [],
    dynamicFrom: 'none',
  };

  const interp = programs.find((p) => p.type === PT_INTERP);
  if (interp !== undefined) {
    if (interp.offset < 0 || interp.filesz < 0 || !inFile(r, interp.offset, interp.filesz))
      throw malformed(source, `PT_INTERP (${interp.filesz} bytes at ${interp.offset}) is past the end`);
    const raw = bytes.subarray(interp.offset, interp.offset + Math.min(interp.filesz, MAX_STRING_LENGTH));
    let end = raw.indexOf(0);
    if (end < 0) end = raw.length;
    let text = '';
    for (let i = 0; i < end; i++) text += String.fromCharCode(raw[i]!);
    if (text !== '') info.interpreter = text;
  }

  const dynSegment = programs.find((p) => p.type === PT_DYNAMIC);
  if (dynSegment !== undefined && dynSegment.offset >= 0 && dynSegment.filesz >= 0) {
    const dynamic = readDynamic(r, dynSegment.offset, dynSegment.filesz, source);
    const strtabAddress = dynamic.find(([tag]) => tag === DT_STRTAB)?.[1];
    const strsz = dynamic.find(([tag]) => tag === DT_STRSZ)?.[1];
    const loads = programs.filter((p) => p.type === PT_LOAD);
    const strtabOffset =
      strtabAddress === undefined || strtabAddress < 0 ? undefined : addressToOffset(loads, strtabAddress);
    if (strtabOffset !== undefined) {
      const size = strsz === undefined || strsz < 0 ? r.size - Math.min(strtabOffset, r.size) : strsz;
      Object.assign(info, dynamicStrings(r, dynamic, { offset: strtabOffset, size }, source));
      info.dynamicFrom = 'segments';
      return info;
    }
  }

  // Fallback: the section headers (objects without program headers, or a DT_STRTAB outside every PT_LOAD).
  const all = readSectionHeaders(r, shoff, shentsize, shnum, source);
  const dynSection = all.find((s) => s.type === SHT_DYNAMIC);
  if (dynSection !== undefined) {
    const strSection = all[dynSection.link];
    if (strSection === undefined)
      throw malformed(source, `SHT_DYNAMIC links to section ${dynSection.link}, which does not exist`);
    if (dynSection.offset < 0 || dynSection.size < 0 || strSection.offset < 0 || strSection.size < 0)
      throw malformed(source, 'dynamic section offsets are out of range');
    const dynamic = readDynamic(r, dynSection.offset, dynSection.size, source);
    Object.assign(
      info,
      dynamicStrings(r, dynamic, { offset: strSection.offset, size: strSection.size }, source),
    );
    info.dynamicFrom = 'sections';
  }
  return info;
}

/**
 * True when the bytes start with the ELF magic (cheap test before reading a whole file).
 *
 * @param bytes - the file's first bytes
 * @returns whether it claims to be ELF
 */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= ELF_MAGIC.length && ELF_MAGIC.every((b, i) => bytes[i] === b);
}
