/**
 * The per-architecture image SBOM, shaped like apko's `sbom-<arch>.spdx.json`
 * (`pkg/sbom/generator/spdx/spdx.go`; golden: test-fixtures/real/apko-testrepo/golden/sboms/):
 *
 *     packages:       image (CONTAINER), layer (CONTAINER), operating system (OPERATING_SYSTEM),
 *                     [source (SOURCE) with vcs], then per installed package: its entry, then what its
 *                     embedded SBOM contributes
 *     relationships:  DOCUMENT DESCRIBES image, image CONTAINS layer, layer CONTAINS OS,
 *                     [image GENERATED_FROM source], then per package: the embedded SBOM's relationships,
 *                     image CONTAINS entry, OS CONTAINS entry
 *
 * Where tk differs from apko, on purpose:
 * - Every installed package has an entry (apko lists only packages that carry an SBOM, so Alpine packages
 *   vanish from its documents). When a package's embedded SBOM describes a package of the same name and
 *   version with an apk purl, that package *is* the entry (apko's ids and purls are kept, and the apk
 *   database's checksum is added when it has none); otherwise tk writes an entry from the apk database and
 *   links the embedded SBOM's described packages to it with CONTAINS.
 * - The OS package is reachable (layer CONTAINS OS) and CONTAINS every installed package: trivy reads a
 *   document's apk packages as OS packages only through such a path (checked with trivy; apko's documents
 *   give trivy no OS packages at all).
 * - Two embedded packages with the same SPDXID are merged only when they are the same package (same name,
 *   version and external references), as melange's shared `…melange.yaml` and source packages are;
 *   otherwise the later one is renamed (content-derived suffix) instead of silently aliasing the first.
 * - The namespace is content-derived, the creators name tk, and every value passes the SPDX 2.3 schema.
 */
import { compareCodePoints, silentLogger, toHex, type Logger } from '@tk/core';
import { creationInfo, dedupeRelationships, digestHex, finalizeDocument, wellFormed } from './document.ts';
import {
  DEFAULT_EMBEDDED_LIMITS,
  parseEmbeddedSbom,
  reachablePackages,
  type EmbeddedContext,
  type ParsedEmbeddedSbom,
} from './embedded.ts';
import { SbomError } from './errors.ts';
import { IdAllocator, toIdText } from './ids.ts';
import { LicenseRegistry } from './license.ts';
import type {
  EmbeddedSbom,
  ImageSbomInput,
  InstalledPackage,
  OsRelease,
  SbomOptions,
  VcsInfo,
} from './model.ts';
import { formatPurl } from './purl.ts';
import type {
  SpdxChecksum,
  SpdxDocument,
  SpdxExtractedLicense,
  SpdxPackage,
  SpdxRelationship,
  SpdxRelationshipType,
} from './spdx-types.ts';

/** OCI media types named in purls (apko's). */
export const MEDIA_TYPES = Object.freeze({
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
});

/** Where packages keep their SBOMs inside an image. */
export const APK_SBOM_DIR = 'var/lib/db/sbom';

/** The OS facts an SBOM uses, with apko's defaults for an image without `/etc/os-release`. */
export interface ResolvedOs {
  id: string;
  name: string;
  versionId: string;
}

/**
 * apko's rules: no os-release means ID `unknown`, NAME `apko-generated image`, VERSION_ID `unknown`; an
 * os-release without a field leaves it empty (an empty ID becomes `unknown` too, so that the OS package
 * still has a valid id).
 */
export function resolveOs(osRelease: OsRelease | undefined): ResolvedOs {
  if (osRelease === undefined) return { id: 'unknown', name: 'apko-generated image', versionId: 'unknown' };
  const id = wellFormed(osRelease.ID ?? '').trim();
  return {
    id: id === '' ? 'unknown' : id,
    name: wellFormed(osRelease.NAME ?? '').trim(),
    versionId: wellFormed(osRelease.VERSION_ID ?? '').trim(),
  };
}

/** `Organization: <name>`, or `NOASSERTION` without a name (apko's `supplier`). */
export function organization(name: string | undefined): string {
  const trimmed = (name ?? '').replace(/\s+/g, ' ').trim();
  return trimmed === '' ? 'NOASSERTION' : `Organization: ${trimmed}`;
}

