/**
 * Checks beyond types: the rules apko enforces in `ImageConfiguration.Validate` (users need a name and a
 * non-zero uid, groups a name, formats) plus the ones tk adds so that mistakes surface as one list of
 * positioned issues instead of a failed or silently wrong build (paths that climb out of the root,
 * duplicate uids, `run-as` naming nobody, unparsable package constraints, keys tk does not implement).
 *
 * Every check reads the value defensively (it runs even when the zod schema found type errors) and reports
 * through `report`, so that one run lists every problem.
 */
import { ApkError, parseDependency } from '@tk/apk';
import type { Logger } from '@tk/core';
import { parseArch } from './arch.ts';
import { ConfigError, type ConfigErrorCode, type ConfigIssue } from './errors.ts';
import { parseRepositoryLine } from './repository.ts';
import { formatPath, type PathSegment, type PositionIndex } from './yaml.ts';

type Rec = Record<string, unknown>;

const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);
const listOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const recOf = (v: unknown): Rec => (isRec(v) ? v : {});
const strOf = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const intOf = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) ? v : undefined;

/** Reports one issue at the position of `path` (its key when `at` is 'key'). */
export type Reporter = (
  path: PathSegment[],
  message: string,
  options?: { hint?: string; code?: ConfigErrorCode; at?: 'key' | 'value' },
) => void;

/**
 * Build a {@link Reporter} that appends positioned issues to `issues`.
 *
 * @param issues - where issues go
 * @param positions - positions of the checked value
 * @param fallbackFile - file named when a path has no recorded position
 * @returns the reporter
 */
export function issueReporter(
  issues: ConfigIssue[],
  positions: PositionIndex,
  fallbackFile: string,
): Reporter {
  return (path, message, options = {}) => {
    const pos = positions.locate(path);
    const at = options.at === 'key' && pos?.key !== undefined ? pos.key : pos?.value;
    issues.push({
      path: formatPath(path),
      message,
      file: pos?.file ?? fallbackFile,
      line: at?.line ?? 0,
      column: at?.column ?? 0,
      code: options.code ?? 'CONFIG_INVALID',
      ...(options.hint === undefined ? {} : { hint: options.hint }),
    });
  };
}

/**
 * Whether a path stays inside the image root when resolved lexically from `/` (absolute and relative paths
 * both count from the root).
 *
 * @param path - a path from the configuration
 * @returns false when a `..` climbs above the root
 */
export function staysInsideRoot(path: string): boolean {
  let depth = 0;
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (--depth < 0) return false;
    } else depth++;
  }
  return true;
}

// eslint-disable-next-line no-control-regex -- control characters are exactly what this finds
const CONTROL = /[\u0000-\u001f\u007f]/;

function checkRootPath(report: Reporter, path: PathSegment[], value: unknown, what: string): void {
  const p = strOf(value);
  // Empty and NUL-holding paths are the schema's to report.
  if (p === undefined || p === '' || p.includes('\0')) return;
  if (!staysInsideRoot(p)) {
    report(path, `${what} "${p}" climbs out of the image root with ".."`, {
      hint: 'write the path as it is inside the image, e.g. /etc/x',
    });
  } else if (CONTROL.test(p)) {
    report(path, `${what} "${JSON.stringify(p).slice(1, -1)}" contains a control character`);
  }
}

function checkPasswdField(
  report: Reporter,
  path: PathSegment[],
  value: unknown,
  what: string,
  absolute: boolean,
): void {
  const v = strOf(value);
  if (v === undefined) return;
  if (v.includes(':') || CONTROL.test(v)) {
    report(path, `${what} must not contain ":" or control characters (it goes into /etc/passwd)`);
  } else if (absolute && !v.startsWith('/')) {
    report(path, `${what} "${v}" must be an absolute path`);
  } else if (absolute && !staysInsideRoot(v)) {
    report(path, `${what} "${v}" climbs out of the image root with ".."`);
  }
}

/**
 * Every repository line parses. One tag may name several repositories, as in apk-tools (an `@testing`
 * on two overlays pins to either; its `pinning12`) and apko, which pass the lines through.
 */
function checkRepositories(report: Reporter, contents: Rec): void {
  for (const key of ['repositories', 'build_repositories', 'runtime_repositories']) {
    listOf(contents[key]).forEach((line, i) => {
      if (typeof line !== 'string') return;
      try {
        parseRepositoryLine(line);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        report(['contents', key, i], error.message, error.hint === undefined ? {} : { hint: error.hint });
      }
    });
  }
}

