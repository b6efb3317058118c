/**
 * The guest of a build: the root filesystem the pipeline steps run in, assembled from the recipe's
 * `environment` (an apko image configuration) with tk's own resolver and installer (reference §5.1).
 */
import type { ImageConfig } from '@tk/apko';
import type { Logger } from '@tk/core';

/** Options of `assembleGuest`. */
export interface GuestOptions {
  /** The compiled build environment: build user and group in `accounts`, variables, packages with the pipelines' needs. */
  environment: ImageConfig;
  /** The apk arch to assemble for (`x86_64`, `aarch64`); replaces `environment.archs`. */
  arch: string;
  /** `--repository-append`: further repositories, used for resolving only (as build repositories). */
  repositoryAppend?: string[];
  /** `--keyring-append`: further keys. */
  keyringAppend?: string[];
  /** `--package-append`: further packages for the world. */
  packageAppend?: string[];
  /** `--apk-cache-dir`: the download cache; pristine guests are cached under `<cacheDir>/guests/`. */
  cacheDir?: string;
  /** Keep no pristine guest in the cache (default: cache when `cacheDir` is given). */
  noGuestCache?: boolean;
  /** Use only the cache and local folders. */
  offline?: boolean;
  /** `--ignore-signatures`: accept unsigned indexes and packages. */
  allowUntrusted?: boolean;
  /** Relative repository and keyring paths resolve here (the recipe's folder). */
  baseDir: string;
  /** An empty or missing folder to create the root in. */
  dir: string;
  /** Timestamp of the entries the assembly creates (skeleton folders, account files, applet links). */
  sourceDateEpoch: number;
  /** Environment (for `HTTP_AUTH`). */
  env: Readonly<Record<string, string | undefined>>;
  /** Whether tk runs as root: owners are applied only then. */
  isRoot: boolean;
  /** Copies a folder tree (tests inject one); default `cp -a`, or a Node copy when there is no cp. */
  copyTree?: (source: string, target: string) => Promise<void>;
  logger?: Logger;
}

/** One installed package of the guest. */
export interface GuestPackage {
  name: string;
  version: string;
  /** The repository it was installed from, as configured (without a `@tag`). */
  repository: string;
  /** The tag it was resolved under, for packages of tagged repositories. */
  pin?: string;
}

/** An assembled guest. */
export interface Guest {
  /** The root folder on the host. */
  dir: string;
  /** Its apk arch. */
  arch: string;
  /** The locked environment, in install order (`name=version` goes into the embedded config and the SBOM). */
  packages: GuestPackage[];
  /** The world as resolved (`/etc/apk/world`). */
  world: string[];
  /** uid → user name, from the guest's /etc/passwd (first entry of an id wins). */
  users: Map<number, string>;
  /** gid → group name, from the guest's /etc/group. */
  groups: Map<number, string>;
  /** The content key: sha256 of the resolved packages, accounts, arch and the other inputs of the tree. */
  key: string;
  /** True when the root was copied from a cached pristine guest instead of being installed. */
  fromCache: boolean;
  /** Milliseconds spent per phase (`resolve`, `fetch`, `install`, `write`, `copy`), for logs and benchmarks. */
  timings: Record<string, number>;
}