/**
 * An apk maintainer as an SPDX party.
 *
 * @param maintainer - the `m:` field (`Name <email>`)
 * @returns `Person: Name (email)`, or undefined when there is no maintainer
 * @example
 * maintainerParty('Natanael Copa <ncopa@alpinelinux.org>') // 'Person: Natanael Copa (ncopa@alpinelinux.org)'
 */
export function maintainerParty(maintainer: string | undefined): string | undefined {
  const text = wellFormed(maintainer ?? '')
    .replace(/\s+/g, ' ')
    .trim();
  if (text === '') return undefined;
  const match = /^(.*?)\s*<([^<>]*)>$/.exec(text);
  if (match === null) return `Person: ${text}`;
  const name = (match[1] ?? '').trim();
  const email = (match[2] ?? '').trim();
  if (name === '') return email === '' ? undefined : `Person: ${email}`;
  return email === '' ? `Person: ${name}` : `Person: ${name} (${email})`;
}

/**
 * The SPDX checksum of an apk identity (the `C:` field): hex of the base64 payload, as apko used to write it.
 *
 * @param identity - `Q1<base64 SHA-1>` or `Q2<base64 SHA-256>`
 * @returns a SHA1 or SHA256 checksum, or undefined when `identity` is neither
 * @example
 * identityChecksum('Q1Deb0jNytkrjPW4N/eKLZ43BwOlw=') // { algorithm: 'SHA1', checksumValue: '0de6f48c…3a5c' }
 */
export function identityChecksum(identity: string): SpdxChecksum | undefined {
  const match = /^Q([12])([A-Za-z0-9+/]+={0,2})$/.exec(identity.trim());
  if (match === null) return undefined;
  const bytes = Buffer.from(match[2] as string, 'base64');
  const sha1 = match[1] === '1';
  if (bytes.byteLength !== (sha1 ? 20 : 32)) return undefined;
  return { algorithm: sha1 ? 'SHA1' : 'SHA256', checksumValue: toHex(bytes) };
}

function httpUrl(text: string | undefined): string | undefined {
  const trimmed = (text ?? '').trim();
  return /^https?:\/\/[^\s]+$/.test(trimmed) ? wellFormed(trimmed) : undefined;
}

/**
 * The source package for a vcs URL (apko's `addSourcePackage`): name without the scheme, version and SHA1
 * checksum from the commit, an SPDX VCS download location (`git+https://…@<commit>`), and a
 * `pkg:github/<org>/<repo>@<commit>` purl for GitHub.
 */
