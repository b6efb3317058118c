// Deterministic damaged copies ("mutants") of real signed packages and indexes, for the `apk verify`
// parity table (test-fixtures/parity/apk-verify-mutants.json). Shared by scripts/verify-parity-record.mjs,
// which records apk-tools' verdicts, and apps/apk-cli/src/commands/verify-parity.test.ts, which
// regenerates the same mutants and compares tk's verdicts. Plain JavaScript so that both can load it.
//
// Changing anything here changes the mutants: the test then fails on the recorded sha256 values until
// the table is recorded again with apk-tools.
import { createHash } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';

/** The seed of the whole fuzz. */
export const SEED = 0x61706b76; // "apkv"

/** Mutants per source file. */
export const PER_SOURCE = 40;

/**
 * The real files (under test-fixtures/real), each with the key that signs it (several for multisig).
 * @type {readonly {file: string, keys: readonly string[]}[]}
 */
export const SOURCES = Object.freeze([
  { file: 'apko-testrepo/x86_64/replayout-1.0.0-r0.apk', keys: ['apko-testrepo/melange.rsa.pub'] },
  { file: 'apko-testrepo/x86_64/APKINDEX.tar.gz', keys: ['apko-testrepo/melange.rsa.pub'] },
  { file: 'wolfi/kubeflow-pipelines-2.1.3-r7.apk', keys: ['keys/wolfi-signing.rsa.pub'] },
  { file: 'wolfi/ruby3.2-base64-0.2.0-r2.apk', keys: ['keys/wolfi-signing.rsa.pub'] },
  { file: 'wolfi/x86_64-subset-APKINDEX.tar.gz', keys: ['keys/wolfi-signing.rsa.pub'] },
  {
    file: 'alpine/alpine-baselayout-3.2.0-r23.apk',
    keys: ['keys/alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub'],
  },
  {
    file: 'multisig/APKINDEX.tar.gz',
    keys: [
      'multisig/keys/chainguard-0106f58bac88057c2ff5c2829850df492717a876ed700443550353c7ab23f5a0.rsa.pub',
      'multisig/keys/chainguard-60912bbc46bfc8ed6bda0b50db3a8a5f3c4344d6bc8549ec9b84d96140b475d1.rsa.pub',
      'multisig/keys/chainguard-61cb6bccd1f584b007db7be51ebce2b0530a54cc5a94e7650b570d113d537cf3.rsa.pub',
    ],
  },
  { file: 'wolfi/libcap-2.69-r0.apk', keys: ['keys/wolfi-signing.rsa.pub'] },
]);

/** Every key file the sources need, once (their file names are distinct, so one keys folder holds all). */
export const KEY_FILES = Object.freeze([...new Set(SOURCES.flatMap((s) => s.keys))]);

/**
 * mulberry32: a small seeded generator of floats in [0, 1).
 * @param {number} seed
 * @returns {() => number}
 */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Where each gzip member of an intact file starts and ends.
 * @param {Uint8Array} bytes
 * @returns {{start: number, end: number}[]}
 */
export function gzipMembers(bytes) {
  const members = [];
  let offset = 0;
  while (offset < bytes.length) {
    const flags = bytes[offset + 3];
    let pos = offset + 10;
    if (flags & 0x04) pos += 2 + (bytes[pos] | (bytes[pos + 1] << 8));
    for (const flag of [0x08, 0x10]) if (flags & flag) pos = bytes.indexOf(0, pos) + 1;
    if (flags & 0x02) pos += 2;
    const { engine } = inflateRawSync(bytes.subarray(pos), { info: true });
    const end = pos + engine.bytesWritten + 8;
    members.push({ start: offset, end });
    offset = end;
  }
  return members;
}

/**
 * Apply a mutation.
 * @param {Uint8Array} bytes - the intact file
 * @param {{kind: 'flip', bits: [number, number][]} | {kind: 'truncate', length: number} | {kind: 'zero', offset: number, length: number}} op
 * @returns {Uint8Array}
 */
export function applyMutation(bytes, op) {
  if (op.kind === 'truncate') return bytes.slice(0, op.length);
  const out = bytes.slice();
  if (op.kind === 'zero') out.fill(0, op.offset, op.offset + op.length);
  else for (const [offset, bit] of op.bits) out[offset] ^= 1 << bit;
  return out;
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/**
 * The mutants of one source: bit flips (one bit, or a few), truncations and zeroed runs, half of them
 * anywhere in the file and half near gzip member boundaries (headers, trailers), where apk-tools'
 * verdicts differ most. No mutant equals the source or another mutant.
 * @param {Uint8Array} bytes - the intact file
 * @param {number} sourceIndex - its position in SOURCES (part of the seed)
 * @param {number} count
 * @returns {{op: object, bytes: Uint8Array, sha256: string}[]}
 */
export function mutantsOf(bytes, sourceIndex, count = PER_SOURCE) {
  const random = mulberry32((SEED ^ Math.imul(sourceIndex + 1, 0x9e3779b9)) >>> 0);
  const int = (n) => Math.floor(random() * n);
  const members = gzipMembers(bytes);
  const boundaries = [...new Set(members.flatMap((m) => [m.start, m.end]))].filter((b) => b < bytes.length);
  /** An offset anywhere, or within `spread` bytes after/before a member boundary. */
  const offset = (spread) => {
    if (random() < 0.5) return int(bytes.length);
    const b = boundaries[int(boundaries.length)];
    const o = random() < 0.5 ? b + int(spread) : b - 1 - int(spread);
    return Math.min(bytes.length - 1, Math.max(0, o));
  };
  const seen = new Set([sha256(bytes)]);
  const out = [];
  const kinds = ['flip', 'flip', 'flips', 'truncate', 'truncate', 'zero', 'zero'];
  while (out.length < count) {
    const kind = kinds[out.length % kinds.length];
    let op;
    if (kind === 'flip') op = { kind: 'flip', bits: [[offset(24), int(8)]] };
    else if (kind === 'flips') {
      const n = 2 + int(7);
      const bits = [];
      for (let i = 0; i < n; i++) bits.push([offset(600), int(8)]);
      op = { kind: 'flip', bits };
    } else if (kind === 'truncate') op = { kind: 'truncate', length: offset(1100) };
    else {
      const start = offset(700);
      op = {
        kind: 'zero',
        offset: start,
        length: Math.min(bytes.length - start, 1 + int(random() < 0.7 ? 32 : 1024)),
      };
    }
    const mutant = applyMutation(bytes, op);
    const hash = sha256(mutant);
    if (seen.has(hash)) continue;
    seen.add(hash);
    out.push({ op, bytes: mutant, sha256: hash });
  }
  return out;
}

/**
 * Every row of the fuzz: each source intact (id `<n>.0`), then its mutants (`<n>.1` …).
 * @param {(file: string) => Uint8Array} read - reads a file under test-fixtures/real
 * @returns {{id: string, source: string, op: object | null, bytes: Uint8Array, sha256: string}[]}
 */
export function allMutants(read) {
  const rows = [];
  SOURCES.forEach((source, index) => {
    const bytes = read(source.file);
    rows.push({ id: `${index + 1}.0`, source: source.file, op: null, bytes, sha256: sha256(bytes) });
    mutantsOf(bytes, index).forEach((m, i) =>
      rows.push({
        id: `${index + 1}.${i + 1}`,
        source: source.file,
        op: m.op,
        bytes: m.bytes,
        sha256: m.sha256,
      }),
    );
  });
  return rows;
}
