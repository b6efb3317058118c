import { describe, expect, it } from 'vitest';
import { stringifyCanonical, sortedRecord } from './json.ts';

describe('stringifyCanonical', () => {
  it('writes compact JSON in insertion order without undefined members', () => {
    expect(stringifyCanonical({ b: 1, a: [true, null], c: undefined })).toBe('{"b":1,"a":[true,null]}');
  });

  it('escapes HTML characters like Go encoding/json', () => {
    expect(stringifyCanonical('a<b>&c\u2028')).toBe('"a\\u003cb\\u003e\\u0026c\\u2028"');
    expect(stringifyCanonical('a<b', { htmlEscape: false })).toBe('"a<b"');
  });

  it('indents like MarshalIndent and keeps empty containers on one line', () => {
    expect(stringifyCanonical({ a: [1, 2], b: {}, c: [] }, { indent: 2, finalNewline: true })).toBe(
      '{\n  "a": [\n    1,\n    2\n  ],\n  "b": {},\n  "c": []\n}\n',
    );
  });

  it('refuses floats and cycles', () => {
    expect(() => stringifyCanonical(1.5)).toThrow(/safe integers/);
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    expect(() => stringifyCanonical(cyclic as never)).toThrow(/cycle/);
  });

  it('sorts map keys by code point', () => {
    expect(Object.keys(sortedRecord({ b: 1, B: 2, a: 3 }))).toEqual(['B', 'a', 'b']);
  });
});
