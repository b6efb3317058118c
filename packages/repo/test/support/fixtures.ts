/**
 * Test data for the repository access tests: temporary copies of the real apko test repository
 * (test-fixtures/real/apko-testrepo, melange-built and signed with apko's public test key melange.rsa),
 * keyrings, index writers and hand-made packages that break one promise each.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApk, emptyPkgInfo, readApk } from '@tk/apk';
import { concatBytes, fromUtf8, utf8 } from '@tk/core';
import { gunzip, gzipSync, splitGzipMembers } from '@tk/gzip';
import { createKeyring, parsePrivateKey, parsePublicKey, type Keyring } from '@tk/keys';
import { indexEntryFromApk, writeIndexArchive, type IndexEntry, type IndexSigner } from '@tk/repo';
import { readTar, TarWriter } from '@tk/tar';

export const FIXTURES = join(import.meta.dirname, '../../../../test-fixtures/real');
export const TESTREPO = join(FIXTURES, 'apko-testrepo');
export const MELANGE_PUB = join(TESTREPO, 'melange.rsa.pub');

/** A fresh temporary folder; remove it with `rmSync(dir, { recursive: true })` (see {@link cleanup}). */
export function tempDir(prefix = 'tk-repo-access-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function cleanup(...dirs: string[]): void {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

/** Copy the real repository's `<arch>/` folders (index + packages) into `dir`. */
export function copyTestRepo(dir: string, archs: readonly string[] = ['x86_64', 'aarch64']): string {
  for (const arch of archs) {
    mkdirSync(join(dir, arch), { recursive: true });
    for (const name of readdirSync(join(TESTREPO, arch)))
      cpSync(join(TESTREPO, arch, name), join(dir, arch, name));
  }
  return dir;
}

/** A keyring trusting the real test key `melange.rsa.pub`. */
export function testKeyring(): Keyring {
  const keyring = createKeyring();
  keyring.add('melange.rsa.pub', parsePublicKey(readFileSync(MELANGE_PUB, 'utf8'), MELANGE_PUB));
  return keyring;
}

/** The real test signing key (apko's public test key pair), named as melange names it. */
export function testSigner(): IndexSigner {
  return {
    key: parsePrivateKey(readFileSync(join(TESTREPO, 'melange.rsa'), 'utf8')),
    keyName: 'melange.rsa.pub',
  };
}

export function readFixture(...parts: string[]): Uint8Array {
  return new Uint8Array(readFileSync(join(...parts)));
}

/** Write `<dir>/<arch>/APKINDEX.tar.gz` from records. */
export async function writeIndex(
  dir: string,
  arch: string,
  entries: readonly IndexEntry[],
  signer?: IndexSigner,
): Promise<Uint8Array> {
  const bytes = await writeIndexArchive({ entries }, signer === undefined ? {} : { signer });
  mkdirSync(join(dir, arch), { recursive: true });
  writeFileSync(join(dir, arch, 'APKINDEX.tar.gz'), bytes);
  return bytes;
}

/** Build a small unsigned package. */
export async function buildPackage(name: string, version: string, content: string): Promise<Uint8Array> {
  const result = await buildApk({
    pkginfo: { ...emptyPkgInfo(name, version), arch: 'x86_64', pkgdesc: 'test' },
    files: [{ path: `usr/share/${name}/data.txt`, type: 'file', mode: 0o644, data: utf8(content) }],
    sourceDateEpoch: 0,
  });
  return result.bytes;
}

/** Raw gzip members of a package: [control, ...data] for unsigned packages. */
function members(bytes: Uint8Array): { start: number; end: number }[] {
  return splitGzipMembers(bytes).map((m) => ({ start: m.start, end: m.end }));
}

/**
 * A package whose control section (and so its identity) is `a`'s but whose data section is `b`'s: its
 * `.PKGINFO` datahash no longer matches its data.
 */
export function spliceData(a: Uint8Array, b: Uint8Array): Uint8Array {
  const ma = members(a);
  const mb = members(b);
  return concatBytes([a.subarray(0, ma[0]!.end), b.subarray(mb[0]!.end)]);
}

/** The same package with the `datahash` line removed from `.PKGINFO` (an old-style package). */
export async function withoutDatahash(bytes: Uint8Array): Promise<Uint8Array> {
  const ms = members(bytes);
  const control = readTar(gunzip(bytes.subarray(ms[0]!.start, ms[0]!.end)));
  const tar = new TarWriter();
  for (const entry of control.entries) {
    const data =
      entry.name === '.PKGINFO'
        ? utf8(
            fromUtf8(entry.data)
              .split('\n')
              .filter((line) => !line.startsWith('datahash'))
              .join('\n'),
          )
        : entry.data;
    tar.add({ name: entry.name, type: 'file', mode: entry.mode, mtime: entry.mtime, data });
  }
  return concatBytes([
    gzipSync(concatBytes(tar.finish({ endOfArchive: false }))),
    bytes.subarray(ms[0]!.end),
  ]);
}

/** An index record for package bytes. */
export function entryFor(bytes: Uint8Array): IndexEntry {
  return indexEntryFromApk(readApk(bytes, { verifyFileChecksums: false }));
}

/** A `sleep` that returns at once and records what it was asked to wait. */
export function recordingSleep(): { sleep: (ms: number) => Promise<void>; delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    sleep: async (ms: number) => {
      delays.push(ms);
    },
  };
}
