/**
 * The apko image configuration schema (apko `pkg/build/types/types.go`, `schema.json`), as zod schemas.
 *
 * The zod schema is the source of truth for messages, types, enums, patterns and ranges, and for the JSON Schema that
 * editors use (`apps/apko/schema/apko.schema.json`). Checks that JSON Schema cannot express (dependency
 * syntax, paths that climb out of the root, duplicate uids, references between keys) live in
 * `validate.ts`. Objects are strict, as apko decodes with `KnownFields(true)`. Keys keep apko's spelling
 * (`work-dir`, `run-as`, `build_repositories`) so that a config round-trips to apko's YAML and
 * `/etc/apko.json` without renaming. `shape.ts` holds the same schema as plain data for the path a valid
 * configuration takes without loading zod; `shape.test.ts` keeps the two equal.
 */
import { z } from 'zod';
import { ARCH_NAMES, type Arch } from './arch.ts';
import {
  ACCOUNT_NAME_PATTERN,
  ANNOTATION_KEY_PATTERN,
  CERT_NAME_PATTERN,
  emptyContents,
  ENV_KEY_PATTERN,
  MAX_ID,
  PATH_TYPES,
  SERVICE_NAME_PATTERN,
  STOP_SIGNAL_PATTERN,
} from './shape.ts';

export {
  ACCOUNT_NAME_PATTERN,
  ANNOTATION_KEY_PATTERN,
  CERT_NAME_PATTERN,
  ENV_KEY_PATTERN,
  PATH_TYPES,
  SERVICE_NAME_PATTERN,
  STOP_SIGNAL_PATTERN,
};

// Parsed once per process: zod's JIT (code built with `new Function` for each object schema) costs more
// than it saves, and code it builds at run time is never in the launcher's code cache. Same results.
z.config({ jitless: true });

/** Strings end up in files and process state, which cannot hold NUL (a refinement: JSON Schema omits it). */
const noNul = (s: string): boolean => !s.includes('\0');
const NO_NUL_ERROR = { error: 'must not contain a NUL character' };

const text = (description: string) => z.string().refine(noNul, NO_NUL_ERROR).describe(description);
const nonEmpty = (description: string) =>
  z.string().min(1, { error: 'must not be empty' }).refine(noNul, NO_NUL_ERROR).describe(description);
const id = (description: string) =>
  z
    .int({ error: (issue) => (issue.input === undefined ? 'is required' : undefined) })
    .min(0, { error: 'must be between 0 and 4294967295' })
    .max(MAX_ID, { error: 'must be between 0 and 4294967295' })
    .describe(description);
const list = <T extends z.ZodType>(item: T, description: string) =>
  z
    .array(item)
    .default(() => [])
    .describe(description);
const accountName = (description: string) =>
  z
    .string()
    .min(1, { error: 'must not be empty' })
    .max(256, { error: 'must be at most 256 characters' })
    .regex(ACCOUNT_NAME_PATTERN, {
      error:
        'must be letters, digits, "_", "." or "-" (optionally ending in "$"), not starting with "." or "-"',
    })
    .describe(description);

const runtimeKeySchema = z
  .strictObject({
    name: z
      .string()
      .regex(CERT_NAME_PATTERN, { error: `must match ${CERT_NAME_PATTERN.source}` })
      .describe('File name under /etc/apk/keys; must equal the key name in the repository signature'),
    content: nonEmpty('PEM-encoded RSA public key'),
  })
  .describe('An inline apk signing key installed into /etc/apk/keys for runtime use');

const baseImageSchema = z
  .strictObject({
    image: text('Path to the base image OCI layout'),
    apkindex: text('Path to the APKINDEX of the packages installed in the base image'),
  })
  .describe('Not supported by tk yet (rejected with CONFIG_UNSUPPORTED). apko: experimental base image');

const contentsSchema = z
  .strictObject({
    repositories: list(
      text('URL or path, optionally prefixed by a tag: "@local ./packages"'),
      'apk repositories used at build time and written to /etc/apk/repositories',
    ),
    build_repositories: list(
      text('URL or path, optionally prefixed by a tag'),
      'apk repositories used at build time only',
    ),
    runtime_repositories: list(
      text('URL or path, optionally prefixed by a tag'),
      'apk repositories written to /etc/apk/repositories but not used at build time',
    ),
    keyring: list(
      nonEmpty('Path or http(s) URL of a PEM public key'),
      'Public keys that verify the repositories',
    ),
    runtime_keyring: list(runtimeKeySchema, 'Public keys installed into the image for runtime apk use'),
    packages: list(
      nonEmpty('A dependency: name, name=version, name>=version, name@tag, name=version@tag'),
      'Packages to install (the world)',
    ),
    baseimage: baseImageSchema.optional(),
  })
  .describe('What goes into the image');

