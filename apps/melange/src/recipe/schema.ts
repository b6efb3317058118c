/**
 * The melange recipe schema (melange `pkg/config/config.go`, `build_option.go`; reference: melange.md §1) as
 * zod schemas, and the schema of pipeline definition files (`uses:` targets, melange.md §2).
 *
 * The zod schema is the source of truth for keys, types, defaults and the JSON Schema editors use
 * (`apps/melange/schema/melange.schema.json`). Objects are strict, as melange decodes recipes with
 * `KnownFields(true)`. Keys keep melange's YAML spelling. Parsing yields exactly {@link Recipe}: lists and
 * maps default to empty, `epoch` to 0, option flags to false; `environment` (an apko image configuration) is
 * checked by `@tk/apko`'s schema and finished the way apko finishes it.
 *
 * Rules that JSON Schema cannot express (name and version rules on values that may still hold `${{…}}`,
 * step shape, references between keys, setcap and CPE rules, apko's own checks of the environments) are in
 * {@link checkRecipeSemantics}, which reads the raw value (so it runs even where zod found type errors) and
 * reports every problem with its position.
 */
import { isValidVersion } from '@tk/apk';
import {
  ARCH_NAMES,
  checkSemantics,
  emptyImageConfig,
  formatRepositoryLine,
  imageConfigSchema,
  parseArch,
  parseRepositoryLine,
  type Arch,
  type ImageConfig,
  type PathSegment,
  type Reporter,
} from '@tk/apko';
import type { Logger } from '@tk/core';
import { z } from 'zod';
import type {
  BuildOption,
  Capabilities,
  Copyright,
  Cpe,
  DataTable,
  Dependencies,
  PackageMeta,
  PackageOptions,
  PipelineDefinition,
  PipelineInput,
  PipelineStep,
  Recipe,
  Resources,
  Scriptlets,
  Setcap,
  Subpackage,
  TestSpec,
  VarTransform,
} from './types.ts';

// Parsed once per process: zod's JIT (code built with `new Function` for each object schema) costs more
// than it saves, and code it builds at run time is never in the launcher's code cache. Same results.
z.config({ jitless: true });

/** melange's package and subpackage name rule (`packageNameRegex`). */
export const PACKAGE_NAME_PATTERN = /^[a-zA-Z\d][a-zA-Z\d+_.-]*$/;
/** melange's rule for CPE field values (`cpeFieldRegex`). */
export const CPE_FIELD_PATTERN = /^[a-z\d][a-z\d+_.-]*$/;
/** The CPE parts melange allows (`allowedCPEParts`): software never claims the hardware part. */
export const CPE_PARTS = ['a', 'o'] as const;
/** The file capabilities `setcap` may grant (melange `validCapabilities`). */
export const SETCAP_CAPABILITIES = [
  'cap_net_bind_service',
  'cap_net_admin',
  'cap_net_raw',
  'cap_ipc_lock',
  'cap_sys_admin',
] as const;
/** `package.target-architecture` entries: apk or OCI spellings, and the deprecated `all`. */
export const TARGET_ARCHITECTURES: readonly string[] = [...ARCH_NAMES, 'all'];
/**
 * A non-negative Go `time.Duration` as `time.ParseDuration` reads it (`45s`, `1h30m`, `1.5h`, `0`), as
 * yaml.v3 decodes `package.timeout`. The sign Go allows is refused: a negative timeout is a mistake.
 */
