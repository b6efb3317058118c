/**
 * Resolving without building (`show-packages`, `lock`): configuration, keys, indexes and the solver only.
 * It is its own module so that those commands do not load the assembly code (`@tk/oci`, `@tk/rootfs`,
 * `@tk/tar`, the deflate engines); `apps/tk/test/startup.test.ts` checks that they do not.
 */
import type { BuildOptions } from './options.ts';
import { prepareBuild, resolveArchs, type PreparedBuild, type ResolvedArch } from './prepare.ts';

/**
 * Resolve without building (show-packages, lock).
 *
 * @param options - as for `buildImage`
 * @returns the prepared build and each arch's install list
 */
export async function resolveImage(
  options: BuildOptions,
): Promise<{ prepared: PreparedBuild; resolved: ResolvedArch[] }> {
  const prepared = await prepareBuild(options);
  try {
    return { prepared, resolved: await resolveArchs(prepared) };
  } finally {
    await prepared.fetcher.close?.();
  }
}
