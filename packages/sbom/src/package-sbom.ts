/**
 * The SBOM a melange build puts inside each apk (`/var/lib/db/sbom/<name>-<version>.spdx.json`), shaped like
 * melange's (`pkg/build/sbom/spdx/spdx.go`; goldens: test-fixtures/real/sbom/melange-*.spdx.json):
 *
 *     packages:       SPDXRef-OperatingSystem (name = namespace), the apk (APPLICATION, apk purl),
 *                     [the build configuration (INSTALL, pkg:github purl)], [one package per source (SOURCE)]
 *     relationships:  DOCUMENT DESCRIBES apk, apk DESCRIBED_BY configuration, apk GENERATED_FROM each source
 *
 * Differences from melange: `OPERATING_SYSTEM` is spelled as the schema wants, the document also has a
 * DESCRIBES relationship, the namespace is tk's content hash, and an invalid license string becomes a
 * `LicenseRef-` with its text rather than an invalid expression.
 */
import { creationInfo, finalizeDocument, wellFormed } from './document.ts';
import { SbomError } from './errors.ts';
import { IdAllocator, LICENSE_REF_PATTERN, toIdText } from './ids.ts';
import { organization } from './image.ts';
import { LicenseRegistry } from './license.ts';
import type { SbomOptions } from './model.ts';
import { formatPurl } from './purl.ts';
import {
  CHECKSUM_ALGORITHMS,
  type SpdxChecksum,
  type SpdxDocument,
  type SpdxPackage,
  type SpdxRelationship,
} from './spdx-types.ts';

/** An upstream source of a package (a `fetch` or `git-checkout` step). */
export interface PackageSource {
  /** Project name (`go-containerregistry`). */
  name: string;
  /** Upstream version or tag (`v0.20.2`). */
  version: string;
  /** Where it was fetched from. Default `NOASSERTION`. */
  downloadLocation?: string;
  /** Checksums of the fetched artifact, algorithm as SPDX names it (`SHA256`, `SHA512`). */
  checksums?: readonly { algorithm: string; value: string }[];
  /** A purl for the source (`pkg:github/google/go-containerregistry@v0.20.2`, `pkg:generic/…`). */
  purl?: string;
  /** Declared license of the source. Default `NOASSERTION`. */
  license?: string;
  /** Supplier organisation (`Google`). Default: the package's supplier. */
  supplier?: string;
}

/** The build configuration file and where it lives. */
export interface PackageConfigSource {
  /** Path of the recipe in its repository (`crane.yaml`). */
  path: string;
  /** Repository URL (`https://github.com/wolfi-dev/os`); a GitHub URL gives a `pkg:github` purl. */
  repository?: string;
  /** Commit of the repository the recipe was built from. */
  commit?: string;
}

/** Everything needed for a package's SBOM. */
export interface PackageSbomInput {
  /** Package name. */
  name: string;
  /** Full version with the epoch (`0.20.2-r1`). */
  version: string;
  /** apk architecture (`x86_64`). */
  arch: string;
  /** The package's license expression (melange: the AND of its copyright licenses). */
  license?: string;
  /** Copyright text. Default `NOASSERTION`. */
  copyright?: string;
  /** Short description. */
  description?: string;
  /** melange's `namespace`: purl namespace and name of the OS package (`wolfi`). */
  namespace: string;
  /** Supplier organisation. Default: the namespace with its first letter in upper case (`Wolfi`), as melange. */
  supplier?: string;
  /** The purl's `distro` qualifier. Default: the namespace, as melange writes it. Empty string: none. */
  distro?: string;
  /** CPE 2.3 name to list as a SECURITY reference. */
  cpe?: string;
  /** The build configuration. */
  config?: PackageConfigSource;
  /** Upstream sources. */
  sources?: readonly PackageSource[];
  /** Texts of `LicenseRef-` licenses the package declares (melange's `license-path`). */
  extractedLicenses?: readonly { licenseId: string; extractedText: string; name?: string }[];
  /** Build date, seconds since the epoch. */
  buildDate: number;
  /** tk's version. */
  toolVersion: string;
}