export function sourcePackage(vcs: VcsInfo, supplier: string, alloc: IdAllocator): SpdxPackage {
  let url = wellFormed(vcs.url.trim());
  let commit = vcs.commit === undefined ? undefined : wellFormed(vcs.commit.trim());
  const at = url.lastIndexOf('@');
  if (
    (commit === undefined || commit === '') &&
    at > url.indexOf('://') + 2 &&
    !url.slice(at).includes('/')
  ) {
    commit = url.slice(at + 1);
    url = url.slice(0, at);
  }
  const name = url.replace(/^(?:git\+ssh|git\+https|git|https?|ssh):\/\//, '').replace(/\/+$/, '');
  const full = commit === undefined || commit === '' ? url : `${url}@${commit}`;
  const id = alloc.claim(`SPDXRef-Package-${toIdText(full)}`, `source\u0000${full}`);
  const pkg: SpdxPackage = {
    SPDXID: id,
    name,
    versionInfo: commit === '' ? undefined : commit,
    filesAnalyzed: false,
    description: 'Image configuration source',
    downloadLocation: /^[a-z]+:\/\//.test(full)
      ? full.startsWith('git')
        ? full
        : `git+${full}`
      : 'NOASSERTION',
    supplier,
    primaryPackagePurpose: 'SOURCE',
  };
  if (commit !== undefined && /^[0-9a-f]{40}$/.test(commit))
    pkg.checksums = [{ algorithm: 'SHA1', checksumValue: commit }];
  const github = /^github\.com\/([^/]+)\/([^/]+)$/.exec(name);
  if (github !== null) {
    pkg.externalRefs = [
      {
        referenceCategory: 'PACKAGE-MANAGER',
        referenceLocator: formatPurl({
          type: 'github',
          namespace: github[1] as string,
          name: (github[2] as string).replace(/\.git$/, ''),
          version: commit,
        }),
        referenceType: 'purl',
      },
    ];
  }
  return pkg;
}

function rel(from: string, type: SpdxRelationshipType, to: string): SpdxRelationship {
  return { spdxElementId: from, relationshipType: type, relatedSpdxElement: to };
}

function normalizePath(path: string): string {
  return path.replace(/^(?:\.?\/)+/, '');
}

/**
 * Where a package's SBOM may be, in apko's lookup order: `<name>-<version>`, `<name>-<version without -rN>`,
 * `<name>`, each `.spdx.json` under `var/lib/db/sbom/`.
 *
 * @param name - package name
 * @param version - package version
 * @returns the candidate paths, relative to the image root
 */
export function embeddedSbomPaths(name: string, version: string): string[] {
  return [
    `${APK_SBOM_DIR}/${name}-${version}.spdx.json`,
    `${APK_SBOM_DIR}/${name}-${version.replace(/-r\d+$/, '')}.spdx.json`,
    `${APK_SBOM_DIR}/${name}.spdx.json`,
  ];
}

/** What makes two embedded packages "the same" when their SPDXIDs collide. */
function identityKey(pkg: SpdxPackage): string {
  const refs = (pkg.externalRefs ?? []).map((r) => r.referenceLocator).sort(compareCodePoints);
  return JSON.stringify([pkg.name, pkg.versionInfo ?? '', refs]);
}

/** LicenseRef ids (not DocumentRef-qualified) used in a license field. */
function licenseRefs(field: string | undefined): string[] {
  if (field === undefined) return [];
  return [...field.matchAll(/(?<![A-Za-z0-9.:-])LicenseRef-[A-Za-z0-9.-]+/g)].map((m) => m[0]);
}

interface Builder {
  logger: Logger;
  alloc: IdAllocator;
  licenses: LicenseRegistry;
  packages: SpdxPackage[];
  relationships: SpdxRelationship[];
  /** identityKey of every element; ours get keys no embedded package can have. */
  keys: Map<string, string>;
  /** Packages by id, to complete an entry that an earlier SBOM already brought in. */
  byId: Map<string, SpdxPackage>;
  /** Ids that are the entry of an installed package. */
  entries: Set<string>;
  supplier: string;
}

/**
 * Where an embedded package goes: under its own id when that is free, merged into an earlier package with
 * the same id and the same identity (not another installed package's entry when `asEntry`), or under a new
 * content-derived id.
 */
function placeEmbedded(b: Builder, pkg: SpdxPackage, asEntry: boolean): { id: string; emitted: boolean } {
  const key = identityKey(pkg);
  if (b.keys.get(pkg.SPDXID) === key && !(asEntry && b.entries.has(pkg.SPDXID))) {
    return { id: pkg.SPDXID, emitted: false };
  }
  if (!b.alloc.has(pkg.SPDXID)) {
    b.alloc.reserve(pkg.SPDXID);
    b.keys.set(pkg.SPDXID, key);
    return { id: pkg.SPDXID, emitted: true };
  }
  const id = b.alloc.claim(pkg.SPDXID, key);
  b.keys.set(id, key);
  return { id, emitted: true };
}

/** Copy an embedded package into the document: licenses through the registry, parties filled in. */
function copyEmbedded(b: Builder, pkg: SpdxPackage, id: string): SpdxPackage {
  const copy: SpdxPackage = { ...pkg, SPDXID: id };
  if (copy.licenseConcluded !== undefined)
    copy.licenseConcluded = b.licenses.licenseField(copy.licenseConcluded);
  if (copy.licenseDeclared !== undefined)
    copy.licenseDeclared = b.licenses.licenseField(copy.licenseDeclared);
  // apko: checkers want both parties; older packages lack them.
  copy.originator ??= copy.supplier ?? b.supplier;
  copy.supplier ??= copy.originator;
  return copy;
}

function mergeLicenses(b: Builder, doc: ParsedEmbeddedSbom): void {
  for (const info of doc.licenses) {
    if (b.licenses.add(info) === 'conflict') {
      b.logger.warn(
        `embedded SBOM ${doc.path}: ${info.licenseId} has another text than the same id from an earlier package; the first text is kept`,
        'SBOM_LICENSE_CONFLICT',
      );
    }
  }
}

function isApkPurl(pkg: SpdxPackage): boolean {
  return (pkg.externalRefs ?? []).some(
    (r) => r.referenceType === 'purl' && r.referenceLocator.startsWith('pkg:apk/'),
  );
}

interface PackageContext {
  arch: string;
  os: ResolvedOs;
}

function syntheticEntry(b: Builder, pkg: InstalledPackage, ctx: PackageContext, id: string): SpdxPackage {
  const namespace = (pkg.namespace ?? ctx.os.id).trim().toLowerCase() || 'unknown';
  const distro =
    ctx.os.id !== 'unknown' && ctx.os.versionId !== ''
      ? `${ctx.os.id.toLowerCase()}-${ctx.os.versionId}`
      : undefined;
  const purl = formatPurl({
    type: 'apk',
    namespace,
    name: pkg.name,
    version: pkg.version,
    qualifiers: { arch: pkg.arch || ctx.arch, distro },
  });
  const repository = httpUrl(pkg.repository);
  const checksum = identityChecksum(pkg.checksum);
  if (checksum === undefined) {
    b.logger.warn(
      `package ${pkg.name}-${pkg.version}: checksum ${JSON.stringify(pkg.checksum)} is not a Q1/Q2 identity`,
      'SBOM_BAD_CHECKSUM',
    );
  }
  const source = ['Package info from the apk database'];
  if (pkg.origin !== undefined && pkg.origin.trim() !== '')
    source.push(`origin ${wellFormed(pkg.origin.trim())}`);
  if (pkg.commit !== undefined && pkg.commit.trim() !== '')
    source.push(`commit ${wellFormed(pkg.commit.trim())}`);
  const description = wellFormed(pkg.description ?? '').trim();
  return {
    SPDXID: id,
    name: wellFormed(pkg.name),
    versionInfo: wellFormed(pkg.version),
    filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: b.licenses.licenseField(wellFormed(pkg.license ?? '')),
    description: description === '' ? undefined : description,
    downloadLocation:
      repository === undefined
        ? 'NOASSERTION'
        : `${repository.replace(/\/+$/, '')}/${encodeURIComponent(`${pkg.name}-${pkg.version}.apk`)}`,
    homepage: httpUrl(pkg.url),
    originator: maintainerParty(pkg.maintainer),
    supplier: b.supplier,
    sourceInfo: source.join('; '),
    copyrightText: 'NOASSERTION',
    primaryPackagePurpose: 'APPLICATION',
    checksums: checksum === undefined ? undefined : [checksum],
    externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceLocator: purl, referenceType: 'purl' }],
  };
}

