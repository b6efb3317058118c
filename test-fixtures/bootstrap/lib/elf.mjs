// A small, bounds-checked ELF reader: enough to find a file's SONAME, DT_NEEDED entries and interpreter,
// as melange's SCA does, without running objdump. Every offset is checked against the file size; a file
// that is not a well-formed ELF object gives `undefined`, never an exception or an out-of-range read.

const MAX_SECTIONS = 1 << 16;
const MAX_SEGMENTS = 1 << 12;
const MAX_DYNAMIC_ENTRIES = 1 << 16;
const MAX_STRING = 4096;

const SHT_DYNAMIC = 6;
const PT_INTERP = 3;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_SONAME = 14;

/** ELF object types. */
export const ELF_TYPES = { 1: 'rel', 2: 'exec', 3: 'dyn', 4: 'core' };

/**
 * Read the dynamic-linking facts of an ELF file.
 *
 * @param {Uint8Array} bytes the whole file
 * @returns {{ bits: 32 | 64, type: string, machine: number, soname?: string, needed: string[], interp?: string } | undefined}
 *   undefined when the bytes are not a well-formed ELF file
 */
export function readElf(bytes) {
  if (bytes.length < 52 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46)
    return undefined;
  const bits = bytes[4] === 1 ? 32 : bytes[4] === 2 ? 64 : 0;
  const little = bytes[5] === 1 ? true : bytes[5] === 2 ? false : undefined;
  if (bits === 0 || little === undefined) return undefined;
  if (bits === 64 && bytes.length < 64) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o) => view.getUint16(o, little);
  const u32 = (o) => view.getUint32(o, little);
  const word = (o) => {
    if (bits === 32) return u32(o);
    const v = view.getBigUint64(o, little);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  };
  const sword = (o) => (bits === 32 ? view.getInt32(o, little) : Number(view.getBigInt64(o, little)));
  const inside = (offset, size) =>
    offset >= 0 && size >= 0 && offset <= bytes.length && size <= bytes.length - offset;
  const cString = (offset, limit) => {
    if (offset < 0 || offset >= limit) return undefined;
    let end = offset;
    while (end < limit && end - offset < MAX_STRING && bytes[end] !== 0) end++;
    if (end >= limit || bytes[end] !== 0) return undefined;
    return new TextDecoder().decode(bytes.subarray(offset, end));
  };

  const type = ELF_TYPES[u16(16)] ?? 'other';
  const machine = u16(18);
  const phoff = word(bits === 32 ? 28 : 32);
  const shoff = word(bits === 32 ? 32 : 40);
  const phentsize = u16(bits === 32 ? 42 : 54);
  const phnum = u16(bits === 32 ? 44 : 56);
  const shentsize = u16(bits === 32 ? 46 : 58);
  const shnum = u16(bits === 32 ? 48 : 60);

  const result = { bits, type, machine, needed: [] };

  // Program headers: the interpreter.
  if (
    phnum > 0 &&
    phnum <= MAX_SEGMENTS &&
    phentsize >= (bits === 32 ? 32 : 56) &&
    inside(phoff, phnum * phentsize)
  ) {
    for (let i = 0; i < phnum; i++) {
      const base = phoff + i * phentsize;
      if (u32(base) !== PT_INTERP) continue;
      const offset = word(base + (bits === 32 ? 4 : 8));
      const size = word(base + (bits === 32 ? 16 : 32));
      if (inside(offset, size)) result.interp = cString(offset, offset + size);
    }
  }

  // Section headers: the .dynamic section and its string table (sh_link).
  if (
    shnum === 0 ||
    shnum > MAX_SECTIONS ||
    shentsize < (bits === 32 ? 40 : 64) ||
    !inside(shoff, shnum * shentsize)
  )
    return result;
  const section = (i) => {
    const base = shoff + i * shentsize;
    return {
      type: u32(base + 4),
      offset: word(base + (bits === 32 ? 16 : 24)),
      size: word(base + (bits === 32 ? 20 : 32)),
      link: u32(base + (bits === 32 ? 24 : 40)),
    };
  };
  for (let i = 0; i < shnum; i++) {
    const dyn = section(i);
    if (dyn.type !== SHT_DYNAMIC) continue;
    if (!inside(dyn.offset, dyn.size) || dyn.link >= shnum) return undefined;
    const strtab = section(dyn.link);
    if (!inside(strtab.offset, strtab.size)) return undefined;
    const entrySize = bits === 32 ? 8 : 16;
    const count = Math.min(Math.floor(dyn.size / entrySize), MAX_DYNAMIC_ENTRIES);
    for (let j = 0; j < count; j++) {
      const base = dyn.offset + j * entrySize;
      const tag = sword(base);
      if (tag === DT_NULL) break;
      if (tag !== DT_NEEDED && tag !== DT_SONAME) continue;
      const value = word(base + (bits === 32 ? 4 : 8));
      const name = cString(strtab.offset + value, strtab.offset + strtab.size);
      if (name === undefined) return undefined;
      if (tag === DT_NEEDED) result.needed.push(name);
      else result.soname = name;
    }
    break;
  }
  return result;
}
