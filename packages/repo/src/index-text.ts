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
 * still read (apko drops it silently).
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

const TEXT_FIELDS = {
  C: 'checksum',
  P: 'name',
  V: 'version',
  A: 'arch',
  T: 'description',
  U: 'url',
  L: 'license',
  o: 'origin',
  m: 'maintainer',
  c: 'commit',
} as const;
const NUMBER_FIELDS = { S: 'size', I: 'installedSize', t: 'buildTime', k: 'providerPriority' } as const;
const LIST_FIELDS = { D: 'depends', p: 'provides', i: 'installIf' } as const;

function splitList(value: string): string[] {
  return value.split(/\s+/).filter((token) => token !== '');
}

/**
 * Parse APKINDEX text.
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
  let record: Map<string, { value: string; line: number }[]> | undefined;
  let recordLine = 0;

  const finish = (): void => {
    if (record === undefined) return;
    const get = (letter: string): string | undefined => record?.get(letter)?.at(-1)?.value;
    for (const letter of ['P', 'V', 'C']) {
      if (get(letter) === undefined || get(letter) === '') fail(recordLine, `record has no ${letter}: field`);
    }
    const entry: IndexEntry = {
      checksum: '',
      name: '',
      version: '',
      depends: [],
      provides: [],
      installIf: [],
      other: [],
    };
    for (const [letter, values] of record) {
      const last = values.at(-1)!;
      if (values.length > 1)
        warn(
          last.line,
          `field ${letter}: appears ${values.length} times in one record; the last is used`,
          'REPO_INDEX_REPEATED_FIELD',
        );
      if (letter in TEXT_FIELDS) {
        entry[TEXT_FIELDS[letter as keyof typeof TEXT_FIELDS]] = last.value;
      } else if (letter in NUMBER_FIELDS) {
        if (!/^[0-9]{1,15}$/.test(last.value))
          fail(last.line, `${letter}: is not a whole number: ${JSON.stringify(last.value.slice(0, 40))}`);
        entry[NUMBER_FIELDS[letter as keyof typeof NUMBER_FIELDS]] = Number(last.value);
      } else if (letter in LIST_FIELDS) {
        entry[LIST_FIELDS[letter as keyof typeof LIST_FIELDS]] = splitList(last.value);
      } else {
        for (const v of values) entry.other.push([letter, v.value]);
        if (/^[A-Z]$/.test(letter)) {
          entry.uninstallable = true;
          options.warn?.(
            `${source}:${last.line}: unknown field ${letter}: makes ${get('P') ?? '?'} uninstallable for apk-tools`,
            'REPO_INDEX_UNKNOWN_FIELD',
          );
        }
      }
    }
    if (!/^(Q1[A-Za-z0-9+/]{27}=|X1[0-9a-f]{40})$/.test(entry.checksum)) {
      warn(
        recordLine,
        `${entry.name}: C: ${JSON.stringify(entry.checksum.slice(0, 40))} is not a Q1 SHA-1 checksum`,
        'REPO_INDEX_BAD_CHECKSUM',
      );
    }
    entries.push(entry);
    record = undefined;
  };

  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((raw, index) => {
    const lineNumber = index + 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') return finish();
    if (line.length < 2 || line[1] !== ':' || !/^[A-Za-z]$/.test(line[0]!)) {
      return warn(lineNumber, `malformed line ${JSON.stringify(line.slice(0, 60))}`, 'REPO_INDEX_BAD_LINE');
    }
    if (record === undefined) {
      record = new Map();
      recordLine = lineNumber;
    }
    const letter = line[0]!;
    const list = record.get(letter) ?? [];
    list.push({ value: line.slice(2), line: lineNumber });
    record.set(letter, list);
  });
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