export const GO_DURATION_PATTERN = /^\+?(?:0|(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/;
/**
 * Deepest nesting of `pipeline:` inside steps. Real recipes nest two or three levels; the bound keeps
 * hostile input from recursing through the compiler and the runner.
 */
export const MAX_PIPELINE_DEPTH = 16;

const TEMPLATE = '${{';

const str = (description: string) => z.string().describe(description);
const list = <T extends z.ZodType>(item: T, description: string) =>
  z
    .array(item)
    .default(() => [])
    .describe(description);
const stringMap = (description: string) =>
  z
    .record(z.string(), z.string())
    .default(() => ({}))
    .describe(description);
const flag = (description: string) => z.boolean().default(false).describe(description);

// ---------------------------------------------------------------------------------------------------------
// environment: an apko image configuration

type ParsedImageConfig = z.output<typeof imageConfigSchema>;

/**
 * Turn apko's zod output into an {@link ImageConfig}, as apko's loader does (`apps/apko/src/config/load.ts`,
 * `finish`): repository lines normalised, users' home directories defaulted, path modes defaulted,
 * architectures in OCI spelling. Repository lines that still hold `${{…}}` are kept as written (melange
 * substitutes them later).
 */
function finishImageConfig(
  parsed: ParsedImageConfig,
  ctx: z.core.$RefinementCtx<ParsedImageConfig>,
): ImageConfig {
  const trim = (line: string): string => {
    try {
      return formatRepositoryLine(parseRepositoryLine(line));
    } catch (error) {
      if (!line.includes(TEMPLATE)) {
        // checkRecipeSemantics reports the same problem with its position; this issue is for direct callers.
        ctx.issues.push({
          code: 'custom',
          input: line,
          message: (error as Error).message,
          params: { reportedBySemantics: true },
        });
      }
      return line;
    }
  };
  const c = parsed.contents;
  const config: ImageConfig = {
    contents: {
      repositories: c.repositories.map(trim),
      build_repositories: c.build_repositories.map(trim),
      runtime_repositories: c.runtime_repositories.map(trim),
      keyring: [...c.keyring],
      runtime_keyring: c.runtime_keyring.map((k) => ({ name: k.name, content: k.content })),
      packages: [...c.packages],
    },
    entrypoint: {},
    accounts: {
      users: parsed.accounts.users.map((u) => ({
        username: u.username,
        uid: u.uid,
        ...(u.gid === undefined ? {} : { gid: u.gid }),
        ...(u.shell === undefined ? {} : { shell: u.shell }),
        homedir: u.homedir === undefined || u.homedir === '' ? `/home/${u.username}` : u.homedir,
      })),
      groups: parsed.accounts.groups.map((g) => ({
        groupname: g.groupname,
        gid: g.gid,
        members: [...g.members],
      })),
    },
    environment: { ...parsed.environment },
    paths: parsed.paths.map((p) => {
      const permissions =
        p.permissions ?? (p.type === 'directory' ? 0o755 : p.type === 'empty-file' ? 0o644 : undefined);
      return {
        path: p.path,
        type: p.type,
        ...(p.uid === undefined ? {} : { uid: p.uid }),
        ...(p.gid === undefined ? {} : { gid: p.gid }),
        ...(permissions === undefined ? {} : { permissions }),
        ...(p.source === undefined ? {} : { source: p.source }),
        ...(p.recursive === undefined ? {} : { recursive: p.recursive }),
      };
    }),
    archs: parsed.archs.map((a) => parseArch(a)).filter((a): a is Arch => a !== undefined),
    annotations: { ...parsed.annotations },
    volumes: [...parsed.volumes],
    format: 'tar',
  };
  const e = parsed.entrypoint;
  if (e.type !== undefined) config.entrypoint.type = e.type;
  if (e.command !== undefined) config.entrypoint.command = e.command;
  if (e['shell-fragment'] !== undefined) config.entrypoint['shell-fragment'] = e['shell-fragment'];
  if (e.services !== undefined) config.entrypoint.services = { ...e.services };
  if (parsed.accounts['run-as'] !== undefined) config.accounts['run-as'] = parsed.accounts['run-as'];
  if (parsed.cmd !== undefined) config.cmd = parsed.cmd;
  if (parsed['work-dir'] !== undefined) config['work-dir'] = parsed['work-dir'];
  if (parsed['stop-signal'] !== undefined) config['stop-signal'] = parsed['stop-signal'];
  if (parsed.include !== undefined) config.include = parsed.include;
  if (parsed['vcs-url'] !== undefined) config['vcs-url'] = parsed['vcs-url'];
  if (parsed.certificates !== undefined) {
    config.certificates = {
      additional: parsed.certificates.additional.map((a) => ({ name: a.name, content: a.content })),
      providers: [...parsed.certificates.providers],
    };
  }
  return config;
}

/**
 * An apko image configuration inside a recipe (`environment:`, `test.environment:`), finished into an
 * {@link ImageConfig}. melange accepts every apko key here; the ones that do not affect a build
 * (entrypoint, cmd, archs, paths, …) are accepted and kept.
 */
export const environmentSchema = imageConfigSchema
  .transform(finishImageConfig)
  .describe(
    'An apko image configuration: contents.repositories/keyring/packages, accounts and environment are used; other apko keys are accepted and ignored',
  );

// ---------------------------------------------------------------------------------------------------------
// pipeline steps

const needsSchema = z
  .strictObject({
    packages: list(
      str('A package name, with an optional version constraint'),
      'Packages added to the build (or test) environment',
    ),
  })
  .describe('Packages this step needs in the guest');

const assertionsSchema = z
  .strictObject({
    'required-steps': z
      .int()
      .min(0, { error: 'must not be negative' })
      .optional()
      .describe('How many direct child steps must run (not be skipped by `if`)'),
  })
  .describe('Checks on the nested steps');

const stepFields = {
  name: str('A label for logs').optional(),
  uses: str(
    'A built-in or --pipeline-dir pipeline to run, by path without .yaml (autoconf/make); not absolute, no ".."',
  ).optional(),
  with: stringMap('Inputs for the pipeline named by `uses` (input name → value)'),
  runs: str('A shell script, run with /bin/sh -c in the working directory').optional(),
  if: str('A condition (${{…}} substitutions, ==, !=, &&, ||, parentheses); false skips the step').optional(),
  'working-directory': str(
    'Working directory; relative paths start at /home/build; inherited by nested steps',
  ).optional(),
  environment: stringMap('Environment variables for this step and its nested steps'),
  assertions: assertionsSchema.optional(),
  needs: needsSchema.optional(),
  label: str('A free label (unused by the build)').optional(),
};

const STEPS_DESCRIPTION = 'Nested steps: run in order, sharing this step’s working directory and environment';

/** One pipeline step of a recipe (recursive through `pipeline:`). */
export const pipelineStepSchema = z
  .strictObject({
    ...stepFields,
    get pipeline(): z.ZodDefault<z.ZodArray<z.ZodType<PipelineStep, unknown>>> {
      return z
        .array(pipelineStepSchema as z.ZodType<PipelineStep, unknown>)
        .default(() => [])
        .describe(STEPS_DESCRIPTION);
    },
  })
  .describe(
    'A pipeline step: `uses` a pipeline (with inputs in `with`), `runs` a script, or nests `pipeline`',
  );

/**
 * One step of a pipeline definition file. melange decodes definitions without `KnownFields`, and Wolfi's
 * pipelines document steps with `description:`; it is accepted and dropped.
 */
export const definitionStepSchema = z
  .strictObject({
    ...stepFields,
    description: str('Documentation of the step (ignored)').optional(),
    get pipeline(): z.ZodDefault<z.ZodArray<z.ZodType<PipelineStep, unknown>>> {
      return z
        .array(definitionStepSchema as z.ZodType<PipelineStep, unknown>)
        .default(() => [])
        .describe(STEPS_DESCRIPTION);
    },
  })
  .transform(({ description: _description, ...step }): PipelineStep => step)
  .describe('A step of a pipeline definition');

// ---------------------------------------------------------------------------------------------------------
// package metadata

const copyrightSchema = z
  .strictObject({
    paths: z.array(str('A path or glob, typically "*"')).optional().describe('Files the license covers'),
    attestation: str('Copyright statement (goes to the SBOM)').optional(),
    license: str('An SPDX license expression; one .PKGINFO `license` line per entry').optional(),
    'license-path': str('Path (in the workspace) of the license text, for non-SPDX licenses').optional(),
    'detection-override': str('License to use instead of the detected one').optional(),
  })
  .describe('One license of the package');

const dependenciesSchema = z
  .strictObject({
    runtime: list(
      str('A dependency: name, name=version, name>version, so:libfoo.so.1, cmd:foo, !conflict'),
      'Runtime dependencies (.PKGINFO `depend`), added to the ones SCA finds',
    ),
    provides: list(str('name or name=version'), 'Virtual packages provided (.PKGINFO `provides`)'),
    replaces: list(
      str('A package name'),
      'Packages whose files this one may overwrite (.PKGINFO `replaces`)',
    ),
    'provider-priority': str(
      'An integer (as text): which of several providers of a virtual package wins',
    ).optional(),
    'replaces-priority': str('An integer (as text): which package wins a file conflict').optional(),
  })
  .describe('Declared dependencies');

const emptyDependencies = (): Dependencies => ({ runtime: [], provides: [], replaces: [] });

const packageOptionsSchema = z
  .strictObject({
    'no-provides': flag('A virtual package: SCA adds no provides'),
    'no-depends': flag('Self-contained: SCA adds no dependencies'),
    'no-commands': flag('SCA adds no cmd: provides'),
    'no-versioned-shlib-deps': flag('SCA adds so: dependencies without versions'),
  })
  .describe('Switches for the dependency scanner (SCA)');

const noOptions = (): PackageOptions => ({
  'no-provides': false,
  'no-depends': false,
  'no-commands': false,
  'no-versioned-shlib-deps': false,
});

const scriptletsSchema = z
  .strictObject({
    trigger: z
      .strictObject({
        script: str('The trigger script (with its #! line)').optional(),
        paths: list(str('A directory'), 'Directories whose changes run the trigger (.PKGINFO `triggers`)'),
      })
      .optional()
      .describe('A script apk runs when files change under `paths`'),
    'pre-install': str('Script run before install (with its #! line)').optional(),
    'post-install': str('Script run after install').optional(),
    'pre-deinstall': str('Script run before removal').optional(),
    'post-deinstall': str('Script run after removal').optional(),
    'pre-upgrade': str('Script run before upgrade').optional(),
    'post-upgrade': str('Script run after upgrade').optional(),
  })
  .describe('Install scripts (control files of the .apk)');

/*
 * `checks.enabled` was removed from melange (commit 4fb4a078, "rewrite linting"); melange rejects it now, so
 * tk does too. The Recipe type still carries `enabled`, always empty.
 */
const checksSchema = z
  .strictObject({
    disabled: list(str('A linter name'), 'Linters lowered from error to warning for this package'),
  })
  .transform((c) => ({ disabled: c.disabled, enabled: [] as string[] }))
  .describe('Package linter settings');

const noChecks = (): { disabled: string[]; enabled: string[] } => ({ disabled: [], enabled: [] });

const cpeSchema = z
  .strictObject({
    part: str('"a" (application, the default) or "o" (operating system)').optional(),
    vendor: str('Vendor (lowercase; set together with product)').optional(),
    product: str('Product (lowercase; set together with vendor)').optional(),
    edition: str('Edition').optional(),
    language: str('Language').optional(),
    sw_edition: str('Software edition').optional(),
    target_sw: str('Target software').optional(),
    target_hw: str('Target hardware').optional(),
    other: str('Other').optional(),
  })
  .describe('CPE fields for vulnerability matching (SBOM)');

const setcapSchema = z
  .strictObject({
    path: z.string().min(1, { error: 'must not be empty' }).describe('Path of the file inside the package'),
    add: stringMap(
      `Capabilities ("cap_a,cap_b") → flags ("+ep"); allowed: ${SETCAP_CAPABILITIES.join(', ')}`,
    ),
    reason: str('Why the file needs the capabilities (required)'),
  })
  .describe('File capabilities set after the pipeline (security.capability xattr)');

const resourcesSchema = z
  .strictObject({
    cpu: str('CPUs').optional(),
    cpumodel: str('CPU model').optional(),
    memory: str('Memory, e.g. 4Gi').optional(),
    disk: str('Disk, e.g. 20Gi').optional(),
  })
  .describe('Resources for the build VM (QEMU runner); tk runs bubblewrap and ignores them');

const packageSchema = z
  .strictObject({
    name: z
      .string()
      .min(1, { error: 'must not be empty' })
      .describe('Package name: letters, digits and + _ . -, starting with a letter or digit'),
    version: z
      .string()
      .min(1, { error: 'must not be empty' })
      .describe('Upstream version, a valid apk version without -rN (quote it: "5.0")'),
    epoch: z
      .int({ error: (issue) => (issue.input === undefined ? 'is required' : undefined) })
      .min(0, { error: 'must not be negative' })
      .default(0)
      .describe('Package release number: the N of -rN'),
    description: str('Package description (.PKGINFO pkgdesc)').optional(),
    url: str('Project home page').optional(),
    commit: str('Git commit of the recipe (default: detected from the recipe’s repository)').optional(),
    copyright: list(copyrightSchema, 'Licenses of the package'),
    dependencies: dependenciesSchema.default(emptyDependencies),
    options: packageOptionsSchema.default(noOptions),
    scriptlets: scriptletsSchema.default(() => ({})),
    'target-architecture': list(
      z.enum(TARGET_ARCHITECTURES as [string, ...string[]], {
        error: `must be one of ${TARGET_ARCHITECTURES.join(', ')}`,
      }),
      'Architectures to build for (apk or OCI spelling); other architectures are skipped',
    ),
    checks: checksSchema.default(noChecks),
    cpe: cpeSchema.optional(),
    setcap: list(setcapSchema, 'File capabilities'),
    annotations: stringMap('Free annotations (kept in the embedded configuration)'),
    timeout: z
      .string()
      .regex(GO_DURATION_PATTERN, { error: 'must be a Go duration such as 45s, 30m or 1h30m' })
      .optional()
      .describe('Cancel the build after this long (Go duration: 1h30m)'),
    resources: resourcesSchema.optional(),
    'test-resources': resourcesSchema.optional(),
  })
  .describe('Package metadata');

// ---------------------------------------------------------------------------------------------------------
// tests, subpackages, the rest of the recipe

const testSchema = z
  .strictObject({
    environment: environmentSchema.optional(),
    pipeline: list(pipelineStepSchema, 'Test steps, run in a guest with the package installed'),
  })
  .describe('Tests of the package');

const subpackageSchema = z
  .strictObject({
    name: z
      .string()
      .min(1, { error: 'must not be empty' })
      .describe('Subpackage name (same rule as package.name; unique)'),
    description: str('Description (not inherited from the main package)').optional(),
    url: str('Home page (not inherited)').optional(),
    commit: str('Git commit of the recipe').optional(),
    annotations: stringMap('Free annotations'),
    dependencies: dependenciesSchema.default(emptyDependencies),
    options: packageOptionsSchema.default(noOptions),
    scriptlets: scriptletsSchema.default(() => ({})),
    checks: checksSchema.default(noChecks),
    setcap: list(setcapSchema, 'File capabilities (melange ignores them on subpackages)'),
    pipeline: list(pipelineStepSchema, 'Steps that move files into ${{targets.subpkgdir}}'),
    test: testSchema.optional(),
    if: str('A condition; false drops the subpackage').optional(),
    range: str(
      'Name of a `data` table: one subpackage per item (${{range.key}}, ${{range.value}})',
    ).optional(),
  })
  .describe('A further package built from the same workspace');

const varTransformSchema = z
  .strictObject({
    from: str('The text to transform, usually a variable: ${{package.version}}'),
    match: str('A Go RE2 regular expression'),
    replace: str('The replacement, with $1 or ${1} group references'),
    to: str('The new variable: ${{vars.<to>}}'),
  })
  .describe('A variable derived from another by a regular expression');

const dataTableSchema = z
  .strictObject({
    name: z
      .string()
      .min(1, { error: 'must not be empty' })
      .describe('Table name, used by subpackages[].range'),
    items: stringMap('key → value items, iterated in sorted key order'),
  })
  .describe('A named table for subpackage ranges');

const buildOptionSchema = z
  .strictObject({
    vars: stringMap('Variables merged over `vars`'),
    environment: z
      .strictObject({
        contents: z
          .strictObject({
            packages: z
              .strictObject({
                add: list(str('A package'), 'Packages added to the build environment'),
                remove: list(str('A package name'), 'Packages removed from the build environment'),
              })
              .default(() => ({ add: [], remove: [] })),
          })
          .default(() => ({ packages: { add: [], remove: [] } })),
      })
      .default(() => ({ contents: { packages: { add: [], remove: [] } } }))
      .describe('Changes to the build environment'),
  })
  .describe('A build option, enabled with --build-option');

const capabilitiesSchema = z
  .strictObject({
    add: list(str('A capability, e.g. CAP_NET_ADMIN'), 'Capabilities added to the build sandbox'),
    drop: list(str('A capability'), 'Capabilities dropped from the build sandbox'),
    networking: z
      .boolean()
      .optional()
      .describe('tk: give the build sandbox a network (otherwise only with --network)'),
  })
  .describe('Linux capabilities of the build and test sandboxes');

const monitorFields = {
  'strip-prefix': str('Prefix removed from upstream versions').optional(),
  'strip-suffix': str('Suffix removed from upstream versions').optional(),
};
const tagFilters = {
  'tag-filter-prefix': str('Only tags with this prefix').optional(),
  'tag-filter-contains': str('Only tags containing this').optional(),
};

// Kept as read: every key is optional, as yaml.v3 leaves absent fields at their zero values.
const updateSchema = z
  .strictObject({
    enabled: z.boolean().optional().describe('Whether bots update this package'),
    manual: z.boolean().optional().describe('Updated by hand'),
    'require-sequential': z.boolean().optional().describe('Merge update PRs in order'),
    shared: z.boolean().optional().describe('An update needs epoch bumps of dependants'),
    'version-separator': str('Version separator, if not "."').optional(),
    'ignore-regex-patterns': z.array(str('A regular expression')).optional().describe('Versions to ignore'),
    'release-monitor': z
      .strictObject({
        identifier: z.int().optional().describe('release-monitoring.org project id'),
        ...monitorFields,
        'version-filter-contains': str('Only versions containing this').optional(),
        'version-filter-prefix': str('Only versions with this prefix').optional(),
      })
      .optional()
      .describe('Track releases on release-monitoring.org'),
    github: z
      .strictObject({
        identifier: str('org/repo').optional(),
        ...monitorFields,
        'tag-filter': str('Deprecated: use tag-filter-prefix').optional(),
        ...tagFilters,
        'use-tag': z.boolean().optional().describe('Use tags rather than releases'),
      })
      .optional()
      .describe('Track GitHub releases or tags'),
    git: z
      .strictObject({ ...monitorFields, ...tagFilters })
      .optional()
      .describe('Track tags of the git-checkout repository'),
    oci: z
      .strictObject({ identifier: str('An image reference').optional(), ...monitorFields, ...tagFilters })
      .optional()
      .describe('Track OCI image tags'),
    version_data: z
      .strictObject({
        version_format: str('Format with ${{source.field}} placeholders').optional(),
        sources: z
          .array(
            z.strictObject({
              name: str('Source name').optional(),
              stream: str('Stream to track').optional(),
              ignore: z.array(str('A regular expression')).optional().describe('Versions to ignore'),
              commit_source: str('Source whose commits to use').optional(),
              use_release: z.boolean().optional().describe('Use GitHub releases'),
            }),
          )
          .optional()
          .describe('Upstream sources'),
      })
      .optional()
      .describe('Track Chainguard version data'),
    'version-transform': z
      .array(
        z.strictObject({
          match: str('A regular expression').optional(),
          replace: str('The replacement').optional(),
        }),
      )
      .optional()
      .describe('Map upstream versions to apk versions'),
    'exclude-reason': str('Why updates are disabled').optional(),
    schedule: z
      .strictObject({
        reason: str('Why a schedule is used').optional(),
        period: z.enum(['daily', 'weekly', 'monthly']).optional().describe('How often to check'),
      })
      .optional()
      .describe('When to check for updates'),
    'enable-prerelease-tags': z.boolean().optional().describe('Consider pre-release tags'),
  })
  .describe('How bots track upstream releases (read only by `melange bump` and wolfictl)');

/** The zod schema of a melange recipe. Parsing applies defaults and yields a {@link Recipe}. */
export const recipeSchema = z
  .strictObject({
    package: packageSchema,
    environment: environmentSchema.default(emptyImageConfig),
    capabilities: capabilitiesSchema.default(() => ({ add: [], drop: [] })),
    pipeline: list(pipelineStepSchema, 'Build steps (may be empty for meta packages)'),
    subpackages: list(subpackageSchema, 'Further packages built from the same workspace'),
    data: list(dataTableSchema, 'Tables for subpackages[].range'),
    vars: stringMap('Variables: ${{vars.<name>}}'),
    'var-transforms': list(varTransformSchema, 'Variables derived by regular expressions, in order'),
    options: z
      .record(z.string(), buildOptionSchema)
      .default(() => ({}))
      .describe('Build options by name, enabled with --build-option'),
    update: updateSchema.optional(),
    test: testSchema.optional(),
  })
  .describe('melange build recipe (as accepted by tk)');

const inputSchema = z
  .strictObject({
    description: str('What the input is for').optional(),
    default: str(
      'Value used when `with` does not give one (YAML booleans and numbers are read as text)',
    ).optional(),
    required: flag('Whether `with` must give the input'),
  })
  .describe('An input of the pipeline');

/** The zod schema of a pipeline definition file (a `uses:` target). */
export const pipelineDefinitionSchema = z
  .strictObject({
    name: str('Name of the pipeline').optional(),
    description: str('What the pipeline does').optional(),
    needs: needsSchema.default(() => ({ packages: [] })),
    inputs: z
      .record(z.string(), inputSchema)
      .default(() => ({}))
      .describe('Inputs: ${{inputs.<name>}}'),
    pipeline: list(definitionStepSchema, 'The steps'),
  })
  .describe('melange pipeline definition');

// Compile-time guards: the schemas' outputs are exactly the types of types.ts (assignable both ways, with the
// same keys), so neither can drift from the other.
type SameKeys<A, B> = [Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A>] extends [never] ? true : false;
type Out<S extends z.ZodType> = z.output<S>;
const _recipe: z.ZodType<Recipe> = recipeSchema;
const _definition: z.ZodType<PipelineDefinition> = pipelineDefinitionSchema;
const _keys: [
  SameKeys<Out<typeof recipeSchema>, Recipe>,
  SameKeys<Out<typeof packageSchema>, PackageMeta>,
  SameKeys<Out<typeof subpackageSchema>, Subpackage>,
  SameKeys<Out<typeof pipelineStepSchema>, PipelineStep>,
  SameKeys<Out<typeof testSchema>, TestSpec>,
  SameKeys<Out<typeof dependenciesSchema>, Dependencies>,
  SameKeys<Out<typeof packageOptionsSchema>, PackageOptions>,
  SameKeys<Out<typeof scriptletsSchema>, Scriptlets>,
  SameKeys<Out<typeof copyrightSchema>, Copyright>,
  SameKeys<Out<typeof cpeSchema>, Cpe>,
  SameKeys<Out<typeof setcapSchema>, Setcap>,
  SameKeys<Out<typeof resourcesSchema>, Resources>,
  SameKeys<Out<typeof varTransformSchema>, VarTransform>,
  SameKeys<Out<typeof dataTableSchema>, DataTable>,
  SameKeys<Out<typeof buildOptionSchema>, BuildOption>,
  SameKeys<Out<typeof capabilitiesSchema>, Capabilities>,
  SameKeys<Out<typeof inputSchema>, PipelineInput>,
  SameKeys<Out<typeof pipelineDefinitionSchema>, PipelineDefinition>,
] = [
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
];
const _reverse: [Out<typeof recipeSchema>, Out<typeof pipelineDefinitionSchema>] = [
  {} as Recipe,
  {} as PipelineDefinition,
];
void [_recipe, _definition, _keys, _reverse];

// ---------------------------------------------------------------------------------------------------------
// semantic checks

type Rec = Record<string, unknown>;

const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);
const listOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const recOf = (v: unknown): Rec => (isRec(v) ? v : {});
const strOf = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** A value melange substitutes before it validates: tk checks it after substitution (the compiler). */
const templated = (v: string): boolean => v.includes(TEMPLATE);

function valueAt(value: unknown, path: readonly PathSegment[]): unknown {
  let v = value;
  for (const seg of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = Object.hasOwn(v, seg) ? (v as Record<PropertyKey, unknown>)[seg] : undefined;
  }
  return v;
}

/** A copy of `value` with every `${{…}}` replaced by `0`, which keeps names, versions and URLs valid. */
function maskTemplates(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(/\$\{\{[^}]*\}\}/g, '0');
  if (Array.isArray(value)) return value.map(maskTemplates);
  if (isRec(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskTemplates(v)]));
  return value;
}

