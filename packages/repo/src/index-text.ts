/**
 * The APKINDEX text format (apk-tools 2.14 `src/package.c` apk_pkg_add_info / apk_pkg_write_index_entry):
 * records of `X:value` lines, each record ended by a blank line. Letters:
 *
 *   C identity checksum (Q1 + base64 SHA-1 of the control member)   P name   V version   A arch
 *   S package file size   I installed size   T description   U url   L license   o origin
 *   m maintainer   t build time   c commit   k provider priority   D depends   p provides   i install_if
 *
 * apk-tools marks a record with an unknown *uppercase* letter uninstallable and ignores unknown lowercase
 * letters; tk keeps both (in `other`) and flags the first case. A last record without its blank line is
 * still read (apko drops it silently). A list field (`D:`, `p:`, `i:`) given on several lines of one record
 * is the concatenation of those lines, as apk-tools reads it; any other repeated field keeps its last value.
 */
import { RepoError } from './errors.ts';

/** One package of an index. */
export interface IndexEntry {
  /** `C:` identity checksum, `Q1…`. */
  checksum: string;
  name: string;
  version: string;
  arch?: string;
  /** `S:` size of the .apk file. */
  size?: number;
  /** `I:` installed size. */
  installedSize?: number;
  description?: string;
  url?: string;
  license?: string;
  origin?: string;
  maintainer?: string;
  buildTime?: number;
  commit?: string;
  providerPriority?: number;
  depends: string[];
  provides: string[];
  installIf: string[];
  /** Letters tk does not model, in record order. */
  other: [letter: string, value: string][];
  /** True when the record has an unknown uppercase letter: apk-tools will not install it. */
  uninstallable?: boolean;
}

/** Options for {@link parseIndexText}. */
export interface ParseIndexOptions {
  /** Throw on recoverable problems instead of reporting them. Default false. */
  strict?: boolean;
  warn?: (message: string, code: string) => void;
  source?: string;
}

type TextKey =
  | 'checksum'
  | 'name'
  | 'version'
  | 'arch'
  | 'description'
  | 'url'
  | 'license'
  | 'origin'
  | 'maintainer'
  | 'commit';
type NumberKey = 'size' | 'installedSize' | 'buildTime' | 'providerPriority';
type ListKey = 'depends' | 'provides' | 'installIf';

/** What each known letter fills, and its bit in a record's "seen" mask. */
const FIELDS: Readonly<
  Record<
    string,
    | { kind: 'text'; key: TextKey; bit: number }
    | { kind: 'number'; key: NumberKey; bit: number }
    | { kind: 'list'; key: ListKey; bit: number }
  >
> = {
  C: { kind: 'text', key: 'checksum', bit: 1 << 0 },
  P: { kind: 'text', key: 'name', bit: 1 << 1 },
  V: { kind: 'text', key: 'version', bit: 1 << 2 },
  A: { kind: 'text', key: 'arch', bit: 1 << 3 },
  T: { kind: 'text', key: 'description', bit: 1 << 4 },
  U: { kind: 'text', key: 'url', bit: 1 << 5 },
  L: { kind: 'text', key: 'license', bit: 1 << 6 },
  o: { kind: 'text', key: 'origin', bit: 1 << 7 },
  m: { kind: 'text', key: 'maintainer', bit: 1 << 8 },
  c: { kind: 'text', key: 'commit', bit: 1 << 9 },
  S: { kind: 'number', key: 'size', bit: 1 << 10 },
  I: { kind: 'number', key: 'installedSize', bit: 1 << 11 },
  t: { kind: 'number', key: 'buildTime', bit: 1 << 12 },
  k: { kind: 'number', key: 'providerPriority', bit: 1 << 13 },
  D: { kind: 'list', key: 'depends', bit: 1 << 14 },
  p: { kind: 'list', key: 'provides', bit: 1 << 15 },
  i: { kind: 'list', key: 'installIf', bit: 1 << 16 },
};
const REQUIRED = FIELDS['C']!.bit | FIELDS['P']!.bit | FIELDS['V']!.bit;
const CHECKSUM = /^(Q1[A-Za-z0-9+/]{27}=|X1[0-9a-f]{40})$/;
const DECIMAL = /^[0-9]{1,15}$/;

function splitList(value: string): string[] {
  if (value === '') return [];
  if (value.indexOf(' ') < 0 && value.indexOf('\t') < 0) return [value];
  return value.split(/\s+/).filter((token) => token !== '');
}

