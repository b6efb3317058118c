/**
 * SPDX identifiers. An SPDXID is `SPDXRef-` followed by letters, digits, `.` and `-` (SPDX 2.3 §3.2, §7.2).
 * tk derives them from content the way apko does (`stringToIdentifier` in apko's
 * `pkg/sbom/generator/spdx/spdx.go`), so the same package gets the same id in both tools.
 */
import { sha256Hex, utf8 } from '@tk/core';

/** The characters an SPDXID may hold after its `SPDXRef-` prefix. */
const ID_SAFE = /^[A-Za-z0-9.-]$/;

/** A whole, valid SPDX element id. */
export const SPDX_ID_PATTERN = /^SPDXRef-[A-Za-z0-9.-]+$/;

/** A whole, valid `LicenseRef-` id (SPDX 2.3 §10.1). */
export const LICENSE_REF_PATTERN = /^LicenseRef-[A-Za-z0-9.-]+$/;

/**
 * Turn any text into the id-safe alphabet. `apko` style (the default, apko's `stringToIdentifier`): `:`
 * becomes `-`, every other byte of the UTF-8 encoding outside `[A-Za-z0-9.-]` becomes `C<byte value>` (so `_`
 * is `C95`, `+` is `C43`, `é` is `C195C169`). `melange` style (melange's `stringToIdentifier`): `:` and `/`
 * become `-`, every other character outside the alphabet becomes `C<code point>` (`é` is `C233`).
 *
 * @param text - any text (a package name, a version, a digest, a path)
 * @param style - whose rule to follow
 * @returns text made only of `[A-Za-z0-9.-]`
 * @example
 * toIdText('build_configs/x.yaml') // 'buildC95configsC47x.yaml'
 * toIdText('build_configs/x.yaml', 'melange') // 'buildC95configs-x.yaml'
 */
export function toIdText(text: string, style: 'apko' | 'melange' = 'apko'): string {
  let out = '';
  for (const ch of text) {
    if (ch === ':' || (ch === '/' && style === 'melange')) out += '-';
    else if (ID_SAFE.test(ch)) out += ch;
    else if (style === 'melange') out += `C${ch.codePointAt(0) ?? 0}`;
    else for (const byte of utf8(ch)) out += `C${byte}`;
  }
  return out;
}

/**
 * Hands out element ids that are unique within one document. The first holder of an id keeps it; a later
 * claim for a different element gets a suffix derived from its own content (not from the order of claims),
 * so an id never depends on which other packages happen to be in the image.
 */
export class IdAllocator {
  readonly #taken = new Set<string>();

  /** True when `id` is already used in the document. */
  has(id: string): boolean {
    return this.#taken.has(id);
  }

  /** Mark an id as used (for ids copied verbatim, such as those of embedded SBOM packages). */
  reserve(id: string): void {
    this.#taken.add(id);
  }

  /**
   * Claim `base`, or a content-derived variant of it when `base` is taken.
   *
   * @param base - the preferred id, already in the id-safe alphabet
   * @param content - text that identifies the element (name, version, arch): the suffix is its hash
   * @returns an id no other element of the document has
   */
  claim(base: string, content: string): string {
    let id = base;
    if (this.#taken.has(id)) {
      const hash = sha256Hex(utf8(content));
      id = `${base}-${hash.slice(0, 12)}`;
      for (let n = 2; this.#taken.has(id); n++) id = `${base}-${hash.slice(0, 12)}-${n}`;
    }
    this.#taken.add(id);
    return id;
  }
}
