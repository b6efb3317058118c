/**
 * Python linters (melange `python.go`): they look at the top-level entries of
 * `usr/lib/python3.X/site-packages/`. More than one `usr/lib/python3.X` folder fails all three.
 *
 * `python/multiple` names a module by the part of its entry name before the first dot (`six.py` → `six`,
 * `_cffi.cpython-312-x86_64-linux-gnu.so` is private): melange cuts `len(ext)` characters from the front
 * instead (`typing_extensions.py` → `typ`), which this does not copy.
 */
import type { LinterContext, LinterFailure } from './rule.ts';
import type { LintEntry } from './tree.ts';

/**
 * Names of the direct children of a folder, counting folders that only appear as parents of other paths.
 *
 * @param entries - the package entries
 * @param dir - a folder path without trailing slash
 * @returns sorted child names
 */
export function childrenOf(entries: readonly LintEntry[], dir: string): string[] {
  const prefix = `${dir}/`;
  const names = new Set<string>();
  for (const e of entries) {
    if (!e.path.startsWith(prefix)) continue;
    const rest = e.path.slice(prefix.length);
    const slash = rest.indexOf('/');
    names.add(slash < 0 ? rest : rest.slice(0, slash));
  }
  return [...names].sort();
}

type SitePackages = { entries: string[] } | { error: string };

function sitePackages(ctx: LinterContext): SitePackages {
  const versions = childrenOf(ctx.entries, 'usr/lib').filter((n) => n.startsWith('python3.'));
  if (versions.length === 0) return { entries: [] };
  if (versions.length > 1)
    return { error: `more than one Python version detected: ${versions.length} found` };
  return { entries: childrenOf(ctx.entries, `usr/lib/${versions[0]!}/site-packages`) };
}

function dirNamed(names: readonly string[], message: string) {
  return (ctx: LinterContext): LinterFailure | undefined => {
    const site = sitePackages(ctx);
    if ('error' in site) return { message: site.error };
    return site.entries.some((e) => names.includes(e)) ? { message } : undefined;
  };
}

/** melange `python/docs`: `doc`/`docs` in site-packages. */
export const pythonDocsLinter = dirNamed(
  ['doc', 'docs'],
  'docs directory encountered in Python site-packages directory',
);
/** melange `python/test`: `test`/`tests` in site-packages. */
export const pythonTestLinter = dirNamed(
  ['test', 'tests'],
  'tests directory encountered in Python site-packages directory',
);

const METADATA_EXTS = ['.egg-info', '.dist-info', '.pth'];

/** melange `python/multiple`: more than one top-level module in site-packages. */
export const pythonMultipleLinter = (ctx: LinterContext): LinterFailure | undefined => {
  const site = sitePackages(ctx);
  if ('error' in site) return { message: site.error };
  const modules = new Set<string>();
  for (const base of site.entries) {
    if (base.startsWith('_')) continue;
    if (['test', 'tests', 'doc', 'docs'].includes(base)) continue;
    if (METADATA_EXTS.some((ext) => base.endsWith(ext))) continue;
    const dot = base.indexOf('.');
    const name = dot < 0 ? base : base.slice(0, dot);
    if (name === '') continue;
    modules.add(JSON.stringify(name));
  }
  if (modules.size <= 1) return undefined;
  const packages = [...modules].sort();
  return {
    message: `multiple Python packages detected: ${packages.length} found (${packages.join(', ')})`,
    details: { count: packages.length, packages },
  };
};
