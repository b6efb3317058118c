/**
 * Checking one image's file system against its apk database: every package file and directory must be
 * in the layer with the recorded type, owner, mode and checksum; every layer entry must be owned by a
 * package or written by tk's assembler (`generated.ts`); directories are fine when something owned or
 * generated is below them.
 *
 * Paths are compared canonically: a package's `bin/x` behind a `bin -> usr/bin` symlink is the layer's
 * `usr/bin/x`, as the builder installed it.
 */
import { acceptRewrite, findGenerated, skeletonDirectories, type ExpectedMeta } from './generated.ts';
import { displayPath, formatMode, type Finding, type GeneratedPath } from './findings.ts';
import { parseInstalledDb, type DbDirectory, type DbFile, type DbPackage } from './installed-db.ts';
import type { LayerEntry, LayerFs } from './layer-fs.ts';

/** Where apk keeps its database: apk-tools' place, then apko's (behind a symlink in apko images). */
export const INSTALLED_DB_PATHS = ['lib/apk/db/installed', 'usr/lib/apk/db/installed'] as const;

/** Largest installed database read (bytes). */
export const MAX_INSTALLED_DB_BYTES = 256 * 1024 * 1024;

/** What {@link checkRootfs} needs besides the file system. */
export interface CheckRootfsOptions {
  /** The image's apk arch (`x86_64`), for `etc/apk/arch`. */
  apkArch?: string;
  /** The image config's entrypoint (recognises a service bundle). */
  entrypoint?: readonly string[];
}

/** The result of checking one file system. */
export interface RootfsCheck {
  /** The database's path (`/lib/apk/db/installed`), when there is one. */
  database?: string;
  /** Installed packages, in database order. */
  packages: { name: string; version: string }[];
  /** Package files (R: lines) checked. */
  filesChecked: number;
  /** Entries in the flattened layers. */
  layerEntries: number;
  generated: GeneratedPath[];
  findings: Finding[];
}

const pkgId = (pkg: DbPackage): string => `${pkg.name}-${pkg.version}`;
const owner = (m: { uid: number; gid: number }): string => `${m.uid}:${m.gid}`;

function compareMeta(
  findings: Finding[],
  entry: LayerEntry,
  expected: { uid: number; gid: number; mode?: number },
  where: { path: string; package: string; what: string },
): void {
  if (entry.uid !== expected.uid || entry.gid !== expected.gid) {
    findings.push({
      code: 'OWNER_MISMATCH',
      path: where.path,
      package: where.package,
      message: `${where.what} is owned by ${owner(entry)}; the apk database records ${owner(expected)}`,
      expected: owner(expected),
      actual: owner(entry),
    });
  }
  if (expected.mode !== undefined && entry.mode !== expected.mode) {
    findings.push({
      code: 'MODE_MISMATCH',
      path: where.path,
      package: where.package,
      message: `${where.what} has mode ${formatMode(entry.mode)}; the apk database records ${formatMode(expected.mode)}`,
      expected: formatMode(expected.mode),
      actual: formatMode(entry.mode),
    });
  }
}

function checkFile(
  fs: LayerFs,
  canonical: string,
  file: DbFile,
  pkg: DbPackage,
  findings: Finding[],
  generated: GeneratedPath[],
): void {
  const path = displayPath(canonical);
  const id = pkgId(pkg);
  const entry = fs.entries.get(canonical);
  if (entry === undefined) {
    findings.push({
      code: 'MISSING',
      path,
      package: id,
      message: `${path} of ${id} is not in the layer`,
    });
    return;
  }
  if (entry.type === 'directory') {
    findings.push({
      code: 'TYPE_MISMATCH',
      path,
      package: id,
      message: `${path} of ${id} is a file in the package but a directory in the layer`,
      expected: 'file',
      actual: 'directory',
    });
    return;
  }
  // A hard link shares its target's inode: its owner and mode are the target's, which is checked as a
  // file of its own (the link's tar header is not applied by extractors, and may differ from the
  // package's header for the link).
  if (entry.type !== 'hardlink') {
    const acl = file.acl ?? { uid: 0, gid: 0, mode: entry.type === 'symlink' ? undefined : 0o644 };
    compareMeta(findings, entry, acl, { path, package: id, what: `${path} (${entry.type})` });
  }
  if (file.checksum === undefined) return;
  const actual = fs.digest(entry, file.checksum.algorithm);
  if (actual === file.checksum.hex) return;
  const rewrite = actual === undefined ? undefined : acceptRewrite(fs, canonical, entry, file, id);
  if (rewrite !== undefined) {
    generated.push(rewrite);
    return;
  }
  if (entry.type === 'symlink') {
    findings.push({
      code: 'LINK_MISMATCH',
      path,
      package: id,
      message: `${path} of ${id} points to ${JSON.stringify(entry.linkname)}; the apk database records a link whose ${file.checksum.algorithm} is ${file.checksum.hex}`,
      expected: `${file.checksum.algorithm}:${file.checksum.hex}`,
      actual: entry.linkname,
    });
    return;
  }
  const content = fs.content(entry);
  findings.push({
    code: 'CHECKSUM_MISMATCH',
    path,
    package: id,
    message:
      content === undefined
        ? `${path} of ${id} is a ${entry.type === 'hardlink' ? `hard link to missing ${displayPath(entry.linkname)}` : entry.type} with no content to check against the recorded ${file.checksum.algorithm}`
        : `${path} of ${id} has ${file.checksum.algorithm} ${actual ?? '?'} (${content.byteLength} bytes); the apk database records ${file.checksum.hex}`,
    expected: `${file.checksum.algorithm}:${file.checksum.hex}`,
    actual:
      actual === undefined
        ? entry.type
        : `${file.checksum.algorithm}:${actual} (${content?.byteLength ?? 0} bytes)`,
  });
}

