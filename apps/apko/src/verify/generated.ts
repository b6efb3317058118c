/**
 * The paths tk's image assembler writes that are not package files (`apps/apko/src/build/assemble.ts`
 * `buildRootTree`, with `@tk/rootfs`), and the rule that recognises each in a layer. A path matching a rule
 * is listed as image-generated; a path in a rule's place that does not look the way tk writes it is a
 * GENERATED_MISMATCH finding. The rules, in build order:
 *
 * 1. **skeleton** (`createSkeleton`): `dev etc etc/apk etc/apk/keys proc tmp usr var var/cache
 *    var/cache/apk var/cache/misc`, with their modes (`proc` 0555, `tmp` 01777, others 0755), root-owned.
 *    The list is taken from `@tk/rootfs` itself at run time, so it cannot drift. A package that declares
 *    one of them does not change it (the first declaration wins), so its mode is checked against the
 *    skeleton's.
 * 2. **device** (`createSkeleton`/`ensureDevices`): `dev/console` (char 5,1, 0620), `dev/null` (1,3),
 *    `dev/random` (1,8), `dev/urandom` (1,9), `dev/zero` (1,5), 0666, root-owned; also from `@tk/rootfs`.
 * 3. **accounts** (`applyAccounts`): `etc/passwd` is always rewritten, `etc/group` when groups are
 *    configured, `etc/shadow` when users are. When a package ships them (tk-baselayout does), tk rewrites
 *    the package's file in place, keeping its mode and owner: the checksum then differs from the package's
 *    on purpose, so it is not compared (mode, owner and type still are) and the path is listed with the
 *    package and a note. This is the one place where a package file's bytes are not verified: the
 *    verifier has only the image, not the package's original text. Without a package file: 0644 (shadow
 *    0640), root-owned.
 * 4. **home-directory** (`applyAccounts`): the home of each `/etc/passwd` line whose comment field is
 *    `Account created by tk` (tk's configured users), unless a package declares it: a directory, 0700,
 *    owned by the user's uid and gid.
 * 5. **service-bundle** (entrypoint type `service-bundle`, recognised by the image config's entrypoint
 *    `/bin/s6-svscan /sv`): `sv`, `sv/<name>` (0755) and `sv/<name>/run` (0755, `#!/bin/execlineb` then
 *    the command).
 * 6. **certificates** (`certificates.additional`): `etc/ssl/certs/ca-certificates.crt`. tk appends the
 *    configured PEM certificates to the bundle a package ships: accepted when a prefix of the layer's file
 *    (ending after a certificate) has the package's checksum and the rest is only PEM certificates (the
 *    path is listed with the package and a note); without a package file the whole file must be PEM
 *    certificates.
 * 7. **busybox-link** (`createBusyboxLinks`): when `bin/busybox` is a file, every applet path listed in
 *    `etc/busybox-paths.d/*` that no package owns may be a symlink with exactly the relative target tk
 *    writes (`sbin/x` → `../bin/busybox`).
 * 8. **os-release**: when no package has `etc/os-release` or `usr/lib/os-release`, tk writes
 *    `etc/os-release` with exactly {@link TK_OS_RELEASE}, 0644.
 * 9. **apk-database** (`writeApkDatabase`): `lib/apk/db/{installed,scripts.tar,triggers,lock}` and
 *    `etc/apk/{world,repositories,arch}` plus the `lib/apk`, `lib/apk/db` directories (taken from
 *    `@tk/rootfs` at run time), root-owned with tk's modes; `etc/apk/arch` must name the image's arch.
 * 10. **apk-keys**: regular files directly in `etc/apk/keys`, 0644, holding a PEM block (the keyring and
 *     `runtime_keyring`).
 *
 * Not recognised, so reported as findings: what the `paths:` configuration creates or changes (the
 * configuration is not in the image), and files an apko (Go) build adds that tk does not write.
 * Directories that no package declares are fine when something owned or generated is below them (the
 * parents `mkdirAll` creates).
 */
import { createHash } from 'node:crypto';
import { createSkeleton, FsTree, meta, treeEntries, writeApkDatabase, type TreeEntry } from '@tk/rootfs';
import type { DbFile } from './installed-db.ts';
import { displayPath, formatMode, type Finding, type GeneratedPath } from './findings.ts';
import type { LayerEntry, LayerFs } from './layer-fs.ts';

