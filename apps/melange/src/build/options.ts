/**
 * Everything `tk melange build` and `tk melange test` take, as the CLI (or a test) passes it: no process
 * globals are read below this point.
 */
import type { Logger } from '@tk/core';
import type { Runner } from '../runner/types.ts';

/** Options shared by build and test. */
export interface CommonOptions {
  /** The recipe file. */
  configPath: string;
  /** `--arch` values (comma lists allowed, apk or OCI names, `all`, `host`); default: the host. */
  archs?: readonly string[];
  /** The host's architecture (a `process.arch` value or an arch name). */
  hostArch: string;
  /** `--source-dir` (default: the recipe's folder). */
  sourceDir?: string;
  /** `--workspace-dir`: the workspace is `<dir>/<arch>` and is kept; default: a temporary folder. */
  workspaceDir?: string;
  /** `--cache-dir` (default `./melange-cache/`): mounted at /var/cache/melange; `sha256:<hex>` sources. */
  cacheDir: string;
  /** `--apk-cache-dir`: downloaded apk packages for guests (default: none). */
  apkCacheDir?: string;
  /** `-k/--keyring-append`. */
  keyringAppend?: readonly string[];
  /** `-r/--repository-append`. */
  repositoryAppend?: readonly string[];
  /** `--pipeline-dir`/`--pipeline-dirs`, searched before the built-in pipelines. */
  pipelineDirs?: readonly string[];
  /** `--env-file` (dotenv) files: variables for every step, under the recipe's environment. */
  envFiles?: readonly string[];
  /**
   * `--secret NAME=FILE`: the file's content (one trailing newline removed) as variable NAME of every step.
   * Secrets and `--env-file` values never reach `.melange.yaml`, the SBOM, the index or the logs.
   */
  secrets?: readonly string[];
  /** `--debug`: run steps with `set -x`. */
  debug?: boolean;
  /**
   * `--interactive`: when a step fails, open a shell on the caller's terminal in its sandbox (`exit 0`
   * continues). The CLI sets it only when stdin and stderr are terminals; arches then build one at a time.
   */
  interactive?: boolean;
  /** `--ignore-signatures`. */
  allowUntrusted?: boolean;
  /** `--offline`: no downloads of sources or packages; the caches must hold them. */
  offline?: boolean;
  /** `--network`: give the sandbox the host's network even when the recipe does not ask for it. */
  network?: boolean;
  /** `--rm=false` (`--keep-workspace`): keep the workspace and guest of a failed or finished build. */
  keepWorkspace?: boolean;
  /** The process environment, for SOURCE_DATE_EPOCH and HTTP_AUTH only. */
  env: Readonly<Record<string, string | undefined>>;
  /** Whether tk runs as root (owners of the guest files, bubblewrap's uid mapping). */
  isRoot: boolean;
  /** The invoking user's uid and gid (files the sandbox user writes appear as these outside). */
  uid: number;
  gid: number;
  /** Reported as the tool version in SBOMs. */
  toolVersion: string;
  /** Where temporary guests and workspaces go (default: the OS temp dir, given by the CLI). */
  tempDir: string;
  logger?: Logger;
  /** Forwarded build output (each line of every step), for the CLI to print. */
  onStepOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** The runner the steps run in (`runnerFor(--runner)`); default: bubblewrap. */
  runner?: Runner;
}

/** `tk melange build` options. */
export interface BuildOptions extends CommonOptions {
  /** `--out-dir` (default `./packages/`). */
  outDir: string;
  /** `--empty-workspace`: do not copy the source dir into the workspace. */
  emptyWorkspace?: boolean;
  /** `--signing-key`. */
  signingKey?: string;
  /** `--signature-algorithm`: `sha256` (default) or `sha1`. */
  signatureAlgorithm?: 'sha256' | 'sha1';
  /** `--package-append`. */
  packageAppend?: readonly string[];
  /** `--vars-file` (a YAML map merged over `vars`). */
  varsFile?: string;
  /** `--build-option NAME`. */
  buildOptions?: readonly string[];
  /** `--build-date` (RFC 3339), used when SOURCE_DATE_EPOCH is unset. */
  buildDate?: string;
  /** `--namespace` (default `unknown`): the SBOM's OS and supplier, `.PKGINFO` maintainer. */
  namespace?: string;
  /** `--generate-index` (default true). */
  generateIndex?: boolean;
  /** `--strip-origin-name`: each package's origin is its own name. */
  stripOriginName?: boolean;
  /** `--git-commit`: the recipe repository's commit (default: detected). */
  gitCommit?: string;
  /** `--git-repo-url`: the recipe repository's URL, for the SBOM. */
  gitRepoUrl?: string;
  /** `--license`: the licence of the recipe file, for the SBOM. */
  license?: string;
  /** `--timeout` in seconds for the whole build (0 or absent: the recipe's `package.timeout`, else none). */
  timeoutSeconds?: number;
  /** `--lint-require`: linters that fail the build (default: melange's required set). */
  lintRequire?: readonly string[];
  /** `--lint-warn`: linters that only warn (default: melange's warning set). */
  lintWarn?: readonly string[];
  /** `--persist-lint-results`: write `OUT-DIR/<arch>/lint-<pkg>-<ver>.json` for packages with findings. */
  persistLintResults?: boolean;
  /** How many arches build at once (default 1; the CLI gives the number of cores). */
  parallel?: number;
  /** `--override-host-triplet-libc-substitution-flavor`. */
  hostTripletLibc?: 'gnu' | 'musl';
}

/** `tk melange test` options. */
export interface TestOptions extends CommonOptions {
  /** Test only this package (main or subpackage name); default all. */
  packageName?: string;
  /** `--test-package-append`: extra packages in every test guest. */
  testPackageAppend?: readonly string[];
  /** Where the built packages are (default `./packages/`): added as a repository. */
  outDir: string;
}