function checkPackages(report: Reporter, packages: unknown[], path: PathSegment[]): void {
  packages.forEach((token, i) => {
    if (typeof token !== 'string' || token === '') return;
    try {
      parseDependency(token, { versionDialect: 'strict' });
    } catch (error) {
      if (!(error instanceof ApkError)) throw error;
      report([...path, i], error.message, error.hint === undefined ? {} : { hint: error.hint });
    }
  });
}

function checkDuplicates(
  report: Reporter,
  items: unknown[],
  basePath: PathSegment[],
  field: string,
  what: string,
): void {
  const seen = new Map<string | number, number>();
  items.forEach((item, i) => {
    const v = isRec(item) ? item[field] : undefined;
    if (typeof v !== 'string' && typeof v !== 'number') return;
    const first = seen.get(v);
    if (first === undefined) seen.set(v, i);
    else {
      report(
        [...basePath, i, field],
        `${what} ${JSON.stringify(v)} is already used by ${formatPath([...basePath, first])}`,
      );
    }
  });
}

function checkAccounts(report: Reporter, accounts: Rec): void {
  const users = listOf(accounts.users);
  const groups = listOf(accounts.groups);
  users.forEach((user, i) => {
    const u = recOf(user);
    if (intOf(u.uid) === 0) {
      report(['accounts', 'users', i, 'uid'], 'must not be 0', {
        hint: 'to run as root, remove this user and set accounts.run-as: 0',
      });
    }
    checkPasswdField(report, ['accounts', 'users', i, 'homedir'], u.homedir, 'homedir', true);
    checkPasswdField(report, ['accounts', 'users', i, 'shell'], u.shell, 'shell', false);
  });
  checkDuplicates(report, users, ['accounts', 'users'], 'username', 'username');
  checkDuplicates(report, users, ['accounts', 'users'], 'uid', 'uid');
  checkDuplicates(report, groups, ['accounts', 'groups'], 'groupname', 'group name');
  checkDuplicates(report, groups, ['accounts', 'groups'], 'gid', 'gid');

  const runAs = accounts['run-as'];
  if (typeof runAs !== 'string') return;
  const usernames = new Set(users.map((u) => recOf(u).username).filter((n) => typeof n === 'string'));
  const groupnames = new Set(groups.map((g) => recOf(g).groupname).filter((n) => typeof n === 'string'));
  const numeric = (s: string) => /^[0-9]+$/.test(s) && Number(s) <= 4294967295;
  const parts = runAs.split(':');
  const [user, group] = parts;
  const userOk = user !== undefined && (numeric(user) || user === 'root' || usernames.has(user));
  const groupOk = group === undefined || numeric(group) || group === 'root' || groupnames.has(group);
  if (parts.length > 2 || !userOk || !groupOk) {
    report(['accounts', 'run-as'], `"${runAs}" is neither a uid nor a user defined in accounts.users`, {
      hint: 'give a number (run-as: 65532), uid:gid, or the username of an accounts.users entry',
    });
  }
}

function checkPaths(report: Reporter, paths: unknown[], logger: Logger): void {
  paths.forEach((entry, i) => {
    const p = recOf(entry);
    const base: PathSegment[] = ['paths', i];
    const type = strOf(p.type);
    checkRootPath(report, [...base, 'path'], p.path, 'path');
    const isLink = type === 'symlink' || type === 'hardlink';
    if (isLink && (p.source === undefined || p.source === '')) {
      report([...base, 'source'], `is required for type: ${type}`, {
        hint: 'set source: to the link target',
      });
    }
    if (type === 'hardlink') checkRootPath(report, [...base, 'source'], p.source, 'hardlink source');
    if (type === 'permissions' && p.permissions === undefined) {
      report([...base, 'permissions'], 'is required for type: permissions', {
        hint: 'write the mode in octal, e.g. permissions: 0o644 (apko would silently chmod to 000)',
      });
    }
    if (!isLink && type !== undefined && p.source !== undefined) {
      logger.warn(
        `paths[${i}]: source is only used by symlink and hardlink; ignored for type: ${type}`,
        'CONFIG_IGNORED_KEY',
      );
    }
    if (p.recursive === true && type !== 'directory' && type !== 'permissions' && type !== undefined) {
      logger.warn(
        `paths[${i}]: recursive is only used by directory and permissions; ignored for type: ${type}`,
        'CONFIG_IGNORED_KEY',
      );
    }
  });
}