/** The `/etc/os-release` tk writes when no package has one (apps/apko/src/build/assemble.ts). */
export const TK_OS_RELEASE = 'ID=tk\nNAME="tk image"\nPRETTY_NAME="Image built by tk"\n';

/** The comment field tk gives configured users in `/etc/passwd` (`@tk/rootfs` accounts). */
export const TK_ACCOUNT_COMMENT = 'Account created by tk';

/** The entrypoint of a service-bundle image. */
const SERVICE_ENTRYPOINT = ['/bin/s6-svscan', '/sv'];
const EXECLINE_SHEBANG = '#!/bin/execlineb\n';
const CERT_BUNDLE = 'etc/ssl/certs/ca-certificates.crt';
const ACCOUNT_FILES: Readonly<Record<string, number>> = {
  'etc/passwd': 0o644,
  'etc/group': 0o644,
  'etc/shadow': 0o640,
};

/** The assembler's own entries, taken from `@tk/rootfs` so that the rules follow the builder. */
interface AssemblerTemplate {
  /** Skeleton directories and device nodes (paths as the builder writes them). */
  skeleton: TreeEntry[];
  /** What `writeApkDatabase` adds to a skeleton (directories and files), without keys. */
  apkDatabase: TreeEntry[];
}

let template: AssemblerTemplate | undefined;

function assemblerTemplate(): AssemblerTemplate {
  if (template !== undefined) return template;
  const skeleton = new FsTree(meta(0o755));
  createSkeleton(skeleton, { mtime: 0, devices: true });
  const db = new FsTree(meta(0o755));
  createSkeleton(db, { mtime: 0, devices: false });
  const before = new Set(db.walk().map((e) => e.path));
  writeApkDatabase(db, [], { arch: 'noarch', world: [], repositories: [], keys: [] }, 0);
  template = {
    skeleton: treeEntries(skeleton),
    apkDatabase: treeEntries(db).filter((e) => !before.has(e.path)),
  };
  return template;
}

/** Owner and mode a path should have. */
export interface ExpectedMeta {
  uid: number;
  gid: number;
  mode: number;
}

/**
 * The skeleton directories with their owner and mode (relative paths, as the builder writes them).
 *
 * @returns path → owner and mode
 */
export function skeletonDirectories(): Map<string, ExpectedMeta> {
  return new Map(
    assemblerTemplate()
      .skeleton.filter((e) => e.type === 'directory')
      .map((e) => [e.path, { uid: e.uid, gid: e.gid, mode: e.mode }]),
  );
}

/** What the rules need to know about the image. */
export interface GeneratedContext {
  fs: LayerFs;
  /** Canonical paths of package files. */
  owned: ReadonlySet<string>;
  /** Canonical paths of directories packages declare. */
  declared: ReadonlySet<string>;
  /** The image's apk arch (`x86_64`), when known: `etc/apk/arch` must say it. */
  apkArch?: string;
  /** The image config's entrypoint. */
  entrypoint?: readonly string[];
}

/** What the rules found. */
export interface GeneratedResult {
  generated: GeneratedPath[];
  findings: Finding[];
  /** Canonical paths the rules account for (generated or reported as GENERATED_MISMATCH). */
  accounted: Set<string>;
}

function metaMismatch(entry: LayerEntry, expected: ExpectedMeta, checkMode = true): string | undefined {
  if (entry.uid !== expected.uid || entry.gid !== expected.gid)
    return `owner ${entry.uid}:${entry.gid}, tk writes ${expected.uid}:${expected.gid}`;
  if (checkMode && entry.mode !== expected.mode)
    return `mode ${formatMode(entry.mode)}, tk writes ${formatMode(expected.mode)}`;
  return undefined;
}

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/**
 * Whether text is only PEM certificates (and blank lines), ending with a newline. Linear: one pass over
 * the lines, no regular expression over the whole text.
 *
 * @param body - the text
 * @returns the number of certificates, or 0 when it is anything else
 */
export function countPemCertificates(body: string): number {
  if (body === '' || !body.endsWith('\n')) return 0;
  const lines = body.slice(0, -1).split('\n');
  let inside = false;
  let count = 0;
  for (const line of lines) {
    if (!inside) {
      if (line === '') continue;
      if (line !== '-----BEGIN CERTIFICATE-----') return 0;
      inside = true;
    } else if (line === '-----END CERTIFICATE-----') {
      inside = false;
      count++;
    } else if (!/^[A-Za-z0-9+/=]{0,128}$/.test(line)) return 0;
  }
  return inside ? 0 : count;
}

