/**
 * The smallest useful static Linux executables: write a message to stdout and exit 0. Hand-assembled,
 * one ELF64 header, one PT_LOAD program header, the code and the message; no libc, no interpreter, so
 * they run in an otherwise empty image (and under qemu-user for arm64).
 */

const LOAD_ADDRESS = 0x400000;
const ELF_HEADER_SIZE = 64;
const PROGRAM_HEADER_SIZE = 56;
const CODE_OFFSET = ELF_HEADER_SIZE + PROGRAM_HEADER_SIZE;
const EM_X86_64 = 0x3e;
const EM_AARCH64 = 0xb7;

function x86_64Code(length: number): number[] {
  // prettier-ignore
  return [
    0xb8, 1, 0, 0, 0, //                       mov eax, 1 (write)
    0xbf, 1, 0, 0, 0, //                       mov edi, 1 (stdout)
    0x48, 0x8d, 0x35, 16, 0, 0, 0, //          lea rsi, [rip+16] (the message after the code)
    0xba, length & 0xff, (length >> 8) & 0xff, 0, 0, // mov edx, length
    0x0f, 0x05, //                             syscall
    0xb8, 60, 0, 0, 0, //                      mov eax, 60 (exit)
    0x31, 0xff, //                             xor edi, edi
    0x0f, 0x05, //                             syscall
  ];
}

function aarch64Code(length: number): number[] {
  // mov x0,#1 ; adr x1,msg ; mov x2,#len ; mov x8,#64 ; svc #0 ; mov x0,#0 ; mov x8,#93 ; svc #0
  const words = [
    0xd2800020,
    0x10000000 | (7 << 5) | 1, // adr x1, #28 (the message follows the 8 instructions)
    0xd2800000 | (length << 5) | 2,
    0xd2800808,
    0xd4000001,
    0xd2800000,
    0xd2800ba8,
    0xd4000001,
  ];
  const bytes: number[] = [];
  for (const word of words) bytes.push(word & 0xff, (word >>> 8) & 0xff, (word >>> 16) & 0xff, word >>> 24);
  return bytes;
}

/**
 * A static executable printing `message`.
 *
 * @param arch - apk architecture
 * @param message - what it writes to stdout (at most 255 bytes)
 */
export function tinyElf(arch: 'x86_64' | 'aarch64', message: string): Uint8Array {
  const text = new TextEncoder().encode(message);
  if (text.length > 255) throw new Error('message too long');
  const code = arch === 'x86_64' ? x86_64Code(text.length) : aarch64Code(text.length);
  const size = CODE_OFFSET + code.length + text.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0); // ELF, 64-bit, little-endian, version 1, SysV
  view.setUint16(16, 2, true); // ET_EXEC
  view.setUint16(18, arch === 'x86_64' ? EM_X86_64 : EM_AARCH64, true);
  view.setUint32(20, 1, true);
  view.setBigUint64(24, BigInt(LOAD_ADDRESS + CODE_OFFSET), true); // entry
  view.setBigUint64(32, BigInt(ELF_HEADER_SIZE), true); // phoff
  view.setUint16(52, ELF_HEADER_SIZE, true);
  view.setUint16(54, PROGRAM_HEADER_SIZE, true);
  view.setUint16(56, 1, true); // phnum
  const ph = ELF_HEADER_SIZE;
  view.setUint32(ph, 1, true); // PT_LOAD
  view.setUint32(ph + 4, 5, true); // R+X
  view.setBigUint64(ph + 16, BigInt(LOAD_ADDRESS), true);
  view.setBigUint64(ph + 24, BigInt(LOAD_ADDRESS), true);
  view.setBigUint64(ph + 32, BigInt(size), true);
  view.setBigUint64(ph + 40, BigInt(size), true);
  view.setBigUint64(ph + 48, 0x1000n, true);
  out.set(code, CODE_OFFSET);
  out.set(text, CODE_OFFSET + code.length);
  return out;
}