const entrypointSchema = z
  .strictObject({
    type: z
      .enum(['service-bundle'])
      .optional()
      .describe('"service-bundle": run `services` under the s6 supervisor'),
    command: text('Entrypoint command, split like a shell command line').optional(),
    'shell-fragment': text('Entrypoint run as /bin/sh -c <fragment>').optional(),
    services: z
      .record(
        z
          .string()
          .regex(SERVICE_NAME_PATTERN, { error: `service name must match ${SERVICE_NAME_PATTERN.source}` }),
        nonEmpty('The command that runs the service'),
      )
      .optional()
      .describe('Service name → command, for type: service-bundle'),
  })
  .describe('The image entrypoint');

const userSchema = z.strictObject({
  username: accountName('User name'),
  uid: id('User id (not 0: use run-as: 0 to run as root)'),
  gid: id('Primary group id (default: the uid)').optional(),
  shell: text('Login shell (default /bin/sh)').optional(),
  homedir: text('Home directory (default /home/<username>)').optional(),
});

const groupSchema = z.strictObject({
  groupname: accountName('Group name'),
  gid: id('Group id'),
  members: list(accountName('User name'), 'Members of the group'),
});

const accountsSchema = z
  .strictObject({
    'run-as': text('User the image runs as: a username from users, a uid, or uid:gid').optional(),
    users: list(userSchema, 'Users written to /etc/passwd and /etc/shadow'),
    groups: list(groupSchema, 'Groups written to /etc/group'),
  })
  .describe('Accounts created in the image');

const pathSchema = z.strictObject({
  path: nonEmpty('Path inside the image (absolute, or relative to the root)'),
  type: z
    .enum(PATH_TYPES, { error: `must be one of ${PATH_TYPES.join(', ')}` })
    .describe('What to do at the path'),
  uid: id('Owner uid (both uid and gid absent: ownership unchanged; one absent: 0)').optional(),
  gid: id('Owner gid').optional(),
  permissions: z
    .int({
      error: (issue) => (issue.input === undefined ? 'is required' : 'must be an integer (write 0o755)'),
    })
    .min(0, { error: 'must be between 0 and 0o7777' })
    .max(0o7777, { error: 'must be between 0 and 0o7777' })
    .optional()
    .describe('Mode bits, written in octal: 0o755 (YAML 1.2) or 0755 (YAML 1.1, as apko reads it)'),
  source: text('Link target, for hardlink and symlink').optional(),
  recursive: z.boolean().optional().describe('Apply to everything below the path (directory, permissions)'),
});

const layeringSchema = z
  .strictObject({
    strategy: z.enum(['origin']).describe('Only "origin"'),
    budget: z.int().min(0).describe('Number of additional layers'),
  })
  .describe('Not supported by tk yet (rejected with CONFIG_UNSUPPORTED). apko: split the image into layers');

const certificatesSchema = z
  .strictObject({
    additional: list(
      z.strictObject({
        name: z
          .string()
          .regex(CERT_NAME_PATTERN, { error: `must match ${CERT_NAME_PATTERN.source}` })
          .describe('Certificate name (a file name)'),
        content: nonEmpty('One PEM-encoded certificate'),
      }),
      'Certificates appended to the CA bundles',
    ),
    providers: list(
      nonEmpty('A (virtual) package name'),
      'Packages whose CA certificate files are assembled into the system bundle',
    ),
  })
  .describe('CA certificates to install');

/**
 * The zod schema of an apko configuration file (one file, before `include:` merging). Parsing applies
 * defaults (empty lists and maps, `format: tar`).
 */
export const imageConfigSchema = z
  .strictObject({
    contents: contentsSchema.default(emptyContents),
    entrypoint: entrypointSchema.default(() => ({})),
    cmd: text('Image command (arguments to the entrypoint), split like a shell command line').optional(),
    'work-dir': text('Working directory of the image').optional(),
    'stop-signal': z
      .string()
      .regex(STOP_SIGNAL_PATTERN, { error: 'must be a signal name such as SIGTERM, or a number' })
      .optional()
      .describe('Signal that stops the container (default SIGTERM)'),
    accounts: accountsSchema.default(() => ({ users: [], groups: [] })),
    environment: z
      .record(
        z.string().regex(ENV_KEY_PATTERN, { error: `variable name must match ${ENV_KEY_PATTERN.source}` }),
        text('Value'),
      )
      .default(() => ({}))
      .describe('Environment variables; PATH and SSL_CERT_FILE get defaults when absent'),
    paths: list(pathSchema, 'Filesystem changes applied after the packages are installed'),
    archs: list(
      z.enum(ARCH_NAMES as [string, ...string[]], {
        error: `must be one of ${ARCH_NAMES.join(', ')}`,
      }),
      'Architectures to build (OCI or apk spelling); default: the host architecture',
    ),
    annotations: z
      .record(
        z.string().regex(ANNOTATION_KEY_PATTERN, {
          error: `annotation key must match ${ANNOTATION_KEY_PATTERN.source}`,
        }),
        nonEmpty('Value'),
      )
      .default(() => ({}))
      .describe('OCI annotations for the manifests, the index and the config labels'),
    include: nonEmpty('Path of a base configuration merged under this one (deprecated in apko)').optional(),
    volumes: list(nonEmpty('Absolute path'), 'OCI config Volumes'),
    'vcs-url': text('Source repository URL, optionally url@revision').optional(),
    layering: layeringSchema.optional(),
    format: z
      .enum(['tar', 'erofs'])
      .default('tar')
      .describe('Layer format; tk supports only "tar" (erofs is rejected with CONFIG_UNSUPPORTED)'),
    certificates: certificatesSchema.optional(),
  })
  .describe('apko image configuration (as accepted by tk)');