const NAME_HINT = 'use letters, digits and "+", "_", ".", "-", starting with a letter or digit';

function checkName(report: Reporter, path: PathSegment[], value: unknown, what: string): void {
  const name = strOf(value);
  if (name === undefined || name === '' || templated(name)) return;
  if (!PACKAGE_NAME_PATTERN.test(name)) {
    report(path, `${what} ${JSON.stringify(name)} does not match ${PACKAGE_NAME_PATTERN.source}`, {
      hint: NAME_HINT,
    });
  }
}

/** Go `strconv.Atoi` on a 64-bit platform: an optional sign and decimal digits, within int64. */
function isGoInt(s: string): boolean {
  if (!/^[+-]?[0-9]+$/.test(s)) return false;
  const n = BigInt(s);
  return n >= -(2n ** 63n) && n < 2n ** 63n;
}

function checkDependencies(report: Reporter, path: PathSegment[], value: unknown): void {
  const deps = recOf(value);
  for (const key of ['provider-priority', 'replaces-priority']) {
    const v = strOf(deps[key]);
    if (v === undefined || v === '' || templated(v)) continue;
    if (!isGoInt(v)) {
      report([...path, key], `must be an integer, got ${JSON.stringify(v)}`, {
        hint: `write a whole number, e.g. ${key}: 100`,
      });
    }
  }
}

