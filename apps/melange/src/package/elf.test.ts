import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seededRandom } from '@tk/core';
import { MelangeError } from '../errors.ts';
import { ELF_MACHINES, isElf, parseElf } from './elf.ts';
import { compileFixtures, findCompiler, NO_COMPILER, type CompiledFixtures } from './testdata/compile.ts';
import { buildElf } from './testdata/elf-builder.ts';

const cc = findCompiler();
const work = mkdtempSync(join(tmpdir(), 'tk-elf-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const compiled: CompiledFixtures | undefined = cc === undefined ? undefined : compileFixtures(cc, work);

/** Parse, turning only coded errors into their code; anything else (a RangeError…) fails the test. */
function outcome(bytes: Uint8Array): string {
  try {
    const info = parseElf(bytes);
    return info === undefined ? 'not-elf' : 'ok';
  } catch (error) {
    if (error instanceof MelangeError) return error.code;
    throw error;
  }
}

describe.skipIf(compiled === undefined)(
  `real binaries from the host compiler${cc === undefined ? ` (${NO_COMPILER})` : ''}`,
  () => {
    it('reads a glibc program: interpreter, libc, no soname', () => {
      const info = parseElf(readFileSync(compiled!.hello))!;
      expect(info.bits).toBe(64);
      expect(info.endian).toBe('little');
      expect(ELF_MACHINES[info.machine]).toBe(process.arch === 'arm64' ? 'aarch64' : 'x86_64');
      expect(info.interpreter).toMatch(/^\/lib.*\/ld-linux-[a-z0-9_-]+\.so\.[0-9]$/);
      expect(info.needed).toContain('libc.so.6');
      expect(info.sonames).toEqual([]);
      expect(info.dynamicFrom).toBe('segments');
    });

    it('reads a shared library: ET_DYN, its SONAME, no interpreter', () => {
      const info = parseElf(readFileSync(compiled!.libfoo))!;
      expect(info.type).toBe(3);
      expect(info.sonames).toEqual(['libfoo.so.1']);
      expect(info.interpreter).toBeUndefined();
    });

    it('reads DT_NEEDED in file order', () => {
      const info = parseElf(readFileSync(compiled!.usefoo))!;
      expect(info.needed.indexOf('libfoo.so.1')).toBeGreaterThanOrEqual(0);
      expect(info.needed.indexOf('libfoo.so.1')).toBeLessThan(info.needed.indexOf('libc.so.6'));
    });

    it('survives every truncation and random corruption of a real binary', () => {
      const original = new Uint8Array(readFileSync(compiled!.usefoo));
      const seen = new Set<string>();
      for (let n = 0; n < original.length; n += n < 4096 ? 7 : 211)
        seen.add(outcome(original.subarray(0, n)));
      const random = seededRandom(42);
      for (let round = 0; round < 300; round++) {
        const copy = original.slice();
        for (let k = 0; k < 8; k++)
          copy[Math.floor(random() * 4096) % copy.length] = Math.floor(random() * 256);
        seen.add(outcome(copy));
      }
      expect(seen.has('MELANGE_ELF_MALFORMED')).toBe(true);
      expect([...seen].every((s) => ['ok', 'not-elf', 'MELANGE_ELF_MALFORMED'].includes(s))).toBe(true);
    });
  },
);

describe('crafted ELF files', () => {
  it('reads an aarch64 executable on any host', () => {
    const { bytes } = buildElf({
      machine: 183,
      type: 2,
      interpreter: '/lib/ld-linux-aarch64.so.1',
      needed: ['libssl.so.3', 'libc.so.6'],
    });
    const info = parseElf(bytes)!;
    expect(ELF_MACHINES[info.machine]).toBe('aarch64');
    expect(info.type).toBe(2);
    expect(info.interpreter).toBe('/lib/ld-linux-aarch64.so.1');
    expect(info.needed).toEqual(['libssl.so.3', 'libc.so.6']);
  });

  it('reads an aarch64 shared library SONAME', () => {
    const info = parseElf(buildElf({ machine: 183, soname: 'libz.so.1', needed: ['libc.so.6'] }).bytes)!;
    expect(info.sonames).toEqual(['libz.so.1']);
    expect(info.needed).toEqual(['libc.so.6']);
  });

  it.each([
    [32, 'big', 8],
    [32, 'little', 40],
    [64, 'big', 22],
  ] as const)('reads %i-bit %s-endian files (machine %i)', (bits, endian, machine) => {
    const info = parseElf(
      buildElf({ bits, endian, machine, soname: 'libx.so.2', needed: ['liby.so.3'] }).bytes,
    )!;
    expect(info).toMatchObject({ bits, endian, machine, sonames: ['libx.so.2'], needed: ['liby.so.3'] });
  });

  it('falls back to the section headers when there are no program headers', () => {
    const info = parseElf(
      buildElf({ sectionsOnly: true, soname: 'libq.so.9', needed: ['libc.so.6'] }).bytes,
    )!;
    expect(info.dynamicFrom).toBe('sections');
    expect(info.sonames).toEqual(['libq.so.9']);
    expect(info.needed).toEqual(['libc.so.6']);
  });

  it('returns undefined for files that are not ELF', () => {
    expect(parseElf(new TextEncoder().encode('#!/bin/sh\necho hi\n'))).toBeUndefined();
    expect(parseElf(new Uint8Array(0))).toBeUndefined();
    expect(isElf(new Uint8Array([0x7f, 0x45, 0x4c]))).toBe(false);
    expect(isElf(buildElf({}).bytes)).toBe(true);
  });
});

describe('hostile ELF input', () => {
  const base = buildElf({
    interpreter: '/lib/ld.so',
    needed: ['liba.so.1', 'libb.so.2'],
    soname: 'libc.so.9',
  });
  const is64Word = (bytes: Uint8Array, offset: number, value: bigint): Uint8Array => {
    const copy = bytes.slice();
    new DataView(copy.buffer).setBigUint64(offset, value, true);
    return copy;
  };
  const u16At = (bytes: Uint8Array, offset: number, value: number): Uint8Array => {
    const copy = bytes.slice();
    new DataView(copy.buffer).setUint16(offset, value, true);
    return copy;
  };

  it('rejects a bad class or byte order and a truncated header with a code', () => {
    const badClass = base.bytes.slice();
    badClass[4] = 7;
    expect(outcome(badClass)).toBe('MELANGE_ELF_MALFORMED');
    const badData = base.bytes.slice();
    badData[5] = 0;
    expect(outcome(badData)).toBe('MELANGE_ELF_MALFORMED');
    expect(outcome(base.bytes.subarray(0, 10))).toBe('MELANGE_ELF_MALFORMED');
    expect(outcome(base.bytes.subarray(0, 40))).toBe('MELANGE_ELF_MALFORMED');
  });

  it.each([
    ['e_phoff past the end', (b: Uint8Array) => is64Word(b, 32, 1n << 40n)],
    ['e_phoff above 2^53', (b: Uint8Array) => is64Word(b, 32, 1n << 60n)],
    ['e_phnum huge', (b: Uint8Array) => u16At(b, 56, 0xfffe)],
    ['e_phnum = PN_XNUM without sections', (b: Uint8Array) => is64Word(u16At(b, 56, 0xffff), 40, 0n)],
    ['e_phentsize too small', (b: Uint8Array) => u16At(b, 54, 8)],
    ['PT_INTERP offset bogus', (b: Uint8Array) => is64Word(b, 64 + 56 + 8, 1n << 33n)],
    ['PT_DYNAMIC size bogus', (b: Uint8Array) => is64Word(b, 64 + 2 * 56 + 32, 1n << 33n)],
    [
      'DT_NEEDED offset past the table',
      (b: Uint8Array) => is64Word(b, base.layout.dynamicOffset + 2 * 16 + 8, 0xffffffn),
    ],
  ])('%s → MELANGE_ELF_MALFORMED, never a raw exception', (_name, mutate) => {
    expect(outcome(mutate(base.bytes))).toBe('MELANGE_ELF_MALFORMED');
  });

  it('a DT_STRTAB outside every PT_LOAD falls back to the sections', () => {
    const copy = is64Word(base.bytes, base.layout.dynamicOffset + 8, 0x10n);
    expect(parseElf(copy)!.dynamicFrom).toBe('sections');
  });

  it('a string without its NUL inside the table is refused', () => {
    const copy = base.bytes.slice();
    // DT_STRSZ := 3 cuts "liba.so.1" short.
    new DataView(copy.buffer).setBigUint64(base.layout.dynamicOffset + 16 + 8, 3n, true);
    expect(outcome(copy)).toBe('MELANGE_ELF_MALFORMED');
  });

  it('a dynamic array without DT_NULL that fills the file ends at the segment', () => {
    const { bytes, layout } = buildElf({ needed: ['libz.so.1'] });
    const copy = bytes.slice();
    // Replace DT_NULL by another DT_NEEDED: the segment size still bounds the loop.
    new DataView(copy.buffer).setBigUint64(layout.dynamicOffset + 3 * 16, 1n, true);
    const info = parseElf(copy)!;
    expect(info.needed[0]).toBe('libz.so.1');
  });

  it('every truncation of a crafted file gives ok, not-elf or a coded error', () => {
    for (const spec of [
      { bits: 32 as const, needed: ['a.so.1'] },
      { sectionsOnly: true, soname: 'b.so.1' },
      {},
    ]) {
      const { bytes } = buildElf(spec);
      for (let n = 0; n <= bytes.length; n++)
        expect(['ok', 'not-elf', 'MELANGE_ELF_MALFORMED']).toContain(outcome(bytes.subarray(0, n)));
    }
  });

  it('random bytes behind an ELF magic never throw raw', () => {
    const random = seededRandom(7);
    for (let round = 0; round < 500; round++) {
      const bytes = new Uint8Array(64 + Math.floor(random() * 512));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
      bytes.set([0x7f, 0x45, 0x4c, 0x46, 1 + Math.floor(random() * 2), 1 + Math.floor(random() * 2)], 0);
      expect(['ok', 'MELANGE_ELF_MALFORMED']).toContain(outcome(bytes));
    }
  });
});
