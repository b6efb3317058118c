/**
 * Paths into the shared real-artifact corpus (test-fixtures/real, see its README for origins) and helpers
 * for tests. Read-only: tests that write use their own temporary directory.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyError } from '../src/errors.ts';

/** test-fixtures/real */
export const REAL = join(import.meta.dirname, '..', '..', '..', 'test-fixtures', 'real');
/** apko's test repository: melange.rsa (private TEST key), melange.rsa.pub, signed packages and indexes. */
export const TESTREPO = join(REAL, 'apko-testrepo');
/** The 18 Alpine keys and wolfi-signing.rsa.pub. */
export const KEYS_DIR = join(REAL, 'keys');
/** Three Chainguard keys that co-sign multisig/APKINDEX.tar.gz. */
export const MULTISIG_KEYS_DIR = join(REAL, 'multisig', 'keys');

/**
 * Gzip member boundaries of real files, [start, end) byte ranges, established with Python's zlib
 * decompressobj(31) (`unused_data` after each member) and cross-checked with the README's openssl checks.
 */
export const MEMBERS = {
  'apko-testrepo/x86_64/replayout-1.0.0-r0.apk': [
    [0, 647],
    [647, 1661],
    [1661, 2961],
  ],
  'apko-testrepo/x86_64/APKINDEX.tar.gz': [
    [0, 650],
    [650, 1138],
  ],
  'alpine/alpine-baselayout-3.2.0-r23.apk': [
    [0, 666],
    [666, 2229],
    [2229, 11012],
  ],
  'alpine/v3.17-main-aarch64-APKINDEX.tar.gz': [
    [0, 666],
    [666, 661049],
  ],
  'wolfi/libcap-2.69-r0.apk': [
    [0, 649],
    [649, 990],
    [990, 29589],
  ],
  'wolfi/x86_64-subset-APKINDEX.tar.gz': [
    [0, 646],
    [646, 5736],
  ],
  'multisig/APKINDEX.tar.gz': [
    [0, 1925],
    [1925, 3969],
  ],
  'negative/hello-wolfi-2.12.1-r0.apk': [
    [0, 654],
    [654, 1013],
    [1013, 72791],
  ],
} as const satisfies Record<string, readonly (readonly [number, number])[]>;

/** Read a file of test-fixtures/real as bytes. */
export async function readReal(relative: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(join(REAL, relative)));
}

/** A temporary directory and its cleanup. */
export async function makeTempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tk-keys-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Run a function and return the `code` of the KeyError it throws, or undefined when it returns.
 * Anything else that is thrown is rethrown.
 */
export function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof KeyError) return error.code;
    throw error;
  }
  return undefined;
}
