// Deterministic, structure-aware damaged packages and indexes for the second `apk verify` parity table
// (test-fixtures/parity/apk-verify-crafted.json). Where verify-parity-mutants.mjs damages compressed bytes
// (so zlib or the signature usually fails first), these damage the tar streams inside: header fields,
// type flags, names, GNU long names, PAX paths, end-of-archive blocks, member splits, gzip header flags, a
// zlib-wrapped member. Each file is then recompressed and signed again with apko's public test key, so
// apk-tools' tar reader and signature checks, not zlib, decide the verdict.
//
// Members are written with stored deflate blocks by the code below (no compressor involved), and RSA
// PKCS#1 v1.5 signatures are deterministic, so the bytes do not depend on the zlib or Node version.
import { createHash, sign } from 'node:crypto';
import { crc32, inflateRawSync } from 'node:zlib';
import { gzipMembers, mulberry32 } from './verify-parity-mutants.mjs';

/** The seed of the crafted set. */
export const CRAFTED_SEED = 0x74617276; // "tarv"
/** Cases per base file. */
export const PER_BASE = 30;
/** The signing key (private half committed in apko's repository on purpose) and its public half. */
export const PRIVATE_KEY = 'apko-testrepo/melange.rsa';
export const KEY_FILE = 'apko-testrepo/melange.rsa.pub';
export const KEY_NAME = 'melange.rsa.pub';

/** Base files whose tar streams are damaged (their own signatures are replaced). */
export const BASES = Object.freeze([
  'apko-testrepo/x86_64/replayout-1.0.0-r0.apk',
  'wolfi/kubeflow-pipelines-2.1.3-r7.apk',
  'wolfi/ruby3.2-base64-0.2.0-r2.apk',
  'alpine/alpine-baselayout-3.2.0-r23.apk',
  'apko-testrepo/x86_64/APKINDEX.tar.gz',
  'wolfi/x86_64-subset-APKINDEX.tar.gz',
]);