function checkSetcap(report: Reporter, path: PathSegment[], value: unknown): void {
  listOf(value).forEach((entry, i) => {
    const e = recOf(entry);
    const add = recOf(e.add);
    for (const key of Object.keys(add)) {
      for (const cap of key.split(',')) {
        if (!(SETCAP_CAPABILITIES as readonly string[]).includes(cap)) {
          report([...path, i, 'add', key], `capability ${JSON.stringify(cap)} is not allowed`, {
            at: 'key',
            hint: `melange allows only ${SETCAP_CAPABILITIES.join(', ')}`,
          });
        }
      }
    }
    // A missing reason is zod's to report; an empty one is ours.
    if (e.reason === '') {
      report([...path, i, 'reason'], 'must not be empty', {
        hint: 'say why the file needs these capabilities',
      });
    }
  });
}

function checkCpe(report: Reporter, value: unknown): void {
  if (!isRec(value)) return;
  const base: PathSegment[] = ['package', 'cpe'];
  const field = (key: string): string => strOf(value[key]) ?? '';
  const part = field('part');
  if (part !== '' && !templated(part) && !(CPE_PARTS as readonly string[]).includes(part)) {
    report([...base, 'part'], `must be "a" or "o", got ${JSON.stringify(part)}`, {
      hint: 'most packages are applications: part: a',
    });
  }
  const vendor = field('vendor');
  const product = field('product');
  if ((vendor === '') !== (product === '')) {
    const missing = vendor === '' ? 'vendor' : 'product';
    report([...base, missing], 'vendor and product must be given together', {
      hint: `add cpe.${missing}`,
    });
  }
  for (const key of [
    'vendor',
    'product',
    'edition',
    'language',
    'sw_edition',
    'target_sw',
    'target_hw',
    'other',
  ]) {
    const v = field(key);
    if (v === '' || templated(v)) continue;
    if (v === '*' && (key === 'vendor' || key === 'product')) {
      report([...base, key], `must name the ${key}, not "*"`);
    } else if (!CPE_FIELD_PATTERN.test(v)) {
      report([...base, key], `${JSON.stringify(v)} does not match ${CPE_FIELD_PATTERN.source}`, {
        hint: 'CPE values are lowercase letters, digits and "+", "_", ".", "-"',
      });
    }
  }
}

