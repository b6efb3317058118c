/**
 * Which architectures a build or test runs for: `--arch` (apk or OCI names, comma lists, `all`, `host`;
 * default the host) filtered by `package.target-architecture` — in EITHER naming, unlike melange, which
 * compares apk names only and silently builds nothing for `amd64` (melange #1050).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArch, parseArchFlags, toApkArch } from '@tk/apko';
import type { Logger } from '@tk/core';
import { MelangeError } from '../errors.ts';

/**
 * The apk arch names to build, in the order given.
 *
 * @param requested - `--arch` values (may be empty)
 * @param hostArch - the host's arch (`process.arch` value or an arch name)
 * @param targets - `package.target-architecture` as written
 * @returns apk names (`x86_64`, `aarch64`)
 * @throws {MelangeError} MELANGE_NOTHING_TO_BUILD when the two lists do not meet
 */
export function selectArchs(
  requested: readonly string[],
  hostArch: string,
  targets: readonly string[],
): string[] {
  const wanted = parseArchFlags(requested.length === 0 ? ['host'] : requested, hostArch).map((a) =>
    toApkArch(a),
  );
  const unique = [...new Set(wanted)];
  if (targets.length === 0 || targets.includes('all')) return unique;
  const allowed = new Set(
    targets.map((t) => {
      const parsed = parseArch(t);
      return parsed === undefined ? t : toApkArch(parsed);
    }),
  );
  const out = unique.filter((a) => allowed.has(a));
  if (out.length === 0) {
    throw new MelangeError(
      'MELANGE_NOTHING_TO_BUILD',
      `nothing to build: the recipe's target-architecture (${targets.join(', ')}) does not include ${unique.join(', ')}`,
      {
        hint: `build with --arch ${[...allowed].join(',')}, or add the arch to package.target-architecture`,
        data: { requested: unique, targets: [...targets] },
      },
    );
  }
  return out;
}

/**
 * Drop appended local repositories that have no index for `arch` yet, with a warning. Wolfi's Makefile
 * appends the out-dir (`--repository-append $(pwd)/packages`) to every build, and the first build of a
 * fresh checkout has no index there; melange (through apko) drops such a repository with a warning. Remote
 * repositories, and local ones given in the recipe itself, stay strict.
 *
 * @param repositories - `--repository-append` values (absolute paths or URLs, optionally `@tag `-prefixed)
 * @param arch - the apk arch
 * @param logger - for the warning
 * @returns the repositories to use
 */
export function presentLocalRepositories(
  repositories: readonly string[],
  arch: string,
  logger: Logger,
): string[] {
  return repositories.filter((line) => {
    const location = line.trim().replace(/^@\S+\s+/, '');
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location) || !location.startsWith('/')) return true;
    if (existsSync(join(location, arch, 'APKINDEX.tar.gz'))) return true;
    logger.warn(
      `repository ${location} has no ${arch}/APKINDEX.tar.gz yet; building without it`,
      'MELANGE_REPOSITORY_EMPTY',
    );
    return false;
  });
}
