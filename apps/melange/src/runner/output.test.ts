import { describe, expect, it } from 'vitest';
import { createLineSplitter } from './output.ts';

function collect(max?: number) {
  const out: string[] = [];
  const splitter = createLineSplitter((t) => out.push(t), max);
  return { out, splitter };
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('createLineSplitter', () => {
  it('passes on complete lines with their newline and the rest at the end', () => {
    const { out, splitter } = collect();
    splitter.push(bytes('one\ntw'));
    expect(out).toEqual(['one\n']);
    splitter.push(bytes('o\nthree\n\nfour'));
    expect(out).toEqual(['one\n', 'two\n', 'three\n', '\n']);
    splitter.end();
    expect(out).toEqual(['one\n', 'two\n', 'three\n', '\n', 'four']);
  });

  it('decodes UTF-8 characters split across chunks', () => {
    const { out, splitter } = collect();
    const text = bytes('grüße → 日本\n');
    for (const b of text) splitter.push(new Uint8Array([b]));
    splitter.end();
    expect(out).toEqual(['grüße → 日本\n']);
  });

  it('replaces invalid UTF-8 instead of failing', () => {
    const { out, splitter } = collect();
    splitter.push(new Uint8Array([0xff, 0xfe, 0x41, 0x0a, 0xc3]));
    splitter.end();
    expect(out).toEqual(['\ufffd\ufffdA\n', '\ufffd']);
  });

  it('cuts a line without newline into bounded pieces', () => {
    const { out, splitter } = collect(8);
    splitter.push(bytes('x'.repeat(20)));
    expect(out).toEqual(['x'.repeat(8), 'x'.repeat(8)]);
    splitter.push(bytes('y\n'));
    splitter.end();
    expect(out).toEqual(['x'.repeat(8), 'x'.repeat(8), 'xxxxy\n']);
  });

  it('says nothing for no output', () => {
    const { out, splitter } = collect();
    splitter.end();
    expect(out).toEqual([]);
  });
});
