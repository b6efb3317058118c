/**
 * The solver's public data types: what goes in (repositories with their index entries, a world)
 * and what comes out (an ordered install list).
 */
import type { Logger } from '@tk/core';
import type { IndexEntry, IndexTable } from '@tk/repo';

/** One configured repository and the entries of its index for the arch being solved. */
export interface SolverRepository {
  /** The repository as configured, without any `@tag ` prefix: `./packages`, `https://packages.wolfi.dev/os`. */
  readonly name: string;
  /**
   * The tag of a tagged repository (`@local ./packages` has tag `local`), without the `@`. Packages of
   * a tagged repository are only eligible when a constraint names the tag (`foo@local`), or when a
   * package resolved under that tag depends on them (apk-tools 2.14 pinning, carried transitively).
   */
  readonly tag?: string;
  /** The index entries (from `readIndexArchive`). Entries whose `A:` is neither the solved arch nor `noarch` are ignored. */
  readonly entries: readonly IndexEntry[];
  /**
   * The same records as an `IndexTable` (`readIndexArchive(…).table`), when there is one. The solver
   * then reads the table and builds only the records it needs, and does not read {@link entries} (which
   * may then be a getter that builds every record on first access).
   */
  readonly table?: IndexTable;
}

/** A package name and version, e.g. an installed or previously locked package to prefer. */
export interface NameVersion {
  readonly name: string;
  readonly version: string;
}

/** What {@link solve} resolves. */
export interface SolveRequest {
  /**
   * The world: dependency tokens as in `/etc/apk/world` or apko's `contents.packages`
   * (`busybox`, `!foo`, `so:libc.so.6`, `foo>=1.2`, `foo@local`, `foo=1.2-r0@local`, `foo><Q1…`).
   * Versions are validated strictly (typos are errors, not silent mismatches).
   */
  readonly world: readonly string[];
  /** Repositories in priority order: on a tie, the lowest index wins (apk-tools' rule). */
  readonly repositories: readonly SolverRepository[];
  /** The apk arch (`x86_64`, `aarch64`…). */
  readonly arch: string;
  /** Where debug messages go. Default: silent. */
  readonly logger?: Logger;
  /**
   * Installed or previously locked packages: when a name has several acceptable candidates, one
   * listed here is preferred over a newer one (apk-tools' "prefer installed" without `--upgrade`).
   */
  readonly prefer?: readonly NameVersion[];
  /** Search budget: the number of candidate evaluations before giving up with SOLVER_TOO_COMPLEX. Default 1,000,000. */
  readonly maxSteps?: number;
}

/** One package of a solution. */
export interface ResolvedPackage {
  /** The index entry. */
  readonly entry: IndexEntry;
  /** The repository it is installed from: the lowest-index untagged one holding it, else the lowest-index allowed tagged one. */
  readonly repository: SolverRepository;
  /**
   * The tag it was resolved under, when it comes from a tagged repository only (`local` for a
   * package of `@local ./packages`); absent for packages of untagged repositories. Writing
   * `name=version@pin` into a world reproduces the resolution without solving.
   */
  readonly pin?: string;
}

/** Counters of the work a solve did (for logs and benchmarks). */
export interface SolveStats {
  /** Candidate evaluations. */
  readonly steps: number;
  /** Times a dead end sent the search back to an earlier choice. */
  readonly backtracks: number;
}

/** The result of {@link solve}. */
export interface Solution {
  /** The arch solved for. */
  readonly arch: string;
  /**
   * The install order: every package comes after its dependencies (apk-tools' changeset order: the
   * world in sorted order, depth first, dependencies in `D:` order; an `install_if` package right after
   * the last package that triggers it). Cycles are broken where the walk meets them, deterministically.
   */
  readonly packages: readonly ResolvedPackage[];
  /** The world, normalised (apk-tools token order, `name@tag=version`), deduplicated and sorted as apk-tools sorts it. */
  readonly world: readonly string[];
  /** Work counters. */
  readonly stats: SolveStats;
}
