/**
 * `@tk/sbom`: SPDX 2.3 JSON documents for images (per arch and for the index) and for melange-built
 * packages. Pure functions of their inputs: no I/O, no clock, same input, same bytes.
 */
export {
  imageSbom,
  embeddedSbomPaths,
  identityChecksum,
  maintainerParty,
  MEDIA_TYPES,
  APK_SBOM_DIR,
} from './image.ts';
export { indexSbom } from './index-sbom.ts';
export { packageSbom } from './package-sbom.ts';
export type { PackageSbomInput, PackageSource, PackageConfigSource } from './package-sbom.ts';
export { parseOsRelease } from './os-release.ts';
export { normalizeLicenseExpression } from './license.ts';
export { toIdText } from './ids.ts';
export { formatPurl } from './purl.ts';
export type { PurlParts } from './purl.ts';
export { DEFAULT_EMBEDDED_LIMITS } from './embedded.ts';
export { DEFAULT_NAMESPACE_PREFIX, LICENSE_LIST_VERSION } from './document.ts';
export { SbomError } from './errors.ts';
export type { SbomErrorCode } from './errors.ts';
export type { SbomWarningCode } from './warnings.ts';
export type {
  OsRelease,
  Platform,
  InstalledPackage,
  EmbeddedSbom,
  VcsInfo,
  ImageSbomInput,
  IndexImage,
  IndexSbomInput,
  EmbeddedSbomLimits,
  SbomOptions,
} from './model.ts';
export type {
  SpdxDocument,
  SpdxPackage,
  SpdxRelationship,
  SpdxChecksum,
  SpdxExternalRef,
  SpdxExtractedLicense,
  SpdxCreationInfo,
  SpdxPackagePurpose,
  SpdxReferenceCategory,
  SpdxRelationshipType,
  SpdxChecksumAlgorithm,
} from './spdx-types.ts';
