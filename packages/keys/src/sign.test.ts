import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  codeOf,
  KEYS_DIR,
  makeTempDir,
  MEMBERS,
  MULTISIG_KEYS_DIR,
  readReal,
  TESTREPO,
} from '../test/fixtures.ts';
import { KeyError } from './errors.ts';
import { generateKeyPair } from './generate.ts';
import { parsePrivateKey, parsePublicKey, type PrivateKey, type PublicKey } from './key.ts';
import { parseSignatureEntryName } from './names.ts';
import { signBytes, signDigest, verifyBytes, verifyDigest, type SignatureAlgorithm } from './sign.ts';

/** USTAR: the name field is the first 100 bytes of a 512-byte header; the entry's data follows the header. */
const TAR_BLOCK = 512;
const TAR_NAME_SIZE = 100;
const TAR_SIZE_OFFSET = 124;
const TAR_SIZE_SIZE = 12;

interface SignatureEntry {
  name: string;
  signature: Uint8Array;
}

/** The .SIGN.* entries of a signature member (a gzip'd tar without an end-of-archive marker). */
function signatureEntries(member: Uint8Array): SignatureEntry[] {
  const tar = new Uint8Array(gunzipSync(member));
  const entries: SignatureEntry[] = [];
  let offset = 0;
  while (offset + TAR_BLOCK <= tar.byteLength && tar[offset] !== 0) {
    const header = tar.subarray(offset, offset + TAR_BLOCK);
    const name = new TextDecoder().decode(header.subarray(0, TAR_NAME_SIZE)).replace(/\0.*$/s, '');
    const sizeField = new TextDecoder().decode(
      header.subarray(TAR_SIZE_OFFSET, TAR_SIZE_OFFSET + TAR_SIZE_SIZE),
    );
    const size = Number.parseInt(sizeField.replace(/[\0 ]/g, ''), 8);
    entries.push({ name, signature: tar.slice(offset + TAR_BLOCK, offset + TAR_BLOCK + size) });
    offset += TAR_BLOCK + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
  }
  return entries;
}

/** Split a real file into its gzip members using the recorded boundaries. */
async function members(relative: keyof typeof MEMBERS): Promise<Uint8Array[]> {
  const bytes = await readReal(relative);
  return MEMBERS[relative].map(([start, end]) => bytes.subarray(start, end));
}

let melangePrivate: PrivateKey;
let melangePublic: PublicKey;
let temp: Awaited<ReturnType<typeof makeTempDir>>;

beforeAll(async () => {
  melangePrivate = parsePrivateKey(await readFile(join(TESTREPO, 'melange.rsa')), 'melange.rsa');
  melangePublic = parsePublicKey(await readFile(join(TESTREPO, 'melange.rsa.pub')), 'melange.rsa.pub');
  temp = await makeTempDir();
});

afterAll(async () => {
  await temp.cleanup();
});

describe('signing reproduces real melange signatures', () => {
  it('re-signing the control member of replayout-1.0.0-r0.apk gives its .SIGN.RSA256 bytes exactly', async () => {
    const apk = await readReal('apko-testrepo/x86_64/replayout-1.0.0-r0.apk');
    const signatureMember = apk.subarray(0, 647);
    const control = apk.subarray(647, 1661);
    const tar = new Uint8Array(gunzipSync(signatureMember));
    expect(new TextDecoder().decode(tar.subarray(0, 28))).toBe('.SIGN.RSA256.melange.rsa.pub');
    const realSignature = tar.slice(512, 1024);

    const signature = signBytes(melangePrivate, control, 'sha256');
    expect(signature).toBeInstanceOf(Uint8Array);
    expect(signature.byteLength).toBe(512);
    expect(Buffer.from(signature).equals(Buffer.from(realSignature))).toBe(true);
    expect(verifyBytes(melangePublic, control, realSignature, 'sha256')).toBe(true);
  });

  it('re-signing the APKINDEX of the test repo gives its signature exactly', async () => {
    const [signatureMember, index] = await members('apko-testrepo/x86_64/APKINDEX.tar.gz');
    const [entry] = signatureEntries(signatureMember!);
    expect(parseSignatureEntryName(entry!.name)).toEqual({
      scheme: 'RSA256',
      algorithm: 'sha256',
      keyName: 'melange.rsa.pub',
    });
    expect(
      Buffer.from(signBytes(melangePrivate, index!, 'sha256')).equals(Buffer.from(entry!.signature)),
    ).toBe(true);
  });

  it('signDigest over an incrementally computed digest gives the same bytes', async () => {
    const [, control] = await members('apko-testrepo/x86_64/replayout-1.0.0-r0.apk');
    const hash = createHash('sha256');
    for (let offset = 0; offset < control!.byteLength; offset += 100)
      hash.update(control!.subarray(offset, offset + 100));
    const digest = new Uint8Array(hash.digest());
    const signature = signDigest(melangePrivate, digest, 'sha256');
    expect(Buffer.from(signature).equals(Buffer.from(signBytes(melangePrivate, control!, 'sha256')))).toBe(
      true,
    );
    expect(verifyDigest(melangePublic, digest, signature, 'sha256')).toBe(true);
  });
});

