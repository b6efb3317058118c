/**
 * The multi-arch index SBOM, shaped like apko's `sbom-index.spdx.json` (`GenerateIndex` in
 * `pkg/sbom/generator/spdx/spdx.go`): the index package, one package per arch image, index VARIANT_OF each
 * image (apko's choice of relationship, kept so tools that read apko's documents read tk's).
 */
import { compareCodePoints } from '@tk/core';
import { creationInfo, dedupeRelationships, digestHex, finalizeDocument, wellFormed } from './document.ts';
import { SbomError } from './errors.ts';
import { IdAllocator, toIdText } from './ids.ts';
import { MEDIA_TYPES, organization, sourcePackage } from './image.ts';
import type { IndexSbomInput, SbomOptions } from './model.ts';
import { formatPurl } from './purl.ts';
import type { SpdxDocument, SpdxPackage, SpdxRelationship } from './spdx-types.ts';

/**
 * Build the SPDX 2.3 SBOM of a multi-arch image index.
 *
 * @param input - the index digest, the images it lists with their platforms, the newest build date
 * @param options - organisation for `creators`, namespace prefix
 * @returns the document as canonical JSON text
 * @throws {SbomError} SBOM_BAD_DIGEST for a malformed digest; SBOM_BAD_INPUT for a build date out of range
 *   or an index without images
 * @example
 * const text = indexSbom({
 *   indexDigest: 'sha256:b5f0…', imageName: 'hello', buildDate: 0, toolVersion: '0.1.0',
 *   images: [{ manifestDigest: 'sha256:69f0…', platform: { architecture: 'amd64' } }],
 * });
 */
export function indexSbom(input: IndexSbomInput, options: SbomOptions = {}): string {
  const indexHex = digestHex(input.indexDigest, 'image index');
  if (input.images.length === 0) {
    throw new SbomError('SBOM_BAD_INPUT', `index ${input.indexDigest} lists no images`, {
      hint: 'build at least one architecture before writing the index SBOM',
      data: { indexDigest: input.indexDigest },
    });
  }
  const created = creationInfo(input.buildDate, input.toolVersion, options);
  const supplier = organization(input.supplier);
  const imageName = wellFormed(input.imageName.trim()) || 'image';
  const indexName = imageName === 'image' ? 'index' : imageName;
  const alloc = new IdAllocator();
  alloc.reserve('SPDXRef-DOCUMENT');

  const indexId = alloc.claim(`SPDXRef-Package-${toIdText(input.indexDigest)}`, input.indexDigest);
  const packages: SpdxPackage[] = [
    {
      SPDXID: indexId,
      name: input.indexDigest,
      versionInfo: input.indexDigest,
      filesAnalyzed: false,
      description: 'Multi-arch image index',
      downloadLocation: 'NOASSERTION',
      supplier,
      sourceInfo: 'Generated at image build time by tk',
      primaryPackagePurpose: 'CONTAINER',
      checksums: [{ algorithm: 'SHA256', checksumValue: indexHex }],
      externalRefs: [
        {
          referenceCategory: 'PACKAGE-MANAGER',
          referenceLocator: formatPurl({
            type: 'oci',
            name: indexName,
            version: input.indexDigest,
            qualifiers: { mediaType: MEDIA_TYPES.index },
          }),
          referenceType: 'purl',
        },
      ],
    },
  ];
  const relationships: SpdxRelationship[] = [
    { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: indexId },
  ];

  // apko orders the images by architecture.
  const platformKey = (p: IndexSbomInput['images'][number]['platform']): string =>
    `${p.architecture}\u0000${p.variant ?? ''}`;
  const images = [...input.images].sort((a, b) =>
    compareCodePoints(platformKey(a.platform), platformKey(b.platform)),
  );
  for (const image of images) {
    const hex = digestHex(image.manifestDigest, 'image manifest');
    const id = alloc.claim(
      `SPDXRef-Package-${toIdText(image.manifestDigest)}`,
      `${image.manifestDigest}\u0000${platformKey(image.platform)}`,
    );
    packages.push({
      SPDXID: id,
      name: image.manifestDigest,
      versionInfo: image.manifestDigest,
      filesAnalyzed: false,
      downloadLocation: 'NOASSERTION',
      supplier,
      primaryPackagePurpose: 'CONTAINER',
      checksums: [{ algorithm: 'SHA256', checksumValue: hex }],
      externalRefs: [
        {
          referenceCategory: 'PACKAGE-MANAGER',
          referenceLocator: formatPurl({
            type: 'oci',
            name: imageName,
            version: image.manifestDigest,
            qualifiers: {
              arch: image.platform.architecture,
              variant: image.platform.variant,
              os: 'linux',
              mediaType: MEDIA_TYPES.manifest,
            },
          }),
          referenceType: 'purl',
        },
      ],
    });
    relationships.push({ spdxElementId: indexId, relationshipType: 'VARIANT_OF', relatedSpdxElement: id });
  }
  if (input.vcs !== undefined && input.vcs.url.trim() !== '') {
    const source = sourcePackage(input.vcs, supplier, alloc);
    packages.push(source);
    relationships.push({
      spdxElementId: indexId,
      relationshipType: 'GENERATED_FROM',
      relatedSpdxElement: source.SPDXID,
    });
  }

  const doc: SpdxDocument = {
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `sbom-${input.indexDigest}`,
    spdxVersion: 'SPDX-2.3',
    creationInfo: created,
    dataLicense: 'CC0-1.0',
    documentNamespace: '',
    documentDescribes: [indexId],
    packages,
    relationships: dedupeRelationships(relationships),
  };
  return finalizeDocument(doc, options);
}