function checkInput(input: ImageSbomInput): void {
  for (const pkg of input.packages) {
    if (
      typeof pkg.name !== 'string' ||
      pkg.name === '' ||
      typeof pkg.version !== 'string' ||
      pkg.version === ''
    ) {
      throw new SbomError(
        'SBOM_BAD_INPUT',
        `installed package ${JSON.stringify(pkg.name)} has an empty name or version`,
        {
          hint: 'pass the packages of the image apk database as they are recorded there',
          data: { name: pkg.name, version: pkg.version },
        },
      );
    }
  }
}

function findEmbedded(input: ImageSbomInput): Map<string, EmbeddedSbom> {
  const byPath = new Map<string, EmbeddedSbom>();
  for (const sbom of input.embedded) {
    const path = normalizePath(sbom.path);
    if (!byPath.has(path)) byPath.set(path, sbom);
  }
  return byPath;
}

/**
 * Build the SPDX 2.3 SBOM of one architecture's image.
 *
 * @param input - the image's digests, os-release, installed packages and the SBOM files found in it
 * @param options - logger (warnings about embedded SBOMs), organisation for `creators`, namespace prefix, limits
 * @returns the document as canonical JSON text (2-space indent, `&` written `\u0026` as Go does, final newline)
 * @throws {SbomError} SBOM_BAD_DIGEST for a malformed manifest or layer digest; SBOM_BAD_INPUT for a build
 *   date out of range or a package without name or version
 * @example
 * const text = imageSbom({
 *   arch: 'x86_64', platform: { architecture: 'amd64' }, imageName: 'hello',
 *   manifestDigest: 'sha256:69f0…', layerDigest: 'sha256:c755…', buildDate: 0,
 *   osRelease: { ID: 'wolfi', NAME: 'Wolfi', VERSION_ID: '20230201' },
 *   packages: [{ name: 'busybox', version: '1.36.1-r0', arch: 'x86_64', checksum: 'Q1…', license: 'GPL-2.0-only' }],
 *   embedded: [], toolVersion: '0.1.0',
 * });
 */