function isAsciiLetter(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

/**
 * Parse APKINDEX text. A single pass over the text with no per-line allocations beyond the values
 * themselves: the 100,000-entry benchmark index (15 MB) parses in a fraction of a second.
 *
 * @param text - the `APKINDEX` file's content
 * @param options - strictness and warning sink
 * @returns the records in file order
 * @throws {RepoError} REPO_BAD_INDEX for a record without P, V or C, a malformed number (always), or
 *   malformed lines (strict mode)
 * @example
 * parseIndexText('C:Q1…\nP:busybox\nV:1.36.1-r0\n\n')[0].name // 'busybox'
 */
export function parseIndexText(text: string, options: ParseIndexOptions = {}): IndexEntry[] {
  const source = options.source ?? 'APKINDEX';
  const fail = (line: number, message: string): never => {
    throw new RepoError('REPO_BAD_INDEX', `${source}:${line}: ${message}`, {
      hint: 'the repository index is corrupt; regenerate it (tk melange index)',
    });
  };
  const warn = (line: number, message: string, code: string): void => {
    if (options.strict === true) fail(line, message);
    options.warn?.(`${source}:${line}: ${message}`, code);
  };
  const entries: IndexEntry[] = [];
  let entry: IndexEntry | undefined;
  let seen = 0;
  let recordLine = 0;
  let repeated: Set<string> | undefined;
  let unknownSeen: Set<string> | undefined;

  const finish = (): void => {
    if (entry === undefined) return;
    if (
      (seen & REQUIRED) !== REQUIRED ||
      entry.name === '' ||
      entry.version === '' ||
      entry.checksum === ''
    ) {
      const missing = ['P', 'V', 'C'].find(
        (l) => (seen & FIELDS[l]!.bit) === 0 || entry![(FIELDS[l] as { key: TextKey }).key] === '',
      );
      fail(recordLine, `record has no ${missing ?? 'P'}: field`);
    }
    if (!CHECKSUM.test(entry.checksum)) {
      warn(
        recordLine,
        `${entry.name}: C: ${JSON.stringify(entry.checksum.slice(0, 40))} is not a Q1 SHA-1 checksum`,
        'REPO_INDEX_BAD_CHECKSUM',
      );
    }
    entries.push(entry);
    entry = undefined;
    seen = 0;
    repeated = undefined;
    unknownSeen = undefined;
  };

  let pos = 0;
  let lineNumber = 0;
  const length = text.length;
  while (pos < length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = length;
    lineNumber++;
    let end = nl;
    if (end > pos && text.charCodeAt(end - 1) === 13) end--;
    if (end === pos) {
      finish();
    } else if (end - pos < 2 || text.charCodeAt(pos + 1) !== 58 || !isAsciiLetter(text.charCodeAt(pos))) {
      warn(
        lineNumber,
        `malformed line ${JSON.stringify(text.slice(pos, Math.min(end, pos + 60)))}`,
        'REPO_INDEX_BAD_LINE',
      );
    } else {
      if (entry === undefined) {
        entry = { checksum: '', name: '', version: '', depends: [], provides: [], installIf: [], other: [] };
        recordLine = lineNumber;
      }
      const letter = text[pos]!;
      const value = text.slice(pos + 2, end);
      const field = FIELDS[letter];
      if (field === undefined) {
        entry.other.push([letter, value]);
        if (letter >= 'A' && letter <= 'Z') {
          entry.uninstallable = true;
          unknownSeen ??= new Set();
          if (!unknownSeen.has(letter)) {
            unknownSeen.add(letter);
            options.warn?.(
              `${source}:${lineNumber}: unknown field ${letter}: makes ${entry.name || '?'} uninstallable for apk-tools`,
              'REPO_INDEX_UNKNOWN_FIELD',
            );
          }
        }
      } else {
        // A repeated list field adds to the list (apk-tools appends each `D:`, `p:`, `i:` line);
        // a repeated single field replaces the value, as in apk-tools, with a warning.
        if ((seen & field.bit) !== 0 && field.kind !== 'list') {
          repeated ??= new Set();
          if (!repeated.has(letter)) {
            repeated.add(letter);
            warn(
              lineNumber,
              `field ${letter}: appears more than once in one record; the last is used (as apk-tools does)`,
              'REPO_INDEX_REPEATED_FIELD',
            );
          }
        }
        seen |= field.bit;
        if (field.kind === 'text') entry[field.key] = value;
        else if (field.kind === 'list') {
          const list = splitList(value);
          const known = entry[field.key];
          if (known.length === 0) entry[field.key] = list;
          else for (const token of list) known.push(token);
        } else {
          if (!DECIMAL.test(value))
            fail(lineNumber, `${letter}: is not a whole number: ${JSON.stringify(value.slice(0, 40))}`);
          entry[field.key] = Number(value);
        }
      }
    }
    pos = nl + 1;
  }
  finish(); // a last record without its blank line is still a record
  return entries;
}

/**
 * Write APKINDEX text in apk-tools' order (`C P V A S I T U L o m t c k D p i`, then other letters),
 * leaving out absent and empty optional fields, each record followed by a blank line.
 *
 * @param entries - the records
 * @returns the text
 * @throws {RepoError} REPO_BAD_INDEX when a value contains a line break
 */
export function serializeIndexText(entries: readonly IndexEntry[]): string {
  const out: string[] = [];
  for (const e of entries) {
    const put = (letter: string, value: string | number | undefined): void => {
      if (value === undefined || value === '') return;
      const text = String(value);
      if (/[\r\n]/.test(text))
        throw new RepoError('REPO_BAD_INDEX', `${e.name}: ${letter}: contains a line break`);
      out.push(`${letter}:${text}`);
    };
    put('C', e.checksum);
    put('P', e.name);
    put('V', e.version);
    put('A', e.arch);
    put('S', e.size);
    put('I', e.installedSize);
    put('T', e.description);
    put('U', e.url);
    put('L', e.license);
    put('o', e.origin);
    put('m', e.maintainer);
    put('t', e.buildTime);
    put('c', e.commit);
    put('k', e.providerPriority);
    put('D', e.depends.join(' '));
    put('p', e.provides.join(' '));
    put('i', e.installIf.join(' '));
    for (const [letter, value] of e.other) put(letter, value);
    out.push('');
  }
  return out.length === 0 ? '' : out.join('\n') + '\n';
}
