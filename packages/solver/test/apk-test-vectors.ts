/**
 * Reading apk-tools' solver test vectors (`test/*.test` of the apk-tools source tree, run there by
 * `test/solver.sh` through the `apk-test` binary). A vector has an `@ARGS` block (the command line, split
 * as `xargs` splits it) and an `@EXPECT` block (what apk prints). The vectors are GPL data read from the
 * apk-tools tree at test time; nothing of them is stored in this repository.
 *
 * The command line options that matter here: `--test-repo [!][tag:]file` (a repository index in APKINDEX
 * text form; `tag:` makes it a tagged repository, `!` the cache's installed repository),
 * `--test-instdb file` (an installed database), `--test-world "tokens"` (the world before the command).
 */

/** A repository of a vector: an index file, optionally tagged. */
export interface VectorRepository {
  readonly file: string;
  readonly tag?: string;
  /** `!file`: apk-tools loads it as the cache's installed repository. */
  readonly cache: boolean;
}

/** One package line of an expected install: `(1/2) Installing name[@tag] (version)`. */
export interface VectorInstall {
  readonly name: string;
  readonly tag?: string;
  readonly version: string;
}

/** What apk-tools printed. */
export type VectorExpectation =
  | { readonly kind: 'install'; readonly packages: readonly VectorInstall[] }
  | { readonly kind: 'refuse'; readonly text: string; readonly badWorld: boolean }
  | { readonly kind: 'other'; readonly text: string };

/** One parsed `.test` file. */
export interface SolverVector {
  readonly id: string;
  readonly args: readonly string[];
  readonly repositories: readonly VectorRepository[];
  readonly installedDb: string | undefined;
  readonly world: readonly string[];
  /** The applet (`add`, `del`, `upgrade`, `fix`). */
  readonly command: string | undefined;
  /** Positional arguments of the applet. */
  readonly operands: readonly string[];
  /** Options other than the `--test-*` ones, global or of the applet (`--force`, `-t`, `--latest`…). */
  readonly options: readonly string[];
  readonly expect: VectorExpectation;
}

/** Options that take a value (apk-tools 2.14 global and `add`/`upgrade` options used by the vectors). */
const WITH_VALUE = new Set([
  '--test-repo',
  '--test-instdb',
  '--test-world',
  '-t',
  '--virtual',
  '-X',
  '--repository',
  '--arch',
  '--root',
  '-p',
]);

const MAX_VECTOR_BYTES = 1 << 20;

/**
 * Split a command line as `xargs` does: blanks separate words, single and double quotes group.
 *
 * @param text - the `@ARGS` block
 * @returns the words
 * @throws {Error} for an unterminated quote
 */
export function splitArgs(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const char of text) {
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
      else word = (word ?? '') + char;
    } else if (char === '"' || char === "'") {
      quote = char;
      word ??= '';
    } else if (char === ' ' || char === '\t' || char === '\n' || char === '\r') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + char;
    }
  }
  if (quote !== undefined) throw new Error(`unterminated ${quote} in @ARGS`);
  if (word !== undefined) words.push(word);
  return words;
}

/** The `@NAME` blocks of a vector file, as `solver.sh`'s `get_block` reads them. */
function blocks(text: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('@')) {
      const name = line.slice(1).trim();
      current = [];
      if (!found.has(name)) found.set(name, current);
      continue;
    }
    current?.push(line.endsWith('\r') ? line.slice(0, -1) : line);
  }
  return found;
}

const INSTALL_LINE = /^\(\d+\/\d+\) Installing ([^\s@()]+)(?:@(\S+))? \(([^\s()]+)\)$/;

