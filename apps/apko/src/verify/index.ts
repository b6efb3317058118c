/**
 * `tk apko verify-image`: the library behind the command (see verify-image.ts).
 */
export { verifyImage } from './verify-image.ts';
export type { VerifyImageOptions, VerifyReport, PlatformReport, SbomVerdict } from './verify-image.ts';
export { formatReport, reportJson } from './report.ts';
export { VerifyError } from './errors.ts';
export type { VerifyErrorCode } from './errors.ts';
export { FINDING_CODES, displayPath, formatMode } from './findings.ts';
export type { Finding, FindingCode, GeneratedPath, GeneratedRule } from './findings.ts';
export { parseInstalledDb, parseDbChecksum } from './installed-db.ts';
export type {
  InstalledDb,
  DbPackage,
  DbFile,
  DbDirectory,
  DbChecksum,
  DbIssue,
  ParseInstalledDbOptions,
} from './installed-db.ts';
export { LayerFs, normalizeLayerPath, MAX_SYMLINK_HOPS } from './layer-fs.ts';
export type { LayerEntry, LayerEntryKind, LayerIssue } from './layer-fs.ts';
export { checkRootfs, INSTALLED_DB_PATHS } from './check-rootfs.ts';
export type { RootfsCheck, CheckRootfsOptions } from './check-rootfs.ts';
export {
  TK_OS_RELEASE,
  TK_ACCOUNT_COMMENT,
  countPemCertificates,
  appendedCertificates,
} from './generated.ts';
export { parseSbom, parsePurl, compareSbom, sbomFileName } from './sbom.ts';
export type { SbomContents, ParsedPurl } from './sbom.ts';
export { openImageSource, looksLikeRegistryReference } from './image-source.ts';
export type { ImageSource, OpenImageOptions } from './image-source.ts';
export { listImages, readImageFs, platformText } from './read-image.ts';
export type { ImageToVerify, ImageListing } from './read-image.ts';