function checkSteps(
  report: Reporter,
  path: PathSegment[],
  value: unknown,
  depth: number,
  logger: Logger,
): void {
  listOf(value).forEach((entry, i) => {
    if (!isRec(entry)) return;
    const at: PathSegment[] = [...path, i];
    if (depth > MAX_PIPELINE_DEPTH) {
      report(at, `pipeline steps are nested more than ${MAX_PIPELINE_DEPTH} levels deep`, {
        hint: 'flatten the nested pipeline: blocks',
      });
      return;
    }
    const uses = strOf(entry.uses) ?? '';
    const runs = strOf(entry.runs) ?? '';
    const withMap = entry.with;
    const hasWith = isRec(withMap);
    const nested = listOf(entry.pipeline);
    if (hasWith && uses === '') {
      report([...at, 'with'], 'is given without uses', {
        at: 'key',
        hint: 'with: passes inputs to the pipeline named by uses; add uses:, or use the values in runs:',
      });
    } else if (hasWith && Object.keys(withMap).length > 0 && runs !== '') {
      report([...at, 'with'], 'cannot be combined with runs', {
        at: 'key',
        hint: 'give inputs to a uses: step, or write the values into the script',
      });
    }
    if (uses !== '' && runs !== '') {
      report([...at, 'runs'], `cannot be combined with uses (${JSON.stringify(uses)})`, {
        at: 'key',
        hint: 'split this into two steps',
      });
    }
    if (uses !== '' && nested.length === 0 && (uses.startsWith('/') || uses.includes('..'))) {
      report([...at, 'uses'], `${JSON.stringify(uses)} must be a relative pipeline name without ".."`, {
        hint: 'name a built-in pipeline (autoconf/make) or one under --pipeline-dir',
      });
    }
    if (uses !== '' && nested.length > 0) {
      logger.warn(
        `${formatSteps(at)}: uses ${JSON.stringify(uses)} together with pipeline: the nested steps run instead`,
      );
    }
    checkSteps(report, [...at, 'pipeline'], entry.pipeline, depth + 1, logger);
  });
}

