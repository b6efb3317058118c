/**
 * `melange query`: render a Go text/template over a recipe as melange parses it.
 */
import type { Recipe } from '../recipe/types.ts';
import { executeTemplate } from './exec.ts';
import { configurationValue, parsedView } from './model.ts';
import { parseTemplate } from './parse.ts';

/**
 * Render a query template over a recipe.
 *
 * @param recipe - the parsed recipe (from `loadRecipe`)
 * @param template - a Go text/template (`{{.Package.Name}}-{{.Package.Version}}-r{{.Package.Epoch}}`)
 * @returns the output, exactly (no newline is added)
 * @throws {MelangeError} MELANGE_QUERY_BAD_TEMPLATE, MELANGE_QUERY_UNKNOWN_FIELD, MELANGE_QUERY_FAILED;
 *   MELANGE_BAD_REGEX or MELANGE_UNKNOWN_VARIABLE from the recipe's var-transforms
 * @example
 * renderQuery(recipe, '{{.Package.Name}}-{{.Package.Version}}-r{{.Package.Epoch}}'); // 'zstd-1.5.7-r8'
 */
export function renderQuery(recipe: Recipe, template: string): string {
  const nodes = parseTemplate(template);
  return executeTemplate(template, nodes, configurationValue(parsedView(recipe)));
}
