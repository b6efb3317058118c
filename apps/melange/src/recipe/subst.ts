/**
 * `${{ name }}` substitution and the variables a recipe can name (melange.md §3; melange
 * `pkg/cond/subst.go`, `pkg/config/vars.go`, `pkg/build/pipeline.go` `NewSubstitutionMap`).
 *
 * Syntax: `${{`, optional whitespace, a name of `[A-Za-z0-9._-]`, optional whitespace, `}}`. An unknown name
 * is an error (never an empty string); there is no escape syntax (as in melange). Substitution is one pass:
 * a value that itself contains `${{` is written as is, never substituted again.
 *
 * Where tk's values differ from melange's (on purpose):
 * - `build.goarch` is the Go GOARCH (`arm` for armhf and armv7); melange writes the OCI name `arm/v6`/`arm/v7`,
 *   which no Go tool accepts.
 * - Triplets for loongarch64 are `loongarch64-unknown-linux-*` (melange: `loong64-unknown-linux-*`, which is
 *   no toolchain's name); the Rust triplet of riscv64 is `riscv64gc-unknown-linux-*` and that of armhf
 *   `arm-unknown-linux-*eabihf` (the names rustc knows; melange writes `riscv64-…` and `armv6-…`).
 */
import { parseArch, toApkArch, type ApkArch } from '@tk/apko';
import { MelangeError } from '../errors.ts';

/** Something that resolves variable names (a `Map<string, string>` is one). */
export interface VariableLookup {
  get(name: string): string | undefined;
  keys(): Iterable<string>;
}

/** One `${{…}}` reference in a text. */
export interface VariableReference {
  name: string;
  /** Offset of `$` in the text. */
  start: number;
  /** Offset just after `}}`. */
  end: number;
}

/** The guest workspace (`package.srcdir`, the default working directory). */
export const WORKSPACE_DIR = '/home/build';
/** `targets.outdir`. */
export const OUTPUT_DIR = '/home/build/melange-out';

const OPEN = '${{';

function isNameChar(c: string): boolean {
  const x = c.charCodeAt(0);
  return (
    (x >= 0x61 && x <= 0x7a) || // a-z
    (x >= 0x41 && x <= 0x5a) || // A-Z
    (x >= 0x30 && x <= 0x39) || // 0-9
    x === 0x2e || // .
    x === 0x5f || // _
    x === 0x2d // -
  );
}

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

/** Line and column (1-based) of an offset, for messages. */
export function positionOf(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - (before.lastIndexOf('\n') + 1) + 1;
  return line === 1 ? `column ${column}` : `line ${line}, column ${column}`;
}

/**
 * Parse one reference that starts at `start` (which must hold `${{`).
 *
 * @param text - the text
 * @param start - offset of `${{`
 * @param where - context for error messages
 * @returns the reference
 * @throws {MelangeError} MELANGE_BAD_SUBSTITUTION for an empty name or a missing `}}`
 */
export function readReference(text: string, start: number, where: string): VariableReference {
  let i = start + OPEN.length;
  while (isSpace(text[i])) i++;
  const nameStart = i;
  while (i < text.length && isNameChar(text[i] ?? '')) i++;
  const name = text.slice(nameStart, i);
  while (isSpace(text[i])) i++;
  if (name === '' || text.slice(i, i + 2) !== '}}') {
    const snippet = text.slice(start, Math.min(text.length, start + 40)).replace(/\n/g, '\\n');
    throw new MelangeError(
      'MELANGE_BAD_SUBSTITUTION',
      name === ''
        ? `${where}: "${OPEN}" at ${positionOf(text, start)} is not followed by a variable name ("${snippet}")`
        : `${where}: the reference to "${name}" at ${positionOf(text, start)} is not closed by "}}" ("${snippet}")`,
      {
        hint: 'write variables as ${{ name }} with a name of letters, digits, ".", "_" and "-"; melange has no escape for a literal "${{"',
        data: { where, offset: start },
      },
    );
  }
  return { name, start, end: i + 2 };
}

/**
 * Every `${{…}}` reference in a text, in order.
 *
 * @param text - the text to scan
 * @param where - context for error messages
 * @returns the references
 * @throws {MelangeError} MELANGE_BAD_SUBSTITUTION for a malformed reference
 */
export function findReferences(text: string, where: string): VariableReference[] {
  const out: VariableReference[] = [];
  let from = 0;
  for (;;) {
    const at = text.indexOf(OPEN, from);
    if (at < 0) return out;
    const ref = readReference(text, at, where);
    out.push(ref);
    from = ref.end;
  }
}