function required(value: string, what: string): string {
  if (value.trim() === '') {
    throw new SbomError('SBOM_BAD_INPUT', `package SBOM: ${what} is empty`, {
      hint: 'give the package name, version, arch and namespace',
      data: { field: what },
    });
  }
  return wellFormed(value.trim());
}

function checksumList(list: PackageSource['checksums']): SpdxChecksum[] | undefined {
  const out: SpdxChecksum[] = [];
  for (const c of list ?? []) {
    const algorithm = CHECKSUM_ALGORITHMS.find((a) => a.toUpperCase() === c.algorithm.toUpperCase().trim());
    if (algorithm !== undefined && /^[0-9a-fA-F]+$/.test(c.value))
      out.push({ algorithm, checksumValue: c.value.toLowerCase() });
  }
  return out.length === 0 ? undefined : out;
}

/**
 * Build the SPDX 2.3 SBOM of one melange-built apk.
 *
 * @param input - the package's identity, license, namespace, recipe and sources
 * @param options - organisation for `creators`, namespace prefix
 * @returns the document as canonical JSON text
 * @throws {SbomError} SBOM_BAD_INPUT for an empty name, version, arch or namespace, or a bad build date
 * @example
 * const text = packageSbom({
 *   name: 'crane', version: '0.20.2-r1', arch: 'x86_64', license: 'Apache-2.0', namespace: 'wolfi',
 *   config: { path: 'crane.yaml', repository: 'https://github.com/wolfi-dev/os', commit: 'c0ffee' },
 *   buildDate: 0, toolVersion: '0.1.0',
 * });
 */
