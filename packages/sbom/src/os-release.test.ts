import { describe, expect, it } from 'vitest';
import { parseOsRelease } from './os-release.ts';

describe('parseOsRelease', () => {
  it("reads apko-testrepo's os-release", () => {
    expect(
      parseOsRelease(
        'ID=replaces\nNAME="Replaces"\nPRETTY_NAME="Replaces"\nVERSION_ID="1.0.0"\nHOME_URL="https://example.com/"\n',
      ),
    ).toEqual({ ID: 'replaces', NAME: 'Replaces', PRETTY_NAME: 'Replaces', VERSION_ID: '1.0.0' });
  });

  it('skips comments, blank and malformed lines; understands quotes and escapes', () => {
    expect(
      parseOsRelease('# c\r\n\r\nnot a line\nID=\'wolfi\'\nNAME="Wolfi \\"OS\\""\n=x\nVERSION_ID=20230201\n'),
    ).toEqual({
      ID: 'wolfi',
      NAME: 'Wolfi "OS"',
      VERSION_ID: '20230201',
    });
  });

  it('bounds what it reads', () => {
    const text = `${'#'.repeat(200_000)}\nID=late\n`;
    expect(parseOsRelease(text)).toEqual({});
  });
});