/** Levenshtein distance, bounded: returns `limit + 1` as soon as it is exceeded. */
function distance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const v = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      cur.push(v);
      if (v < best) best = v;
    }
    if (best > limit) return limit + 1;
    prev = cur;
  }
  return prev[b.length] ?? limit + 1;
}

/**
 * Known names close to an unknown one (edit distance, or the same last segment), best first.
 *
 * @param name - the unknown name
 * @param known - the names in scope
 * @param max - how many to return
 * @returns up to `max` names
 */
export function suggestVariables(name: string, known: Iterable<string>, max = 3): string[] {
  const limit = Math.max(2, Math.floor(name.length / 4));
  const tail = name.slice(name.lastIndexOf('.') + 1);
  const scored: { n: string; d: number }[] = [];
  for (const k of known) {
    const d = distance(name, k, limit);
    if (d <= limit) scored.push({ n: k, d });
    else if (tail.length > 2 && k.endsWith(`.${tail}`)) scored.push({ n: k, d: limit + 1 });
  }
  scored.sort((x, y) => x.d - y.d || (x.n < y.n ? -1 : x.n > y.n ? 1 : 0));
  return scored.slice(0, max).map((s) => s.n);
}

/** The families of names in scope, for hints (`package.*, vars.*, targets.*`). */
function families(known: Iterable<string>): string {
  const set = new Set<string>();
  for (const k of known) set.add(k.includes('.') ? `${k.slice(0, k.indexOf('.'))}.*` : k);
  return [...set].sort().join(', ');
}

/**
 * The error for unknown variables.
 *
 * @param names - the unknown names (at least one)
 * @param lookup - the scope (for suggestions)
 * @param where - context (`pipeline[2].runs`)
 * @returns a MELANGE_UNKNOWN_VARIABLE error
 */
export function unknownVariableError(
  names: readonly string[],
  lookup: VariableLookup,
  where: string,
): MelangeError {
  const first = names[0] ?? '';
  const close = suggestVariables(first, lookup.keys());
  const list = names.map((n) => `\${{${n}}}`).join(', ');
  return new MelangeError(
    'MELANGE_UNKNOWN_VARIABLE',
    `${where}: unknown variable${names.length === 1 ? '' : 's'} ${list}`,
    {
      hint:
        (close.length > 0 ? `did you mean ${close.map((n) => `\${{${n}}}`).join(' or ')}? ` : '') +
        `variables here: ${families(lookup.keys())}`,
      data: { where, variables: [...names] },
    },
  );
}

/**
 * Replace every `${{ name }}` in a text by its value.
 *
 * @param text - the text (a `runs` script, a `with` value, …)
 * @param lookup - the variables in scope (a Map works)
 * @param where - what the text is, for messages (`pipeline[2].runs`)
 * @returns the text with every reference replaced; values are not scanned again
 * @throws {MelangeError} MELANGE_UNKNOWN_VARIABLE naming every unknown variable of the text,
 *   MELANGE_BAD_SUBSTITUTION for a malformed reference
 * @example
 * substitute('mkdir -p ${{ targets.destdir }}/usr', new Map([['targets.destdir', '/home/build/melange-out/x']]), 'runs')
 * // → 'mkdir -p /home/build/melange-out/x/usr'
 */
export function substitute(text: string, lookup: VariableLookup, where: string): string {
  if (!text.includes(OPEN)) return text;
  let out = '';
  let from = 0;
  const unknown: string[] = [];
  for (const ref of findReferences(text, where)) {
    out += text.slice(from, ref.start);
    const value = lookup.get(ref.name);
    if (value === undefined) {
      if (!unknown.includes(ref.name)) unknown.push(ref.name);
    } else out += value;
    from = ref.end;
  }
  if (unknown.length > 0) throw unknownVariableError(unknown, lookup, where);
  return out + text.slice(from);
}

/**
 * Like {@link substitute}, but names absent from `lookup` are left as written (used for the parts of a recipe
 * that later passes resolve, such as a subpackage's `range.*` clone of its steps).
 *
 * @param text - the text
 * @param lookup - the variables to replace
 * @param where - context for malformed-reference errors
 * @returns the text with the known references replaced
 * @throws {MelangeError} MELANGE_BAD_SUBSTITUTION for a malformed reference
 */
export function substitutePartial(text: string, lookup: VariableLookup, where: string): string {
  if (!text.includes(OPEN)) return text;
  let out = '';
  let from = 0;
  for (const ref of findReferences(text, where)) {
    const value = lookup.get(ref.name);
    out += text.slice(from, ref.start) + (value ?? text.slice(ref.start, ref.end));
    from = ref.end;
  }
  return out + text.slice(from);
}