describe('verifying real signatures', () => {
  it.each([
    ['alpine/alpine-baselayout-3.2.0-r23.apk', 1, KEYS_DIR],
    ['alpine/v3.17-main-aarch64-APKINDEX.tar.gz', 1, KEYS_DIR],
    ['wolfi/libcap-2.69-r0.apk', 1, KEYS_DIR],
    ['wolfi/x86_64-subset-APKINDEX.tar.gz', 1, KEYS_DIR],
    ['apko-testrepo/x86_64/replayout-1.0.0-r0.apk', 1, TESTREPO],
    ['multisig/APKINDEX.tar.gz', 3, MULTISIG_KEYS_DIR],
  ] as const)(
    '%s: every signature verifies with its named key, over bytes and over a digest',
    async (file, count, keysDir) => {
      const [signatureMember, signed] = await members(file);
      const entries = signatureEntries(signatureMember!);
      expect(entries).toHaveLength(count);
      for (const entry of entries) {
        const parsed = parseSignatureEntryName(entry.name);
        if (parsed === null || parsed.algorithm === 'unsupported')
          throw new Error(`unexpected entry ${entry.name}`);
        const key = parsePublicKey(await readFile(join(keysDir, parsed.keyName)), parsed.keyName);
        const algorithm: SignatureAlgorithm = parsed.algorithm;
        expect(verifyBytes(key, signed!, entry.signature, algorithm)).toBe(true);
        const digest = new Uint8Array(createHash(algorithm).update(signed!).digest());
        expect(verifyDigest(key, digest, entry.signature, algorithm)).toBe(true);
        // The same signature does not verify under another digest or over other bytes.
        const other: SignatureAlgorithm = algorithm === 'sha1' ? 'sha256' : 'sha1';
        expect(verifyBytes(key, signed!, entry.signature, other)).toBe(false);
        expect(verifyBytes(key, signatureMember!, entry.signature, algorithm)).toBe(false);
      }
    },
  );

  it('a real signature does not verify with a different key of the same name', async () => {
    // negative/hello-wolfi-2.12.1-r0.apk is signed as melange.rsa.pub by a key we do not have.
    const [signatureMember, control] = await members('negative/hello-wolfi-2.12.1-r0.apk');
    const [entry] = signatureEntries(signatureMember!);
    const parsed = parseSignatureEntryName(entry!.name);
    expect(parsed?.keyName).toBe('melange.rsa.pub');
    expect(
      verifyBytes(melangePublic, control!, entry!.signature, parsed!.algorithm as SignatureAlgorithm),
    ).toBe(false);
  });
});

describe('interoperability with the openssl CLI', () => {
  it.each(['sha1', 'sha256', 'sha512'] as const)(
    'openssl dgst -%s -verify accepts our signature, and its signature equals ours',
    async (algorithm) => {
      const data = new TextEncoder().encode(`data signed with ${algorithm}\n`);
      const signature = signBytes(melangePrivate, data, algorithm);
      const dataPath = join(temp.dir, `data-${algorithm}`);
      const signaturePath = join(temp.dir, `sig-${algorithm}`);
      await writeFile(dataPath, data);
      await writeFile(signaturePath, signature);
      const output = execFileSync('openssl', [
        'dgst',
        `-${algorithm}`,
        '-verify',
        join(TESTREPO, 'melange.rsa.pub'),
        '-signature',
        signaturePath,
        dataPath,
      ]).toString();
      expect(output.trim()).toBe('Verified OK');
      const opensslSignature = execFileSync('openssl', [
        'dgst',
        `-${algorithm}`,
        '-sign',
        join(TESTREPO, 'melange.rsa'),
        dataPath,
      ]);
      expect(Buffer.from(signature).equals(opensslSignature)).toBe(true);
    },
  );

  it('openssl verifies a signature made with a freshly generated key', async () => {
    const pair = await generateKeyPair({ bits: 2048 });
    const data = new TextEncoder().encode('fresh');
    await writeFile(join(temp.dir, 'fresh.pub'), pair.publicKey.pem);
    await writeFile(join(temp.dir, 'fresh.data'), data);
    await writeFile(join(temp.dir, 'fresh.sig'), signBytes(pair.privateKey, data, 'sha256'));
    const output = execFileSync('openssl', [
      'dgst',
      '-sha256',
      '-verify',
      join(temp.dir, 'fresh.pub'),
      '-signature',
      join(temp.dir, 'fresh.sig'),
      join(temp.dir, 'fresh.data'),
    ]).toString();
    expect(output.trim()).toBe('Verified OK');
  });
});

