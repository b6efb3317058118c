/**
 * The inputs of `@tk/sbom`: plain data the image and package builders already hold. Nothing here reads
 * files; the caller reads `/etc/os-release` and the embedded SBOMs from the image tree and passes them in.
 */
import type { Logger } from '@tk/core';

/** The fields of `/etc/os-release` an SBOM uses. */
export interface OsRelease {
  ID?: string;
  NAME?: string;
  VERSION_ID?: string;
  PRETTY_NAME?: string;
}

/** An OCI platform (image-spec `platform`). */
export interface Platform {
  /** OCI architecture: `amd64`, `arm64`, `arm`, `386`, `ppc64le`, `s390x`, `riscv64`… */
  architecture: string;
  /** `v6`, `v7`, `v8` for arm. */
  variant?: string;
}

/** One package of the image's apk database (`/usr/lib/apk/db/installed`). */
export interface InstalledPackage {
  /** `P:` */
  name: string;
  /** `V:` */
  version: string;
  /** `A:` (apk arch: `x86_64`, `aarch64`…) */
  arch: string;
  /** `L:`: the packager's license string. */
  license?: string;
  /** `o:` */
  origin?: string;
  /** `m:` (`Name <email>`) */
  maintainer?: string;
  /** `U:`: the upstream project's home page. */
  url?: string;
  /** `T:` */
  description?: string;
  /** `c:`: the commit of the recipe that built the package. */
  commit?: string;
  /** `C:`: the package identity, `Q1` + base64(SHA-1 of the control member) (`Q2` for SHA-256). */
  checksum: string;
  /**
   * The repository the package came from: the URL of the folder that holds this arch's `APKINDEX.tar.gz`
   * (`https://packages.wolfi.dev/os/x86_64`). When it is an http(s) URL the SBOM gives
   * `<repository>/<name>-<version>.apk` as the download location.
   */
  repository?: string;
  /** purl namespace (`wolfi`, `alpine`, a melange `namespace`). Default: the os-release `ID`. */
  namespace?: string;
}

/** An SBOM file found inside the image, as installed by a package (`/var/lib/db/sbom/<name>-<version>.spdx.json`). */
export interface EmbeddedSbom {
  /** Path inside the image (leading `/` optional). */
  path: string;
  /** The file's bytes. Treated as hostile. */
  json: Uint8Array;
}

/** A version-control source (apko's `vcs-url`). */
export interface VcsInfo {
  /** Repository URL (`https://github.com/org/repo`). A `@<commit>` suffix is accepted, as in apko's `vcs-url`. */
  url: string;
  /** Commit hash. */
  commit?: string;
}

/** Everything needed for one architecture's image SBOM. */
export interface ImageSbomInput {
  /** apk architecture of the image (`x86_64`). */
  arch: string;
  /** OCI platform of the image (`{ architecture: 'amd64' }`). */
  platform: Platform;
  /** purl name of the image: the base name of the first tag's repository, `image` when there is no tag. */
  imageName: string;
  /** `sha256:<hex>` of the image manifest. */
  manifestDigest: string;
  /** `sha256:<hex>` of the compressed layer blob. */
  layerDigest: string;
  /** Build date, seconds since the epoch (SOURCE_DATE_EPOCH or the newest package build date). */
  buildDate: number;
  /** The image's `/etc/os-release`, or undefined when it has none (ID `unknown`, NAME `apko-generated image`). */
  osRelease?: OsRelease;
  /** Installed packages, in install order (the apk database's order). */
  packages: readonly InstalledPackage[];
  /** SBOM files found under `/var/lib/db/sbom/` in the image. */
  embedded: readonly EmbeddedSbom[];
  /** Source of the image configuration. */
  vcs?: VcsInfo;
  /** tk's version, written into `creationInfo.creators`. */
  toolVersion: string;
}

/** One image of a multi-arch index. */
export interface IndexImage {
  /** `sha256:<hex>` of the image manifest. */
  manifestDigest: string;
  platform: Platform;
}

/** Everything needed for the index SBOM. */
export interface IndexSbomInput {
  /** `sha256:<hex>` of the image index. */
  indexDigest: string;
  /** purl name, as for {@link ImageSbomInput.imageName}; `image` gives `index` for the index itself. */
  imageName: string;
  images: readonly IndexImage[];
  /** The newest build date of the images, seconds since the epoch. */
  buildDate: number;
  /** Supplier organisation of the index (`Wolfi`); `NOASSERTION` when undefined. */
  supplier?: string;
  /** Source of the image configuration. */
  vcs?: VcsInfo;
  /** tk's version. */
  toolVersion: string;
}

/** Size and count limits for embedded SBOMs (each one comes from a package and is treated as hostile). */
export interface EmbeddedSbomLimits {
  /** Largest embedded SBOM file. Default 8 MiB. */
  maxBytes: number;
  /** Largest sum of embedded SBOM files read for one image. Default 128 MiB. */
  maxTotalBytes: number;
  /** Most packages in one embedded SBOM. Default 20,000. */
  maxPackages: number;
  /** Most relationships in one embedded SBOM. Default 100,000. */
  maxRelationships: number;
  /** Most packages copied from one embedded SBOM (what its described packages reach). Default 1,000. */
  maxCopiedPackages: number;
  /** Most extracted licenses taken from one embedded SBOM. Default 1,000. */
  maxExtractedLicenses: number;
}

/** Options shared by the document builders. */
export interface SbomOptions {
  /** Where warnings about embedded SBOMs go. Default: silent. */
  logger?: Logger;
  /**
   * An organisation to name in `creationInfo.creators` (`Organization: <name>`), for whoever builds and
   * publishes the image. Default: none; the only creator is the tool.
   */
  organization?: string;
  /**
   * Prefix of `documentNamespace`; the document's content hash is appended. Default
   * `https://spdx.org/spdxdocs/tk/`.
   */
  namespacePrefix?: string;
  /** Limits for embedded SBOMs. */
  limits?: Partial<EmbeddedSbomLimits>;
}