function checkDirectory(
  fs: LayerFs,
  canonical: string,
  decls: readonly { dir: DbDirectory; pkg: DbPackage }[],
  skeleton: ExpectedMeta | undefined,
  findings: Finding[],
): void {
  const first = decls[0]!;
  const path = displayPath(canonical);
  const id = pkgId(first.pkg);
  const entry = fs.entries.get(canonical);
  if (entry === undefined) {
    findings.push({
      code: 'MISSING',
      path,
      package: id,
      message: `directory ${path} of ${id} is not in the layer`,
    });
    return;
  }
  if (entry.type !== 'directory') {
    findings.push({
      code: 'TYPE_MISMATCH',
      path,
      package: id,
      message: `${path} is a directory of ${id} but a ${entry.type} in the layer`,
      expected: 'directory',
      actual: entry.type,
    });
    return;
  }
  // The first declaration wins (the skeleton comes before every package); accept any declaration.
  const candidates: ExpectedMeta[] = [
    ...(skeleton === undefined ? [] : [skeleton]),
    ...decls.map((d) => d.dir),
  ];
  if (candidates.some((c) => c.uid === entry.uid && c.gid === entry.gid && c.mode === entry.mode)) return;
  compareMeta(findings, entry, candidates[0]!, { path, package: id, what: `directory ${path}` });
}

/**
 * Check an image's flattened file system against the apk database inside it.
 *
 * @param fs - the file system
 * @param options - the arch and entrypoint of the image
 * @returns packages, counts, image-generated paths and findings
 */