export function packageSbom(input: PackageSbomInput, options: SbomOptions = {}): string {
  const name = required(input.name, 'name');
  const version = required(input.version, 'version');
  const arch = required(input.arch, 'arch');
  const namespace = required(input.namespace, 'namespace');
  const created = creationInfo(input.buildDate, input.toolVersion, options);
  // melange: cases.Title(namespace), so `wolfi` supplies as `Wolfi` and `wolfi-dev` as `Wolfi-Dev`.
  const supplierName =
    input.supplier ??
    namespace
      .toLowerCase()
      .replace(/(^|[^\p{L}\p{N}])(\p{L})/gu, (_m, sep: string, ch: string) => sep + ch.toUpperCase());
  const supplier = organization(wellFormed(supplierName));
  const licenses = new LicenseRegistry();
  for (const info of input.extractedLicenses ?? []) {
    if (LICENSE_REF_PATTERN.test(info.licenseId)) {
      licenses.add({
        licenseId: info.licenseId,
        extractedText: wellFormed(info.extractedText),
        name: info.name,
      });
    }
  }
  const alloc = new IdAllocator();
  alloc.reserve('SPDXRef-DOCUMENT');

  const osId = alloc.claim('SPDXRef-OperatingSystem', 'os');
  const apkId = alloc.claim(
    `SPDXRef-Package-apk-${toIdText(`${name}-${version}`, 'melange')}`,
    `apk\u0000${name}\u0000${version}`,
  );
  const distro = input.distro ?? namespace.toLowerCase();
  const apk: SpdxPackage = {
    SPDXID: apkId,
    name,
    versionInfo: version,
    filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: licenses.licenseField(
      input.license === undefined ? undefined : wellFormed(input.license),
    ),
    description:
      input.description === undefined || input.description.trim() === ''
        ? undefined
        : wellFormed(input.description.trim()),
    downloadLocation: 'NOASSERTION',
    originator: supplier,
    supplier,
    copyrightText:
      input.copyright === undefined || input.copyright.trim() === ''
        ? 'NOASSERTION'
        : wellFormed(input.copyright),
    primaryPackagePurpose: 'APPLICATION',
    externalRefs: [
      {
        referenceCategory: 'PACKAGE-MANAGER',
        referenceLocator: formatPurl({
          type: 'apk',
          namespace: namespace.toLowerCase(),
          name,
          version,
          qualifiers: { arch, distro },
        }),
        referenceType: 'purl',
      },
    ],
  };
  if (input.cpe !== undefined && /^cpe:2\.3:\S+$/.test(input.cpe)) {
    apk.externalRefs?.push({
      referenceCategory: 'SECURITY',
      referenceLocator: input.cpe,
      referenceType: 'cpe23Type',
    });
  }
  const packages: SpdxPackage[] = [
    {
      SPDXID: osId,
      name: namespace,
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      description: 'Operating System',
      downloadLocation: 'NOASSERTION',
      originator: supplier,
      supplier,
      primaryPackagePurpose: 'OPERATING_SYSTEM',
    },
    apk,
  ];
  const relationships: SpdxRelationship[] = [
    { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: apkId },
  ];

  if (input.config !== undefined && input.config.path.trim() !== '') {
    const path = wellFormed(input.config.path.trim());
    const commit = input.config.commit === undefined ? '' : wellFormed(input.config.commit.trim());
    const configId = alloc.claim(
      `SPDXRef-Package-Melange-${toIdText(path, 'melange')}${commit === '' ? '' : `-${toIdText(commit, 'melange')}`}`,
      `config\u0000${path}\u0000${commit}`,
    );
    const github = /^https?:\/\/github\.com\/([^/\s]+)\/([^/\s]+?)(?:\.git)?\/?$/.exec(
      input.config.repository?.trim() ?? '',
    );
    packages.push({
      SPDXID: configId,
      name: path,
      versionInfo: commit === '' ? undefined : commit,
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      downloadLocation: 'NOASSERTION',
      originator: supplier,
      supplier,
      primaryPackagePurpose: 'INSTALL',
      externalRefs:
        github === null
          ? undefined
          : [
              {
                referenceCategory: 'PACKAGE-MANAGER',
                referenceLocator: formatPurl({
                  type: 'github',
                  namespace: github[1] as string,
                  name: github[2] as string,
                  version: commit,
                  subpath: path,
                }),
                referenceType: 'purl',
              },
            ],
    });
    relationships.push({
      spdxElementId: apkId,
      relationshipType: 'DESCRIBED_BY',
      relatedSpdxElement: configId,
    });
  }

  (input.sources ?? []).forEach((source, i) => {
    const sourceName = wellFormed(source.name.trim()) || name;
    const sourceVersion = wellFormed(source.version.trim());
    const id = alloc.claim(
      `SPDXRef-Package-Source-${toIdText(sourceVersion === '' ? sourceName : `${sourceName}-${sourceVersion}`, 'melange')}-${i}`,
      `source\u0000${i}\u0000${sourceName}\u0000${sourceVersion}`,
    );
    const sourceSupplier =
      source.supplier === undefined ? supplier : organization(wellFormed(source.supplier));
    const download = source.downloadLocation?.trim();
    packages.push({
      SPDXID: id,
      name: sourceName,
      versionInfo: sourceVersion === '' ? undefined : sourceVersion,
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: licenses.licenseField(
        source.license === undefined ? undefined : wellFormed(source.license),
      ),
      downloadLocation: download === undefined || download === '' ? 'NOASSERTION' : wellFormed(download),
      originator: sourceSupplier,
      supplier: sourceSupplier,
      primaryPackagePurpose: 'SOURCE',
      checksums: checksumList(source.checksums),
      externalRefs:
        source.purl === undefined || !source.purl.startsWith('pkg:')
          ? undefined
          : [
              {
                referenceCategory: 'PACKAGE-MANAGER',
                referenceLocator: wellFormed(source.purl),
                referenceType: 'purl',
              },
            ],
    });
    relationships.push({ spdxElementId: apkId, relationshipType: 'GENERATED_FROM', relatedSpdxElement: id });
  });

  const doc: SpdxDocument = {
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `apk-${name}-${version}`,
    spdxVersion: 'SPDX-2.3',
    creationInfo: created,
    dataLicense: 'CC0-1.0',
    documentNamespace: '',
    documentDescribes: [apkId],
    packages,
    relationships,
    hasExtractedLicensingInfos: licenses.list(),
  };
  return finalizeDocument(doc, options);
}
