import { TkError, type TkErrorOptions } from '@tk/core';

/**
 * Stable error codes of `@tk/melange`. Each area keeps its codes in its own block; tests assert on codes,
 * never on message text.
 */
export type MelangeErrorCode =
  /** A command that needs package files was given none. */
  | 'MELANGE_NO_PACKAGES'
  // recipe: parsing and validation (recipe/schema.ts, recipe/load.ts)
  /** The recipe has problems (unknown keys, wrong types, bad names or versions…); `data.issues` lists every one. */
  | 'MELANGE_RECIPE_INVALID'
  /** The recipe's environment uses an apko key tk does not implement (layering, baseimage, erofs). */
  | 'MELANGE_RECIPE_UNSUPPORTED'
  /** A recipe or pipeline definition is not well-formed YAML, not UTF-8, or holds several documents. */
  | 'MELANGE_RECIPE_YAML_SYNTAX'
  /** The recipe file does not exist (or no melange.yaml / .melange.yaml was found). */
  | 'MELANGE_RECIPE_NOT_FOUND'
  /** The recipe file could not be read (permissions, a directory instead of a file). */
  | 'MELANGE_RECIPE_READ_FAILED'
  /** A recipe or pipeline definition is over 1 MiB, nests too deeply, or its aliases expand too far. */
  | 'MELANGE_RECIPE_TOO_LARGE'
  /** A pipeline definition file (a `uses:` target) has problems; `data.issues` lists every one. */
  | 'MELANGE_PIPELINE_INVALID'
  // (recipe codes above this line)
  // compile: substitution, conditions, var-transforms, pipelines (recipe/subst.ts, cond.ts, compile.ts)
  /** A `${{name}}` names a variable that does not exist in its context. */
  | 'MELANGE_UNKNOWN_VARIABLE'
  /** A `${{` is not followed by a variable name and `}}`. */
  | 'MELANGE_BAD_SUBSTITUTION'
  /** An `if:` expression does not parse or does not give a boolean (the message gives the column). */
  | 'MELANGE_BAD_CONDITION'
  /** A var-transform's `match` is not a valid (or safe) RE2 expression, or its input is too long. */
  | 'MELANGE_BAD_REGEX'
  /** A `uses:` name is empty, absolute or contains `..`. */
  | 'MELANGE_BAD_PIPELINE_NAME'
  /** No `<dir>/<uses>.yaml` exists in any pipeline directory. */
  | 'MELANGE_PIPELINE_NOT_FOUND'
  /** Pipeline definitions use each other in a cycle (a → b → a). */
  | 'MELANGE_PIPELINE_CYCLE'
  /** Pipelines nest too deeply or expand to too many steps. */
  | 'MELANGE_PIPELINE_LIMIT'
  /** A required input of a `uses` pipeline was not given. */
  | 'MELANGE_MISSING_INPUT'
  /** A `with:` key is not an input of the pipeline it uses. */
  | 'MELANGE_UNKNOWN_INPUT'
  /** An input value has the wrong form (`expected-sha256` not 64 hex digits, …). */
  | 'MELANGE_BAD_INPUT'
  /** A subpackage's `range:` names no `data:` table. */
  | 'MELANGE_UNKNOWN_RANGE'
  /** `--build-option` names an option the recipe does not declare. */
  | 'MELANGE_UNKNOWN_BUILD_OPTION'
  /** After substitution and range expansion a subpackage name is invalid or not unique. */
  | 'MELANGE_BAD_SUBPACKAGE'
  /** The arch to compile for is unknown. */
  | 'MELANGE_UNKNOWN_ARCH'
  // (compile codes above this line)
  // sources: fetch into the cache, checksums, hostile archives (source/*)
  /** A fetched source's SHA-256/SHA-512 differs from the recipe's expected checksum (nothing was cached). */
  | 'MELANGE_SOURCE_CHECKSUM'
  /** Offline, and a source the recipe fetches is not in the cache. */
  | 'MELANGE_SOURCE_OFFLINE'
  /** A source could not be downloaded (HTTP error, network failure after retries, too many redirects). */
  | 'MELANGE_SOURCE_DOWNLOAD'
  /** A source is larger than the download limit. */
  | 'MELANGE_SOURCE_TOO_LARGE'
  /** A fetch step's inputs are unusable on the host: malformed checksum, unsupported URI scheme. */
  | 'MELANGE_SOURCE_BAD_INPUT'
  /** A source archive is corrupt or would write outside its directory (traversal, link escape, device). */
  | 'MELANGE_SOURCE_UNSAFE'
  /** A git-checkout repository URL is refused on the host (ext::/fd:: transport, option-like, control characters). */
  | 'MELANGE_SOURCE_GIT_URL'
  /** Mirroring a git-checkout repository into the cache failed (clone or fetch error). */
  | 'MELANGE_SOURCE_GIT_FAILED'
  // (source codes above this line)
  // package: SCA, .PKGINFO, SBOM, apk output, index update (package/*)
  /** A package's output folder holds something an apk cannot carry (a socket or FIFO). */
  | 'MELANGE_PACKAGE_UNSUPPORTED_FILE'
  /** A file name in a package's output cannot be stored (newline or control character, invalid UTF-8). */
  | 'MELANGE_PACKAGE_BAD_NAME'
  /** A package's output folder could not be read. */
  | 'MELANGE_PACKAGE_READ_FAILED'
  /** A `setcap` entry names a path that is not a regular file of the package, or an unknown capability. */
  | 'MELANGE_SETCAP_INVALID'
  /** An ELF file's headers or tables point outside the file or are inconsistent. */
  | 'MELANGE_ELF_MALFORMED'
  /** A package could not be assembled (the apk writer, SBOM or metadata refused its contents). */
  | 'MELANGE_PACKAGE_BUILD_FAILED'
  /** A built package could not be written to the output directory. */
  | 'MELANGE_PACKAGE_WRITE_FAILED'
  /** The existing APKINDEX.tar.gz cannot be read; it is left alone rather than rewritten without its entries. */
  | 'MELANGE_INDEX_CORRUPT'
  /** Another process held the index lock for longer than the wait allows. */
  | 'MELANGE_INDEX_LOCK_TIMEOUT'
  /** The updated APKINDEX.tar.gz could not be written; the old one is unchanged. */
  | 'MELANGE_INDEX_WRITE_FAILED'
  // (package codes above this line)
  // runner and guest: bubblewrap, guest root assembly (runner/*, guest/*)
  /** The folder to assemble the guest root in exists and is not empty. */
  | 'MELANGE_GUEST_DIR_NOT_EMPTY'
  /** Writing the guest root (or copying it from the guest cache) failed; nothing is left at the target. */
  | 'MELANGE_GUEST_WRITE_FAILED'
  /** bwrap is missing or cannot create the namespaces it needs (user namespaces disabled, AppArmor). */
  | 'MELANGE_RUNNER_UNUSABLE'
  /** A foreign-arch guest cannot run: binfmt_misc has no enabled qemu entry with the F flag for it. */
  | 'MELANGE_RUNNER_NO_EMULATION'
  /** A runner spec or run request is invalid (relative or missing folder, bad variable name, unknown capability). */
  | 'MELANGE_RUNNER_BAD_SPEC'
  /** The sandbox could not be set up (bwrap failed before the step started); the message quotes bwrap. */
  | 'MELANGE_RUNNER_FAILED'
  /** A step ran longer than its timeout and was killed. */
  | 'MELANGE_STEP_TIMEOUT'
  /** A step was cancelled (its abort signal fired) and was killed. */
  | 'MELANGE_STEP_ABORTED'
  // (runner codes above this line)
  // build: orchestration, steps, tests (build/*)
  /** A pipeline step exited non-zero or was killed; the message quotes the last lines of its output. */
  | 'MELANGE_STEP_FAILED'
  /** A step's `assertions.required-steps` did not hold. */
  | 'MELANGE_ASSERTION_FAILED'
  /** No architecture is left to build (the `--arch` list and `target-architecture` do not meet). */
  | 'MELANGE_NOTHING_TO_BUILD'
  /** SOURCE_DATE_EPOCH or `--build-date` is not a valid time. */
  | 'MELANGE_BAD_BUILD_DATE'
  /** An `--env-file` or `--vars-file` cannot be read or parsed. */
  | 'MELANGE_BAD_VARS_FILE'
  /** The build ran longer than its timeout (`--timeout` or `package.timeout`). */
  | 'MELANGE_BUILD_TIMEOUT'
  /** A package's test pipeline failed, or its smoke install check did. */
  | 'MELANGE_TEST_FAILED'
  /** `--runner` names a runner tk does not have. */
  | 'MELANGE_UNKNOWN_RUNNER'
  // lint, query, bump (lint/*, commands/*)
  /** A require-level linter found problems in a package or recipe; `data.results` holds every finding. */
  | 'MELANGE_LINT_FAILED'
  /** `--lint-require`, `--lint-warn` or `--disable` names a linter that does not exist. */
  | 'MELANGE_LINT_UNKNOWN_LINTER'
  /** A file given to lint is not a readable apk or recipe (missing, too large, not an apk, no .PKGINFO). */
  | 'MELANGE_LINT_BAD_INPUT'
  /** Lint results could not be written (`--persist-lint-results`). */
  | 'MELANGE_LINT_WRITE_FAILED'
  /** A query template does not parse, or is too long or too deeply nested (the message gives the column). */
  | 'MELANGE_QUERY_BAD_TEMPLATE'
  /** A query template names a field or method the configuration does not have. */
  | 'MELANGE_QUERY_UNKNOWN_FIELD'
  /** A query template failed while running (wrong type, index out of range, unknown function, a limit hit). */
  | 'MELANGE_QUERY_FAILED'
  /** `bump` was given an invalid version or expected commit. */
  | 'MELANGE_BUMP_BAD_INPUT'
  /** The recipe cannot be bumped as written (package is not a block mapping, epoch not a number, fetch without uri). */
  | 'MELANGE_BUMP_UNSUPPORTED'
  /** The bumped recipe could not be written; the old file is unchanged. */
  | 'MELANGE_BUMP_WRITE_FAILED'
  // (build codes above this line)
  /** A file the build put into melange-out contains the value of a --secret or --env-file variable. */
  | 'MELANGE_SECRET_LEAK';

/** An error from a melange command. */
export class MelangeError extends TkError<MelangeErrorCode> {
  constructor(code: MelangeErrorCode, message: string, options?: TkErrorOptions) {
    super(code, message, options);
  }
}