export function checkRootfs(fs: LayerFs, options: CheckRootfsOptions = {}): RootfsCheck {
  const findings: Finding[] = [];
  const generated: GeneratedPath[] = [];
  const base = { packages: [], filesChecked: 0, layerEntries: fs.entries.size, generated, findings };
  for (const issue of fs.issues) {
    findings.push({
      code: 'UNSAFE_PATH',
      path: issue.name,
      message: `layer ${issue.layer} entry ${JSON.stringify(issue.name)}: ${issue.message}; it was not applied`,
    });
  }

  let dbPath: string | undefined;
  let dbEntry: LayerEntry | undefined;
  for (const p of INSTALLED_DB_PATHS) {
    const canonical = fs.resolve(p, true);
    const entry = canonical === undefined ? undefined : fs.entries.get(canonical);
    if (entry?.type === 'file' || entry?.type === 'hardlink') {
      dbPath = canonical;
      dbEntry = entry;
      break;
    }
  }
  const dbBytes = dbEntry === undefined ? undefined : fs.content(dbEntry);
  if (dbPath === undefined || dbBytes === undefined) {
    findings.push({
      code: 'NO_APK_DATABASE',
      message: `the image has no apk database (${INSTALLED_DB_PATHS.map(displayPath).join(' or ')}); none of its ${fs.entries.size} entries can be attributed to a package`,
      hint: 'verify-image checks images built from apk packages (tk apko build)',
    });
    return base;
  }
  const database = displayPath(dbPath);
  let text: string;
  try {
    if (dbBytes.byteLength > MAX_INSTALLED_DB_BYTES)
      throw new RangeError(`larger than ${MAX_INSTALLED_DB_BYTES} bytes`);
    text = new TextDecoder('utf-8', { fatal: true }).decode(dbBytes);
  } catch (error) {
    findings.push({
      code: 'DB_MALFORMED',
      path: database,
      message: `${database} cannot be read: ${(error as Error).message}`,
    });
    return { ...base, database };
  }
  const db = parseInstalledDb(text);
  for (const issue of db.issues)
    findings.push({
      code: 'DB_MALFORMED',
      path: database,
      message: `${database} line ${issue.line}: ${issue.message}`,
    });

  // Who owns what, by canonical path.
  const owners = new Map<string, { file: DbFile; pkg: DbPackage }>();
  const declared = new Map<string, { dir: DbDirectory; pkg: DbPackage }[]>();
  for (const pkg of db.packages) {
    for (const dir of pkg.directories) {
      const canonical = fs.resolve(dir.path, true) ?? dir.path;
      if (canonical === '') continue;
      const list = declared.get(canonical) ?? [];
      list.push({ dir, pkg });
      declared.set(canonical, list);
    }
    for (const file of pkg.files) {
      const canonical = fs.resolve(file.path, false) ?? file.path;
      const previous = owners.get(canonical);
      if (previous !== undefined) {
        findings.push({
          code: 'DUPLICATE_OWNER',
          path: displayPath(canonical),
          package: pkgId(pkg),
          message: `${displayPath(canonical)} is claimed by ${pkgId(previous.pkg)} and ${pkgId(pkg)}`,
        });
        continue;
      }
      owners.set(canonical, { file, pkg });
    }
  }

  const accounted = new Set<string>([...owners.keys(), ...declared.keys()]);
  for (const [canonical, { file, pkg }] of owners) checkFile(fs, canonical, file, pkg, findings, generated);
  const skeleton = skeletonDirectories();
  const skeletonByCanonical = new Map<string, ExpectedMeta>();
  for (const [path, meta] of skeleton) {
    const canonical = fs.resolve(path, true);
    if (canonical !== undefined) skeletonByCanonical.set(canonical, meta);
  }
  for (const [canonical, decls] of declared)
    checkDirectory(fs, canonical, decls, skeletonByCanonical.get(canonical), findings);

  const rules = findGenerated({
    fs,
    owned: new Set(owners.keys()),
    declared: new Set(declared.keys()),
    ...(options.apkArch === undefined ? {} : { apkArch: options.apkArch }),
    ...(options.entrypoint === undefined ? {} : { entrypoint: options.entrypoint }),
  });
  generated.push(...rules.generated);
  findings.push(...rules.findings);
  for (const path of rules.accounted) accounted.add(path);
  // The installed database itself is covered by rule 9 when it sits where tk writes it; apko's
  // usr/lib/apk/db is not tk's layout but is still the database that was read.
  if (!accounted.has(dbPath)) {
    accounted.add(dbPath);
    generated.push({ path: database, rule: 'apk-database' });
  }

  // Directories with something accounted for below them.
  const ancestors = new Set<string>();
  for (const path of accounted) {
    for (let at = path.lastIndexOf('/'); at > 0; at = path.lastIndexOf('/', at - 1)) {
      const parent = path.slice(0, at);
      if (ancestors.has(parent)) break;
      ancestors.add(parent);
    }
  }
  for (const [path, entry] of fs.entries) {
    if (accounted.has(path)) continue;
    if (entry.type === 'directory') {
      if (ancestors.has(path)) continue;
      findings.push({
        code: 'UNOWNED',
        path: displayPath(path),
        message: `directory ${displayPath(path)} is not declared by any installed package and holds nothing that is`,
      });
      continue;
    }
    const detail =
      entry.type === 'file'
        ? `regular file, ${entry.size} bytes, mode ${formatMode(entry.mode)}`
        : entry.type === 'symlink' || entry.type === 'hardlink'
          ? `${entry.type} to ${entry.linkname}`
          : entry.type === 'char' || entry.type === 'block'
            ? `${entry.type} device ${entry.devmajor},${entry.devminor}`
            : entry.type;
    findings.push({
      code: 'UNOWNED',
      path: displayPath(path),
      message: `${displayPath(path)} (${detail}) is owned by no installed package and is not a file tk generates`,
    });
  }

  generated.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    database,
    packages: db.packages.map((p) => ({ name: p.name, version: p.version })),
    filesChecked: owners.size,
    layerEntries: fs.entries.size,
    generated,
    findings,
  };
}
