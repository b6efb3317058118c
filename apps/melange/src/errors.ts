import { TkError, type TkErrorOptions } from '@tk/core';

/**
 * Stable error codes of `@tk/melange`. Each area keeps its codes in its own block; tests assert on codes,
 * never on message text.
 */
export type MelangeErrorCode =
  /** A command that needs package files was given none. */
  'MELANGE_NO_PACKAGES';
  // recipe: parsing and validation (recipe/schema.ts, recipe/load.ts)
  // (recipe codes above this line)
  // compile: substitution, conditions, var-transforms, pipelines (recipe/subst.ts, cond.ts, compile.ts)
  // (compile codes above this line)
  // sources: fetch into the cache, checksums, hostile archives (source/*)
  // (source codes above this line)
  // package: SCA, .PKGINFO, SBOM, apk output, index update (package/*)
  // (package codes above this line)
  // runner and guest: bubblewrap, guest root assembly (runner/*, guest/*)
  // (runner codes above this line)
  // build: orchestration, steps, tests (build/*)
  // (build codes above this line)

/** An error from a melange command. */
export class MelangeError extends TkError<MelangeErrorCode> {
  constructor(code: MelangeErrorCode, message: string, options?: TkErrorOptions) {
    super(code, message, options);
  }
}
