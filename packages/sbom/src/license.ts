/**
 * License expressions (SPDX 2.3 Annex D):
 *
 *     simple   = idstring ["+"] / ["DocumentRef-" idstring ":"] "LicenseRef-" idstring
 *     with     = simple ["WITH" idstring]
 *     and      = with *("AND" with)          ; AND binds tighter than OR
 *     or       = and *("OR" and)
 *     primary  = with / "(" or ")"
 *
 * tk checks the grammar, not the SPDX license list (no list ships with tk): `MIT`, `GPL-2.0-or-later AND
 * (LGPL-2.1-only OR BSD-3-Clause)` and `GPL-2.0+` pass as written; `MIT/X11`, `BSD 3-Clause` or `GPL-2.0 or
 * later` do not. Operators are matched without regard to case and written upper-case (`and` -> `AND`), as
 * older apk metadata sometimes has them lower-case. A string that fails the grammar becomes a
 * `LicenseRef-…` whose extracted text is the original string, so no license information is lost and the
 * document stays valid.
 */
import { sha256Hex, utf8 } from '@tk/core';
import { LICENSE_REF_PATTERN, toIdText } from './ids.ts';
import type { SpdxExtractedLicense } from './spdx-types.ts';

/** Longest expression tk parses; a longer one is kept as a `LicenseRef-`. */
const MAX_EXPRESSION_LENGTH = 4096;
/** Deepest parenthesis nesting tk parses. */
const MAX_DEPTH = 32;

const IDSTRING = /^[A-Za-z0-9.-]+$/;
const SIMPLE_ID = /^[A-Za-z0-9.-]+\+?$/;
const LICENSE_REF = /^(DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+$/;
const OPERATORS = new Set(['AND', 'OR', 'WITH']);

function tokenize(text: string): string[] | undefined {
  const tokens: string[] = [];
  for (const raw of text.replace(/([()])/g, ' $1 ').split(/\s+/)) {
    if (raw === '') continue;
    const upper = raw.toUpperCase();
    tokens.push(OPERATORS.has(upper) ? upper : raw);
  }
  return tokens.length === 0 ? undefined : tokens;
}

/** Parse tokens; returns true when the whole list is one expression. */
function parses(tokens: readonly string[]): boolean {
  let pos = 0;
  const peek = (): string | undefined => tokens[pos];

  const simple = (): boolean => {
    const token = peek();
    if (token === undefined || OPERATORS.has(token) || token === '(' || token === ')') return false;
    if (!SIMPLE_ID.test(token) && !LICENSE_REF.test(token)) return false;
    pos++;
    if (peek() === 'WITH') {
      pos++;
      const exception = peek();
      if (exception === undefined || OPERATORS.has(exception) || !IDSTRING.test(exception)) return false;
      pos++;
    }
    return true;
  };
  const primary = (depth: number): boolean => {
    if (peek() === '(') {
      if (depth >= MAX_DEPTH) return false;
      pos++;
      if (!or(depth + 1)) return false;
      if (peek() !== ')') return false;
      pos++;
      return true;
    }
    return simple();
  };
  const and = (depth: number): boolean => {
    if (!primary(depth)) return false;
    while (peek() === 'AND') {
      pos++;
      if (!primary(depth)) return false;
    }
    return true;
  };
  const or = (depth: number): boolean => {
    if (!and(depth)) return false;
    while (peek() === 'OR') {
      pos++;
      if (!and(depth)) return false;
    }
    return true;
  };
  return or(0) && pos === tokens.length;
}

/**
 * Check and normalise a license expression.
 *
 * @param text - a license string from package metadata
 * @returns the normalised expression (single spaces, upper-case operators), or undefined when `text` is not
 *   a valid expression
 * @example
 * normalizeLicenseExpression('mit  and (gpl-2.0-only or BSD-3-Clause)') // 'mit AND (gpl-2.0-only OR BSD-3-Clause)'
 * normalizeLicenseExpression('MIT/X11') // undefined
 */
export function normalizeLicenseExpression(text: string): string | undefined {
  if (text.length > MAX_EXPRESSION_LENGTH) return undefined;
  const tokens = tokenize(text);
  if (tokens === undefined || !parses(tokens)) return undefined;
  return tokens.join(' ').replaceAll('( ', '(').replaceAll(' )', ')');
}

/**
 * The extracted licenses of one document: `LicenseRef-` ids made for invalid license strings and those
 * copied from embedded SBOMs. An id keeps the first text it was given.
 */
export class LicenseRegistry {
  readonly #byId = new Map<string, SpdxExtractedLicense>();
  /** Made-up ids by original text, so the same string always maps to the same id. */
  readonly #byText = new Map<string, string>();

  /** The extracted licenses, in the order they were added. */
  list(): SpdxExtractedLicense[] {
    return [...this.#byId.values()];
  }

  /** The extracted license with this id, if any. */
  get(id: string): SpdxExtractedLicense | undefined {
    return this.#byId.get(id);
  }

  /**
   * Add an extracted license copied from another document.
   *
   * @returns 'added', 'same' (already present with the same text) or 'conflict' (present with another text;
   *   the first one stays)
   */
  add(info: SpdxExtractedLicense): 'added' | 'same' | 'conflict' {
    const existing = this.#byId.get(info.licenseId);
    if (existing === undefined) {
      this.#byId.set(info.licenseId, info);
      return 'added';
    }
    return existing.extractedText === info.extractedText ? 'same' : 'conflict';
  }

  /**
   * The value for a `licenseDeclared`/`licenseConcluded` field: the normalised expression, `NOASSERTION` for
   * an empty string, `NONE`/`NOASSERTION` as given, or a `LicenseRef-` made for an invalid string (recorded
   * in this registry with the original text).
   *
   * @param text - the license string, possibly empty or undefined
   * @returns a value that is a valid SPDX license field
   */
  licenseField(text: string | undefined): string {
    const trimmed = (text ?? '').trim();
    if (trimmed === '' || trimmed === 'NOASSERTION') return 'NOASSERTION';
    if (trimmed === 'NONE') return 'NONE';
    const normalized = normalizeLicenseExpression(trimmed);
    if (normalized !== undefined) return normalized;
    return this.#refFor(trimmed);
  }

  #refFor(text: string): string {
    const known = this.#byText.get(text);
    if (known !== undefined) return known;
    const idText = toIdText(text);
    let id = `LicenseRef-${idText.length > 0 && idText.length <= 64 ? idText : sha256Hex(utf8(text)).slice(0, 16)}`;
    if (!LICENSE_REF_PATTERN.test(id)) id = `LicenseRef-${sha256Hex(utf8(text)).slice(0, 16)}`;
    const clash = this.#byId.get(id);
    if (clash !== undefined && clash.extractedText !== text)
      id = `${id}-${sha256Hex(utf8(text)).slice(0, 12)}`;
    this.#byText.set(text, id);
    if (!this.#byId.has(id)) {
      this.#byId.set(id, {
        licenseId: id,
        extractedText: text,
        name: text.length <= 200 ? text : `${text.slice(0, 200)}…`,
        comment: 'License string from package metadata that is not a valid SPDX license expression.',
      });
    }
    return id;
  }
}
