/**
 * Everything a build takes, as the CLI (or a test, or a library user) passes it: no process globals.
 */
import type { Logger } from '@tk/core';
import type { GzipEngine } from '@tk/gzip';

/** Options shared by build, publish, lock and show-packages. */
export interface BuildOptions {
  /** The apko YAML file. */
  configPath: string;
  /** `-C/--workdir`: relative repository and keyring paths are resolved here first (as apko does). */
  workdir: string;
  /** Environment (for SOURCE_DATE_EPOCH, HTTP_AUTH). */
  env: Readonly<Record<string, string | undefined>>;
  /** The host's architecture (`process.arch` value or an arch name), for the default and `--arch host`. */
  hostArch: string;
  /** `--arch` values (comma lists allowed, apk or OCI names, `all`, `host`). */
  archs?: readonly string[];
  keyringAppend?: readonly string[];
  repositoryAppend?: readonly string[];
  buildRepositoryAppend?: readonly string[];
  packageAppend?: readonly string[];
  /** `--annotations key:value`. */
  annotations?: readonly string[];
  /** `--build-date` (RFC 3339): a lower bound for the image time when SOURCE_DATE_EPOCH is unset. */
  buildDate?: string;
  /** `--lockfile`: install exactly the locked packages. */
  lockfile?: string;
  /**
   * `--cache-dir`: the download cache, and (under `layers/`) the compressed-layer cache; undefined disables
   * both.
   */
  cacheDir?: string;
  /** `--no-layer-cache` sets false: compress every layer even when `cacheDir` has it. Default true. */
  layerCache?: boolean;
  /**
   * `--layer-cache-max-size`: the compressed-layer cache's bound in bytes, enforced after each store by
   * evicting least recently used layers; `Infinity` never evicts. Default: @tk/oci's (1 GiB).
   */
  layerCacheMaxBytes?: number;
  /**
   * `--layer-compression`: the deflate engine of image layers. Default: @tk/oci's (libdeflate, a gzip
   * member per 1 MiB block); `zlib` writes one member, with reference zlib's level-6 bytes.
   */
  layerCompression?: GzipEngine;
  /** `--offline`: use only the cache and local folders. */
  offline?: boolean;
  /** `--ignore-signatures` / `--allow-untrusted`. */
  allowUntrusted?: boolean;
  /** `--include-paths`. */
  includePaths?: readonly string[];
  /** Reported as the tool version in SBOMs. */
  toolVersion: string;
  logger?: Logger;
}
