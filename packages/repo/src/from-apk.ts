/**
 * Index records from packages, and merging records into an existing index (melange `index --merge`).
 */
import { compareVersions, type ApkPackage } from '@tk/apk';
import { compareCodePoints } from '@tk/core';
import type { IndexEntry } from './index-text.ts';

/**
 * The index record of a package: identity checksum, file size and the `.PKGINFO` fields.
 *
 * @param pkg - a parsed package
 * @returns its APKINDEX record (empty text fields are left out, as in the index text)
 */
export function indexEntryFromApk(pkg: ApkPackage): IndexEntry {
  const info = pkg.pkginfo;
  const entry: IndexEntry = {
    checksum: pkg.identity,
    name: info.pkgname,
    version: info.pkgver,
    size: pkg.fileSize,
    depends: [...info.depend],
    provides: [...info.provides],
    installIf: info.install_if.flatMap((v) => v.split(/\s+/).filter(Boolean)),
    other: [],
  };
  if (info.arch !== undefined && info.arch !== '') entry.arch = info.arch;
  if (info.size !== undefined) entry.installedSize = info.size;
  if (info.pkgdesc !== undefined && info.pkgdesc !== '') entry.description = info.pkgdesc;
  if (info.url !== undefined && info.url !== '') entry.url = info.url;
  if (info.license !== undefined && info.license !== '') entry.license = info.license;
  if (info.origin !== undefined && info.origin !== '') entry.origin = info.origin;
  if (info.maintainer !== undefined && info.maintainer !== '') entry.maintainer = info.maintainer;
  if (info.builddate !== undefined) entry.buildTime = info.builddate;
  if (info.commit !== undefined && info.commit !== '') entry.commit = info.commit;
  if (info.provider_priority !== undefined) entry.providerPriority = info.provider_priority;
  return entry;
}

/**
 * Merge records: an added record replaces an existing one with the same name and version; the result is
 * sorted by name, then apk version order, so the same packages always give the same index.
 *
 * @param existing - records already in the index
 * @param added - new records
 * @returns the merged, sorted records
 */
export function mergeIndexEntries(
  existing: readonly IndexEntry[],
  added: readonly IndexEntry[],
): IndexEntry[] {
  const byKey = new Map<string, IndexEntry>();
  for (const entry of [...existing, ...added]) byKey.set(`${entry.name}\0${entry.version}`, entry);
  return [...byKey.values()].sort(
    (a, b) =>
      compareCodePoints(a.name, b.name) ||
      compareVersions(a.version, b.version) ||
      compareCodePoints(a.version, b.version),
  );
}