export function imageSbom(input: ImageSbomInput, options: SbomOptions = {}): string {
  const logger = options.logger ?? silentLogger;
  const limits = { ...DEFAULT_EMBEDDED_LIMITS, ...options.limits };
  const manifestHex = digestHex(input.manifestDigest, 'image manifest');
  const layerHex = digestHex(input.layerDigest, 'layer');
  const created = creationInfo(input.buildDate, input.toolVersion, options);
  checkInput(input);

  const os = resolveOs(input.osRelease);
  const supplier = organization(os.name);
  const alloc = new IdAllocator();
  alloc.reserve('SPDXRef-DOCUMENT');
  const b: Builder = {
    logger,
    alloc,
    licenses: new LicenseRegistry(),
    packages: [],
    relationships: [],
    keys: new Map(),
    byId: new Map(),
    entries: new Set(),
    supplier,
  };
  const ours = (id: string): string => {
    b.keys.set(id, `\u0000tk:${id}`);
    return id;
  };

  const platformQualifiers = {
    arch: input.platform.architecture,
    variant: input.platform.variant,
    os: 'linux',
  };
  const imageName = wellFormed(input.imageName.trim()) || 'image';
  const imageId = ours(
    alloc.claim(`SPDXRef-Package-Image-${toIdText(input.manifestDigest)}`, input.manifestDigest),
  );
  b.packages.push({
    SPDXID: imageId,
    name: input.manifestDigest,
    versionInfo: input.manifestDigest,
    filesAnalyzed: false,
    description: 'apko container image',
    downloadLocation: 'NOASSERTION',
    supplier,
    primaryPackagePurpose: 'CONTAINER',
    checksums: [{ algorithm: 'SHA256', checksumValue: manifestHex }],
    externalRefs: [
      {
        referenceCategory: 'PACKAGE-MANAGER',
        referenceLocator: formatPurl({
          type: 'oci',
          name: imageName,
          version: input.manifestDigest,
          qualifiers: { ...platformQualifiers, mediaType: MEDIA_TYPES.manifest },
        }),
        referenceType: 'purl',
      },
    ],
  });
  const layerId = ours(
    alloc.claim(`SPDXRef-Package-ImageLayer-${toIdText(input.layerDigest)}`, input.layerDigest),
  );
  b.packages.push({
    SPDXID: layerId,
    name: input.layerDigest,
    versionInfo: os.versionId === '' ? undefined : os.versionId,
    filesAnalyzed: false,
    description: 'apko operating system layer',
    downloadLocation: 'NOASSERTION',
    supplier,
    primaryPackagePurpose: 'CONTAINER',
    checksums: [{ algorithm: 'SHA256', checksumValue: layerHex }],
    externalRefs: [
      {
        referenceCategory: 'PACKAGE-MANAGER',
        referenceLocator: formatPurl({
          type: 'oci',
          name: imageName,
          version: input.layerDigest,
          qualifiers: { ...platformQualifiers, mediaType: MEDIA_TYPES.layer },
        }),
        referenceType: 'purl',
      },
    ],
  });
  const osId = ours(alloc.claim(`SPDXRef-OperatingSystem-${toIdText(os.id)}`, `os\u0000${os.id}`));
  b.packages.push({
    SPDXID: osId,
    name: os.id,
    versionInfo: os.versionId === '' ? undefined : os.versionId,
    filesAnalyzed: false,
    description: 'Operating System',
    downloadLocation: 'NOASSERTION',
    supplier,
    primaryPackagePurpose: 'OPERATING_SYSTEM',
  });
  b.relationships.push(
    rel('SPDXRef-DOCUMENT', 'DESCRIBES', imageId),
    rel(imageId, 'CONTAINS', layerId),
    rel(layerId, 'CONTAINS', osId),
  );
  if (input.vcs !== undefined && input.vcs.url.trim() !== '') {
    const source = sourcePackage(input.vcs, supplier, alloc);
    ours(source.SPDXID);
    b.packages.push(source);
    b.relationships.push(rel(imageId, 'GENERATED_FROM', source.SPDXID));
  }

  const embeddedByPath = findEmbedded(input);
  const used = new Set<string>();
  const ctx: EmbeddedContext = { logger, limits };
  let budget = limits.maxTotalBytes;
  const pctx: PackageContext = { arch: input.arch, os };

  for (const pkg of input.packages) {
    let doc: ParsedEmbeddedSbom | undefined;
    const path = embeddedSbomPaths(pkg.name, pkg.version).find((p) => embeddedByPath.has(p));
    if (path !== undefined) {
      used.add(path);
      const sbom = embeddedByPath.get(path) as EmbeddedSbom;
      if (sbom.json.byteLength > budget) {
        logger.warn(
          `embedded SBOM ${sbom.path} skipped: the embedded SBOMs of this image exceed ${limits.maxTotalBytes} bytes`,
          'SBOM_EMBEDDED_TOO_LARGE',
        );
      } else {
        budget -= sbom.json.byteLength;
        doc = parseEmbeddedSbom(sbom, ctx);
      }
    }
    let reached: string[] | undefined;
    if (doc !== undefined) {
      reached = reachablePackages(doc, limits.maxCopiedPackages);
      if (reached === undefined) {
        logger.warn(
          `embedded SBOM ${doc.path} skipped: its described packages reach more than ${limits.maxCopiedPackages} packages`,
          'SBOM_EMBEDDED_TOO_LARGE',
        );
        doc = undefined;
      } else if (doc.described.length === 0) {
        logger.debug(`embedded SBOM ${doc.path} describes no package; nothing copied`);
      }
    }

    const matched =
      doc === undefined
        ? undefined
        : doc.described
            .map((id) => doc.byId.get(id) as SpdxPackage)
            .find((p) => p.name === pkg.name && p.versionInfo === pkg.version && isApkPurl(p));

    let entryId: string;
    if (matched === undefined) {
      entryId = ours(
        alloc.claim(
          `SPDXRef-Package-apk-${toIdText(`${pkg.name}-${pkg.version}`)}`,
          `apk\u0000${pkg.name}\u0000${pkg.version}\u0000${pkg.arch}`,
        ),
      );
      const entry = syntheticEntry(b, pkg, pctx, entryId);
      b.packages.push(entry);
      b.byId.set(entryId, entry);
    } else {
      entryId = ''; // set below, when the matched package is placed in document order
    }

    if (doc !== undefined && reached !== undefined) {
      mergeLicenses(b, doc);
      const remap = new Map<string, string>();
      for (const id of reached) {
        const source = doc.byId.get(id) as SpdxPackage;
        const isEntry = source === matched;
        const placed = placeEmbedded(b, source, isEntry);
        remap.set(id, placed.id);
        if (placed.emitted) {
          const copy = copyEmbedded(b, source, placed.id);
          b.packages.push(copy);
          b.byId.set(copy.SPDXID, copy);
        }
        if (isEntry) {
          entryId = placed.id;
          const entry = b.byId.get(entryId) as SpdxPackage;
          const checksum = identityChecksum(pkg.checksum);
          if ((entry.checksums ?? []).length === 0 && checksum !== undefined) entry.checksums = [checksum];
        }
      }
      for (const r of doc.relationships) {
        const from = remap.get(r.spdxElementId);
        const to = remap.get(r.relatedSpdxElement);
        if (from !== undefined && to !== undefined) b.relationships.push(rel(from, r.relationshipType, to));
      }
      if (matched === undefined) {
        for (const id of doc.described)
          b.relationships.push(rel(entryId, 'CONTAINS', remap.get(id) as string));
      }
    }
    b.entries.add(entryId);
    b.relationships.push(rel(imageId, 'CONTAINS', entryId), rel(osId, 'CONTAINS', entryId));
  }
  for (const path of embeddedByPath.keys()) {
    if (!used.has(path)) logger.debug(`embedded SBOM ${path} belongs to no installed package; ignored`);
  }

  // Every LicenseRef a package names must be defined in the document.
  const extracted: SpdxExtractedLicense[] = b.licenses.list();
  const defined = new Set(extracted.map((l) => l.licenseId));
  for (const p of b.packages) {
    for (const ref of [...licenseRefs(p.licenseConcluded), ...licenseRefs(p.licenseDeclared)]) {
      if (defined.has(ref)) continue;
      defined.add(ref);
      extracted.push({
        licenseId: ref,
        extractedText: 'NOASSERTION',
        comment: 'Named by a package SBOM that did not include the license text.',
      });
    }
  }

  const doc: SpdxDocument = {
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `sbom-${input.layerDigest}`,
    spdxVersion: 'SPDX-2.3',
    creationInfo: created,
    dataLicense: 'CC0-1.0',
    documentNamespace: '',
    documentDescribes: [imageId],
    packages: b.packages,
    relationships: dedupeRelationships(b.relationships),
    hasExtractedLicensingInfos: extracted,
  };
  return finalizeDocument(doc, options);
}
