/**
 * SPDX 2.3 JSON wire types: the subset tk writes, with the spec's field spelling. Member order in these
 * interfaces is the order the writers insert keys, which is the order apko's Go structs give
 * (`pkg/sbom/generator/spdx/spdx.go`), so tk's documents read like apko's.
 *
 * Spec: https://spdx.github.io/spdx-spec/v2.3/ ; schema: test-fixtures/schemas/spdx-2.3/spdx-schema-v2.3.json.
 */

/** `primaryPackagePurpose` values the SPDX 2.3 schema accepts (§7.24). Note the underscores. */
export const PACKAGE_PURPOSES = [
  'APPLICATION',
  'FRAMEWORK',
  'LIBRARY',
  'CONTAINER',
  'OPERATING_SYSTEM',
  'DEVICE',
  'FIRMWARE',
  'SOURCE',
  'ARCHIVE',
  'FILE',
  'INSTALL',
  'OTHER',
] as const;

/** A `primaryPackagePurpose` value (§7.24). */
export type SpdxPackagePurpose = (typeof PACKAGE_PURPOSES)[number];

/** `referenceCategory` values of SPDX 2.3 (§7.21; the 2.3 schema has hyphens only). */
export const REFERENCE_CATEGORIES = ['SECURITY', 'PACKAGE-MANAGER', 'PERSISTENT-ID', 'OTHER'] as const;

/** An external reference category (§7.21). */
export type SpdxReferenceCategory = (typeof REFERENCE_CATEGORIES)[number];

/** Checksum algorithms of SPDX 2.3 (§7.10). */
export const CHECKSUM_ALGORITHMS = [
  'SHA1',
  'SHA224',
  'SHA256',
  'SHA384',
  'SHA512',
  'SHA3-256',
  'SHA3-384',
  'SHA3-512',
  'BLAKE2b-256',
  'BLAKE2b-384',
  'BLAKE2b-512',
  'BLAKE3',
  'MD2',
  'MD4',
  'MD5',
  'MD6',
  'ADLER32',
] as const;

/** A checksum algorithm (§7.10). */
export type SpdxChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** Relationship types of SPDX 2.3 (§11.1). */
export const RELATIONSHIP_TYPES = [
  'DESCRIBES',
  'DESCRIBED_BY',
  'CONTAINS',
  'CONTAINED_BY',
  'DEPENDS_ON',
  'DEPENDENCY_OF',
  'DEPENDENCY_MANIFEST_OF',
  'BUILD_DEPENDENCY_OF',
  'DEV_DEPENDENCY_OF',
  'OPTIONAL_DEPENDENCY_OF',
  'PROVIDED_DEPENDENCY_OF',
  'TEST_DEPENDENCY_OF',
  'RUNTIME_DEPENDENCY_OF',
  'EXAMPLE_OF',
  'GENERATES',
  'GENERATED_FROM',
  'ANCESTOR_OF',
  'DESCENDANT_OF',
  'VARIANT_OF',
  'DISTRIBUTION_ARTIFACT',
  'PATCH_FOR',
  'PATCH_APPLIED',
  'COPY_OF',
  'FILE_ADDED',
  'FILE_DELETED',
  'FILE_MODIFIED',
  'EXPANDED_FROM_ARCHIVE',
  'DYNAMIC_LINK',
  'STATIC_LINK',
  'DATA_FILE_OF',
  'TEST_CASE_OF',
  'BUILD_TOOL_OF',
  'DEV_TOOL_OF',
  'TEST_OF',
  'TEST_TOOL_OF',
  'DOCUMENTATION_OF',
  'OPTIONAL_COMPONENT_OF',
  'METAFILE_OF',
  'PACKAGE_OF',
  'AMENDS',
  'PREREQUISITE_FOR',
  'HAS_PREREQUISITE',
  'REQUIREMENT_DESCRIPTION_FOR',
  'SPECIFICATION_FOR',
  'OTHER',
] as const;

/** A relationship type (§11.1). */
export type SpdxRelationshipType = (typeof RELATIONSHIP_TYPES)[number];

/** A checksum (§7.10). `checksumValue` is lowercase hex. */
export interface SpdxChecksum {
  algorithm: SpdxChecksumAlgorithm;
  checksumValue: string;
}

/** An external reference (§7.21), such as a purl. */
export interface SpdxExternalRef {
  referenceCategory: SpdxReferenceCategory;
  referenceLocator: string;
  referenceType: string;
  comment?: string;
}

/** A package (§7). Optional members are left out of the JSON when undefined. */
export interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo?: string;
  packageFileName?: string;
  filesAnalyzed: boolean;
  licenseConcluded?: string;
  licenseDeclared?: string;
  licenseComments?: string;
  description?: string;
  summary?: string;
  downloadLocation: string;
  homepage?: string;
  originator?: string;
  supplier?: string;
  sourceInfo?: string;
  copyrightText?: string;
  attributionTexts?: string[];
  comment?: string;
  primaryPackagePurpose?: SpdxPackagePurpose;
  checksums?: SpdxChecksum[];
  externalRefs?: SpdxExternalRef[];
}

/** A relationship between two elements (§11). */
export interface SpdxRelationship {
  spdxElementId: string;
  relationshipType: SpdxRelationshipType;
  relatedSpdxElement: string;
  comment?: string;
}

/** A license that is not on the SPDX list, referenced as `LicenseRef-…` (§10). */
export interface SpdxExtractedLicense {
  licenseId: string;
  extractedText: string;
  name?: string;
  comment?: string;
  seeAlsos?: string[];
}

/** Who and when (§6.8–6.10). */
export interface SpdxCreationInfo {
  created: string;
  creators: string[];
  licenseListVersion: string;
}

/** A whole SPDX 2.3 document as tk writes it. */
export interface SpdxDocument {
  SPDXID: 'SPDXRef-DOCUMENT';
  name: string;
  spdxVersion: 'SPDX-2.3';
  creationInfo: SpdxCreationInfo;
  dataLicense: 'CC0-1.0';
  documentNamespace: string;
  documentDescribes: string[];
  packages: SpdxPackage[];
  relationships: SpdxRelationship[];
  hasExtractedLicensingInfos?: SpdxExtractedLicense[];
}
