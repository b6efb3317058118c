/**
 * apk-tools 2.14.10's signature context for `apk verify` (`src/package.c`: `apk_sign_ctx_init` with
 * APK_SIGN_VERIFY, `apk_sign_ctx_process_file`, `apk_sign_ctx_parse_pkginfo_line`, `apk_sign_ctx_verify_tar`,
 * `apk_sign_ctx_mpart_cb`, `apk_sign_ctx_status`). Keys are looked up by exact file name in a tk keyring,
 * as apk-tools opens `<keys-dir>/<name>`.
 */
import { createHash, type Hash } from 'node:crypto';
import { verifyDigest, type Keyring, type PublicKey, type SignatureAlgorithm } from '@tk/keys';
import { MPART_BOUNDARY, MPART_DATA, MPART_END } from './gunzip.ts';
import type { IStream } from './istream.ts';
import {
  EBADMSG,
  ECANCELED,
  EKEYREJECTED,
  ENOKEY,
  ENOMSG,
  Sink,
  istreamGetDelim,
  istreamRead,
  type Blob,
} from './istream.ts';
import { dx, type TarEntryInfo } from './tar.ts';

/** Longest signature kept; RSA signatures are at most 2 KiB, anything longer cannot verify. */
const MAX_SIGNATURE = 64 * 1024;

/** The signature types apk-tools knows, in the order it tries them. */
const SIGNATURE_TYPES: readonly [prefix: string, algorithm: SignatureAlgorithm | undefined][] = [
  ['RSA512', 'sha512'],
  ['RSA256', 'sha256'],
  ['RSA', 'sha1'],
  // NID_dsa is not a digest: EVP_get_digestbynid() gives NULL and the entry is skipped.
  ['DSA', undefined],
];

/** What decided the verdict, for messages. */
export type SignEvent =
  | { kind: 'key-found'; keyName: string; algorithm: SignatureAlgorithm }
  | { kind: 'signature-bad'; keyName: string }
  | { kind: 'signature-ok'; keyName: string }
  | { kind: 'no-trusted-key'; signatures: string[] }
  | { kind: 'datahash-mismatch' }
  | { kind: 'data-in-control' }
  | { kind: 'member-after-end' };

/** `struct apk_sign_ctx` for APK_SIGN_VERIFY. */
export class SignContext {
  private md: SignatureAlgorithm = 'sha1';
  private mdAlgorithm: SignatureAlgorithm = 'sha1';
  private mdctx: Hash = createHash('sha1');
  private key: PublicKey | undefined;
  private keyName: string | undefined;
  private signature: Uint8Array | undefined;
  private signatureOverflow = false;
  private dataChecksum = new Uint8Array(32);
  hasPkginfo = false;
  hasDataChecksum = false;
  hasMultipleDataParts = false;
  private controlStarted = false;
  private dataStarted = false;
  private controlVerified = false;
  private dataVerified = false;
  private endSeen = false;
  private verifyError = -ENOKEY;
  /** Signature entries seen, by name (for messages). */
  readonly signatureNames: string[] = [];
  /** What happened, in order (for messages). */
  readonly events: SignEvent[] = [];

  private readonly keyring: Keyring;

  constructor(keyring: Keyring) {
    this.keyring = keyring;
  }

  private digestInit(algorithm: SignatureAlgorithm): void {
    this.mdAlgorithm = algorithm;
    this.mdctx = createHash(algorithm);
  }

  private checkSigningKeyTrust(): number {
    return this.key === undefined ? -ENOKEY : 0;
  }

