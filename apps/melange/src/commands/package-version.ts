/**
 * `tk melange package-version FILE` (melange `pkg/cli/packageversion.go`): the query
 * `{{ .Package.Name }}-{{ .Package.Version }}-r{{ .Package.Epoch }}`, printed without a final newline.
 */
import type { Logger } from '@tk/core';
import { queryRecipe } from './query.ts';

/** The template `package-version` renders (melange's, spaces included). */
export const PACKAGE_VERSION_TEMPLATE = '{{ .Package.Name }}-{{ .Package.Version }}-r{{ .Package.Epoch }}';

/**
 * `name-version-rEPOCH` of a recipe file.
 *
 * @param configPath - the recipe
 * @param options - a logger for recipe warnings
 * @returns e.g. `zstd-1.5.7-r8`
 * @throws {MelangeError} the recipe loader's codes
 * @example
 * await packageVersion('zstd.yaml'); // 'zstd-1.5.7-r8'
 */
export async function packageVersion(configPath: string, options: { logger?: Logger } = {}): Promise<string> {
  return queryRecipe(configPath, PACKAGE_VERSION_TEMPLATE, options);
}
