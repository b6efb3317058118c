/**
 * What every tk SPDX document shares: creation info, the content-derived namespace and the canonical
 * serialisation (2-space indent, Go's HTML escaping so `&` is `\u0026` as in apko's files, final newline).
 */
import { sha256Hex, stringifyCanonical, utf8, type JsonValue } from '@tk/core';
import { SbomError } from './errors.ts';
import type { SbomOptions } from './model.ts';
import type {
  SpdxChecksum,
  SpdxCreationInfo,
  SpdxDocument,
  SpdxExternalRef,
  SpdxExtractedLicense,
  SpdxPackage,
  SpdxRelationship,
} from './spdx-types.ts';

/** The SPDX license list version tk's documents declare (apko's). */
export const LICENSE_LIST_VERSION = '3.27';

/** Default prefix of `documentNamespace`. */
export const DEFAULT_NAMESPACE_PREFIX = 'https://spdx.org/spdxdocs/tk/';

/** Latest date RFC 3339 can write with a four-digit year: 9999-12-31T23:59:59Z. */
const MAX_EPOCH = 253_402_300_799;

/**
 * Format epoch seconds as Go's `time.RFC3339` in UTC (`1970-01-01T00:00:00Z`).
 *
 * @throws {SbomError} SBOM_BAD_INPUT when the date is not a whole number of seconds in years 1970–9999
 */
export function formatRfc3339(epochSeconds: number): string {
  if (!Number.isSafeInteger(epochSeconds) || epochSeconds < 0 || epochSeconds > MAX_EPOCH) {
    throw new SbomError(
      'SBOM_BAD_INPUT',
      `build date ${epochSeconds} is not whole seconds between 1970 and 9999`,
      {
        hint: 'pass SOURCE_DATE_EPOCH as a non-negative integer number of seconds',
        data: { buildDate: epochSeconds },
      },
    );
  }
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Check a `sha256:<hex>` digest and return its hex part.
 *
 * @throws {SbomError} SBOM_BAD_DIGEST when it is not `sha256:` and 64 lowercase hex digits
 */
export function digestHex(digest: string, what: string): string {
  const match = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (match?.[1] === undefined) {
    throw new SbomError(
      'SBOM_BAD_DIGEST',
      `${what} digest ${JSON.stringify(digest)} is not sha256:<64 hex digits>`,
      {
        hint: 'pass the digest exactly as the OCI descriptor has it, e.g. sha256:69f0…',
        data: { digest, what },
      },
    );
  }
  return match[1];
}

/** Replace lone UTF-16 surrogates (which cannot be UTF-8 encoded) with U+FFFD, as Go's encoder does. */
export function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/**
 * `creationInfo` for a document.
 *
 * @param buildDate - epoch seconds
 * @param toolVersion - tk's version
 * @param options - the organisation to name, if any
 */
export function creationInfo(buildDate: number, toolVersion: string, options: SbomOptions): SpdxCreationInfo {
  const creators = [`Tool: tk (${wellFormed(toolVersion.trim()) || 'unknown'})`];
  const organization = options.organization?.trim();
  if (organization !== undefined && organization !== '')
    creators.push(`Organization: ${wellFormed(organization)}`);
  return { created: formatRfc3339(buildDate), creators, licenseListVersion: LICENSE_LIST_VERSION };
}

function checksumJson(c: SpdxChecksum): JsonValue {
  return { algorithm: c.algorithm, checksumValue: c.checksumValue };
}

function externalRefJson(r: SpdxExternalRef): JsonValue {
  return {
    referenceCategory: r.referenceCategory,
    referenceLocator: r.referenceLocator,
    referenceType: r.referenceType,
    comment: r.comment,
  };
}

/** A package as JSON, keys in apko's order whatever order the object was built in. */
function packageJson(p: SpdxPackage): JsonValue {
  return {
    SPDXID: p.SPDXID,
    name: p.name,
    versionInfo: p.versionInfo,
    packageFileName: p.packageFileName,
    filesAnalyzed: p.filesAnalyzed,
    licenseConcluded: p.licenseConcluded,
    licenseDeclared: p.licenseDeclared,
    licenseComments: p.licenseComments,
    description: p.description,
    summary: p.summary,
    downloadLocation: p.downloadLocation,
    homepage: p.homepage,
    originator: p.originator,
    supplier: p.supplier,
    sourceInfo: p.sourceInfo,
    copyrightText: p.copyrightText,
    attributionTexts: p.attributionTexts,
    comment: p.comment,
    primaryPackagePurpose: p.primaryPackagePurpose,
    checksums:
      p.checksums === undefined || p.checksums.length === 0 ? undefined : p.checksums.map(checksumJson),
    externalRefs:
      p.externalRefs === undefined || p.externalRefs.length === 0
        ? undefined
        : p.externalRefs.map(externalRefJson),
  };
}

function relationshipJson(r: SpdxRelationship): JsonValue {
  return {
    spdxElementId: r.spdxElementId,
    relationshipType: r.relationshipType,
    relatedSpdxElement: r.relatedSpdxElement,
    comment: r.comment,
  };
}

function licenseJson(l: SpdxExtractedLicense): JsonValue {
  return {
    licenseId: l.licenseId,
    extractedText: l.extractedText,
    name: l.name,
    comment: l.comment,
    seeAlsos: l.seeAlsos,
  };
}

function documentJson(doc: SpdxDocument): JsonValue {
  const licenses = doc.hasExtractedLicensingInfos ?? [];
  return {
    SPDXID: doc.SPDXID,
    name: doc.name,
    spdxVersion: doc.spdxVersion,
    creationInfo: {
      created: doc.creationInfo.created,
      creators: doc.creationInfo.creators,
      licenseListVersion: doc.creationInfo.licenseListVersion,
    },
    dataLicense: doc.dataLicense,
    documentNamespace: doc.documentNamespace,
    documentDescribes: doc.documentDescribes,
    packages: doc.packages.map(packageJson),
    relationships: doc.relationships.map(relationshipJson),
    hasExtractedLicensingInfos: licenses.length === 0 ? undefined : licenses.map(licenseJson),
  };
}

function serialize(doc: SpdxDocument): string {
  return stringifyCanonical(documentJson(doc), { indent: 2, htmlEscape: true, finalNewline: true });
}

/**
 * Give a document its namespace and write it. The namespace is the prefix followed by the SHA-256 of the
 * document written with an empty namespace: the same content always gets the same namespace, and any change
 * of content (a package, a digest, the build date, the tool version) gives another.
 *
 * @param doc - the document; its `documentNamespace` is replaced
 * @param options - `namespacePrefix`
 * @returns the canonical JSON text
 */
export function finalizeDocument(doc: SpdxDocument, options: SbomOptions): string {
  const prefix = options.namespacePrefix ?? DEFAULT_NAMESPACE_PREFIX;
  doc.documentNamespace = '';
  const hash = sha256Hex(utf8(serialize(doc)));
  doc.documentNamespace = `${prefix}${hash}`;
  return serialize(doc);
}

/**
 * Drop relationships that repeat an earlier one (same three members), keeping the first.
 *
 * @param relationships - in document order
 * @returns the relationships without repeats
 */
export function dedupeRelationships(relationships: readonly SpdxRelationship[]): SpdxRelationship[] {
  const seen = new Set<string>();
  const out: SpdxRelationship[] = [];
  for (const r of relationships) {
    const key = `${r.spdxElementId}\u0000${r.relationshipType}\u0000${r.relatedSpdxElement}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(r);
  }
  return out;
}
