/**
 * What `verify-image` reports: findings (problems in a readable image; any finding means exit 1) and
 * image-generated paths (files tk's image assembler writes that no package owns; listed, never findings).
 */

/** The kinds of findings, each with what it means (shown in `--help` and in the JSON report). */
export const FINDING_CODES = {
  UNOWNED:
    'a file, link or device in the layer that no installed package owns and tk does not generate; or a directory with nothing owned or generated below it',
  MISSING: 'a file or directory of an installed package is not in the layer',
  TYPE_MISMATCH: 'a package directory is not a directory in the layer, or a package file is a directory',
  CHECKSUM_MISMATCH:
    "a package file's content does not match the apk database's checksum (the database records no per-file size: a changed size shows here, with the layer's size)",
  LINK_MISMATCH: "a package symlink points somewhere else than the apk database's checksum records",
  MODE_MISMATCH: 'permission bits (with setuid/setgid/sticky) differ from the apk database',
  OWNER_MISMATCH: 'uid or gid differ from the apk database',
  DUPLICATE_OWNER: 'two installed packages claim the same path',
  GENERATED_MISMATCH:
    'a path tk generates (device nodes, skeleton directories, apk database files, accounts, os-release, busybox links, service bundle) does not look the way tk writes it',
  NO_APK_DATABASE: 'the image has no lib/apk/db/installed, so nothing in it can be attributed to a package',
  DB_MALFORMED: 'a line of the apk installed database cannot be read',
  UNSAFE_PATH: 'a layer entry (or hard-link target) has a ".." component or a NUL byte; it was not applied',
  SBOM_NOT_FOUND: 'the SBOM for this architecture is not there',
  SBOM_INVALID: 'the SBOM is not an SPDX JSON document with a packages list',
  SBOM_MISSING_PACKAGE:
    'an installed package is not in the SBOM (as a pkg:apk purl with its name and version)',
  SBOM_EXTRA_PACKAGE: 'the SBOM names an apk package (name and version) that is not installed',
  SBOM_OTHER_IMAGE: 'the SBOM describes another image manifest than the one verified',
} as const;

/** A finding code. */
export type FindingCode = keyof typeof FINDING_CODES;

/** One problem found in an image. */
export interface Finding {
  code: FindingCode;
  /** The path in the image (`/usr/bin/hello`); for SBOM findings the SBOM file, when there is one. */
  path?: string;
  /** The package concerned (`hello-2.10-r0`), when there is one. */
  package?: string;
  /** What is wrong, with the values. */
  message: string;
  /** What the database, tk or the image says it should be (`0755`, `0:0`, a sha1, a link target). */
  expected?: string;
  /** What the layer has. */
  actual?: string;
  /** What to do about it, when there is something specific. */
  hint?: string;
}

/** Why tk writes a path that no package owns (see `generated.ts` for each rule). */
export type GeneratedRule =
  | 'skeleton'
  | 'device'
  | 'apk-database'
  | 'apk-keys'
  | 'accounts'
  | 'home-directory'
  | 'os-release'
  | 'busybox-link'
  | 'service-bundle'
  | 'certificates';

/** A path the image assembler wrote, accounted for by a rule instead of a package. */
export interface GeneratedPath {
  /** `/etc/apk/world`. */
  path: string;
  rule: GeneratedRule;
  /** The package whose file tk rewrote on purpose (`/etc/passwd` of tk-baselayout), if any. */
  package?: string;
  /** Why its bytes differ from the package's, when they do. */
  note?: string;
}

/**
 * A path as shown in reports: absolute.
 *
 * @param path - a relative path
 * @returns `/path`
 */
export function displayPath(path: string): string {
  return `/${path}`;
}

/**
 * A mode as shown in reports: four octal digits.
 *
 * @param mode - permission bits
 * @returns `0755`
 */
export function formatMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}
