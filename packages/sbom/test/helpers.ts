import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { readApk } from '@tk/apk';
import type { EmbeddedSbom, ImageSbomInput, InstalledPackage, PackageSbomInput } from '@tk/sbom';
import { parseOsRelease } from '@tk/sbom';

export const ROOT = join(import.meta.dirname, '../../..');
export const FIXTURES = join(ROOT, 'test-fixtures');
export const TESTREPO = join(FIXTURES, 'real/apko-testrepo');
export const GOLDEN_SBOMS = join(TESTREPO, 'golden/sboms');

/** The digests of apko's golden output for apko-testrepo/apko.yaml (golden/index.json and its manifests). */
export const GOLDEN = {
  index: 'sha256:b5f05e6fc882c97d61c1daee566954ae6fc09924f8e152293e2b97a06092069f',
  x86_64: {
    manifest: 'sha256:69f0237c7f8cf0b8a329d1bf1d6870c870c4ec323e39d3a6da59596632d0f2f4',
    layer: 'sha256:c7557730da0e2d7fb242d8d1ac6dcf7e3a2439732aa5981270b4f3a02454b738',
    platform: { architecture: 'amd64' },
  },
  aarch64: {
    manifest: 'sha256:124c885f834cfaf1329987457a9651a68c4fb9733d4462ae6288b98011277858',
    layer: 'sha256:7e0f9d62f6cab4785e18a55f17d03f20ffb776881f1f46258efd9458f7cdaf08',
    platform: { architecture: 'arm64' },
  },
} as const;

// ajv-formats is CommonJS with `exports.default`; reach the function whatever the interop gives.
const formatsModule = (await import('ajv-formats')) as unknown as {
  default: ((ajv: Ajv) => Ajv) | { default: (ajv: Ajv) => Ajv };
};
const addFormats =
  typeof formatsModule.default === 'function' ? formatsModule.default : formatsModule.default.default;

function compile(file: string, ajv: Ajv): ValidateFunction {
  addFormats(ajv);
  return ajv.compile(JSON.parse(readFileSync(join(FIXTURES, 'schemas/spdx-2.3', file), 'utf8')) as object);
}

const validate23 = compile('spdx-schema-v2.3.json', new Ajv({ allErrors: true, strict: false }));
const validate231 = compile(
  'spdx-schema-v2.3.1.json',
  new Ajv2019({ allErrors: true, strict: false }) as unknown as Ajv,
);

/** Errors of a document against the official SPDX 2.3 (draft-07) and 2.3.1 (2019-09) schemas; empty when valid. */
export function schemaErrors(text: string): string[] {
  const doc: unknown = JSON.parse(text);
  const out: string[] = [];
  const describe = (which: string, errors: ErrorObject[] | null | undefined): void => {
    for (const e of errors ?? [])
      out.push(`${which} ${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  };
  if (!validate23(doc)) describe('2.3', validate23.errors);
  if (!validate231(doc)) describe('2.3.1', validate231.errors);
  return out;
}

/** The installed-package record and embedded SBOMs of one real apk, as the image builder would pass them. */
export function fromApk(
  arch: string,
  file: string,
): { pkg: InstalledPackage; embedded: EmbeddedSbom[]; osRelease?: string } {
  const apk = readApk(new Uint8Array(readFileSync(join(TESTREPO, arch, file))));
  const info = apk.pkginfo;
  const pkg: InstalledPackage = {
    name: info.pkgname,
    version: info.pkgver,
    arch: info.arch ?? arch,
    license: info.license,
    origin: info.origin,
    maintainer: info.maintainer,
    url: info.url,
    description: info.pkgdesc,
    commit: info.commit,
    checksum: apk.identity,
  };
  const embedded = apk.files
    .filter((f) => f.path.startsWith('var/lib/db/sbom/') && f.type === 'file')
    .map((f) => ({ path: `/${f.path}`, json: f.data }));
  const osFile = apk.files.find((f) => f.path === 'etc/os-release');
  return {
    pkg,
    embedded,
    osRelease: osFile === undefined ? undefined : new TextDecoder().decode(osFile.data),
  };
}

/** The input for the golden apko-testrepo image (apko.yaml: `packages: [replayout]`, tag golden:latest). */
export function goldenImageInput(arch: 'x86_64' | 'aarch64'): ImageSbomInput {
  // Install order from apko.lock.json: pretend-baselayout, then replayout (which replaces its os-release).
  const base = fromApk(arch, 'pretend-baselayout-1.0.0-r0.apk');
  const replayout = fromApk(arch, 'replayout-1.0.0-r0.apk');
  const golden = GOLDEN[arch];
  return {
    arch,
    platform: golden.platform,
    imageName: 'golden',
    manifestDigest: golden.manifest,
    layerDigest: golden.layer,
    buildDate: 0,
    osRelease: parseOsRelease(replayout.osRelease ?? ''),
    packages: [base.pkg, replayout.pkg],
    embedded: [...base.embedded, ...replayout.embedded],
    toolVersion: '0.1.0',
  };
}

/** A parsed document, loosely typed for assertions. */
export interface LooseDoc {
  name: string;
  documentNamespace: string;
  documentDescribes: string[];
  creationInfo: { created: string; creators: string[]; licenseListVersion: string };
  packages: {
    SPDXID: string;
    name: string;
    versionInfo?: string;
    primaryPackagePurpose?: string;
    supplier?: string;
    originator?: string;
    sourceInfo?: string;
    licenseDeclared?: string;
    licenseConcluded?: string;
    downloadLocation: string;
    checksums?: { algorithm: string; checksumValue: string }[];
    externalRefs?: { referenceCategory: string; referenceLocator: string; referenceType: string }[];
  }[];
  relationships: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[];
  hasExtractedLicensingInfos?: { licenseId: string; extractedText: string }[];
}

export function parse(text: string): LooseDoc {
  return JSON.parse(text) as LooseDoc;
}

export function readGolden(name: string): LooseDoc {
  return parse(readFileSync(join(GOLDEN_SBOMS, name), 'utf8'));
}

export function purlOf(pkg: LooseDoc['packages'][number]): string | undefined {
  return pkg.externalRefs?.find((r) => r.referenceType === 'purl')?.referenceLocator;
}

/** melange's golden crane package (pkg/build/testdata/build_configs/crane.yaml), as a package-SBOM input. */
export const CRANE_PACKAGE: PackageSbomInput = {
  name: 'crane',
  version: '0.20.2-r1',
  arch: 'x86_64',
  license: 'Apache-2.0',
  namespace: 'wolfi',
  config: {
    path: 'testdata/build_configs/crane.yaml',
    repository: 'https://github.com/wolfi-dev/os',
    commit: 'c0ffee',
  },
  sources: [
    {
      name: 'go-containerregistry',
      version: 'v0.20.2',
      downloadLocation:
        'https://github.com/google/go-containerregistry/archive/c195f151efe3369874c72662cd69ad43ee485128.tar.gz',
      purl: 'pkg:github/google/go-containerregistry@v0.20.2',
      license: 'Apache-2.0',
      supplier: 'Google',
    },
  ],
  buildDate: 0,
  toolVersion: '0.1.0',
};
