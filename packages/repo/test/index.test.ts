import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readApk } from '@tk/apk';
import { concatBytes } from '@tk/core';
import { gzipSync } from '@tk/gzip';
import { createKeyring, generateKeyPair, parsePrivateKey, parsePublicKey, type Keyring } from '@tk/keys';
import {
  indexEntryFromApk,
  mergeIndexEntries,
  parseIndexText,
  readIndexArchive,
  serializeIndexText,
  signIndexArchive,
  verifyIndexArchive,
  writeIndexArchive,
} from '@tk/repo';
import { writeTar } from '@tk/tar';

const FIXTURES = join(import.meta.dirname, '../../../test-fixtures/real');
const read = (path: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, path)));

function keyring(...paths: string[]): Keyring {
  const k = createKeyring();
  for (const p of paths) k.add(p.split('/').pop()!, parsePublicKey(readFileSync(join(FIXTURES, p), 'utf8')));
  return k;
}

const testKey = () => parsePrivateKey(readFileSync(join(FIXTURES, 'apko-testrepo/melange.rsa'), 'utf8'));

describe('real indexes', () => {
  it('parses all 5004 entries of Alpine v3.17 main/aarch64 and verifies its RSA-SHA1 signature', () => {
    const bytes = read('alpine/v3.17-main-aarch64-APKINDEX.tar.gz');
    const index = readIndexArchive(bytes, { strict: true });
    expect(index.entries).toHaveLength(5004);
    expect(index.description).toBe('v3.17.3-216-g54a39ace82a');
    expect(index.entries.every((e) => e.checksum.startsWith('Q1') && e.name !== '' && e.version !== '')).toBe(
      true,
    );
    const busybox = index.entries.find((e) => e.name === 'busybox')!;
    expect(busybox).toMatchObject({ arch: 'aarch64', origin: 'busybox', license: 'GPL-2.0-only' });
    expect(busybox.provides.some((p) => p.startsWith('cmd:busybox='))).toBe(true);
    expect(
      verifyIndexArchive(bytes, index, keyring('keys/alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub')),
    ).toMatchObject({ status: 'OK' });
    expect(
      verifyIndexArchive(bytes, index, keyring('keys/alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub'))
        .status,
    ).toBe('UNTRUSTED');
  });

  it('re-serialises the Alpine index text byte for byte (apk-tools field order)', () => {
    const tar = gunzipSync(read('alpine/v3.17-main-aarch64-APKINDEX.tar.gz'));
    const start = tar.indexOf('C:Q1');
    const end = tar.indexOf(0, start);
    const text = tar.subarray(start, end).toString('utf8');
    expect(serializeIndexText(parseIndexText(text, { strict: true }))).toBe(text);
  });

  it('verifies the Wolfi subset with the Wolfi key', () => {
    const bytes = read('wolfi/x86_64-subset-APKINDEX.tar.gz');
    const index = readIndexArchive(bytes);
    expect(index.entries).toHaveLength(47);
    expect(verifyIndexArchive(bytes, index, keyring('keys/wolfi-signing.rsa.pub')).status).toBe('OK');
  });

  it('verifies the three-signature index with each of its keys alone', () => {
    const bytes = read('multisig/APKINDEX.tar.gz');
    const index = readIndexArchive(bytes);
    expect(index.entries).toHaveLength(16);
    expect(index.entries[0]!.name).toBe('7zip');
    expect(index.signatures).toHaveLength(3);
    for (const key of readdirSync(join(FIXTURES, 'multisig/keys'))) {
      expect(verifyIndexArchive(bytes, index, keyring(`multisig/keys/${key}`))).toMatchObject({
        status: 'OK',
        verifiedBy: [key],
      });
    }
  });

  it.each(['x86_64', 'aarch64'])('agrees with the packages of apko-testrepo/%s', (arch) => {
    const bytes = read(`apko-testrepo/${arch}/APKINDEX.tar.gz`);
    const index = readIndexArchive(bytes);
    expect(verifyIndexArchive(bytes, index, keyring('apko-testrepo/melange.rsa.pub')).status).toBe('OK');
    for (const entry of index.entries) {
      const fromPackage = indexEntryFromApk(
        readApk(read(`apko-testrepo/${arch}/${entry.name}-${entry.version}.apk`)),
      );
      expect({ ...fromPackage, buildTime: 0 }).toEqual(entry);
    }
  });

  it('says BAD for a same-named key with different content, UNTRUSTED without signatures', async () => {
    const bytes = read('apko-testrepo/x86_64/APKINDEX.tar.gz');
    const index = readIndexArchive(bytes);
    const impostor = createKeyring();
    impostor.add('melange.rsa.pub', (await generateKeyPair({ bits: 2048 })).publicKey);
    expect(verifyIndexArchive(bytes, index, impostor).status).toBe('BAD');
    const unsigned = bytes.subarray(index.signedStart);
    expect(
      verifyIndexArchive(unsigned, readIndexArchive(unsigned), keyring('apko-testrepo/melange.rsa.pub'))
        .status,
    ).toBe('UNTRUSTED');
  });
});

