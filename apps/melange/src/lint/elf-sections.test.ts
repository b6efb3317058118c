import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '@tk/core';
import { findCompiler, NO_COMPILER } from '../package/testdata/compile.ts';
import { EM, readElfSections } from './elf-sections.ts';
import { isDebugSection } from './rules-elf.ts';
import { buildSectionElf } from './testdata/elf.ts';

const cc = findCompiler();

describe('readElfSections', () => {
  it.each([
    [64, 'little'],
    [64, 'big'],
    [32, 'little'],
    [32, 'big'],
  ] as const)('reads the machine and section names of a %i-bit %s-endian file', (bits, endian) => {
    const { bytes } = buildSectionElf({
      bits,
      endian,
      machine: EM.RISCV,
      sections: ['.text', '.debug_info'],
    });
    expect(readElfSections(bytes)).toEqual({
      machine: EM.RISCV,
      sections: ['', '.text', '.debug_info', '.shstrtab'],
    });
  });

  it('follows extended numbering (count and name table in section 0)', () => {
    const { bytes } = buildSectionElf({ sections: ['.zdebug'], extended: true });
    expect(readElfSections(bytes)?.sections).toEqual(['', '.zdebug', '.shstrtab']);
  });

  it('gives no sections when there is no section table', () => {
    const { bytes, layout } = buildSectionElf({ machine: EM.AARCH64 });
    new DataView(bytes.buffer).setBigUint64(layout.shoffField, 0n, true);
    expect(readElfSections(bytes)).toEqual({ machine: EM.AARCH64, sections: [] });
  });

  it('is undefined for files that are not ELF', () => {
    expect(readElfSections(new TextEncoder().encode('#!/bin/sh\necho hi\n'))).toBeUndefined();
    expect(readElfSections(new Uint8Array([0x7f, 0x45, 0x4c, 0x46]))).toBeUndefined();
    const bad = buildSectionElf().bytes;
    bad[4] = 9; // class
    expect(readElfSections(bad)).toBeUndefined();
  });

  describe('damaged files give undefined, never an exception', () => {
    it('a section table past the end', () => {
      const { bytes, layout } = buildSectionElf({ sections: ['.a'] });
      new DataView(bytes.buffer).setBigUint64(layout.shoffField, BigInt(bytes.length), true);
      expect(readElfSections(bytes)).toBeUndefined();
    });
    it('an absurd section count', () => {
      const { bytes, layout } = buildSectionElf({ sections: ['.a'] });
      new DataView(bytes.buffer).setUint16(layout.shnumField, 0xfffe, true);
      expect(readElfSections(bytes)).toBeUndefined();
    });
    it('a name table index out of range', () => {
      const { bytes, layout } = buildSectionElf({ sections: ['.a'] });
      new DataView(bytes.buffer).setUint16(layout.shstrndxField, 50, true);
      expect(readElfSections(bytes)).toBeUndefined();
    });
    it('a name offset past the name table', () => {
      const { bytes, layout } = buildSectionElf({ sections: ['.a'] });
      new DataView(bytes.buffer).setUint32(layout.shoff + layout.shentsize, 0x7fffffff, true);
      expect(readElfSections(bytes)).toBeUndefined();
    });
    it('a truncated file', () => {
      const { bytes } = buildSectionElf({ sections: ['.a', '.b'] });
      for (const n of [5, 20, 63, 64, 80, bytes.length - 1])
        expect(readElfSections(bytes.subarray(0, n))).toBeUndefined();
    });
    it('a 64-bit offset above 2^53', () => {
      const { bytes, layout } = buildSectionElf();
      new DataView(bytes.buffer).setBigUint64(layout.shoffField, 1n << 60n, true);
      expect(readElfSections(bytes)).toBeUndefined();
    });
    it('random corruption (2000 mutations)', () => {
      const random = seededRandom(8);
      const base = buildSectionElf({ sections: ['.text', '.debug_info', '.data'] }).bytes;
      for (let round = 0; round < 2000; round++) {
        const bytes = base.slice();
        for (let k = 0; k < 4; k++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
        expect(() => readElfSections(bytes)).not.toThrow();
      }
    });
  });

  it.skipIf(cc === undefined)(
    `sees DWARF in a binary built with -g, and none after strip (needs cc: ${NO_COMPILER})`,
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'tk-lint-elf-'));
      try {
        writeFileSync(join(dir, 'main.c'), 'int main(void) { return 0; }\n');
        execFileSync(cc!, ['-g', '-O1', '-o', 'main', 'main.c'], { cwd: dir });
        const debug = readElfSections(new Uint8Array(readFileSync(join(dir, 'main'))))!;
        expect(debug.sections).toContain('.debug_info');
        expect(debug.sections.some(isDebugSection)).toBe(true);
        execFileSync('strip', ['main'], { cwd: dir });
        const stripped = readElfSections(new Uint8Array(readFileSync(join(dir, 'main'))))!;
        expect(stripped.sections.some(isDebugSection)).toBe(false);
        expect(stripped.sections).toContain('.text');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
