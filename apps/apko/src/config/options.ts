/**
 * Command-line overlays, as apko applies them to a loaded configuration (`internal/cli/build.go`,
 * `pkg/build/options.go`, `pkg/build/apk.go`, `pkg/build/lock.go`):
 * - `--arch` replaces `archs` (comma lists, both spellings, `all`, `host`; sorted, duplicates dropped);
 * - `--keyring-append`, `--repository-append`, `--build-repository-append`, `--package-append` add to
 *   `contents.keyring`, `contents.repositories`, `contents.build_repositories`, `contents.packages`
 *   (apko unions them as sets; tk appends what is not already there, keeping the order);
 * - `--annotations key:value` adds annotations, the flag winning over the file.
 * When neither `--arch` nor `archs:` names an architecture, tk builds for the host's (apko builds all 9).
 */
import { parseDependency, ApkError } from '@tk/apk';
import { ALL_ARCHS, ARCH_NAMES, archFromNodeArch, parseArch, sortArchs, type Arch } from './arch.ts';
import { ConfigError, throwIssues, type ConfigIssue } from './errors.ts';
import { formatRepositoryLine, parseRepositoryLine } from './repository.ts';
import type { ImageConfig } from './schema.ts';
import { ANNOTATION_KEY_PATTERN } from './shape.ts';

/** Flag values that overlay a configuration. Absent or empty lists change nothing. */
export interface BuildOptionsOverlay {
  /** `--arch` values; each may be a comma-separated list, in OCI or apk spelling, or `all` / `host`. */
  archs?: readonly string[];
  /**
   * The host architecture (`process.arch` such as `x64`, or an OCI/apk name): used for `--arch host` and
   * when no architecture is given at all.
   */
  hostArch?: string;
  /** `--keyring-append`: key files or URLs. */
  keyringAppend?: readonly string[];
  /** `--repository-append`: repositories for the build and the image's /etc/apk/repositories. */
  repositoryAppend?: readonly string[];
  /** `--build-repository-append`: repositories for the build only. */
  buildRepositoryAppend?: readonly string[];
  /** `--package-append`: dependencies added to the world. */
  packageAppend?: readonly string[];
  /** `--annotations`: `key:value` strings as on the command line, or a ready map. */
  annotations?: readonly string[] | Readonly<Record<string, string>>;
}

const FLAGS = '<command line>';

function flagIssue(path: string, message: string, hint?: string): ConfigIssue {
  return {
    path,
    message,
    file: FLAGS,
    line: 0,
    column: 0,
    code: 'CONFIG_INVALID',
    ...(hint === undefined ? {} : { hint }),
  };
}

function hostOf(hostArch: string | undefined): Arch | undefined {
  return hostArch === undefined ? undefined : archFromNodeArch(hostArch);
}

/**
 * Parse `--arch` values the way apko does (`types.ParseArchitectures`), a little more generously:
 * comma-separated lists, OCI and apk names, `all` (the nine architectures) and `host` anywhere in the list.
 *
 * @param values - flag values, e.g. `['x86_64,aarch64']`, `['all']`, `['host']`
 * @param hostArch - `process.arch` or an architecture name, for `host`
 * @returns OCI names, sorted, without duplicates
 * @throws {ConfigError} CONFIG_INVALID listing every unknown name (and `host` without a host arch)
 * @example
 * parseArchFlags(['x86_64,arm64', 'amd64']); // ['amd64', 'arm64']
 */
export function parseArchFlags(values: readonly string[], hostArch?: string): Arch[] {
  const out: Arch[] = [];
  const issues: ConfigIssue[] = [];
  for (const value of values) {
    for (const raw of value.split(',')) {
      const name = raw.trim();
      if (name === '') continue;
      if (name === 'all') out.push(...ALL_ARCHS);
      else if (name === 'host') {
        const host = hostOf(hostArch);
        if (host === undefined) {
          issues.push(
            flagIssue(
              '--arch',
              `the host architecture ${hostArch === undefined ? 'is unknown' : `"${hostArch}" is not one apko builds for`}`,
              'name the architecture instead of host',
            ),
          );
        } else out.push(host);
      } else {
        const arch = parseArch(name);
        if (arch === undefined) {
          issues.push(
            flagIssue(
              '--arch',
              `unknown architecture "${name}"`,
              `use one of ${ARCH_NAMES.join(', ')}, all or host`,
            ),
          );
        } else out.push(arch);
      }
    }
  }
  if (issues.length > 0) throwIssues(issues, '--arch');
  return sortArchs(out);
}

/**
 * Parse `--annotations key:value` values with apko's rules (`parseAnnotations`): split at the first `:`,
 * key matching `^[a-z0-9-.]+$`, value not empty, no key twice.
 *
 * @param values - flag values
 * @returns the annotations, in flag order
 * @throws {ConfigError} CONFIG_INVALID listing every bad value
 */
