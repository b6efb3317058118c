/**
 * zod's check of an apko configuration value, with tk's messages: what `load.ts` runs when the shape
 * check (`shape.ts`) is not sure of a value. Importing this module loads zod.
 */
import { imageConfigSchema, type ParsedImageConfigFile } from './schema.ts';
import type { Reporter } from './validate.ts';
import { reportZodIssues } from './zod-issues.ts';

/**
 * Check `value` against the configuration schema.
 *
 * @param value - one file's value, or the merged value
 * @param report - receives every issue
 * @returns zod's output, or undefined when there were issues (all reported)
 */
export function checkWithZod(value: unknown, report: Reporter): ParsedImageConfigFile | undefined {
  const result = imageConfigSchema.safeParse(value);
  if (result.success) return result.data;
  reportZodIssues(result.error.issues, imageConfigSchema, value, report);
  return undefined;
}