function checkEntrypoint(report: Reporter, entrypoint: Rec, logger: Logger): void {
  const services = isRec(entrypoint.services) ? Object.keys(entrypoint.services) : [];
  if (entrypoint.type === 'service-bundle') {
    if (services.length === 0) {
      report(['entrypoint', 'type'], 'service-bundle needs at least one entry in entrypoint.services', {
        hint: 'add services: { name: command }',
      });
    }
    if (entrypoint.command !== undefined || entrypoint['shell-fragment'] !== undefined) {
      logger.warn(
        'entrypoint: with type: service-bundle the entrypoint is /bin/s6-svscan /sv; command is ignored',
        'CONFIG_IGNORED_KEY',
      );
    }
  } else if (services.length > 0) {
    report(['entrypoint', 'services'], 'services run only with entrypoint.type: service-bundle', {
      hint: 'add type: service-bundle, or remove services',
    });
  }
  if (
    entrypoint.type === undefined &&
    typeof entrypoint.command === 'string' &&
    typeof entrypoint['shell-fragment'] === 'string'
  ) {
    report(['entrypoint', 'shell-fragment'], 'give either command or shell-fragment, not both', {
      hint: 'apko would silently use the shell fragment',
    });
  }
}

const PEM = (label: string) => new RegExp(`-----BEGIN ${label}-----[\\s\\S]+-----END ${label}-----`);

/**
 * Run every cross-field and format check on a (merged) configuration value.
 *
 * @param value - the configuration as read from YAML (apko spelling, before defaults)
 * @param report - where issues go
 * @param logger - receives warnings about keys that have no effect
 */
export function checkSemantics(value: unknown, report: Reporter, logger: Logger): void {
  const config = recOf(value);
  const contents = recOf(config.contents);

  checkRepositories(report, contents);
  checkPackages(report, listOf(contents.packages), ['contents', 'packages']);
  checkDuplicates(
    report,
    listOf(contents.runtime_keyring),
    ['contents', 'runtime_keyring'],
    'name',
    'key name',
  );
  listOf(contents.runtime_keyring).forEach((k, i) => {
    const content = strOf(recOf(k).content);
    if (content !== undefined && content !== '' && !PEM('(?:RSA )?PUBLIC KEY').test(content)) {
      report(
        ['contents', 'runtime_keyring', i, 'content'],
        'is not a PEM public key (-----BEGIN PUBLIC KEY-----)',
      );
    }
  });
  if (contents.baseimage !== undefined) {
    report(['contents', 'baseimage'], 'is not supported by tk yet', {
      code: 'CONFIG_UNSUPPORTED',
      at: 'key',
      hint: 'build from packages only; remove contents.baseimage',
    });
  }

  checkEntrypoint(report, recOf(config.entrypoint), logger);
  checkAccounts(report, recOf(config.accounts));
  checkPaths(report, listOf(config.paths), logger);

  const archs = new Map<string, number>();
  listOf(config.archs).forEach((a, i) => {
    const arch = typeof a === 'string' ? parseArch(a) : undefined;
    if (arch === undefined) return;
    const first = archs.get(arch);
    if (first === undefined) archs.set(arch, i);
    else {
      report(['archs', i], `"${String(a)}" is the same architecture as archs[${first}] (${arch})`, {
        hint: 'list each architecture once',
      });
    }
  });

  const volumes = new Set<string>();
  listOf(config.volumes).forEach((v, i) => {
    if (typeof v !== 'string' || v === '') return;
    if (!v.startsWith('/')) report(['volumes', i], `"${v}" must be an absolute path`);
    else if (!staysInsideRoot(v)) report(['volumes', i], `"${v}" climbs out of the image root with ".."`);
    if (volumes.has(v)) report(['volumes', i], `"${v}" is listed twice`);
    volumes.add(v);
  });

  if (config.layering !== undefined) {
    report(['layering'], 'is not supported by tk yet (tk writes one layer per architecture)', {
      code: 'CONFIG_UNSUPPORTED',
      at: 'key',
      hint: 'remove layering',
    });
  }
  if (config.format === 'erofs') {
    report(['format'], 'erofs layers are not supported by tk yet', {
      code: 'CONFIG_UNSUPPORTED',
      hint: 'remove format, or set format: tar',
    });
  }

  const certificates = recOf(config.certificates);
  const additional = listOf(certificates.additional);
  checkDuplicates(report, additional, ['certificates', 'additional'], 'name', 'certificate name');
  additional.forEach((c, i) => {
    const content = strOf(recOf(c).content);
    if (content !== undefined && content !== '' && !PEM('CERTIFICATE').test(content)) {
      report(
        ['certificates', 'additional', i, 'content'],
        'is not a PEM certificate (-----BEGIN CERTIFICATE-----)',
      );
    }
  });
}