const cat = (parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const latin1 = (s) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

function adler32(data) {
  let a = 1;
  let b = 0;
  for (const x of data) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** Deflate with stored blocks only (at most 65 535 bytes each). */
function storedBlocks(data) {
  const parts = [];
  let off = 0;
  do {
    const n = Math.min(65535, data.length - off);
    const last = off + n >= data.length ? 1 : 0;
    parts.push(
      Uint8Array.of(last, n & 0xff, n >>> 8, ~n & 0xff, (~n >>> 8) & 0xff),
      data.subarray(off, off + n),
    );
    off += n;
  } while (off < data.length);
  return cat(parts);
}

/**
 * A gzip member (or a zlib stream) of `data`, with optional header fields.
 * @param {Uint8Array} data
 * @param {{extra?: number, name?: boolean, comment?: boolean, hcrc?: boolean, zlib?: boolean}} [options]
 */
export function storedMember(data, options = {}) {
  const body = storedBlocks(data);
  if (options.zlib) {
    const a = adler32(data);
    return cat([
      Uint8Array.of(0x78, 0x01),
      body,
      Uint8Array.of(a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff),
    ]);
  }
  let flags = 0;
  const fields = [];
  if (options.extra !== undefined) {
    flags |= 0x04;
    fields.push(
      Uint8Array.of(options.extra & 0xff, options.extra >>> 8),
      new Uint8Array(options.extra).fill(0x41),
    );
  }
  if (options.name) {
    flags |= 0x08;
    fields.push(latin1('member\0'));
  }
  if (options.comment) {
    flags |= 0x10;
    fields.push(latin1('comment\0'));
  }
  if (options.hcrc) flags |= 0x02;
  let header = cat([Uint8Array.of(0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3), ...fields]);
  if (options.hcrc) {
    const c = crc32(header) & 0xffff;
    header = cat([header, Uint8Array.of(c & 0xff, c >>> 8)]);
  }
  const c = crc32(data) >>> 0;
  const n = data.length >>> 0;
  const trailer = Uint8Array.of(
    c & 0xff,
    (c >>> 8) & 0xff,
    (c >>> 16) & 0xff,
    c >>> 24,
    n & 0xff,
    (n >>> 8) & 0xff,
    (n >>> 16) & 0xff,
    n >>> 24,
  );
  return cat([header, body, trailer]);
}

const octal = (n, len) => `${n.toString(8).padStart(len - 1, '0')}\0`;

/** A ustar header (checksum included; apk-tools does not check it). */
function tarHeader(name, size, type) {
  const h = new Uint8Array(512);
  const put = (off, s) => h.set(latin1(s), off);
  put(0, name.slice(0, 100));
  put(100, octal(0o644, 8));
  put(108, octal(0, 8));
  put(116, octal(0, 8));
  put(124, octal(size, 12));
  put(136, octal(0, 12));
  put(148, '        ');
  put(156, type);
  put(257, 'ustar\0');
  put(263, '00');
  let sum = 0;
  for (const b of h) sum += b;
  put(148, `${octal(sum, 7)} `);
  return h;
}

function tarEntry(name, data, type = '0') {
  return cat([tarHeader(name, data.length, type), data, new Uint8Array((512 - (data.length % 512)) % 512)]);
}

/** Offsets of the headers of a tar stream (stopping at the first zero block). */
function headerOffsets(tar) {
  const out = [];
  let p = 0;
  while (p + 512 <= tar.length && tar[p] !== 0) {
    out.push(p);
    const field = new TextDecoder('latin1')
      .decode(tar.subarray(p + 124, p + 136))
      .replace(/\0.*$/s, '')
      .trim();
    p += 512 + Math.ceil((parseInt(field || '0', 8) || 0) / 512) * 512;
  }
  return out;
}

/** One damage to a tar stream; returns the new stream and a description. */
function damageTar(tar, random) {
  const int = (n) => Math.floor(random() * n);
  const pick = (a) => a[int(a.length)];
  const hs = headerOffsets(tar);
  const h = hs.length > 0 ? pick(hs) : 0;
  const out = tar.slice();
  switch (int(10)) {
    case 0: {
      const o = h + int(512);
      out[o] = pick([0, 0x20, 0x30, 0x37, 0x39, 0x78, 0x4c, 0x35, int(256)]);
      return [out, `header byte ${o}`];
    }
    case 1: {
      const o = h + 124 + int(12);
      out[o] = pick([0x30, 0x31, 0x37, 0x20, 0, 0x38]);
      return [out, `size field byte ${o}`];
    }
    case 2: {
      out[h + 156] = pick([0x30, 0x31, 0x32, 0x35, 0x78, 0x4c, 0x67, 0, 0x41, 0x37, 0x4b]);
      return [out, `type flag of the header at ${h}`];
    }
    case 3: {
      out[h] = pick([0, 0x2e, 0x61, 0x2f]);
      return [out, `first name byte of the header at ${h}`];
    }
    case 4: {
      const cut = int(tar.length + 1);
      return [tar.slice(0, cut), `cut at ${cut}`];
    }
    case 5: {
      const n = 1 + int(2);
      return [
        cat([tar.subarray(0, h), new Uint8Array(512 * n), tar.subarray(h)]),
        `${n} zero blocks before ${h}`,
      ];
    }
    case 6: {
      out[h + 345] = 0x61;
      out[h + 346] = 0x62;
      return [out, `prefix "ab" on the header at ${h}`];
    }
    case 7: {
      const n = int(3) === 0 ? 5000 : 1 + int(200);
      const name = `${'.'.repeat(int(2))}${'x'.repeat(n)}\0`;
      return [
        cat([tar.subarray(0, h), tarEntry('././@LongLink', latin1(name), 'L'), tar.subarray(h)]),
        `GNU long name of ${n} before ${h}`,
      ];
    }
    case 8: {
      const value = pick([
        '.PKGINFO',
        'usr/x',
        '.SIGN.RSA.melange.rsa.pub',
        'a'.repeat(5000),
        '.foo',
        'APKINDEX',
      ]);
      const rec = ` path=${value}\n`;
      let len = rec.length + 1;
      while (`${len}${rec}`.length !== len) len = `${len}${rec}`.length;
      const pax = tarEntry('PaxHeader', latin1(`${len}${rec}`), 'x');
      return [cat([tar.subarray(0, h), pax, tar.subarray(h)]), `PAX path ${value.slice(0, 24)} before ${h}`];
    }
    default: {
      const name = pick(['usr/bin/x', '.hidden', '.SIGN.RSA256.melange.rsa.pub', 'DESCRIPTION']);
      return [
        cat([tar.subarray(0, h), tarEntry(name, latin1('data\n')), tar.subarray(h)]),
        `entry ${name} before ${h}`,
      ];
    }
  }
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/**
 * Every crafted case.
 * @param {(file: string) => Uint8Array} read - reads a file under test-fixtures/real
 * @returns {{id: string, base: string, note: string, bytes: Uint8Array, sha256: string}[]}
 */
export function craftedCases(read) {
  const key = new TextDecoder().decode(read(PRIVATE_KEY));
  const rows = [];
  BASES.forEach((base, bi) => {
    const random = mulberry32((CRAFTED_SEED ^ Math.imul(bi + 1, 0x9e3779b9)) >>> 0);
    const int = (n) => Math.floor(random() * n);
    const bytes = read(base);
    const tars = gzipMembers(bytes).map((m) => {
      const flags = bytes[m.start + 3];
      let pos = m.start + 10;
      if (flags & 0x04) pos += 2 + (bytes[pos] | (bytes[pos + 1] << 8));
      for (const flag of [0x08, 0x10]) if (flags & flag) pos = bytes.indexOf(0, pos) + 1;
      if (flags & 0x02) pos += 2;
      return new Uint8Array(inflateRawSync(bytes.subarray(pos, m.end - 8)));
    });
    const isIndex = tars.length === 2;
    const seen = new Set();
    while (rows.filter((r) => r.base === base).length < PER_BASE) {
      let control = tars[1];
      let data = tars[2];
      const notes = [];
      if (isIndex || int(3) === 0) {
        const [t, n] = damageTar(control, random);
        control = t;
        notes.push(`${isIndex ? 'index' : 'control'}: ${n}`);
      } else {
        const [t, n] = damageTar(data, random);
        data = t;
        notes.push(`data: ${n}`);
      }
      let dataMember;
      if (data !== undefined) {
        if (random() < 0.2) {
          const cut = int(data.length);
          dataMember = cat([storedMember(data.subarray(0, cut)), storedMember(data.subarray(cut))]);
          notes.push(`data split at ${cut}`);
        } else dataMember = storedMember(data);
        if (random() < 0.7) {
          const text = new TextDecoder('latin1').decode(control);
          const fixed = text.replace(/datahash = [0-9a-f]{64}/, `datahash = ${sha256(dataMember)}`);
          if (fixed !== text) {
            control = latin1(fixed);
            notes.push('datahash updated');
          }
        }
      }
      const header = {};
      const r = random();
      if (r < 0.05) header.zlib = true;
      else if (r < 0.15)
        Object.assign(header, [{ name: true }, { comment: true }, { extra: 5 }, { hcrc: true }][int(4)]);
      if (Object.keys(header).length > 0) notes.push(`control member header ${JSON.stringify(header)}`);
      const controlMember = storedMember(control, header);
      const algorithm = int(2) === 0 ? 'sha1' : 'sha256';
      const signature = new Uint8Array(sign(algorithm, controlMember, key));
      const sigName = `.SIGN.${algorithm === 'sha1' ? 'RSA' : 'RSA256'}.${KEY_NAME}`;
      const parts = [storedMember(tarEntry(sigName, signature)), controlMember];
      if (dataMember !== undefined) parts.push(dataMember);
      if (random() < 0.1) {
        parts.push(storedMember(new Uint8Array(512 * int(3))));
        notes.push('extra member at the end');
      }
      const file = cat(parts);
      const hash = sha256(file);
      if (seen.has(hash)) continue;
      seen.add(hash);
      const n = rows.filter((x) => x.base === base).length + 1;
      rows.push({ id: `c${bi + 1}.${n}`, base, note: notes.join('; '), bytes: file, sha256: hash });
    }
  });
  return rows;
}