export function parseAnnotationFlags(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const issues: ConfigIssue[] = [];
  for (const value of values) {
    const at = value.indexOf(':');
    if (at < 0) {
      issues.push(flagIssue('--annotations', `"${value}" is not key:value`));
      continue;
    }
    const key = value.slice(0, at);
    const v = value.slice(at + 1);
    if (Object.hasOwn(out, key))
      issues.push(flagIssue('--annotations', `annotation "${key}" is given twice`));
    else if (!ANNOTATION_KEY_PATTERN.test(key)) {
      issues.push(
        flagIssue('--annotations', `annotation key "${key}" must match ${ANNOTATION_KEY_PATTERN.source}`),
      );
    } else if (v === '') issues.push(flagIssue('--annotations', `annotation "${key}" has an empty value`));
    else out[key] = v;
  }
  if (issues.length > 0) throwIssues(issues, '--annotations');
  return out;
}

function appendNew(list: readonly string[], extra: readonly string[] | undefined): string[] {
  const out = [...list];
  for (const item of extra ?? []) if (!out.includes(item)) out.push(item);
  return out;
}

/**
 * Apply command-line overlays to a configuration, as apko does. Pure: returns a new configuration.
 *
 * Architectures: `--arch` if given, else the configuration's `archs`, else the host architecture. (apko
 * defaults to all nine, which surprises users: a plain build then needs every package for ppc64le and
 * s390x, and fails or takes long. tk builds for the machine it runs on unless told otherwise.)
 *
 * @param config - a loaded configuration
 * @param options - the flag values
 * @returns the configuration with flags applied; `archs` is never empty
 * @throws {ConfigError} CONFIG_INVALID listing every bad flag value (unknown arch, bad repository line,
 *   bad package constraint, bad annotation); CONFIG_NO_ARCHS when no architecture can be decided
 * @example
 * applyBuildOptions(config, { archs: ['x86_64,aarch64'], packageAppend: ['curl'], hostArch: process.arch });
 */
export function applyBuildOptions(config: ImageConfig, options: BuildOptionsOverlay): ImageConfig {
  const issues: ConfigIssue[] = [];
  const collect = (fn: () => void): void => {
    try {
      fn();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      const listed = (error.data?.issues as ConfigIssue[] | undefined) ?? [];
      issues.push(...listed);
    }
  };

  let archs: Arch[] = config.archs;
  if (options.archs !== undefined && options.archs.some((a) => a.trim() !== '')) {
    collect(() => {
      archs = parseArchFlags(options.archs ?? [], options.hostArch);
    });
  }

  const checkRepos = (flag: string, values: readonly string[] | undefined): void => {
    for (const line of values ?? []) {
      try {
        parseRepositoryLine(line);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        issues.push(flagIssue(flag, error.message, error.hint));
      }
    }
  };
  checkRepos('--repository-append', options.repositoryAppend);
  checkRepos('--build-repository-append', options.buildRepositoryAppend);
  for (const token of options.packageAppend ?? []) {
    try {
      parseDependency(token, { versionDialect: 'strict' });
    } catch (error) {
      if (!(error instanceof ApkError)) throw error;
      issues.push(flagIssue('--package-append', error.message, error.hint));
    }
  }
  for (const key of options.keyringAppend ?? []) {
    if (key.trim() === '') issues.push(flagIssue('--keyring-append', 'an empty key path'));
  }

  let annotations: Record<string, string> = {};
  const a = options.annotations;
  if (a !== undefined) {
    if (Array.isArray(a)) {
      collect(() => {
        annotations = parseAnnotationFlags(a as readonly string[]);
      });
    } else {
      const entries = Object.entries(a as Readonly<Record<string, string>>);
      collect(() => {
        annotations = parseAnnotationFlags(entries.map(([k, v]) => `${k}:${v}`));
      });
    }
  }

  if (issues.length > 0) throwIssues(issues, 'command line');

  if (archs.length === 0) {
    const host = hostOf(options.hostArch);
    if (host === undefined) {
      throw new ConfigError(
        'CONFIG_NO_ARCHS',
        options.hostArch === undefined
          ? 'no architecture to build: the configuration has no archs and none was given'
          : `no architecture to build: the configuration has no archs and the host architecture "${options.hostArch}" is not one apko builds for`,
        { hint: 'add archs: to the configuration or pass --arch (e.g. --arch x86_64,aarch64)' },
      );
    }
    archs = [host];
  }

  return {
    ...config,
    contents: {
      ...config.contents,
      keyring: appendNew(config.contents.keyring, options.keyringAppend),
      repositories: appendNew(
        config.contents.repositories,
        options.repositoryAppend?.map((r) => formatRepositoryLine(parseRepositoryLine(r))),
      ),
      build_repositories: appendNew(
        config.contents.build_repositories,
        options.buildRepositoryAppend?.map((r) => formatRepositoryLine(parseRepositoryLine(r))),
      ),
      packages: appendNew(config.contents.packages, options.packageAppend),
    },
    archs: [...archs],
    annotations: { ...config.annotations, ...annotations },
  };
}