function formatSteps(path: readonly PathSegment[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/**
 * Run apko's own checks on an `environment:` (tk's `checkSemantics`), with `${{…}}` masked: melange
 * substitutes variables into environments before apko sees them, so a templated value is judged later.
 */
function checkEnvironment(report: Reporter, path: PathSegment[], value: unknown, logger: Logger): void {
  if (!isRec(value)) return;
  checkSemantics(
    maskTemplates(value),
    (p, message, options) => {
      const original = valueAt(value, p);
      if (typeof original === 'string' && templated(original)) return;
      report([...path, ...p], message, options);
    },
    logger,
  );
  if (value.include !== undefined) {
    logger.warn(
      `${formatSteps([...path, 'include'])}: melange does not follow include: in an environment; ignored`,
    );
  }
}

function checkTest(report: Reporter, path: PathSegment[], value: unknown, logger: Logger): void {
  if (!isRec(value)) return;
  checkEnvironment(report, [...path, 'environment'], value.environment, logger);
  checkSteps(report, [...path, 'pipeline'], value.pipeline, 1, logger);
}

/**
 * The checks melange makes in `Configuration.validate` (and at build start) that a schema cannot: name
 * rules, a valid apk version, integer priorities, unique subpackage names, step shape, `uses` paths, setcap
 * capabilities and reasons, CPE fields, `range` references, nesting depth; plus apko's checks of every
 * environment. Values holding `${{…}}` are left to the compiler, which checks them after substitution.
 *
 * Reads the raw value defensively (it runs even when the schema found type errors) and reports every
 * problem through `report`.
 *
 * @param value - the recipe as read from YAML (before zod)
 * @param report - where issues go (paths from the recipe root)
 * @param logger - receives warnings about keys that have no effect
 */
export function checkRecipeSemantics(value: unknown, report: Reporter, logger: Logger): void {
  const recipe = recOf(value);
  const pkg = recOf(recipe.package);
  const mainName = strOf(pkg.name);
  checkName(report, ['package', 'name'], pkg.name, 'package name');
  const version = strOf(pkg.version);
  if (version !== undefined && version !== '' && !templated(version)) {
    if (!isValidVersion(version) || !isValidVersion(`${version}-r0`)) {
      report(['package', 'version'], `${JSON.stringify(version)} is not a valid apk version`, {
        hint: /-r[0-9]+$/.test(version)
          ? 'leave the -rN suffix out: it comes from package.epoch'
          : 'apk versions look like 1.2.3, 1.2.3_rc1, 2.0a or 1.0_p20240101',
      });
    }
  }
  checkDependencies(report, ['package', 'dependencies'], pkg.dependencies);
  checkSetcap(report, ['package', 'setcap'], pkg.setcap);
  checkCpe(report, pkg.cpe);
  if (listOf(pkg['target-architecture']).includes('all')) {
    logger.warn(
      'package.target-architecture: "all" is deprecated; list the architectures, or leave the key out',
    );
  }

  checkEnvironment(report, ['environment'], recipe.environment, logger);
  checkSteps(report, ['pipeline'], recipe.pipeline, 1, logger);
  if (isRec(recipe.test)) checkTest(report, ['test'], recipe.test, logger);

  const tables = new Set(listOf(recipe.data).map((d) => strOf(recOf(d).name)));
  const seen = new Map<string, number>();
  if (mainName !== undefined) seen.set(mainName, -1);
  listOf(recipe.subpackages).forEach((entry, i) => {
    if (!isRec(entry)) return;
    const base: PathSegment[] = ['subpackages', i];
    checkName(report, [...base, 'name'], entry.name, 'subpackage name');
    const range = strOf(entry.range);
    const name = strOf(entry.name);
    // Subpackages cloned by range get their names only when expanded; the compiler checks those.
    if (name !== undefined && name !== '' && (range === undefined || range === '')) {
      const first = seen.get(name);
      if (first === -1) {
        report([...base, 'name'], `${JSON.stringify(name)} is the name of the main package`, {
          hint: 'give the subpackage its own name, e.g. <name>-dev',
        });
      } else if (first !== undefined) {
        report([...base, 'name'], `${JSON.stringify(name)} is already the name of subpackages[${first}]`, {
          hint: 'subpackage names must be unique',
        });
      } else {
        seen.set(name, i);
      }
    }
    if (range !== undefined && range !== '' && !tables.has(range)) {
      const known = [...tables].filter((t): t is string => t !== undefined);
      report([...base, 'range'], `names the data table ${JSON.stringify(range)}, which is not defined`, {
        hint:
          known.length > 0 ? `defined tables: ${known.join(', ')}` : 'define it under data: (name:, items:)',
      });
    }
    checkDependencies(report, [...base, 'dependencies'], entry.dependencies);
    checkSetcap(report, [...base, 'setcap'], entry.setcap);
    checkSteps(report, [...base, 'pipeline'], entry.pipeline, 1, logger);
    if (isRec(entry.test)) checkTest(report, [...base, 'test'], entry.test, logger);
  });
}

/**
 * The step-shape checks of {@link checkRecipeSemantics}, for a pipeline definition file.
 *
 * @param value - the definition as read from YAML (before zod)
 * @param report - where issues go
 * @param logger - receives warnings
 */
export function checkPipelineDefinitionSemantics(value: unknown, report: Reporter, logger: Logger): void {
  checkSteps(report, ['pipeline'], recOf(value).pipeline, 1, logger);
}

// ---------------------------------------------------------------------------------------------------------
// JSON Schema

/** `s`, also admitting null (idempotent). */
function nullable(s: Rec): Rec {
  const values = listOf(s.enum);
  if (values.length > 0 && !values.includes(null)) s = { ...s, enum: [...values, null] };
  if (typeof s.type === 'string') return { ...s, type: [s.type, 'null'] };
  const types = listOf(s.type);
  if (types.length > 0) return types.includes('null') ? s : { ...s, type: [...types, 'null'] };
  const anyOf = listOf(s.anyOf);
  if (anyOf.some((a) => isRec(a) && a.type === 'null')) return s;
  return { anyOf: [s, { type: 'null' }] };
}

/**
 * `key:` with no value leaves an optional key out (yaml.v3 leaves the zero value; tk's reader drops it), and
 * is the empty string in a map of strings (`with:`, `vars:`): let the JSON Schema admit those nulls, so that
 * editors accept what melange accepts (`dependencies:\n  runtime:` in real recipes).
 */
function admitYamlNulls(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(admitYamlNulls);
    return;
  }
  if (!isRec(node)) return;
  const properties = node.properties;
  if (isRec(properties)) {
    const required = new Set(listOf(node.required));
    for (const [key, prop] of Object.entries(properties)) {
      if (!required.has(key) && isRec(prop)) properties[key] = nullable(prop);
    }
  }
  const additional = node.additionalProperties;
  if (isRec(additional)) {
    const types = Array.isArray(additional.type) ? (additional.type as unknown[]) : [additional.type];
    if (types.includes('string')) node.additionalProperties = nullable(additional);
  }
  for (const child of Object.values(node)) admitYamlNulls(child);
}

/**
 * The JSON Schema (draft 2020-12) of melange recipes, generated from {@link recipeSchema} for editors
 * (`apps/melange/schema/melange.schema.json`, written by `scripts/gen-melange-schema.mjs`; a test keeps the
 * committed file fresh).
 *
 * String values also admit numbers and booleans, because YAML gives `version: 5.0`, `PORT: 8080` or
 * `default: false` as numbers and booleans and melange (like tk) reads them as their text; optional keys
 * admit null (`key:` with no value).
 *
 * @returns a JSON Schema object describing the input form (defaults shown, nothing required that has one)
 * @example
 * writeFileSync('melange.schema.json', JSON.stringify(recipeJsonSchema(), null, 2));
 */
export function recipeJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(recipeSchema, {
    io: 'input',
    target: 'draft-2020-12',
    override: (ctx) => {
      if (ctx.path.includes('propertyNames')) return;
      const type = ctx.zodSchema._zod.def.type;
      const json = ctx.jsonSchema as { type?: unknown; enum?: unknown[] };
      if (type === 'string') json.type = ['string', 'number', 'boolean'];
      if (type === 'enum' && Array.isArray(json.enum)) {
        const numeric = json.enum
          .filter((v) => typeof v === 'string' && /^[0-9]+$/.test(v))
          .map(Number)
          .filter((n) => !json.enum?.includes(n));
        if (numeric.length > 0) {
          json.enum = [...json.enum, ...numeric];
          json.type = ['string', 'number'];
        }
      }
    },
  }) as Record<string, unknown>;
  admitYamlNulls(schema);
  return {
    $schema: schema.$schema,
    title: 'melange recipe (tk)',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
}
