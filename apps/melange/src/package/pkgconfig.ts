/**
 * Just enough of pkg-config's `.pc` format for dependency analysis (pkg-config `parse.c`; melange reads it
 * with chainguard-dev/go-pkgconfig):
 *
 *     prefix=/usr                       variable: name=value, `${name}` expands earlier variables
 *     libdir=${prefix}/lib
 *     Name: foo                         property: Key: value (keys are case-insensitive)
 *     Version: 1.2.3
 *     Requires: bar >= 1.0, baz         module list: names separated by commas and/or spaces, each with an
 *     Requires.private: qux             optional `<`, `<=`, `=`, `!=`, `>=`, `>` and version
 *
 * `#` starts a comment. Unlike go-pkgconfig, variables are expanded in module lists too (pkg-config does), and
 * any name character is accepted (`gtk+-3.0`), so lists that melange's parser rejects still give their
 * dependencies. Hostile input is bounded: at most 1 MiB of text, 64 KiB per expanded value, and at most 1,000
 * modules per list; nothing here throws.
 */

/** A parsed `.pc` file. */
export interface PkgConfigFile {
  /** Variables after expansion. */
  variables: Map<string, string>;
  /** Properties by lower-case key (`name`, `version`, `requires`, `requires.private`…), after expansion. */
  properties: Map<string, string>;
  /** Module names of `Requires`, `Requires.private` and `Requires.internal`, in order, versions dropped. */
  requires: string[];
  /** Problems met (unknown variables, values cut), for a warning. */
  problems: string[];
}

/** Largest `.pc` file parsed. */
export const MAX_PC_BYTES = 1 << 20;
const MAX_VALUE_LENGTH = 64 * 1024;
const MAX_MODULES = 1000;
const REQUIRES_KEYS = ['requires', 'requires.private', 'requires.internal'] as const;
const OPERATORS = new Set(['<', '<=', '=', '!=', '>=', '>']);

function expand(value: string, variables: ReadonlyMap<string, string>, problems: string[]): string {
  let out = value.replace(/\$\{([^}]*)\}/g, (_m, name: string) => {
    const v = variables.get(name);
    if (v === undefined) {
      problems.push(`variable ${JSON.stringify(name)} is not defined`);
      return '';
    }
    return v;
  });
  // `$$` is pkg-config's escape for a literal `$`.
  out = out.replaceAll('$$', '$');
  if (out.length > MAX_VALUE_LENGTH) {
    problems.push(`a value expands to more than ${MAX_VALUE_LENGTH} characters; it was cut`);
    out = out.slice(0, MAX_VALUE_LENGTH);
  }
  return out;
}

/**
 * The module names of a pkg-config module list (`foo >= 1.0, bar baz=2`), versions dropped.
 *
 * @param list - the property value
 * @returns the names in order
 */
export function parseModuleList(list: string): string[] {
  const tokens = list.match(/<=|>=|!=|[<>=]|[^\s,<>=!]+/g) ?? [];
  const names: string[] = [];
  for (let i = 0; i < tokens.length && names.length < MAX_MODULES; i++) {
    const token = tokens[i]!;
    if (OPERATORS.has(token)) {
      i++; // the version after the operator
      continue;
    }
    names.push(token);
  }
  return names;
}

/**
 * Parse `.pc` text.
 *
 * @param text - the file's content
 * @returns variables, properties and required module names
 */
export function parsePkgConfig(text: string): PkgConfigFile {
  const variables = new Map<string, string>();
  const properties = new Map<string, string>();
  const problems: string[] = [];
  const body = text.length > MAX_PC_BYTES ? text.slice(0, MAX_PC_BYTES) : text;
  for (const rawLine of body.split('\n')) {
    const hash = rawLine.search(/(?<!\\)#/);
    const line = (hash < 0 ? rawLine : rawLine.slice(0, hash)).replaceAll('\\#', '#').trim();
    if (line === '') continue;
    const m = /^([A-Za-z0-9_.]+)\s*([:=])\s*(.*)$/.exec(line);
    if (m === null) continue;
    const [, key, sep, value] = m as unknown as [string, string, string, string];
    const expanded = expand(value.trim(), variables, problems);
    if (sep === '=') variables.set(key, expanded);
    else properties.set(key.toLowerCase(), expanded);
  }
  const requires = REQUIRES_KEYS.flatMap((key) => parseModuleList(properties.get(key) ?? ''));
  return { variables, properties, requires, problems };
}
