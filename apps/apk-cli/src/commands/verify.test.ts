/**
 * verifyFiles / verifyFileBytes: apk-tools' line, tk's reason and status. Expected lines were printed by
 * apk-tools 2.14.10 for the same inputs.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSignatureMember } from '@tk/apk';
import { concatBytes, sha256Hex } from '@tk/core';
import { gzipSync } from '@tk/gzip';
import { createKeyring, parsePrivateKey, parsePublicKey, type Keyring } from '@tk/keys';
import { writeTar } from '@tk/tar';
import { formatVerdict, verifyFileBytes, verifyFiles } from './verify.ts';

const FIXTURES = join(import.meta.dirname, '../../../../test-fixtures/real');
const fixture = (path: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, path)));
const MULTISIG_KEY = (n: string): string => `multisig/keys/chainguard-${n}.rsa.pub`;
const K1 = '0106f58bac88057c2ff5c2829850df492717a876ed700443550353c7ab23f5a0';
const K2 = '60912bbc46bfc8ed6bda0b50db3a8a5f3c4344d6bc8549ec9b84d96140b475d1';

function keyring(entries: [name: string, file: string][]): Keyring {
  const k = createKeyring();
  for (const [name, file] of entries)
    k.add(name, parsePublicKey(readFileSync(join(FIXTURES, file), 'utf8'), file));
  return k;
}
const melange = keyring([['melange.rsa.pub', 'apko-testrepo/melange.rsa.pub']]);
const dir = mkdtempSync(join(tmpdir(), 'tk-apk-verify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('verifyFiles', () => {
  it("prints apk-tools' errno lines for files it cannot read", async () => {
    const [missing, directory] = await verifyFiles([join(dir, 'nope.apk'), dir], melange);
    expect(formatVerdict({ ...missing!, file: 'F' })).toBe('F: -2 - No such file or directory');
    expect(missing).toMatchObject({ status: 'BAD', code: 'ENOENT' });
    expect(formatVerdict({ ...directory!, file: 'F' })).toBe('F: -21 - Is a directory');
  });

  it('reads the files it is given, in order', async () => {
    writeFileSync(join(dir, 'garbage.apk'), 'not an apk\n');
    writeFileSync(join(dir, 'empty.apk'), '');
    const verdicts = await verifyFiles(
      [
        join(dir, 'garbage.apk'),
        join(dir, 'empty.apk'),
        join(FIXTURES, 'apko-testrepo/x86_64/replayout-1.0.0-r0.apk'),
      ],
      melange,
    );
    expect(verdicts.map((v) => `${v.result} - ${v.text} ${v.status}`)).toEqual([
      '-5 - IO ERROR BAD',
      '0 - UNTRUSTED UNTRUSTED',
      '0 - OK OK',
    ]);
    expect(verdicts[0]).toMatchObject({
      code: 'APK_BAD_FORMAT',
      reason: expect.stringMatching(/zlib: incorrect header check/) as unknown,
    });
  });
});

describe('verifyFileBytes', () => {
  it('explains a damaged file with what apk-tools tripped on, and adds tk’s own reading', () => {
    const cut = fixture('apko-testrepo/x86_64/replayout-1.0.0-r0.apk').subarray(0, 700);
    const v = verifyFileBytes('cut.apk', cut, melange);
    expect(v).toMatchObject({ result: 0, text: 'UNTRUSTED', status: 'UNTRUSTED', kind: 'package' });
    expect(v.reason).toMatch(/ends before apk-tools checked any signature .*\(tk: .*truncated/);
  });

  it('follows apk-tools for indexes too: the first trusted signature decides', () => {
    // The first signature's key name maps to another key: apk-tools says BAD, although the second
    // signature verifies (apko's rule, which tk's index reader follows, would accept it).
    const keys = keyring([
      [`chainguard-${K1}.rsa.pub`, 'apko-testrepo/melange.rsa.pub'],
      [`chainguard-${K2}.rsa.pub`, MULTISIG_KEY(K2)],
    ]);
    const v = verifyFileBytes('APKINDEX.tar.gz', fixture('multisig/APKINDEX.tar.gz'), keys);
    expect(v).toMatchObject({
      kind: 'index',
      result: -129,
      text: 'BAD signature',
      status: 'BAD',
      code: 'APK_BAD_SIGNATURE',
    });
    expect(v.reason).toMatch(/\(tk: signed by "chainguard-60912bbc/);
    const good = verifyFileBytes(
      'APKINDEX.tar.gz',
      fixture('multisig/APKINDEX.tar.gz'),
      keyring([[`chainguard-${K2}.rsa.pub`, MULTISIG_KEY(K2)]]),
    );
    expect(good).toMatchObject({ kind: 'index', result: 0, text: 'OK', status: 'OK' });
  });

  it('keeps apk-tools’ OK line but fails a package tk refuses (a file that does not match its checksum)', async () => {
    const data = gzipSync(
      writeTar([
        {
          name: 'a',
          type: 'file',
          data: new TextEncoder().encode('x'),
          pax: { 'APK-TOOLS.checksum.SHA1': '0'.repeat(40) },
        },
      ]),
    );
    const control = gzipSync(
      writeTar(
        [
          {
            name: '.PKGINFO',
            type: 'file',
            data: new TextEncoder().encode(`pkgname = t\npkgver = 1-r0\ndatahash = ${sha256Hex(data)}\n`),
          },
        ],
        { endOfArchive: false },
      ),
    );
    const key = parsePrivateKey(readFileSync(join(FIXTURES, 'apko-testrepo/melange.rsa'), 'utf8'));
    const signature = await buildSignatureMember(control, { key, keyName: 'melange.rsa.pub' }, 0);
    const v = verifyFileBytes('t.apk', concatBytes([signature, control, data]), melange);
    expect(formatVerdict(v)).toBe('t.apk: 0 - OK');
    expect(v).toMatchObject({ status: 'BAD', code: 'APK_FILE_CHECKSUM_MISMATCH' });
    expect(v.reason).toMatch(/^apk-tools accepts it, but tk does not: /);
  });
});
