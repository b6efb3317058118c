/**
 * The melange recipe as tk reads it: the validated shape of `melange.yaml` (before substitution), and the
 * compiled, per-arch form the build runs. Field names keep melange's YAML spelling.
 *
 * The zod schema in `schema.ts` produces exactly {@link Recipe}; `compile.ts` turns a Recipe into a
 * {@link CompiledRecipe}.
 */
import type { ImageConfig } from '@tk/apko';

/** `package.copyright[]`. */
export interface Copyright {
  paths?: string[];
  attestation?: string;
  license?: string;
  'license-path'?: string;
  'detection-override'?: string;
}

/** `package.dependencies` and `subpackages[].dependencies`. */
export interface Dependencies {
  runtime: string[];
  provides: string[];
  replaces: string[];
  /** An integer, as text (melange keeps it as a string and validates it). */
  'provider-priority'?: string;
  'replaces-priority'?: string;
}

/** `package.options` (steer SCA). */
export interface PackageOptions {
  'no-provides': boolean;
  'no-depends': boolean;
  'no-commands': boolean;
  'no-versioned-shlib-deps': boolean;
}

/** `scriptlets`. */
export interface Scriptlets {
  trigger?: { script?: string; paths: string[] };
  'pre-install'?: string;
  'post-install'?: string;
  'pre-deinstall'?: string;
  'post-deinstall'?: string;
  'pre-upgrade'?: string;
  'post-upgrade'?: string;
}

/** One `setcap[]` entry: `add` maps `cap_a,cap_b` to a flag set such as `+ep`. */
export interface Setcap {
  path: string;
  add: Record<string, string>;
  reason: string;
}

/** `package.cpe`. */
export interface Cpe {
  part?: string;
  vendor?: string;
  product?: string;
  edition?: string;
  language?: string;
  sw_edition?: string;
  target_sw?: string;
  target_hw?: string;
  other?: string;
}

/** `package.resources` / `test-resources`. */
export interface Resources {
  cpu?: string;
  cpumodel?: string;
  memory?: string;
  disk?: string;
}

/** `package:`. */
export interface PackageMeta {
  name: string;
  version: string;
  epoch: number;
  description?: string;
  url?: string;
  commit?: string;
  copyright: Copyright[];
  dependencies: Dependencies;
  options: PackageOptions;
  scriptlets: Scriptlets;
  /** apk or OCI arch names as written (`x86_64`, `amd64`, `all`). */
  'target-architecture': string[];
  checks: { disabled: string[]; enabled: string[] };
  cpe?: Cpe;
  setcap: Setcap[];
  annotations: Record<string, string>;
  /** A Go duration (`30m`, `1h30m`); cancels the build. */
  timeout?: string;
  resources?: Resources;
  'test-resources'?: Resources;
}

/** One pipeline step (main pipeline, subpackage pipeline, test pipeline, or a pipeline definition). */
export interface PipelineStep {
  name?: string;
  uses?: string;
  with: Record<string, string>;
  runs?: string;
  pipeline: PipelineStep[];
  if?: string;
  'working-directory'?: string;
  environment: Record<string, string>;
  assertions?: { 'required-steps'?: number };
  /** Only in pipeline definitions and compiled steps. */
  needs?: { packages: string[] };
  label?: string;
}

/** One `inputs.<name>` of a pipeline definition. */
export interface PipelineInput {
  description?: string;
  default?: string;
  required: boolean;
}

/** A pipeline definition file (built-in or from `--pipeline-dir`). */
export interface PipelineDefinition {
  name?: string;
  description?: string;
  needs: { packages: string[] };
  inputs: Record<string, PipelineInput>;
  pipeline: PipelineStep[];
}

/** `test:` (top level and per subpackage). */
export interface TestSpec {
  /** An apko image configuration (repositories are not inherited from the build). */
  environment?: ImageConfig;
  pipeline: PipelineStep[];
}

