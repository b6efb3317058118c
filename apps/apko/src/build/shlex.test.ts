import { describe, expect, it } from 'vitest';
import { shellSplit } from './shlex.ts';

describe('shellSplit (google/shlex semantics)', () => {
  it.each([
    ['/bin/sh -l', ['/bin/sh', '-l']],
    ['  nginx   -g "daemon off;" ', ['nginx', '-g', 'daemon off;']],
    [`/bin/sh -c 'echo "hi there"'`, ['/bin/sh', '-c', 'echo "hi there"']],
    ['a\\ b c', ['a b', 'c']],
    ['"a\\"b"', ['a"b']],
    ['echo a#b # comment', ['echo', 'a#b']],
    ['', []],
  ])('%j', (line, words) => {
    expect(shellSplit(line)).toEqual(words);
  });
  it.each(['"open', "'open", 'trailing\\'])('refuses %j', (line) => {
    expect(() => shellSplit(line)).toThrow(expect.objectContaining({ code: 'APKO_BAD_COMMAND' }));
  });
});
