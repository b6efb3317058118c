/**
 * Reading SPDX documents that packages carry (melange writes one per apk at
 * `/var/lib/db/sbom/<name>-<version>.spdx.json`). They come from packages, so they are hostile input: any
 * size, any JSON, any shape. This module turns one into a small, schema-valid model or refuses it with a
 * warning; it never throws. Only packages and the relationships between them survive: files, snippets,
 * annotations and verification codes are dropped (apko drops files and verification codes too, and forces
 * `filesAnalyzed` to false).
 *
 * Values the SPDX 2.3 schema would reject are fixed where the intent is clear (melange's
 * `OPERATING-SYSTEM` becomes `OPERATING_SYSTEM`, `PACKAGE_MANAGER` becomes `PACKAGE-MANAGER`, algorithm and
 * relationship names are matched without regard to case) and dropped otherwise.
 */
import type { Logger } from '@tk/core';
import { wellFormed } from './document.ts';
import type { SbomWarningCode } from './warnings.ts';
import { LICENSE_REF_PATTERN, SPDX_ID_PATTERN } from './ids.ts';
import type { EmbeddedSbom, EmbeddedSbomLimits } from './model.ts';
import {
  CHECKSUM_ALGORITHMS,
  PACKAGE_PURPOSES,
  REFERENCE_CATEGORIES,
  RELATIONSHIP_TYPES,
  type SpdxChecksum,
  type SpdxExternalRef,
  type SpdxExtractedLicense,
  type SpdxPackage,
  type SpdxPackagePurpose,
  type SpdxReferenceCategory,
  type SpdxRelationship,
  type SpdxRelationshipType,
} from './spdx-types.ts';

/** Default limits for embedded SBOMs. */
export const DEFAULT_EMBEDDED_LIMITS: Readonly<EmbeddedSbomLimits> = Object.freeze({
  maxBytes: 8 << 20,
  maxTotalBytes: 128 << 20,
  maxPackages: 20_000,
  maxRelationships: 100_000,
  maxCopiedPackages: 1_000,
  maxExtractedLicenses: 1_000,
});

/** Most checksums or external references kept per package. */
const MAX_LIST_ITEMS = 64;

/** One embedded SBOM after checking: packages in document order (first of each id), relationships, licenses. */
export interface ParsedEmbeddedSbom {
  path: string;
  packages: SpdxPackage[];
  byId: Map<string, SpdxPackage>;
  /** Ids of packages the document describes (`documentDescribes` and `SPDXRef-DOCUMENT DESCRIBES`), in document order. */
  described: string[];
  relationships: SpdxRelationship[];
  licenses: SpdxExtractedLicense[];
}