/** GNU and Rust triplets of an arch. */
export interface Triplets {
  gnu: string;
  rust: string;
}

/** The C library flavour of a triplet. */
export type Libc = 'gnu' | 'musl';

interface ArchInfo {
  goarch: string;
  gnu: (libc: Libc) => string;
  rust: (libc: Libc) => string;
}

const ARCH_INFO: Record<ApkArch, ArchInfo> = {
  x86: { goarch: '386', gnu: (l) => `i486-pc-linux-${l}`, rust: (l) => `i686-unknown-linux-${l}` },
  x86_64: { goarch: 'amd64', gnu: (l) => `x86_64-pc-linux-${l}`, rust: (l) => `x86_64-unknown-linux-${l}` },
  aarch64: {
    goarch: 'arm64',
    gnu: (l) => `aarch64-unknown-linux-${l}`,
    rust: (l) => `aarch64-unknown-linux-${l}`,
  },
  armhf: {
    goarch: 'arm',
    gnu: (l) => `arm-unknown-linux-${l}eabihf`,
    rust: (l) => `arm-unknown-linux-${l}eabihf`,
  },
  armv7: {
    goarch: 'arm',
    gnu: (l) => `armv7l-unknown-linux-${l}eabihf`,
    rust: (l) => `armv7-unknown-linux-${l}eabihf`,
  },
  loongarch64: {
    goarch: 'loong64',
    gnu: (l) => `loongarch64-unknown-linux-${l}`,
    rust: (l) => `loongarch64-unknown-linux-${l}`,
  },
  ppc64le: {
    goarch: 'ppc64le',
    gnu: (l) => `powerpc64le-unknown-linux-${l}`,
    rust: (l) => `powerpc64le-unknown-linux-${l}`,
  },
  riscv64: {
    goarch: 'riscv64',
    gnu: (l) => `riscv64-unknown-linux-${l}`,
    rust: (l) => `riscv64gc-unknown-linux-${l}`,
  },
  s390x: { goarch: 's390x', gnu: (l) => `s390x-ibm-linux-${l}`, rust: (l) => `s390x-unknown-linux-${l}` },
};

/**
 * The apk name of an arch given in either spelling.
 *
 * @param arch - `x86_64`, `amd64`, `arm/v7`, …
 * @returns the apk name
 * @throws {MelangeError} MELANGE_UNKNOWN_ARCH
 */
export function apkArchOf(arch: string): ApkArch {
  if (parseArch(arch) === undefined) {
    throw new MelangeError('MELANGE_UNKNOWN_ARCH', `unknown architecture "${arch}"`, {
      hint: `use one of ${Object.keys(ARCH_INFO).join(', ')} (or the OCI names amd64, arm64, …)`,
      data: { arch },
    });
  }
  return toApkArch(arch);
}

/**
 * The triplets of an arch for a C library flavour (`host.triplet.*`, `cross.triplet.*`).
 *
 * @param arch - an arch in apk or OCI spelling
 * @param libc - `gnu` (glibc) or `musl`
 * @returns `{ gnu, rust }`
 * @throws {MelangeError} MELANGE_UNKNOWN_ARCH
 */
export function tripletsOf(arch: string, libc: Libc): Triplets {
  const info = ARCH_INFO[apkArchOf(arch)];
  return { gnu: info.gnu(libc), rust: info.rust(libc) };
}

/**
 * The Go GOARCH of an arch (`build.goarch`).
 *
 * @param arch - an arch in apk or OCI spelling
 * @returns `amd64`, `arm64`, `arm`, `386`, …
 * @throws {MelangeError} MELANGE_UNKNOWN_ARCH
 */
export function goarchOf(arch: string): string {
  return ARCH_INFO[apkArchOf(arch)].goarch;
}

