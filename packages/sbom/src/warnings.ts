/**
 * Warning codes `@tk/sbom` sends through the logger (kept out of errors.ts, whose codes docs/errors.md lists
 * as errors). Embedded SBOMs come from packages, so everything wrong with them is a warning: the package
 * keeps its own entry and the image SBOM is still written.
 */
export type SbomWarningCode =
  /** An embedded SBOM is not JSON, or not an SPDX document shaped as expected; it was skipped. */
  | 'SBOM_EMBEDDED_INVALID'
  /** An embedded SBOM is over a size or count limit; it was skipped. */
  | 'SBOM_EMBEDDED_TOO_LARGE'
  /** Two extracted licenses share a `LicenseRef-` id with different texts; the first was kept. */
  | 'SBOM_LICENSE_CONFLICT'
  /** A package's `C:` checksum is not a `Q1`/`Q2` identity; the package has no checksum in the SBOM. */
  | 'SBOM_BAD_CHECKSUM';