/** Where problems with one embedded SBOM are reported. */
export interface EmbeddedContext {
  logger: Logger;
  limits: EmbeddedSbomLimits;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An own member of a parsed JSON object (never something inherited, whatever the keys are). */
function member(obj: JsonObject, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function str(obj: JsonObject, key: string): string | undefined {
  const value = member(obj, key);
  return typeof value === 'string' ? wellFormed(value) : undefined;
}

function strings(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out = value
    .slice(0, MAX_LIST_ITEMS)
    .filter((v): v is string => typeof v === 'string')
    .map(wellFormed);
  return out.length === 0 ? undefined : out;
}

function pick<T extends string>(
  allowed: readonly T[],
  value: string,
  canon: (v: string) => string,
): T | undefined {
  const wanted = canon(value);
  return allowed.find((a) => canon(a) === wanted);
}

/** Map a purpose to the schema's spelling (`OPERATING-SYSTEM` -> `OPERATING_SYSTEM`). */
export function fixPurpose(value: string): SpdxPackagePurpose | undefined {
  return pick(PACKAGE_PURPOSES, value, (v) => v.toUpperCase().replaceAll('-', '_'));
}

/** Map a reference category to the SPDX 2.3 schema's spelling (`PACKAGE_MANAGER` -> `PACKAGE-MANAGER`). */
export function fixReferenceCategory(value: string): SpdxReferenceCategory | undefined {
  return pick(REFERENCE_CATEGORIES, value, (v) => v.toUpperCase().replaceAll('_', '-'));
}

/** Map a relationship type to the schema's spelling (`described-by` -> `DESCRIBED_BY`). */
export function fixRelationshipType(value: string): SpdxRelationshipType | undefined {
  return pick(RELATIONSHIP_TYPES, value, (v) => v.toUpperCase().replaceAll('-', '_'));
}

function fixAlgorithm(value: string): (typeof CHECKSUM_ALGORITHMS)[number] | undefined {
  return pick(CHECKSUM_ALGORITHMS, value, (v) => v.toUpperCase().replaceAll('-', ''));
}

const PARTY = /^(?:(?:Person|Organization): \S.*|NOASSERTION)$/s;

function party(obj: JsonObject, key: string): string | undefined {
  const value = str(obj, key)?.trim();
  return value !== undefined && PARTY.test(value) ? value : undefined;
}

function checksums(value: unknown): SpdxChecksum[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: SpdxChecksum[] = [];
  for (const item of value.slice(0, MAX_LIST_ITEMS)) {
    if (!isObject(item)) continue;
    const algorithm = str(item, 'algorithm');
    const hex = str(item, 'checksumValue');
    const fixed = algorithm === undefined ? undefined : fixAlgorithm(algorithm);
    if (fixed === undefined || hex === undefined || !/^[0-9a-fA-F]{1,256}$/.test(hex)) continue;
    out.push({ algorithm: fixed, checksumValue: hex.toLowerCase() });
  }
  return out.length === 0 ? undefined : out;
}

function externalRefs(value: unknown): SpdxExternalRef[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: SpdxExternalRef[] = [];
  for (const item of value.slice(0, MAX_LIST_ITEMS)) {
    if (!isObject(item)) continue;
    const category = str(item, 'referenceCategory');
    const locator = str(item, 'referenceLocator');
    const type = str(item, 'referenceType');
    const fixed = category === undefined ? undefined : fixReferenceCategory(category);
    if (fixed === undefined || locator === undefined || locator === '' || type === undefined || type === '')
      continue;
    const ref: SpdxExternalRef = { referenceCategory: fixed, referenceLocator: locator, referenceType: type };
    const comment = str(item, 'comment');
    if (comment !== undefined) ref.comment = comment;
    out.push(ref);
  }
  return out.length === 0 ? undefined : out;
}

/**
 * Check one package object of an embedded document.
 *
 * @returns the package with only schema-valid members, or undefined when it has no usable id or name
 */
export function sanitizePackage(raw: unknown): SpdxPackage | undefined {
  if (!isObject(raw)) return undefined;
  const id = str(raw, 'SPDXID');
  const name = str(raw, 'name');
  if (id === undefined || !SPDX_ID_PATTERN.test(id) || id === 'SPDXRef-DOCUMENT' || name === undefined)
    return undefined;
  const download = str(raw, 'downloadLocation')?.trim();
  const purpose = str(raw, 'primaryPackagePurpose');
  // apko's Go struct spells it `attributionText` (a string); the schema has `attributionTexts` (an array).
  const single = str(raw, 'attributionText');
  const attributions =
    strings(member(raw, 'attributionTexts')) ?? (single === undefined ? undefined : [single]);
  const pkg: SpdxPackage = {
    SPDXID: id,
    name,
    versionInfo: str(raw, 'versionInfo'),
    packageFileName: str(raw, 'packageFileName'),
    filesAnalyzed: false,
    licenseConcluded: str(raw, 'licenseConcluded'),
    licenseDeclared: str(raw, 'licenseDeclared'),
    licenseComments: str(raw, 'licenseComments'),
    description: str(raw, 'description'),
    summary: str(raw, 'summary'),
    downloadLocation: download === undefined || download === '' ? 'NOASSERTION' : download,
    homepage: str(raw, 'homepage'),
    originator: party(raw, 'originator'),
    supplier: party(raw, 'supplier'),
    sourceInfo: str(raw, 'sourceInfo'),
    copyrightText: str(raw, 'copyrightText'),
    attributionTexts: attributions,
    comment: str(raw, 'comment'),
    primaryPackagePurpose: purpose === undefined ? undefined : fixPurpose(purpose),
    checksums: checksums(member(raw, 'checksums')),
    externalRefs: externalRefs(member(raw, 'externalRefs')),
  };
  return pkg;
}

function sanitizeRelationship(raw: unknown): SpdxRelationship | undefined {
  if (!isObject(raw)) return undefined;
  const element = str(raw, 'spdxElementId');
  const related = str(raw, 'relatedSpdxElement');
  const type = str(raw, 'relationshipType');
  const fixed = type === undefined ? undefined : fixRelationshipType(type);
  if (element === undefined || related === undefined || fixed === undefined) return undefined;
  return { spdxElementId: element, relationshipType: fixed, relatedSpdxElement: related };
}

function sanitizeLicense(raw: unknown): SpdxExtractedLicense | undefined {
  if (!isObject(raw)) return undefined;
  const id = str(raw, 'licenseId');
  const text = str(raw, 'extractedText');
  if (id === undefined || !LICENSE_REF_PATTERN.test(id) || text === undefined) return undefined;
  const info: SpdxExtractedLicense = { licenseId: id, extractedText: text };
  const name = str(raw, 'name');
  if (name !== undefined) info.name = name;
  const comment = str(raw, 'comment');
  if (comment !== undefined) info.comment = comment;
  const seeAlsos = strings(member(raw, 'seeAlsos'));
  if (seeAlsos !== undefined) info.seeAlsos = seeAlsos;
  return info;
}

function skip(ctx: EmbeddedContext, path: string, code: SbomWarningCode, why: string): undefined {
  ctx.logger.warn(`embedded SBOM ${path} skipped: ${why}`, code);
  return undefined;
}

function optionalArray(doc: JsonObject, key: string): unknown[] | false {
  const value = member(doc, key);
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : false;
}

const decoder = new TextDecoder('utf-8');

/**
 * Parse and check one embedded SBOM. Never throws: a file that is too large, not JSON or not shaped like
 * an SPDX 2 document is reported through the logger (`SBOM_EMBEDDED_INVALID`, `SBOM_EMBEDDED_TOO_LARGE`)
 * and undefined is returned.
 *
 * @param sbom - the file found in the image
 * @param ctx - logger and limits
 * @returns the checked model, or undefined when the file was skipped
 */
export function parseEmbeddedSbom(sbom: EmbeddedSbom, ctx: EmbeddedContext): ParsedEmbeddedSbom | undefined {
  const path = sbom.path;
  const { limits } = ctx;
  if (sbom.json.byteLength > limits.maxBytes) {
    return skip(
      ctx,
      path,
      'SBOM_EMBEDDED_TOO_LARGE',
      `${sbom.json.byteLength} bytes is over the ${limits.maxBytes}-byte limit`,
    );
  }
  let root: unknown;
  try {
    // Like Go's decoder, invalid UTF-8 becomes U+FFFD rather than failing the file.
    root = JSON.parse(decoder.decode(sbom.json));
  } catch (error) {
    return skip(ctx, path, 'SBOM_EMBEDDED_INVALID', `not JSON (${(error as Error).message})`);
  }
  if (!isObject(root)) return skip(ctx, path, 'SBOM_EMBEDDED_INVALID', 'the top level is not a JSON object');
  const version = member(root, 'spdxVersion');
  if (version !== undefined && (typeof version !== 'string' || !version.startsWith('SPDX-2.'))) {
    return skip(
      ctx,
      path,
      'SBOM_EMBEDDED_INVALID',
      `spdxVersion ${JSON.stringify(version)?.slice(0, 40)} is not SPDX-2.x`,
    );
  }
  const rawPackages = optionalArray(root, 'packages');
  const rawRelationships = optionalArray(root, 'relationships');
  const rawDescribes = optionalArray(root, 'documentDescribes');
  const rawLicenses = optionalArray(root, 'hasExtractedLicensingInfos');
  if (
    rawPackages === false ||
    rawRelationships === false ||
    rawDescribes === false ||
    rawLicenses === false
  ) {
    return skip(
      ctx,
      path,
      'SBOM_EMBEDDED_INVALID',
      'packages, relationships, documentDescribes or hasExtractedLicensingInfos is not an array',
    );
  }
  if (rawPackages.length > limits.maxPackages) {
    return skip(
      ctx,
      path,
      'SBOM_EMBEDDED_TOO_LARGE',
      `${rawPackages.length} packages is over the limit of ${limits.maxPackages}`,
    );
  }
  if (rawRelationships.length > limits.maxRelationships) {
    return skip(
      ctx,
      path,
      'SBOM_EMBEDDED_TOO_LARGE',
      `${rawRelationships.length} relationships is over the limit of ${limits.maxRelationships}`,
    );
  }
  if (rawLicenses.length > limits.maxExtractedLicenses) {
    return skip(
      ctx,
      path,
      'SBOM_EMBEDDED_TOO_LARGE',
      `${rawLicenses.length} extracted licenses is over the limit of ${limits.maxExtractedLicenses}`,
    );
  }

  const packages: SpdxPackage[] = [];
  const byId = new Map<string, SpdxPackage>();
  let dropped = 0;
  for (const raw of rawPackages) {
    const pkg = sanitizePackage(raw);
    if (pkg === undefined || byId.has(pkg.SPDXID)) {
      dropped++;
      continue;
    }
    packages.push(pkg);
    byId.set(pkg.SPDXID, pkg);
  }
  const relationships: SpdxRelationship[] = [];
  for (const raw of rawRelationships) {
    const rel = sanitizeRelationship(raw);
    if (rel === undefined) dropped++;
    else relationships.push(rel);
  }
  const describedSet = new Set<string>();
  for (const id of rawDescribes) if (typeof id === 'string') describedSet.add(id);
  for (const rel of relationships) {
    if (rel.spdxElementId === 'SPDXRef-DOCUMENT' && rel.relationshipType === 'DESCRIBES')
      describedSet.add(rel.relatedSpdxElement);
  }
  // Document order of the packages, not of the lists that name them.
  const described = packages.filter((p) => describedSet.has(p.SPDXID)).map((p) => p.SPDXID);
  const licenses: SpdxExtractedLicense[] = [];
  for (const raw of rawLicenses) {
    const info = sanitizeLicense(raw);
    if (info === undefined) dropped++;
    else licenses.push(info);
  }
  if (dropped > 0)
    ctx.logger.debug(`embedded SBOM ${path}: ${dropped} malformed or repeated entries dropped`);
  return { path, packages, byId, described, relationships, licenses };
}

/**
 * The packages an embedded SBOM's described packages reach through its relationships (following them from
 * `spdxElementId` to `relatedSpdxElement`, as apko does), described packages included. Cycles are fine: each
 * package is visited once, so the walk is linear in the size of the document.
 *
 * @param doc - the checked document
 * @param maxPackages - most packages to return
 * @returns the reached ids in document order, or undefined when there are more than `maxPackages`
 */
export function reachablePackages(doc: ParsedEmbeddedSbom, maxPackages: number): string[] | undefined {
  const edges = new Map<string, string[]>();
  for (const rel of doc.relationships) {
    if (!doc.byId.has(rel.relatedSpdxElement)) continue; // files, external documents, NONE, NOASSERTION
    let list = edges.get(rel.spdxElementId);
    if (list === undefined) edges.set(rel.spdxElementId, (list = []));
    list.push(rel.relatedSpdxElement);
  }
  const seen = new Set<string>(doc.described);
  const queue = [...doc.described];
  for (let i = 0; i < queue.length; i++) {
    for (const next of edges.get(queue[i] as string) ?? []) {
      if (seen.has(next)) continue;
      seen.add(next);
      if (seen.size > maxPackages) return undefined;
      queue.push(next);
    }
  }
  if (seen.size > maxPackages) return undefined;
  return doc.packages.filter((p) => seen.has(p.SPDXID)).map((p) => p.SPDXID);
}
