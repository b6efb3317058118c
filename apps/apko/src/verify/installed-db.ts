/**
 * Reading the apk installed database (`lib/apk/db/installed`), the file scanners read to learn what an
 * image holds. Format (apk-tools 2 `database.c` apk_db_fdb_read; tk writes it in
 * `packages/rootfs/src/database.ts`):
 *
 *     C:Q1…            control checksum          one block per package, blocks separated by a blank line;
 *     P:name           package name              every line is `<letter>:<value>`
 *     V:version        version
 *     A:arch           architecture
 *     …                (S I T U L o m t c k D p i r q s: read elsewhere, ignored here)
 *     F:dir            a directory the package owns (relative, `F:` alone for the root)
 *     M:uid:gid:mode   owner and octal mode of the last F (default 0:0:755)
 *     R:name           a file in the last F
 *     a:uid:gid:mode   owner and octal mode of the last R (default 0:0:644 for files; links any mode)
 *     Z:Q1…            checksum of the last R: `Q1`+base64 SHA-1 (`Q2`: SHA-256; 40 or 64 hex digits
 *                      also accepted): of the content for a file, of the target for a symlink
 *
 * apk-tools may append `:<xattr checksum>` to `M:` and `a:` values; it is read and ignored.
 *
 * The text is outside data (it comes from the image being verified): every line is checked, paths may not
 * be absolute or contain `.`/`..`/NUL, numbers are bounded, and problems are collected as issues with
 * their line number rather than thrown (the verifier reports them as findings), unless `strict` is set.
 */
import { VerifyError } from './errors.ts';

/** A checksum from a `Z:` line. */
export interface DbChecksum {
  algorithm: 'sha1' | 'sha256';
  /** Lowercase hex. */
  hex: string;
}

/** A directory a package owns (`F:` with its `M:`). */
export interface DbDirectory {
  /** Relative path without a trailing `/`; `''` for the root. */
  path: string;
  uid: number;
  gid: number;
  /** Permission bits plus setuid/setgid/sticky (07777). */
  mode: number;
  /** Whether an `M:` line gave the owner and mode (otherwise they are apk's defaults, 0:0:0755). */
  explicit: boolean;
  /** 1-based line of the `F:`. */
  line: number;
}

/** A file a package owns (`R:` with its `a:` and `Z:`). */
export interface DbFile {
  /** Relative path (`usr/bin/hello`). */
  path: string;
  /** Owner and mode from an `a:` line; absent means apk's defaults (0:0, 0644 for files). */
  acl?: { uid: number; gid: number; mode: number };
  checksum?: DbChecksum;
  /** 1-based line of the `R:`. */
  line: number;
}

/** One package of the database. */
export interface DbPackage {
  name: string;
  version: string;
  arch?: string;
  /** The `C:` identity (`Q1…`). */
  identity?: string;
  directories: DbDirectory[];
  files: DbFile[];
  /** 1-based line where the block starts. */
  line: number;
}

/** A line that could not be read. */
export interface DbIssue {
  /** 1-based line number. */
  line: number;
  message: string;
}

/** The parsed database. */
export interface InstalledDb {
  /** Packages in file order (install order). Blocks without `P:` or `V:` are left out (with an issue). */
  packages: DbPackage[];
  issues: DbIssue[];
}

/** Options of {@link parseInstalledDb}. */
export interface ParseInstalledDbOptions {
  /** Throw on the first issue instead of collecting issues. */
  strict?: boolean;
  /** Most issues collected before the rest are summarised in one; default 1000. */
  maxIssues?: number;
}

/** Largest uid or gid accepted (Linux's 32-bit ids). */
const MAX_ID = 0xffff_ffff;
const MAX_LINE = 64 * 1024;
const ACL = /^(\d{1,10}):(\d{1,10}):([0-7]{1,6})(?::.*)?$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Decode a checksum value (`Q1…`, `Q2…`, or hex).
 *
 * @param value - the text after `Z:`
 * @returns the checksum, or undefined when the value is not one
 */