describe('writing indexes', () => {
  const entries = readIndexArchive(read('apko-testrepo/x86_64/APKINDEX.tar.gz')).entries;

  it('re-signing the real unsigned body with the test key reproduces the real index signature', async () => {
    const bytes = read('apko-testrepo/x86_64/APKINDEX.tar.gz');
    const original = readIndexArchive(bytes);
    const resigned = await signIndexArchive(bytes.subarray(original.signedStart), {
      key: testKey(),
      keyName: 'melange.rsa.pub',
    });
    const again = readIndexArchive(resigned);
    expect(
      Buffer.from(again.signatures[0]!.signature).equals(Buffer.from(original.signatures[0]!.signature)),
    ).toBe(true);
    await expect(
      signIndexArchive(bytes, { key: testKey(), keyName: 'melange.rsa.pub' }),
    ).rejects.toMatchObject({ code: 'REPO_ALREADY_SIGNED' });
    expect(
      readIndexArchive(
        await signIndexArchive(bytes, { key: testKey(), keyName: 'melange.rsa.pub' }, { force: true }),
      ).signatures,
    ).toHaveLength(1);
  });

  it('writes a signed index that openssl verifies, that reads back identically, and that is deterministic', async () => {
    const a = await writeIndexArchive(
      { entries, description: 'test' },
      { signer: { key: testKey(), keyName: 'melange.rsa.pub' } },
    );
    const b = await writeIndexArchive(
      { entries, description: 'test' },
      { signer: { key: testKey(), keyName: 'melange.rsa.pub' } },
    );
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    const back = readIndexArchive(a, { strict: true });
    expect(back.entries).toEqual(entries);
    expect(back.description).toBe('test');
    expect(verifyIndexArchive(a, back, keyring('apko-testrepo/melange.rsa.pub')).status).toBe('OK');
    const dir = mkdtempSync(join(tmpdir(), 'tk-index-'));
    writeFileSync(join(dir, 'body.gz'), a.subarray(back.signedStart));
    writeFileSync(join(dir, 'sig'), back.signatures[0]!.signature);
    const out = execFileSync(
      'openssl',
      [
        'dgst',
        '-sha256',
        '-verify',
        join(FIXTURES, 'apko-testrepo/melange.rsa.pub'),
        '-signature',
        join(dir, 'sig'),
        join(dir, 'body.gz'),
      ],
      { encoding: 'utf8' },
    );
    expect(out.trim()).toBe('Verified OK');
    // GNU tar reads the body like any tar.gz: APKINDEX then DESCRIPTION.
    const listing = execFileSync('tar', ['-tzf', join(dir, 'body.gz')], { encoding: 'utf8' });
    expect(listing).toBe('APKINDEX\nDESCRIPTION\n');
  });

  it('signs with RSA-SHA1 for old apk-tools', async () => {
    const a = await writeIndexArchive(
      { entries },
      { signer: { key: testKey(), keyName: 'melange.rsa.pub', algorithm: 'sha1' } },
    );
    const back = readIndexArchive(a);
    expect(back.signatures[0]!.entryName).toBe('.SIGN.RSA.melange.rsa.pub');
    expect(verifyIndexArchive(a, back, keyring('apko-testrepo/melange.rsa.pub')).status).toBe('OK');
  });

  it('merges by name and version', () => {
    const replaced = { ...entries[0]!, description: 'new' };
    const merged = mergeIndexEntries(entries, [replaced]);
    expect(merged).toHaveLength(entries.length);
    expect(merged.find((e) => e.name === replaced.name)!.description).toBe('new');
  });
});

