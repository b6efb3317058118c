/**
 * A zod schema as `readYaml`'s {@link YamlGuide}, and the schema walking that zod issue messages use.
 * Melange's recipes go through here; apko configurations use the plain-data guide of `shape.ts`.
 */
import { z } from 'zod';
import type { PathSegment, YamlGuide, YamlKind } from './yaml.ts';

/**
 * Strip optional/nullable/default/pipe wrappers from a zod schema.
 *
 * @param schema - a schema or undefined
 * @returns the innermost schema
 */
export function unwrapSchema(schema: z.ZodType | undefined): z.ZodType | undefined {
  let s = schema;
  for (let i = 0; i < 16 && s !== undefined; i++) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault) {
      s = s.unwrap() as z.ZodType;
    } else if (s instanceof z.ZodPipe) {
      s = s.in as z.ZodType;
    } else {
      return s;
    }
  }
  return s;
}

/**
 * The schema of a map entry or list item inside `schema`.
 *
 * @param schema - an object, record or array schema (possibly wrapped)
 * @param key - the key or index
 * @returns the child's schema, or undefined when `schema` has no such child
 */
export function childSchema(schema: z.ZodType | undefined, key: PathSegment): z.ZodType | undefined {
  const s = unwrapSchema(schema);
  if (s instanceof z.ZodObject && typeof key === 'string') {
    const shape = s.shape as Record<string, z.ZodType>;
    return Object.hasOwn(shape, key) ? shape[key] : undefined;
  }
  if (s instanceof z.ZodRecord && typeof key === 'string') return s.valueType as z.ZodType;
  if (s instanceof z.ZodArray && typeof key === 'number') return s.element as z.ZodType;
  return undefined;
}

function kindOf(schema: z.ZodType | undefined): YamlKind {
  const s = unwrapSchema(schema);
  if (s instanceof z.ZodString || s instanceof z.ZodEnum) return 'string';
  if (s instanceof z.ZodNumber) return 'number';
  if (s instanceof z.ZodBoolean) return 'boolean';
  return 'other';
}

/**
 * `readYaml`'s guide for a zod schema: string fields take any scalar's text, number fields read YAML 1.1
 * octal, boolean fields YAML 1.1 words, records read `key:` alone as the empty string.
 *
 * @param schema - the zod schema the document will be checked against
 * @returns the guide
 * @example
 * const doc = readYaml(text, 'melange.yaml', zodGuide(recipeSchema));
 */
export function zodGuide(schema: z.ZodType): YamlGuide {
  return {
    kind: kindOf(schema),
    record: unwrapSchema(schema) instanceof z.ZodRecord,
    child(key: PathSegment): YamlGuide | undefined {
      const child = childSchema(schema, key);
      return child === undefined ? undefined : zodGuide(child);
    },
  };
}