/**
 * Whether a rewritten certificate bundle is a package's bundle plus appended certificates: some prefix
 * that ends after a certificate (or is empty) has the package's checksum, and the rest is only PEM
 * certificates.
 *
 * @param content - the layer's file
 * @param checksum - the package file's recorded checksum
 * @returns how many certificates were appended, or 0 when it is not such a file
 */
export function appendedCertificates(content: Uint8Array, checksum: NonNullable<DbFile['checksum']>): number {
  const body = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  const marker = Buffer.from('-----END CERTIFICATE-----\n', 'latin1');
  const hash = createHash(checksum.algorithm);
  let hashed = 0;
  const ends = [0];
  for (let at = body.indexOf(marker); at >= 0; at = body.indexOf(marker, at + marker.length))
    ends.push(at + marker.length);
  for (const end of ends) {
    hash.update(body.subarray(hashed, end));
    hashed = end;
    if (hash.copy().digest('hex') !== checksum.hex) continue;
    const appended = countPemCertificates(body.subarray(end).toString('latin1'));
    if (appended > 0) return appended;
  }
  return 0;
}

/**
 * Decide whether a package file whose checksum does not match was rewritten on purpose by tk (rules 3 and
 * 6): the account files, and a certificate bundle with certificates appended.
 *
 * @param fs - the image
 * @param canonical - the file's canonical path
 * @param entry - the layer entry (a file)
 * @param file - the package's record
 * @param pkg - the package (`name-version`)
 * @returns the generated-path record, or undefined when the difference is a finding
 */
export function acceptRewrite(
  fs: LayerFs,
  canonical: string,
  entry: LayerEntry,
  file: DbFile,
  pkg: string,
): GeneratedPath | undefined {
  if (entry.type !== 'file' && entry.type !== 'hardlink') return undefined;
  const accountFile = Object.keys(ACCOUNT_FILES).find((p) => fs.resolve(p, false) === canonical);
  if (accountFile !== undefined) {
    return {
      path: displayPath(canonical),
      rule: 'accounts',
      package: pkg,
      note: `rewritten by tk from the accounts: configuration; its checksum differs from ${pkg}'s on purpose and is not compared`,
    };
  }
  if (fs.resolve(CERT_BUNDLE, false) === canonical && file.checksum !== undefined) {
    const content = fs.content(entry);
    const appended = content === undefined ? 0 : appendedCertificates(content, file.checksum);
    if (appended > 0) {
      return {
        path: displayPath(canonical),
        rule: 'certificates',
        package: pkg,
        note: `${pkg}'s bundle with ${appended} certificate${appended === 1 ? '' : 's'} from certificates.additional appended`,
      };
    }
  }
  return undefined;
}

/**
 * Apply rules 1, 2 and 4-10 to the layer entries no package owns or declares.
 *
 * @param ctx - the image and what packages own
 * @returns the generated paths, the mismatches, and every path accounted for
 */