  private lookupKey(name: string): PublicKey | undefined {
    const bytes = Buffer.from(name, 'latin1');
    const text = bytes.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(bytes)) return undefined;
    return this.keyring.get(text, { exact: true });
  }

  /** `apk_sign_ctx_process_file`. */
  processFile(fi: TarEntryInfo, is: IStream): number {
    if (this.dataStarted) return 1;
    if (fi.name[0] !== '.' || fi.name.includes('/')) {
      if (this.hasDataChecksum) {
        this.events.push({ kind: 'data-in-control' });
        return -ENOMSG;
      }
      this.dataStarted = true;
      this.controlStarted = true;
      const r = this.checkSigningKeyTrust();
      if (r < 0) {
        this.events.push({ kind: 'no-trusted-key', signatures: [...this.signatureNames] });
        return r;
      }
      return 1;
    }
    if (this.controlStarted) return 1;
    if (!fi.name.startsWith('.SIGN.')) {
      this.controlStarted = true;
      return 1;
    }
    this.signatureNames.push(fi.name);
    if (this.key !== undefined) return 0;
    let algorithm: SignatureAlgorithm | undefined;
    let name: string | undefined;
    for (const [prefix, alg] of SIGNATURE_TYPES) {
      if (fi.name.startsWith(prefix, 6) && fi.name[6 + prefix.length] === '.') {
        algorithm = alg;
        name = fi.name.slice(6 + prefix.length + 1);
        break;
      }
    }
    if (algorithm === undefined || name === undefined) return 0;
    const key = this.lookupKey(name);
    if (key === undefined) return 0;
    this.key = key;
    this.keyName = name;
    this.md = algorithm;
    this.events.push({ kind: 'key-found', keyName: name, algorithm });
    // apk_blob_from_istream: a short or failed read leaves a short (or empty) signature; errors are ignored.
    const sink = new Sink(MAX_SIGNATURE);
    const r = istreamRead(is, sink, fi.size);
    this.signature = r < 0 ? new Uint8Array(0) : sink.bytes();
    this.signatureOverflow = r >= 0 && sink.overflowed;
    return 0;
  }

  /** `apk_sign_ctx_parse_pkginfo_line`. */
  private parsePkginfoLine(line: Blob): void {
    this.hasPkginfo = true;
    if (!this.controlStarted || this.dataStarted) return;
    const data = line.data;
    if (data === undefined || line.len < 1 || data[line.start] === 0x23) return;
    // apk_blob_split(line, " = ", &l, &r)
    const end = line.start + line.len;
    let pos = -1;
    for (let p = line.start; p + 3 <= end; p++) {
      if (data[p] === 0x20 && data[p + 1] === 0x3d && data[p + 2] === 0x20) {
        pos = p;
        break;
      }
    }
    if (pos < 0) return;
    const key = Buffer.from(data.buffer, data.byteOffset + line.start, pos - line.start).toString('latin1');
    if (key !== 'datahash') return;
    this.hasDataChecksum = true;
    this.md = 'sha256';
    // apk_blob_pull_hexdump(&r, 32 bytes): its length check is `32 > len * 2`, and it reads 64 characters.
    const rStart = pos + 3;
    const rLen = end - rStart;
    if (32 > rLen * 2) return;
    for (let i = 0; i < 32; i++) {
      const r1 = dx(data[rStart + 2 * i] ?? 0);
      const r2 = dx(data[rStart + 2 * i + 1] ?? 0);
      this.dataChecksum[i] = ((r1 << 4) + r2) & 0xff;
    }
  }

  /** `apk_sign_ctx_verify_tar`: the tar entry callback of `apk verify`. */
  verifyTar = (fi: TarEntryInfo, is: IStream): number => {
    const r = this.processFile(fi, is);
    if (r <= 0) return r;
    if (!this.controlStarted || this.dataStarted) return 0;
    if (fi.name === '.PKGINFO') {
      for (;;) {
        const line = istreamGetDelim(is, 0x0a);
        if (line.data === undefined) break;
        this.parsePkginfoLine(line);
      }
    }
    return 0;
  };

  private verifySignature(): boolean {
    const key = this.key;
    const signature = this.signature;
    if (key === undefined || signature === undefined || this.signatureOverflow) return false;
    const digest = new Uint8Array(this.mdctx.digest());
    try {
      return verifyDigest(key, digest, signature, this.mdAlgorithm);
    } catch {
      return false;
    }
  }

  /** `apk_sign_ctx_mpart_cb`. */
  mpartCb = (part: number, data: Blob): number => {
    if (this.endSeen || this.dataVerified) {
      this.events.push({ kind: 'member-after-end' });
      return -EBADMSG;
    }
    if (part === MPART_BOUNDARY && this.dataStarted) {
      this.hasMultipleDataParts = true;
      return 0;
    }
    if (part === MPART_END) this.endSeen = true;
    if (part === MPART_DATA) {
      if (data.data !== undefined && data.len > 0)
        this.mdctx.update(data.data.subarray(data.start, data.start + data.len));
      return 0;
    }
    if (data.len) return -EBADMSG;
    if (!this.controlStarted) {
      if (part === MPART_END) return -EKEYREJECTED;
      this.digestInit(this.md);
      return 0;
    }
    const endOfControl = !this.dataStarted;
    this.dataStarted = true;
    if (!this.hasDataChecksum && endOfControl && part !== MPART_END) return 0;
    if (this.hasDataChecksum && !endOfControl) {
      const calculated = new Uint8Array(this.mdctx.digest());
      if (calculated.length === 0 || !Buffer.from(calculated).equals(Buffer.from(this.dataChecksum))) {
        this.events.push({ kind: 'datahash-mismatch' });
        return -EKEYREJECTED;
      }
      this.dataVerified = true;
      if (!this.controlVerified) return -ENOKEY;
      return 0;
    }
    const r = this.checkSigningKeyTrust();
    if (r < 0) {
      this.events.push({ kind: 'no-trusted-key', signatures: [...this.signatureNames] });
      return r;
    }
    if (this.key !== undefined) {
      const ok = this.verifySignature();
      this.verifyError = ok ? 0 : -EKEYREJECTED;
      this.events.push({ kind: ok ? 'signature-ok' : 'signature-bad', keyName: this.keyName ?? '' });
    }
    if (this.verifyError) return this.verifyError;
    this.controlVerified = true;
    if (!this.hasDataChecksum && part === MPART_END) this.dataVerified = true;
    this.digestInit(this.md);
    return 0;
  };

  /** `apk_sign_ctx_status(ctx, tar_rc)`. */
  status(tarRc: number): number {
    let rc = tarRc;
    if (rc < 0 && rc !== -ECANCELED) return rc;
    if (rc === 0 && (!this.dataVerified || !this.endSeen)) rc = -EBADMSG;
    if (!this.verifyError) return rc;
    return this.verifyError;
  }

  /** Whether the control section's signature verified. */
  get signatureVerified(): boolean {
    return this.controlVerified;
  }
}