/** `subpackages[]`. */
export interface Subpackage {
  name: string;
  description?: string;
  url?: string;
  commit?: string;
  annotations: Record<string, string>;
  dependencies: Dependencies;
  options: PackageOptions;
  scriptlets: Scriptlets;
  checks: { disabled: string[]; enabled: string[] };
  setcap: Setcap[];
  pipeline: PipelineStep[];
  test?: TestSpec;
  if?: string;
  /** Name of a `data` table: the subpackage is cloned per item (sorted keys). */
  range?: string;
}

/** `var-transforms[]`. */
export interface VarTransform {
  from: string;
  /** A Go RE2 expression. */
  match: string;
  /** Replacement with `$1` / `${1}` group references. */
  replace: string;
  to: string;
}

/** `data[]`. */
export interface DataTable {
  name: string;
  items: Record<string, string>;
}

/** `options.<name>` (build options toggled by `--build-option`). */
export interface BuildOption {
  vars: Record<string, string>;
  environment: { contents: { packages: { add: string[]; remove: string[] } } };
}

/** `capabilities:`. */
export interface Capabilities {
  add: string[];
  drop: string[];
  /** tk: the sandbox has a network only when this is true or `--network` is given. */
  networking?: boolean;
}

/** A whole, validated recipe (before substitution). `update` is kept as read (only `bump` uses it). */
export interface Recipe {
  package: PackageMeta;
  environment: ImageConfig;
  capabilities: Capabilities;
  pipeline: PipelineStep[];
  subpackages: Subpackage[];
  data: DataTable[];
  vars: Record<string, string>;
  'var-transforms': VarTransform[];
  options: Record<string, BuildOption>;
  update?: Record<string, unknown>;
  test?: TestSpec;
}

/** A step after compilation: `uses` expanded, every `${{…}}` substituted, `if` evaluated. */
export interface CompiledStep {
  name?: string;
  /** Kept for information (logs, the embedded config, the SBOM's sources). */
  uses?: string;
  /** The inputs the step was given, defaults applied (for `uses` steps). */
  with: Record<string, string>;
  runs?: string;
  /** Absolute guest path (default `/home/build`), inherited by children. */
  workingDirectory: string;
  /** The step's own environment merged over its parent's. */
  environment: Record<string, string>;
  /** The condition as written after substitution, if any. */
  if?: string;
  /** False when `if` evaluated to false: the step and its children are skipped. */
  enabled: boolean;
  pipeline: CompiledStep[];
  assertions?: { 'required-steps'?: number };
}

/** One package to emit after the build (the main package or a subpackage), compiled. */
export interface CompiledPackage {
  name: string;
  /** True for the main package. */
  main: boolean;
  description?: string;
  url?: string;
  commit?: string;
  dependencies: Dependencies;
  options: PackageOptions;
  scriptlets: Scriptlets;
  checks: { disabled: string[]; enabled: string[] };
  setcap: Setcap[];
  /** The subpackage's own pipeline (empty for the main package: its steps are `CompiledRecipe.pipeline`). */
  pipeline: CompiledStep[];
  test?: { environment?: ImageConfig; pipeline: CompiledStep[]; needs: string[] };
}

/** A recipe compiled for one arch: what the build runs. */
export interface CompiledRecipe {
  /** The recipe after substitution (subpackages expanded, false `if`s dropped), for `.melange.yaml`. */
  recipe: Recipe;
  arch: string;
  /** Main package metadata after substitution. */
  package: PackageMeta;
  /** Build environment with pipeline `needs`, build options and defaults (build user, HOME…) applied. */
  environment: ImageConfig;
  pipeline: CompiledStep[];
  /** Main package first, then surviving subpackages in recipe order. */
  packages: CompiledPackage[];
  /** Main package test, if any. */
  test?: { environment?: ImageConfig; pipeline: CompiledStep[]; needs: string[] };
  /** `vars` after var-transforms and build options. */
  vars: Record<string, string>;
}