export function findGenerated(ctx: GeneratedContext): GeneratedResult {
  const { fs, owned, declared } = ctx;
  const generated: GeneratedPath[] = [];
  const findings: Finding[] = [];
  const accounted = new Set<string>();
  const add = (canonical: string, rule: GeneratedPath['rule'], note?: string): void => {
    if (accounted.has(canonical)) return;
    accounted.add(canonical);
    generated.push({ path: displayPath(canonical), rule, ...(note === undefined ? {} : { note }) });
  };
  const mismatch = (canonical: string, message: string, expected?: string, actual?: string): void => {
    if (accounted.has(canonical)) return;
    accounted.add(canonical);
    findings.push({
      code: 'GENERATED_MISMATCH',
      path: displayPath(canonical),
      message,
      ...(expected === undefined ? {} : { expected }),
      ...(actual === undefined ? {} : { actual }),
    });
  };
  /** An unowned, undeclared entry at a path, or undefined. */
  const free = (path: string, followLast: boolean): { canonical: string; entry: LayerEntry } | undefined => {
    const canonical = fs.resolve(path, followLast);
    if (canonical === undefined || canonical === '' || owned.has(canonical) || declared.has(canonical))
      return undefined;
    const entry = fs.entries.get(canonical);
    return entry === undefined ? undefined : { canonical, entry };
  };
  const checkFile = (
    path: string,
    rule: GeneratedPath['rule'],
    expected: ExpectedMeta,
    what: string,
    content?: (bytes: Uint8Array) => string | undefined,
  ): void => {
    const found = free(path, false);
    if (found === undefined) return;
    const { canonical, entry } = found;
    if (entry.type !== 'file') {
      mismatch(canonical, `${what} is a ${entry.type}; tk writes a regular file`, 'file', entry.type);
      return;
    }
    const wrong = metaMismatch(entry, expected) ?? content?.(entry.data);
    if (wrong !== undefined) mismatch(canonical, `${what}: ${wrong}`);
    else add(canonical, rule);
  };
  const checkDir = (
    path: string,
    rule: GeneratedPath['rule'],
    expected: ExpectedMeta,
    what: string,
  ): void => {
    const found = free(path, true);
    if (found === undefined || found.entry.type !== 'directory') return;
    const wrong = metaMismatch(found.entry, expected);
    if (wrong !== undefined) mismatch(found.canonical, `${what}: ${wrong}`);
    else add(found.canonical, rule);
  };

  const { skeleton, apkDatabase } = assemblerTemplate();

  // 1, 2: skeleton directories and device nodes.
  for (const e of skeleton) {
    if (e.type === 'directory') {
      checkDir(e.path, 'skeleton', e, `skeleton directory ${displayPath(e.path)}`);
      continue;
    }
    const found = free(e.path, false);
    if (found === undefined) continue;
    const { canonical, entry } = found;
    const want = `${e.type} ${e.devmajor ?? 0},${e.devminor ?? 0}`;
    const have = `${entry.type} ${entry.devmajor},${entry.devminor}`;
    if (entry.type !== e.type || entry.devmajor !== e.devmajor || entry.devminor !== e.devminor)
      mismatch(canonical, `device node ${displayPath(canonical)} is ${have}; tk writes ${want}`, want, have);
    else {
      const wrong = metaMismatch(entry, e);
      if (wrong !== undefined) mismatch(canonical, `device node ${displayPath(canonical)}: ${wrong}`);
      else add(canonical, 'device');
    }
  }

  // 3: account files that no package ships.
  for (const [path, mode] of Object.entries(ACCOUNT_FILES))
    checkFile(path, 'accounts', { uid: 0, gid: 0, mode }, displayPath(path));

  // 4: home directories of tk's users.
  const passwd = fs.lstat('etc/passwd');
  const passwdContent = passwd === undefined ? undefined : fs.content(passwd);
  if (passwdContent !== undefined) {
    for (const line of text(passwdContent).split('\n')) {
      const f = line.split(':');
      if (f.length < 7 || f[4] !== TK_ACCOUNT_COMMENT) continue;
      const uid = Number(f[2]);
      const gid = Number(f[3]);
      const home = (f[5] ?? '').replace(/^\/+/, '');
      if (!Number.isSafeInteger(uid) || !Number.isSafeInteger(gid) || home === '') continue;
      checkDir(home, 'home-directory', { uid, gid, mode: 0o700 }, `home directory of ${f[0]}`);
    }
  }

  // 5: the service bundle.
  const ep = ctx.entrypoint;
  if (
    ep !== undefined &&
    ep.length === SERVICE_ENTRYPOINT.length &&
    ep.every((a, i) => a === SERVICE_ENTRYPOINT[i])
  ) {
    const sv = fs.resolve('sv', true);
    if (sv !== undefined && sv !== '' && fs.entries.get(sv)?.type === 'directory') {
      checkDir(sv, 'service-bundle', { uid: 0, gid: 0, mode: 0o755 }, 'service bundle /sv');
      for (const [path, entry] of fs.entries) {
        const rest = path.startsWith(`${sv}/`) ? path.slice(sv.length + 1).split('/') : [];
        if (rest.length === 1 && entry.type === 'directory')
          checkDir(path, 'service-bundle', { uid: 0, gid: 0, mode: 0o755 }, `service ${displayPath(path)}`);
        else if (rest.length === 2 && rest[1] === 'run')
          checkFile(
            path,
            'service-bundle',
            { uid: 0, gid: 0, mode: 0o755 },
            `service script ${displayPath(path)}`,
            (b) => {
              const t = text(b);
              return t.startsWith(EXECLINE_SHEBANG) && t.endsWith('\n')
                ? undefined
                : 'not an execline script as tk writes it';
            },
          );
      }
    }
  }

  // 6: a certificate bundle that no package ships.
  checkFile(CERT_BUNDLE, 'certificates', { uid: 0, gid: 0, mode: 0o644 }, displayPath(CERT_BUNDLE), (b) =>
    countPemCertificates(Buffer.from(b).toString('latin1')) > 0 ? undefined : 'not only PEM certificates',
  );

  // 7: busybox applet links.
  const busybox = fs.resolve('bin/busybox', true);
  const busyboxEntry = busybox === undefined ? undefined : fs.entries.get(busybox);
  const pathsDir = fs.resolve('etc/busybox-paths.d', true);
  if (
    (busyboxEntry?.type === 'file' || busyboxEntry?.type === 'hardlink') &&
    pathsDir !== undefined &&
    fs.entries.get(pathsDir)?.type === 'directory'
  ) {
    const applets = new Set<string>();
    for (const [path, entry] of fs.entries) {
      if (!path.startsWith(`${pathsDir}/`) || path.slice(pathsDir.length + 1).includes('/')) continue;
      const content = entry.type === 'file' || entry.type === 'hardlink' ? fs.content(entry) : undefined;
      if (content === undefined) continue;
      for (const line of text(content).split('\n')) {
        const applet = line.trim().replace(/^\/+/, '');
        if (applet !== '' && !applet.split('/').includes('..')) applets.add(applet);
      }
    }
    for (const applet of [...applets].sort()) {
      if (applet === 'bin/busybox') continue;
      const found = free(applet, false);
      if (found === undefined || found.entry.type !== 'symlink') continue;
      const want = relativeTarget(applet.split('/').slice(0, -1), ['bin', 'busybox']);
      if (found.entry.linkname !== want)
        mismatch(
          found.canonical,
          `busybox applet link ${displayPath(found.canonical)} points to ${found.entry.linkname}; tk links it to ${want}`,
          want,
          found.entry.linkname,
        );
      else if (found.entry.uid !== 0 || found.entry.gid !== 0)
        mismatch(
          found.canonical,
          `busybox applet link ${displayPath(found.canonical)}: owner ${found.entry.uid}:${found.entry.gid}, tk writes 0:0`,
        );
      else add(found.canonical, 'busybox-link');
    }
  }

  // 8: os-release, when no package has one.
  const osOwned = ['etc/os-release', 'usr/lib/os-release'].some((p) =>
    [fs.resolve(p, false), fs.resolve(p, true)].some((c) => c !== undefined && owned.has(c)),
  );
  if (!osOwned)
    checkFile('etc/os-release', 'os-release', { uid: 0, gid: 0, mode: 0o644 }, '/etc/os-release', (b) =>
      text(b) === TK_OS_RELEASE
        ? undefined
        : `its text is not the one tk writes when no package has an os-release (${JSON.stringify(TK_OS_RELEASE)})`,
    );

  // 9: the apk database and /etc/apk files.
  for (const e of apkDatabase) {
    const what = displayPath(e.path);
    if (e.type === 'directory') checkDir(e.path, 'apk-database', e, what);
    else
      checkFile(e.path, 'apk-database', e, what, (b) =>
        e.path === 'etc/apk/arch' && ctx.apkArch !== undefined && text(b) !== `${ctx.apkArch}\n`
          ? `names ${JSON.stringify(text(b).trim().slice(0, 40))}, not the image's arch ${ctx.apkArch}`
          : undefined,
      );
  }

  // 10: keys.
  const keys = fs.resolve('etc/apk/keys', true);
  if (keys !== undefined && keys !== '') {
    for (const path of [...fs.entries.keys()]) {
      if (!path.startsWith(`${keys}/`) || path.slice(keys.length + 1).includes('/')) continue;
      checkFile(path, 'apk-keys', { uid: 0, gid: 0, mode: 0o644 }, `key ${displayPath(path)}`, (b) =>
        text(b).includes('-----BEGIN ') ? undefined : 'not a PEM key',
      );
    }
  }

  return { generated, findings, accounted };
}

/** The relative path from directory `from` to `to` (components from the root), as tk's busybox links use. */
function relativeTarget(from: readonly string[], to: readonly string[]): string {
  let common = 0;
  while (common < from.length && common < to.length - 1 && from[common] === to[common]) common++;
  return [...Array<string>(from.length - common).fill('..'), ...to.slice(common)].join('/');
}