describe('index text edge cases and hostile input', () => {
  const record = 'C:Q11/HhSewwwOXgl0r0ffb0O0BRtYc=\nP:a\nV:1.0-r0\n';

  it('reads a last record without its final blank line', () => {
    expect(parseIndexText(`${record}\n${record.replace('P:a', 'P:b')}`).map((e) => e.name)).toEqual([
      'a',
      'b',
    ]);
  });

  it('keeps unknown letters and flags unknown uppercase ones as apk-tools does', () => {
    const warnings: string[] = [];
    const [entry] = parseIndexText(`${record}z:lower\nZ:upper\n\n`, { warn: (_m, c) => warnings.push(c) });
    expect(entry!.other).toEqual([
      ['z', 'lower'],
      ['Z', 'upper'],
    ]);
    expect(entry!.uninstallable).toBe(true);
    expect(warnings).toEqual(['REPO_INDEX_UNKNOWN_FIELD']);
    expect(serializeIndexText([entry!])).toContain('z:lower\nZ:upper\n');
  });

  it('adds up repeated D:, p: and i: lines as apk-tools does; other repeated fields keep the last value', () => {
    const warnings: string[] = [];
    const [entry] = parseIndexText(
      `${record}p:virt\nD:x y\np:so:libq.so.1=1\nD:\nD:z>1\ni:x\ni:y\nT:first\nT:second\nT:third\n\n`,
      { warn: (_m, c) => warnings.push(c) },
    );
    expect(entry!.provides).toEqual(['virt', 'so:libq.so.1=1']);
    expect(entry!.depends).toEqual(['x', 'y', 'z>1']);
    expect(entry!.installIf).toEqual(['x', 'y']);
    expect(entry!.description).toBe('third');
    expect(warnings).toEqual(['REPO_INDEX_REPEATED_FIELD']);
    // Written back as one line per list, which apk-tools reads the same way.
    expect(parseIndexText(serializeIndexText([entry!]))).toEqual([entry]);
    // Many repeated lines stay linear and bounded by the text.
    const many = parseIndexText(`${record}${'p:v\n'.repeat(20_000)}\n`);
    expect(many[0]!.provides).toHaveLength(20_000);
  });

  it.each([
    ['a record without P', 'C:Q11/HhSewwwOXgl0r0ffb0O0BRtYc=\nV:1\n\n'],
    ['a record without C', 'P:a\nV:1\n\n'],
    ['a non-numeric size', `${record}S:big\n\n`],
    ['a negative size', `${record}S:-1\n\n`],
  ])('refuses %s', (_name, text) => {
    expect(() => parseIndexText(text)).toThrow(expect.objectContaining({ code: 'REPO_BAD_INDEX' }));
  });

  it('warns about malformed lines (and refuses them in strict mode)', () => {
    const warnings: string[] = [];
    expect(parseIndexText(`${record}garbage\n\n`, { warn: (_m, c) => warnings.push(c) })).toHaveLength(1);
    expect(warnings).toEqual(['REPO_INDEX_BAD_LINE']);
    expect(() => parseIndexText(`${record}garbage\n\n`, { strict: true })).toThrow(
      expect.objectContaining({ code: 'REPO_BAD_INDEX' }),
    );
  });

  const tarGz = (entries: Parameters<typeof writeTar>[0], endOfArchive = true) =>
    gzipSync(writeTar(entries, { endOfArchive }));
  it.each([
    ['not gzip', new TextEncoder().encode('nope'), 'REPO_BAD_INDEX_ARCHIVE'],
    [
      'no APKINDEX entry',
      tarGz([{ name: 'DESCRIPTION', type: 'file', data: new Uint8Array(0) }]),
      'REPO_BAD_INDEX_ARCHIVE',
    ],
    [
      'signatures only',
      tarGz([{ name: '.SIGN.RSA.k.rsa.pub', type: 'file', data: new Uint8Array(4) }], false),
      'REPO_BAD_INDEX_ARCHIVE',
    ],
    [
      'a signature member with an end-of-archive marker',
      concatBytes([
        tarGz([{ name: '.SIGN.RSA.k.rsa.pub', type: 'file', data: new Uint8Array(4) }]),
        tarGz([{ name: 'APKINDEX', type: 'file', data: new Uint8Array(0) }]),
      ]),
      'REPO_BAD_INDEX_ARCHIVE',
    ],
    [
      'a truncated archive',
      read('wolfi/x86_64-subset-APKINDEX.tar.gz').subarray(0, 3000),
      'REPO_BAD_INDEX_ARCHIVE',
    ],
  ])('refuses %s', (_name, bytes, code) => {
    expect(() => readIndexArchive(bytes)).toThrow(expect.objectContaining({ code }));
  });

  it('refuses an index that decompresses past the limit', () => {
    const big = tarGz([{ name: 'APKINDEX', type: 'file', data: new Uint8Array(5 << 20) }]);
    expect(() => readIndexArchive(big, { maxBytes: 1 << 20 })).toThrow(
      expect.objectContaining({ code: 'REPO_TOO_LARGE' }),
    );
  });
});