/** What one configuration file parses to with zod (before tk's finishing steps). */
export type ParsedImageConfigFile = z.output<typeof imageConfigSchema>;

/** An inline runtime apk key. */
export interface RuntimeKey {
  name: string;
  content: string;
}

/** `contents:`. Lists are empty when absent; repositories have trailing `/` removed (as apko does). */
export interface ImageContents {
  repositories: string[];
  build_repositories: string[];
  runtime_repositories: string[];
  keyring: string[];
  runtime_keyring: RuntimeKey[];
  packages: string[];
}

/** `entrypoint:`. `{}` when absent. */
export interface ImageEntrypoint {
  type?: 'service-bundle';
  command?: string;
  'shell-fragment'?: string;
  services?: Record<string, string>;
}

/** One `accounts.users[]` entry; `homedir` defaults to `/home/<username>` (as apko's Validate does). */
export interface ImageUser {
  username: string;
  uid: number;
  /** Absent: the user's primary gid is its uid. */
  gid?: number;
  /** Absent: `/bin/sh`. */
  shell?: string;
  homedir: string;
}

/** One `accounts.groups[]` entry. */
export interface ImageGroup {
  groupname: string;
  gid: number;
  members: string[];
}

/** `accounts:`. */
export interface ImageAccounts {
  'run-as'?: string;
  users: ImageUser[];
  groups: ImageGroup[];
}

/** One of the five path mutation types. */
export type PathType = (typeof PATH_TYPES)[number];

/**
 * One `paths[]` entry. tk fills `permissions` where apko would silently use 0: `directory` 0o755,
 * `empty-file` 0o644; it stays absent for links (tk never chmods through a symlink). `permissions`
 * mutations must give it.
 */
export interface PathMutation {
  path: string;
  type: PathType;
  uid?: number;
  gid?: number;
  permissions?: number;
  source?: string;
  recursive?: boolean;
}

/** One `certificates.additional[]` entry. */
export interface AdditionalCertificate {
  name: string;
  content: string;
}

/** `certificates:`. */
export interface ImageCertificates {
  additional: AdditionalCertificate[];
  providers: string[];
}

/**
 * A validated apko image configuration with defaults applied, `include:` merged in and architectures in
 * OCI spelling. Keys keep apko's YAML spelling. `layering`, `format: erofs` and `contents.baseimage` never
 * appear: they are rejected (CONFIG_UNSUPPORTED).
 */
export interface ImageConfig {
  contents: ImageContents;
  entrypoint: ImageEntrypoint;
  cmd?: string;
  'work-dir'?: string;
  'stop-signal'?: string;
  accounts: ImageAccounts;
  environment: Record<string, string>;
  paths: PathMutation[];
  /** OCI names, as written, without duplicates. Empty when the file gives none (see applyBuildOptions). */
  archs: Arch[];
  annotations: Record<string, string>;
  /** The top file's own `include:` (already merged in). */
  include?: string;
  volumes: string[];
  'vcs-url'?: string;
  format: 'tar';
  certificates?: ImageCertificates;
}

/**
 * The JSON Schema (draft 2020-12) of apko configuration files, generated from {@link imageConfigSchema}
 * for editors (`apps/apko/schema/apko.schema.json`; a test keeps the committed file fresh).
 *
 * String values also admit numbers and booleans, because YAML gives `run-as: 65532`, `PORT: 8080` or
 * `- 386` as numbers and apko (like tk) reads them as their text.
 *
 * @returns a JSON Schema object describing the input form (defaults shown, nothing required that has one)
 * @example
 * writeFileSync('apko.schema.json', JSON.stringify(imageConfigJsonSchema(), null, 2));
 */
export function imageConfigJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(imageConfigSchema, {
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
  return {
    $schema: schema.$schema,
    title: 'apko image configuration (tk)',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
}
