// The closure of Debian packages: Depends and Pre-Depends followed recursively, first satisfiable
// alternative of each group, excluded names skipped (see packages.json "exclude" for why each is left out).
import { debianVersionSatisfies } from './debver.mjs';
import { parseRelations } from './deb.mjs';

/**
 * Whether a virtual name provided by `paragraph` satisfies a (possibly versioned) relation.
 *
 * @returns {boolean}
 */
function providesSatisfies(paragraph, alt) {
  for (const group of parseRelations(paragraph.get('provides'))) {
    for (const p of group) {
      if (p.name !== alt.name) continue;
      if (alt.op === undefined) return true;
      if (p.op === '=' && debianVersionSatisfies(p.version, alt.op, alt.version)) return true;
    }
  }
  return false;
}

/**
 * Resolve the closure of `roots` in one architecture's Packages index.
 *
 * @param {{ packages: Map<string, Map<string,string>>, providers: Map<string,string[]> }} index
 * @param {string[]} roots
 * @param {Record<string,string>} exclude name → reason
 * @returns {{ names: string[], edges: Map<string, { alt: object, target: string, viaVirtual: boolean }[]>,
 *   dropped: { from: string, group: string, reason: string }[], choices: string[] }}
 */
export function resolveClosure(index, roots, exclude) {
  const selected = new Set();
  const edges = new Map();
  const dropped = [];
  const choices = [];
  const queue = [];
  for (const root of roots) {
    if (!index.packages.has(root)) throw new Error(`top-level package ${root} is not in the Packages index`);
    if (!selected.has(root)) {
      selected.add(root);
      queue.push(root);
    }
  }
  while (queue.length > 0) {
    const name = queue.shift();
    const paragraph = index.packages.get(name);
    const list = [];
    const groups = [
      ...parseRelations(paragraph.get('pre-depends')),
      ...parseRelations(paragraph.get('depends')),
    ];
    for (const group of groups) {
      const text = group.map((a) => a.name + (a.op ? ` (${a.op} ${a.version})` : '')).join(' | ');
      let chosen;
      const skipped = [];
      for (const alt of group) {
        if (exclude[alt.name] !== undefined) {
          skipped.push(alt.name);
          continue;
        }
        const real = index.packages.get(alt.name);
        if (
          real !== undefined &&
          (alt.op === undefined || debianVersionSatisfies(real.get('version'), alt.op, alt.version))
        ) {
          chosen = { alt, target: alt.name, viaVirtual: false };
          break;
        }
        const providers = (index.providers.get(alt.name) ?? []).filter(
          (p) => exclude[p] === undefined && providesSatisfies(index.packages.get(p), alt),
        );
        if (providers.length > 0) {
          const target = providers.find((p) => selected.has(p)) ?? providers[0];
          if (providers.length > 1)
            choices.push(`${name}: ${alt.name} → ${target} (of ${providers.join(', ')})`);
          chosen = { alt, target, viaVirtual: true };
          break;
        }
      }
      if (chosen === undefined) {
        if (skipped.length === group.length) {
          dropped.push({
            from: name,
            group: text,
            reason: skipped.map((s) => `${s}: ${exclude[s]}`).join('; '),
          });
          continue;
        }
        throw new Error(`${name}: cannot satisfy "${text}" from the Packages index`);
      }
      list.push(chosen);
      if (!selected.has(chosen.target)) {
        selected.add(chosen.target);
        queue.push(chosen.target);
      }
    }
    edges.set(name, list);
  }
  return { names: [...selected].sort(), edges, dropped, choices };
}
