/**
 * `tk melange query FILE TEMPLATE` (melange `pkg/cli/query.go`): load the recipe, render the template. Like melange, nothing is added to the
 * output (no final newline).
 */
import type { Logger } from '@tk/core';
import { renderQuery } from '../query/index.ts';
import { loadRecipe } from '../recipe/load.ts';

/**
 * Render a query template over a recipe file.
 *
 * @param configPath - the recipe
 * @param template - a Go text/template
 * @param options - a logger for recipe warnings
 * @returns the rendered text
 * @throws {MelangeError} the recipe loader's codes; MELANGE_QUERY_BAD_TEMPLATE, MELANGE_QUERY_UNKNOWN_FIELD,
 *   MELANGE_QUERY_FAILED
 * @example
 * await queryRecipe('zstd.yaml', '{{range .Subpackages}}{{.Name}} {{end}}');
 */
export async function queryRecipe(
  configPath: string,
  template: string,
  options: { logger?: Logger } = {},
): Promise<string> {
  const { recipe } = await loadRecipe(configPath, options);
  return renderQuery(recipe, template);
}