describe('bad signatures and bad arguments', () => {
  const data = new TextEncoder().encode('payload');

  it('returns false, not throw, for a flipped bit, wrong data, a short, long, empty or all-ones signature', () => {
    const signature = signBytes(melangePrivate, data, 'sha256');
    const flipped = signature.slice();
    flipped[100]! ^= 1;
    expect(verifyBytes(melangePublic, data, flipped, 'sha256')).toBe(false);
    expect(verifyBytes(melangePublic, new TextEncoder().encode('payloae'), signature, 'sha256')).toBe(false);
    expect(verifyBytes(melangePublic, data, signature.subarray(1), 'sha256')).toBe(false);
    expect(verifyBytes(melangePublic, data, new Uint8Array([...signature, 0]), 'sha256')).toBe(false);
    expect(verifyBytes(melangePublic, data, new Uint8Array(0), 'sha256')).toBe(false);
    // A value above the modulus: OpenSSL reports it as an error, verifyBytes as false.
    expect(verifyBytes(melangePublic, data, new Uint8Array(512).fill(0xff), 'sha256')).toBe(false);
    const digest = new Uint8Array(createHash('sha256').update(data).digest());
    expect(verifyDigest(melangePublic, digest, flipped, 'sha256')).toBe(false);
    expect(verifyDigest(melangePublic, digest, new Uint8Array(512).fill(0xff), 'sha256')).toBe(false);
    expect(verifyDigest(melangePublic, digest, signature.subarray(2), 'sha256')).toBe(false);
  });

  it('refuses to sign with a 1024-bit key (KEY_TOO_SMALL) but can verify with one', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const privateKey = parsePrivateKey(
      small.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
      'small.rsa',
    );
    expect(privateKey.bits).toBe(1024);
    expect(codeOf(() => signBytes(privateKey, data, 'sha256'))).toBe('KEY_TOO_SMALL');
    expect(codeOf(() => signDigest(privateKey, new Uint8Array(32), 'sha256'))).toBe('KEY_TOO_SMALL');
    const publicKey = parsePublicKey(small.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    expect(
      verifyBytes(publicKey, data, new Uint8Array(sign('sha256', data, small.privateKey)), 'sha256'),
    ).toBe(true);
  });

  it('refuses unknown algorithms and wrong-length digests with KEY_BAD_ALGORITHM', () => {
    const bad = 'md5' as SignatureAlgorithm;
    expect(() => signBytes(melangePrivate, data, bad)).toThrow(KeyError);
    expect(codeOf(() => signBytes(melangePrivate, data, bad))).toBe('KEY_BAD_ALGORITHM');
    expect(codeOf(() => verifyBytes(melangePublic, data, new Uint8Array(512), bad))).toBe(
      'KEY_BAD_ALGORITHM',
    );
    expect(codeOf(() => signDigest(melangePrivate, new Uint8Array(20), 'sha256'))).toBe('KEY_BAD_ALGORITHM');
    expect(codeOf(() => verifyDigest(melangePublic, new Uint8Array(64), new Uint8Array(512), 'sha1'))).toBe(
      'KEY_BAD_ALGORITHM',
    );
  });

  it('refuses a public key for signing and a private key for verifying (KEY_WRONG_KIND)', () => {
    expect(codeOf(() => signBytes(melangePublic as unknown as PrivateKey, data, 'sha256'))).toBe(
      'KEY_WRONG_KIND',
    );
    expect(
      codeOf(() => verifyBytes(melangePrivate as unknown as PublicKey, data, new Uint8Array(512), 'sha256')),
    ).toBe('KEY_WRONG_KIND');
  });
});