export function parseDbChecksum(value: string): DbChecksum | undefined {
  if (/^[0-9a-fA-F]{40}$/.test(value)) return { algorithm: 'sha1', hex: value.toLowerCase() };
  if (/^[0-9a-fA-F]{64}$/.test(value)) return { algorithm: 'sha256', hex: value.toLowerCase() };
  const kind = value.slice(0, 2);
  const body = value.slice(2);
  if ((kind !== 'Q1' && kind !== 'Q2') || !BASE64.test(body) || body.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(body, 'base64');
  const algorithm = kind === 'Q1' ? 'sha1' : 'sha256';
  if (bytes.length !== (algorithm === 'sha1' ? 20 : 32)) return undefined;
  return { algorithm, hex: bytes.toString('hex') };
}

function badPathReason(path: string, isName: boolean): string | undefined {
  if (path.includes('\0')) return 'contains a NUL byte';
  if (path.startsWith('/')) return 'is absolute';
  if (isName && path.includes('/')) return 'contains "/"';
  if (isName && path === '') return 'is empty';
  if (path === '') return undefined;
  for (const part of path.split('/')) {
    if (part === '') return 'has an empty component';
    if (part === '.' || part === '..') return `has a "${part}" component`;
  }
  return undefined;
}

function parseAcl(value: string): { uid: number; gid: number; mode: number } | undefined {
  const m = ACL.exec(value);
  if (m === null) return undefined;
  const uid = Number(m[1]);
  const gid = Number(m[2]);
  const mode = parseInt(m[3]!, 8);
  if (uid > MAX_ID || gid > MAX_ID || mode > 0o7777) return undefined;
  return { uid, gid, mode };
}

/**
 * Parse the installed database.
 *
 * @param text - the file's content
 * @param options - strict mode, issue cap
 * @returns the packages and the lines that could not be read
 * @throws {VerifyError} VERIFY_BAD_IMAGE on the first issue, in strict mode only
 * @example
 * const db = parseInstalledDb('P:hello\nV:2.10-r0\nF:usr/bin\nR:hello\nZ:Q1…\n\n');
 * db.packages[0].files[0].path // 'usr/bin/hello'
 */
export function parseInstalledDb(text: string, options: ParseInstalledDbOptions = {}): InstalledDb {
  const maxIssues = options.maxIssues ?? 1000;
  const packages: DbPackage[] = [];
  const issues: DbIssue[] = [];
  let dropped = 0;
  const issue = (line: number, message: string): void => {
    if (options.strict === true) {
      throw new VerifyError('VERIFY_BAD_IMAGE', `installed database line ${line}: ${message}`, {
        hint: 'the apk database of the image is corrupt or was edited by hand',
        data: { line },
      });
    }
    if (issues.length < maxIssues) issues.push({ line, message });
    else dropped++;
  };

  let current:
    | (Partial<DbPackage> & { directories: DbDirectory[]; files: DbFile[]; line: number })
    | undefined;
  let dir: DbDirectory | undefined;
  let file: DbFile | undefined;

  const finish = (): void => {
    if (current === undefined) return;
    if (current.name === undefined || current.version === undefined) {
      issue(
        current.line,
        `the package block starting here has no ${current.name === undefined ? 'P:' : 'V:'} line; its ${current.files.length} files are not counted as owned`,
      );
    } else {
      packages.push({
        name: current.name,
        version: current.version,
        ...(current.arch === undefined ? {} : { arch: current.arch }),
        ...(current.identity === undefined ? {} : { identity: current.identity }),
        directories: current.directories,
        files: current.files,
        line: current.line,
      });
    }
    current = undefined;
    dir = undefined;
    file = undefined;
  };

  const lines = text.split('\n');
  // A final newline leaves one empty string behind: not a line.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
    if (line === '') {
      finish();
      continue;
    }
    if (line.length > MAX_LINE) {
      issue(n, `line is ${line.length} characters long (limit ${MAX_LINE})`);
      continue;
    }
    if (line.length < 2 || line[1] !== ':') {
      issue(n, `not a "<letter>:<value>" line: ${JSON.stringify(line.slice(0, 80))}`);
      continue;
    }
    current ??= { directories: [], files: [], line: n };
    const letter = line[0]!;
    const value = line.slice(2);
    switch (letter) {
      case 'P':
      case 'V':
      case 'A':
      case 'C': {
        const key = ({ P: 'name', V: 'version', A: 'arch', C: 'identity' } as const)[letter];
        if (value === '') issue(n, `empty ${letter}: value`);
        else if (current[key] !== undefined) issue(n, `second ${letter}: line in one package block`);
        else current[key] = value;
        break;
      }
      case 'F': {
        const why = badPathReason(value, false);
        if (why !== undefined) {
          issue(n, `directory ${JSON.stringify(value)} ${why}`);
          dir = undefined;
          file = undefined;
          break;
        }
        dir = { path: value, uid: 0, gid: 0, mode: 0o755, explicit: false, line: n };
        current.directories.push(dir);
        file = undefined;
        break;
      }
      case 'M': {
        const acl = parseAcl(value);
        if (dir === undefined) issue(n, 'M: line without a directory (F:) before it');
        else if (acl === undefined) issue(n, `M: value ${JSON.stringify(value)} is not uid:gid:octal-mode`);
        else Object.assign(dir, acl, { explicit: true });
        break;
      }
      case 'R': {
        const why = badPathReason(value, true);
        if (dir === undefined) {
          issue(n, `file ${JSON.stringify(value)} comes before any directory (F:) line`);
          file = undefined;
        } else if (why !== undefined) {
          issue(n, `file name ${JSON.stringify(value)} ${why}`);
          file = undefined;
        } else {
          file = { path: dir.path === '' ? value : `${dir.path}/${value}`, line: n };
          current.files.push(file);
        }
        break;
      }
      case 'a': {
        const acl = parseAcl(value);
        if (file === undefined) issue(n, 'a: line without a file (R:) before it');
        else if (acl === undefined) issue(n, `a: value ${JSON.stringify(value)} is not uid:gid:octal-mode`);
        else file.acl = acl;
        break;
      }
      case 'Z': {
        const checksum = parseDbChecksum(value);
        if (file === undefined) issue(n, 'Z: line without a file (R:) before it');
        else if (checksum === undefined)
          issue(n, `Z: value ${JSON.stringify(value.slice(0, 80))} is not a Q1/Q2 or hex checksum`);
        else if (file.checksum !== undefined) issue(n, `second Z: line for ${file.path}`);
        else file.checksum = checksum;
        break;
      }
      default:
        // Other fields (S, I, T, U, L, o, m, t, c, k, D, p, i, r, q, s, f, …) do not matter here.
        break;
    }
  }
  finish();
  if (dropped > 0) issues.push({ line: lines.length, message: `${dropped} more issues not listed` });
  return { packages, issues };
}