function expectation(lines: readonly string[]): VectorExpectation {
  const text = lines.join('\n').trim();
  const errors = lines.filter((line) => line.startsWith('ERROR:'));
  if (errors.length > 0) {
    return { kind: 'refuse', text, badWorld: errors.some((line) => line.includes('is not a valid')) };
  }
  const packages: VectorInstall[] = [];
  for (const line of lines) {
    const match = INSTALL_LINE.exec(line);
    if (match !== null) {
      const [, name, tag, version] = match;
      packages.push({ name: name!, version: version!, ...(tag === undefined ? {} : { tag }) });
    } else if (line.trim() !== '' && !line.startsWith('OK:') && !line.startsWith('WARNING:')) {
      return { kind: 'other', text };
    }
  }
  return { kind: 'install', packages };
}

/**
 * Parse one `.test` file.
 *
 * @param id - the file name without `.test`
 * @param text - its content
 * @returns the vector
 * @throws {Error} for a file without `@ARGS` or `@EXPECT`, an option without its value, or a huge file
 */
export function parseVector(id: string, text: string): SolverVector {
  if (text.length > MAX_VECTOR_BYTES) throw new Error(`${id}: ${text.length} bytes is not a solver vector`);
  const found = blocks(text);
  const argsBlock = found.get('ARGS');
  const expectBlock = found.get('EXPECT');
  if (argsBlock === undefined || expectBlock === undefined)
    throw new Error(`${id}: no @ARGS or @EXPECT block`);
  const args = splitArgs(argsBlock.join('\n'));
  const repositories: VectorRepository[] = [];
  const world: string[] = [];
  const operands: string[] = [];
  const options: string[] = [];
  let installedDb: string | undefined;
  let command: string | undefined;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (!arg.startsWith('-') || arg === '-') {
      if (command === undefined) command = arg;
      else operands.push(arg);
      continue;
    }
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split('=', 2) : [arg, undefined];
    let value: string | undefined = inline;
    if (WITH_VALUE.has(flag) && value === undefined) {
      value = args[++index];
      if (value === undefined) throw new Error(`${id}: ${flag} needs a value`);
    }
    if (flag === '--test-repo') {
      let spec = value!;
      const cache = spec.startsWith('!');
      if (cache) spec = spec.slice(1);
      const colon = spec.indexOf(':');
      repositories.push(
        colon < 0 ? { file: spec, cache } : { file: spec.slice(colon + 1), tag: spec.slice(0, colon), cache },
      );
    } else if (flag === '--test-instdb') {
      installedDb = value;
    } else if (flag === '--test-world') {
      world.push(...value!.split(/\s+/).filter((token) => token !== ''));
    } else {
      options.push(value === undefined ? flag : `${flag} ${value}`);
    }
  }
  return {
    id,
    args,
    repositories,
    installedDb,
    world,
    command,
    operands,
    options,
    expect: expectation(expectBlock),
  };
}

/**
 * Why a vector cannot be run through tk's resolver, or undefined when it can. tk's `solve` resolves a
 * world from nothing (an image, a build sandbox): it has no installed database, so apk-tools' `del`,
 * `upgrade`, `fix` and installed-state `add` cases have no counterpart.
 *
 * @param vector - the vector
 * @returns the reason, or undefined
 */
export function notApplicable(vector: SolverVector): string | undefined {
  if (vector.installedDb !== undefined) {
    return `needs an installed database (--test-instdb ${vector.installedDb}): tk resolves a world from nothing, for an image or a build sandbox; it has no installed state to keep, upgrade, remove or fix (\`prefer\` only breaks ties between candidates)`;
  }
  if (vector.command !== 'add') return `apk ${vector.command ?? '(no command)'} acts on an installed system`;
  if (vector.options.some((option) => option === '--force' || option === '-f')) {
    return 'apk --force installs the satisfiable part of a broken world; tk always refuses an unsatisfiable world';
  }
  if (vector.options.some((option) => option.startsWith('-t ') || option.startsWith('--virtual '))) {
    return 'apk add -t builds a virtual package on the fly; apko configs and tk have no such thing';
  }
  return undefined;
}
