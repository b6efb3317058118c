/**
 * The SBOM check: the SPDX document tk wrote for an architecture (`sbom-<apk arch>.spdx.json`,
 * apps/apko/src/build/sbom.ts) must name exactly the installed packages, each as a `pkg:apk/<ns>/<name>@<version>`
 * purl (package-url spec: segments percent-encoded), and describe the image manifest that was verified
 * (its `pkg:oci/…@sha256:…?mediaType=…manifest…` purl). Packages are compared by name and version; the
 * same package listed twice (an embedded SBOM's entry and tk's) counts once.
 *
 * The document is outside data: its size is bounded, and anything that is not the expected shape makes an
 * SBOM_INVALID finding rather than an exception.
 */
import type { Finding } from './findings.ts';

/** Largest SBOM read. */
export const MAX_SBOM_BYTES = 64 * 1024 * 1024;

/** The SBOM file of an architecture, as `tk apko build` names it. */
export function sbomFileName(apkArch: string): string {
  return `sbom-${apkArch}.spdx.json`;
}

/** What an SBOM says about the image. */
export interface SbomContents {
  /** Every `pkg:apk` purl's name and version. */
  apk: { name: string; version: string }[];
  /** Digests of the image manifests it describes (`pkg:oci` purls with a manifest media type). */
  manifests: string[];
}

const MANIFEST_TYPES = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
]);

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** A purl split into its parts (no validation of the type's own rules). */
export interface ParsedPurl {
  type: string;
  /** Namespace segments and name, decoded. */
  path: string[];
  version?: string;
  qualifiers: Record<string, string>;
}

/**
 * Parse a package URL (`pkg:type/namespace/name@version?qualifiers#subpath`).
 *
 * @param purl - the text
 * @returns its parts, or undefined when it is not a purl or a segment is not valid percent-encoding
 */
export function parsePurl(purl: string): ParsedPurl | undefined {
  if (!purl.startsWith('pkg:') || purl.length > 4096) return undefined;
  let rest = purl.slice(4);
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const qualifiers: Record<string, string> = {};
  const question = rest.indexOf('?');
  if (question >= 0) {
    for (const pair of rest.slice(question + 1).split('&')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const value = decode(pair.slice(eq + 1));
      if (value === undefined) return undefined;
      qualifiers[pair.slice(0, eq).toLowerCase()] = value;
    }
    rest = rest.slice(0, question);
  }
  const at = rest.indexOf('@');
  const pathText = at >= 0 ? rest.slice(0, at) : rest;
  const version = at >= 0 ? decode(rest.slice(at + 1)) : undefined;
  if (at >= 0 && version === undefined) return undefined;
  const segments = pathText.split('/').filter((s) => s !== '');
  const type = segments.shift()?.toLowerCase();
  if (type === undefined || segments.length === 0) return undefined;
  const path: string[] = [];
  for (const s of segments) {
    const d = decode(s);
    if (d === undefined) return undefined;
    path.push(d);
  }
  return { type, path, ...(version === undefined ? {} : { version }), qualifiers };
}

/**
 * Read the apk packages and described manifests of an SPDX JSON document.
 *
 * @param bytes - the file
 * @returns the contents, or a reason why it is not an SPDX document
 */
export function parseSbom(bytes: Uint8Array): SbomContents | { invalid: string } {
  if (bytes.byteLength > MAX_SBOM_BYTES)
    return { invalid: `${bytes.byteLength} bytes, more than ${MAX_SBOM_BYTES}` };
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    return { invalid: `not JSON (${(error as Error).message})` };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { invalid: 'not a JSON object' };
  const { spdxVersion, packages } = doc as { spdxVersion?: unknown; packages?: unknown };
  if (typeof spdxVersion !== 'string' || !spdxVersion.startsWith('SPDX-'))
    return { invalid: 'no "spdxVersion": not an SPDX document' };
  if (!Array.isArray(packages)) return { invalid: 'no "packages" list' };
  const apk: SbomContents['apk'] = [];
  const manifests: string[] = [];
  for (const pkg of packages) {
    if (typeof pkg !== 'object' || pkg === null) continue;
    const refs = (pkg as { externalRefs?: unknown }).externalRefs;
    if (!Array.isArray(refs)) continue;
    for (const ref of refs) {
      if (typeof ref !== 'object' || ref === null) continue;
      const { referenceType, referenceLocator } = ref as {
        referenceType?: unknown;
        referenceLocator?: unknown;
      };
      if (referenceType !== 'purl' || typeof referenceLocator !== 'string') continue;
      const purl = parsePurl(referenceLocator);
      if (purl === undefined) continue;
      if (purl.type === 'apk') apk.push({ name: purl.path.at(-1)!, version: purl.version ?? '' });
      else if (
        purl.type === 'oci' &&
        purl.version !== undefined &&
        MANIFEST_TYPES.has(purl.qualifiers['mediatype'] ?? '')
      )
        manifests.push(purl.version);
    }
  }
  return { apk, manifests };
}

/**
 * Compare an SBOM with the installed packages and the verified manifest.
 *
 * @param installed - the apk database's packages
 * @param sbom - what the SBOM says
 * @param manifestDigest - the manifest that was verified
 * @param file - the SBOM's path, for messages
 * @returns findings (none when they agree)
 */
export function compareSbom(
  installed: readonly { name: string; version: string }[],
  sbom: SbomContents,
  manifestDigest: string,
  file: string,
): Finding[] {
  const findings: Finding[] = [];
  const key = (p: { name: string; version: string }): string => `${p.name}-${p.version}`;
  const listed = new Set(sbom.apk.map(key));
  const have = new Set(installed.map(key));
  for (const p of installed) {
    if (listed.has(key(p))) continue;
    findings.push({
      code: 'SBOM_MISSING_PACKAGE',
      package: key(p),
      message: `${key(p)} is installed, but ${file} does not list it`,
    });
  }
  for (const id of [...listed].sort()) {
    if (have.has(id)) continue;
    findings.push({
      code: 'SBOM_EXTRA_PACKAGE',
      package: id,
      message: `${file} lists ${id}, which is not installed in the image`,
    });
  }
  if (sbom.manifests.length > 0 && !sbom.manifests.includes(manifestDigest)) {
    findings.push({
      code: 'SBOM_OTHER_IMAGE',
      message: `${file} describes image ${sbom.manifests.join(', ')}, not ${manifestDigest}`,
      expected: manifestDigest,
      actual: sbom.manifests.join(', '),
      hint: 'the SBOM is from another build; use the SBOMs written with this image',
    });
  }
  return findings;
}
