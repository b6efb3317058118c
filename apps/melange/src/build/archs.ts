/**
 * Which architectures a build or test runs for: `--arch` (apk or OCI names, comma lists, `all`, `host`;
 * default the host) filtered by `package.target-architecture` — in EITHER naming, unlike melange, which
 * compares apk names only and silently builds nothing for `amd64` (melange #1050).
 */
import { parseArch, parseArchFlags, toApkArch } from '@tk/apko';
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
