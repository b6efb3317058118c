import { describe, expect, it } from 'vitest';
import { checkEmulation, parseBinfmtEntry, qemuArchName, runsNatively, toHostApkArch } from './binfmt.ts';

const ENTRY_F = [
  'enabled',
  'interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P',
  'flags: POF',
  'offset 0',
  'magic 7f454c460201010000000000000000000200b700',
  'mask ffffffffffffff00fffffffffffffffffeffffff',
  '',
].join('\n');

function files(map: Record<string, string>) {
  return async (path: string): Promise<string> => {
    const text = map[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return text;
  };
}

describe('arch names', () => {
  it('maps Node and apk arch names', () => {
    expect(toHostApkArch('x64')).toBe('x86_64');
    expect(toHostApkArch('arm64')).toBe('aarch64');
    expect(toHostApkArch('aarch64')).toBe('aarch64');
    expect(toHostApkArch('mips')).toBeUndefined();
    expect(toHostApkArch('__proto__')).toBeUndefined();
    expect(qemuArchName('armv7')).toBe('arm');
    expect(qemuArchName('x86')).toBe('i386');
    expect(qemuArchName('constructor')).toBeUndefined();
    expect(runsNatively('x86', 'x86_64')).toBe(true);
    expect(runsNatively('aarch64', 'x86_64')).toBe(false);
    expect(runsNatively('armv7', 'aarch64')).toBe(true);
  });
});

describe('parseBinfmtEntry', () => {
  it('reads enabled, interpreter and flags', () => {
    expect(parseBinfmtEntry(ENTRY_F)).toEqual({
      enabled: true,
      interpreter: '/usr/libexec/qemu-binfmt/aarch64-binfmt-P',
      flags: 'POF',
    });
    expect(parseBinfmtEntry('disabled\ninterpreter /x\nflags: \n')).toEqual({
      enabled: false,
      interpreter: '/x',
      flags: '',
    });
  });

  it.each([
    ['an empty file', ''],
    ['noise', '\u0000\u0001garbage\nflags'],
    ['a flags line with other characters', 'enabled\nflags: F; rm -rf /\n'],
    ['"enabled" not on the first line', 'status\nenabled\nflags: F\n'],
  ])('reads %s as not usable', (_what, text) => {
    const entry = parseBinfmtEntry(text);
    expect(entry.enabled && entry.flags.includes('F')).toBe(false);
  });

  it('reads only the first 4 KiB', () => {
    expect(parseBinfmtEntry(`enabled\n${'x'.repeat(5000)}\nflags: F\n`).flags).toBe('');
  });
});

describe('checkEmulation', () => {
  const dir = '/binfmt';
  it('needs nothing for the host arch or its compat arch', async () => {
    await expect(
      checkEmulation({ guestArch: 'x86_64', hostArch: 'x64', binfmtDir: dir, readFile: files({}) }),
    ).resolves.toBe('native');
    await expect(
      checkEmulation({ guestArch: 'x86', hostArch: 'x86_64', binfmtDir: dir, readFile: files({}) }),
    ).resolves.toBe('native');
  });

  it('accepts an enabled qemu entry with the F flag', async () => {
    const readFile = files({ '/binfmt/status': 'enabled\n', '/binfmt/qemu-aarch64': ENTRY_F });
    await expect(
      checkEmulation({ guestArch: 'aarch64', hostArch: 'x86_64', binfmtDir: dir, readFile }),
    ).resolves.toBe('emulated');
  });

  it.each([
    ['binfmt_misc is not mounted', {}, /not mounted/, /mount -t binfmt_misc/],
    ['binfmt_misc is disabled', { '/binfmt/status': 'disabled\n' }, /disabled/, /echo 1/],
    ['no qemu entry', { '/binfmt/status': 'enabled\n' }, /no qemu-aarch64 emulator/, /qemu-user-static/],
    [
      'a disabled entry',
      { '/binfmt/status': 'enabled\n', '/binfmt/qemu-aarch64': ENTRY_F.replace('enabled', 'disabled') },
      /is disabled/,
      /echo 1 >/,
    ],
    [
      'an entry without F',
      { '/binfmt/status': 'enabled\n', '/binfmt/qemu-aarch64': ENTRY_F.replace('POF', 'PO') },
      /without the F flag/,
      /F flag/,
    ],
  ])('fails with a hint when %s', async (_what, map, message, hint) => {
    const attempt = checkEmulation({
      guestArch: 'aarch64',
      hostArch: 'x64',
      binfmtDir: dir,
      readFile: files(map),
    });
    await expect(attempt).rejects.toMatchObject({
      code: 'MELANGE_RUNNER_NO_EMULATION',
      message: expect.stringMatching(message) as unknown,
      hint: expect.stringMatching(hint) as unknown,
    });
  });

  it('fails for an arch qemu-user cannot emulate', async () => {
    await expect(
      checkEmulation({ guestArch: 'mips64', hostArch: 'x86_64', readFile: files({}) }),
    ).rejects.toMatchObject({
      code: 'MELANGE_RUNNER_NO_EMULATION',
    });
  });
});
