/**
 * What the linters need from a recipe about one package: the `uses:` of its test pipeline, `no-provides` and
 * `checks:`. Read from a compiled package, or leniently from the `.melange.yaml` an
 * apk embeds (melange reads that file without strict decoding, and so does this: a config written by another
 * melange version may have keys tk's schema refuses).
 */
import { parseDocument } from 'yaml';
import type { CompiledPackage, CompiledStep, PipelineStep } from '../recipe/types.ts';
import type { LintPackage } from './types.ts';

/** Largest embedded `.melange.yaml` read (as for recipes). */
export const MAX_EMBEDDED_CONFIG_BYTES = 1024 * 1024;
/** Deepest step nesting followed. */
const MAX_DEPTH = 32;

function usesOf(steps: readonly (PipelineStep | CompiledStep)[], depth = 0, out: string[] = []): string[] {
  if (depth > MAX_DEPTH) return out;
  for (const s of steps) {
    if (s.uses !== undefined) out.push(s.uses);
    usesOf(s.pipeline, depth + 1, out);
  }
  return out;
}

/**
 * Lint facts of a compiled package (for the build: `lintPackageTree(files, lintTargetOf(pkg, fullVersion))`).
 *
 * @param pkg - a compiled package
 * @param fullVersion - `version-rEPOCH`, for the result's name
 * @returns the package facts
 */
export function lintTargetOf(pkg: CompiledPackage, fullVersion?: string): LintPackage {
  return {
    name: pkg.name,
    ...(fullVersion === undefined ? {} : { fullName: `${pkg.name}-${fullVersion}` }),
    testUses: usesOf(pkg.test?.pipeline ?? []),
    noProvides: pkg.options['no-provides'],
    checks: pkg.checks,
  };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

function rawUses(steps: unknown, depth = 0, out: string[] = []): string[] {
  if (!Array.isArray(steps) || depth > MAX_DEPTH) return out;
  for (const s of steps) {
    if (!isObj(s)) continue;
    if (typeof s['uses'] === 'string') out.push(s['uses']);
    rawUses(s['pipeline'], depth + 1, out);
  }
  return out;
}

function rawFacts(name: string, owner: Obj, test: unknown): LintPackage {
  const options = isObj(owner['options']) ? owner['options'] : {};
  const checks = isObj(owner['checks']) ? owner['checks'] : {};
  return {
    name,
    testUses: rawUses(isObj(test) ? test['pipeline'] : undefined),
    noProvides: options['no-provides'] === true || options['no-provides'] === 'true',
    checks: { disabled: strings(checks['disabled']), enabled: strings(checks['enabled']) },
  };
}

/**
 * Lint facts of a package from its embedded `.melange.yaml`, read leniently.
 *
 * @param text - the embedded config
 * @param name - the package's name (from `.PKGINFO`)
 * @returns the facts, or an explanation of why the config cannot be used
 */
export function lintTargetFromEmbedded(
  text: string,
  name: string,
): { target: LintPackage } | { problem: string } {
  if (Buffer.byteLength(text, 'utf8') > MAX_EMBEDDED_CONFIG_BYTES)
    return { problem: `it is over ${MAX_EMBEDDED_CONFIG_BYTES} bytes` };
  const doc = parseDocument(text, { uniqueKeys: false, prettyErrors: false });
  if (doc.errors.length > 0) return { problem: doc.errors[0]!.message.split('\n')[0]! };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    return { problem: (error as Error).message };
  }
  if (!isObj(value)) return { problem: 'it is not a mapping' };
  const main = isObj(value['package']) ? value['package'] : {};
  if (main['name'] === name) return { target: rawFacts(name, main, value['test']) };
  const subs = Array.isArray(value['subpackages']) ? value['subpackages'] : [];
  const sub = subs.find((s): s is Obj => isObj(s) && s['name'] === name);
  if (sub === undefined) return { target: { name, testUses: [] } };
  return { target: rawFacts(name, sub, sub['test']) };
}
