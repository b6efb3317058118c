import { describe, expect, it } from 'vitest';
import { MAX_ACCOUNT_LINES, parseAccountTable } from './accounts.ts';

describe('parseAccountTable', () => {
  it('maps ids to names from /etc/passwd and /etc/group lines', () => {
    const passwd =
      'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\nbuild:x:1000:1000::/home/build:/bin/sh\n';
    expect(parseAccountTable(passwd)).toEqual(
      new Map([
        [0, 'root'],
        [65534, 'nobody'],
        [1000, 'build'],
      ]),
    );
    expect(parseAccountTable('root:x:0:\nbuild:x:1000:build\n')).toEqual(
      new Map([
        [0, 'root'],
        [1000, 'build'],
      ]),
    );
  });

  it('keeps the first name of an id, as getpwuid does', () => {
    expect(parseAccountTable('toor:x:0:0::/:/bin/sh\nroot:x:0:0::/root:/bin/sh\n').get(0)).toBe('toor');
  });

  it('accepts CRLF line ends and a machine account name ending in $', () => {
    expect(parseAccountTable('root:x:0:0::/root:/bin/sh\r\nhost$:x:5:5::/:/bin/false\r\n')).toEqual(
      new Map([
        [0, 'root'],
        [5, 'host$'],
      ]),
    );
  });

  it.each([
    ['an empty text', ''],
    ['a comment', '# root:x:0:0::/root:/bin/sh'],
    ['NIS compat lines', '+::::::\n-bad:x:1:1::/:/bin/sh\n+@netgroup'],
    ['a negative id', 'evil:x:-1:0::/:/bin/sh'],
    ['a non-decimal id', 'evil:x:0x10:0::/:/bin/sh'],
    ['a leading-zero id', 'evil:x:010:0::/:/bin/sh'],
    ['an id past 32 bits', 'evil:x:99999999999:0::/:/bin/sh'],
    ['an id with spaces', 'evil:x: 7:0::/:/bin/sh'],
    ['too few fields', 'evil:x:7'],
    ['an empty name', ':x:7:7::/:/bin/sh'],
    ['a name with a slash', 'a/b:x:7:7::/:/bin/sh'],
    ['a name with a newline escape', 'a\\nb:x:7:7::/:/bin/sh'],
    ['binary noise', '\u0000\u0001\u0002:x:7:7'],
  ])('skips %s', (_what, text) => {
    expect(parseAccountTable(text)).toEqual(new Map());
  });

  it('reads a bounded number of lines', () => {
    const lines = Array.from({ length: MAX_ACCOUNT_LINES + 10 }, (_, i) => `u${i}:x:${i}:${i}::/:/bin/sh`);
    const map = parseAccountTable(lines.join('\n'));
    expect(map.size).toBe(MAX_ACCOUNT_LINES);
    expect(map.has(MAX_ACCOUNT_LINES + 5)).toBe(false);
  });
});
