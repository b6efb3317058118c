import { TkError, type TkErrorOptions } from '@tk/core';

/** Stable error codes of `@tk/solver`. */
export type SolverErrorCode =
  /** A world token (or a `prefer` entry) is not a valid dependency, or the request itself is malformed. */
  | 'SOLVER_BAD_CONSTRAINT'
  /** A world token names a repository tag (`name@tag`) that no configured repository carries. */
  | 'SOLVER_UNKNOWN_TAG'
  /** A required name has no provider at all in the repositories (for this arch). */
  | 'SOLVER_NOTHING_PROVIDES'
  /** Providers exist, but every one is ruled out (version mismatch, broken entry, tag not allowed…) in every combination tried. */
  | 'SOLVER_UNSATISFIABLE'
  /** Every provider of a required name conflicts with something already required or chosen (`!name`, same provided name). */
  | 'SOLVER_CONFLICT'
  /** A required name is only provided virtually (unversioned `p:` without `k:` provider priority), which apk-tools never picks on its own. */
  | 'SOLVER_VIRTUAL_NEEDS_CHOICE'
  /** The search took more steps than its budget (`maxSteps`) allows. */
  | 'SOLVER_TOO_COMPLEX'
  /** A multi-arch solve resolved a requested package to different versions on different archs. */
  | 'SOLVER_ARCH_MISMATCH'
  /** A lock file is not valid JSON, is too large, or does not have apko's `apko.lock.json` shape. */
  | 'SOLVER_BAD_LOCK'
  /** A lock file has no packages for the requested arch. */
  | 'SOLVER_LOCK_ARCH_MISSING'
  /** A locked package is not in any configured repository's index. */
  | 'SOLVER_LOCK_MISSING_PACKAGE'
  /** A locked package is in the index, but with a different identity checksum (`C:`). */
  | 'SOLVER_LOCK_CHECKSUM_MISMATCH';

/** An error from resolving a world or from reading or applying a lock file. */
export class SolverError extends TkError<SolverErrorCode> {
  constructor(code: SolverErrorCode, message: string, options?: TkErrorOptions) {
    super(code, message, options);
  }
}