/** What {@link buildSubstitutionMap} needs. */
export interface SubstitutionMapOptions {
  /** The main package (after substitution of its own fields). */
  package: { name: string; version: string; epoch: number; description?: string | undefined };
  /** The arch being built, apk or OCI spelling. */
  arch: string;
  /** `host.triplet.*` flavour (`--override-host-triplet-libc-substitution-flavor`); default `gnu`. */
  hostTripletLibc?: Libc | undefined;
  /** `vars.*` (after vars-file, build options and var-transforms). */
  vars?: Readonly<Record<string, string>> | undefined;
  /** Every package of the build (main first), for `targets.package.<name>`. */
  packageNames?: readonly string[] | undefined;
  /** Declared build options (`options.<name>.enabled` is `"false"` unless enabled). */
  declaredOptions?: readonly string[] | undefined;
  /** Enabled build options (`--build-option`). */
  enabledOptions?: readonly string[] | undefined;
  /** The subpackage whose pipeline or test this is (absent for the main package). */
  subpackage?: string | undefined;
  /** `inputs.*` of a pipeline definition. */
  inputs?: Readonly<Record<string, string>> | undefined;
  /** `range.key` / `range.value` of a ranged subpackage. */
  range?: { key: string; value: string } | undefined;
}

/**
 * The variables of one context (melange.md §3.1): `package.*`, `targets.*`, `subpkg.name`, `context.name`,
 * `host.triplet.*`, `cross.triplet.*`, `build.arch`, `build.goarch`, `vars.*`, `options.<name>.enabled`,
 * `inputs.*`, `range.*`.
 *
 * @param options - the package, arch, vars, context
 * @returns a new map from variable name (without braces) to value
 * @throws {MelangeError} MELANGE_UNKNOWN_ARCH
 * @example
 * buildSubstitutionMap({ package: { name: 'zstd', version: '1.5.7', epoch: 8 }, arch: 'x86_64' }).get('package.full-version')
 * // → '1.5.7-r8'
 */
export function buildSubstitutionMap(options: SubstitutionMapOptions): Map<string, string> {
  const pkg = options.package;
  const m = new Map<string, string>();
  m.set('package.name', pkg.name);
  m.set('package.version', pkg.version);
  m.set('package.epoch', String(pkg.epoch));
  m.set('package.full-version', `${pkg.version}-r${pkg.epoch}`);
  m.set('package.description', pkg.description ?? '');
  m.set('package.srcdir', WORKSPACE_DIR);
  m.set('targets.outdir', OUTPUT_DIR);
  m.set('targets.destdir', `${OUTPUT_DIR}/${pkg.name}`);
  m.set('targets.contextdir', `${OUTPUT_DIR}/${pkg.name}`);
  m.set('context.name', pkg.name);
  for (const name of options.packageNames ?? [pkg.name])
    m.set(`targets.package.${name}`, `${OUTPUT_DIR}/${name}`);
  if (!m.has(`targets.package.${pkg.name}`))
    m.set(`targets.package.${pkg.name}`, `${OUTPUT_DIR}/${pkg.name}`);
  if (options.subpackage !== undefined) {
    const dir = `${OUTPUT_DIR}/${options.subpackage}`;
    m.set('subpkg.name', options.subpackage);
    m.set('context.name', options.subpackage);
    m.set('targets.subpkgdir', dir);
    m.set('targets.contextdir', dir);
  }
  const host = tripletsOf(options.arch, options.hostTripletLibc ?? 'gnu');
  m.set('host.triplet.gnu', host.gnu);
  m.set('host.triplet.rust', host.rust);
  const glibc = tripletsOf(options.arch, 'gnu');
  const musl = tripletsOf(options.arch, 'musl');
  m.set('cross.triplet.gnu.glibc', glibc.gnu);
  m.set('cross.triplet.gnu.musl', musl.gnu);
  m.set('cross.triplet.rust.glibc', glibc.rust);
  m.set('cross.triplet.rust.musl', musl.rust);
  m.set('build.arch', apkArchOf(options.arch));
  m.set('build.goarch', goarchOf(options.arch));
  for (const [k, v] of Object.entries(options.vars ?? {})) m.set(`vars.${k}`, v);
  const enabled = new Set(options.enabledOptions ?? []);
  for (const name of options.declaredOptions ?? [])
    m.set(`options.${name}.enabled`, String(enabled.has(name)));
  for (const name of enabled) m.set(`options.${name}.enabled`, 'true');
  for (const [k, v] of Object.entries(options.inputs ?? {})) m.set(`inputs.${k}`, v);
  if (options.range !== undefined) {
    m.set('range.key', options.range.key);
    m.set('range.value', options.range.value);
  }
  return m;
}

/**
 * A scope layered over another: `own` entries win, the rest come from `base`. Cheap (no copy).
 *
 * @param base - the outer scope
 * @param own - entries of this scope
 * @returns a lookup over both
 */
export function layerLookup(base: VariableLookup, own: ReadonlyMap<string, string>): VariableLookup {
  return {
    get: (name) => own.get(name) ?? base.get(name),
    keys: () => new Set([...base.keys(), ...own.keys()]),
  };
}
