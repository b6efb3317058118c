/**
 * The build workspace (`/home/build` in the sandbox): the recipe's folder copied in (every regular file,
 * permission bits kept, as melange's populateWorkspace), minus `.melangeignore` patterns, minus tk's own
 * outputs and caches when they live inside the source folder, plus `melange-out/<pkg>` for every package.
 */
import { chmod, copyFile, lstat, mkdir, readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';

/** One `.melangeignore` rule (gitignore syntax). */
interface IgnoreRule {
  regex: RegExp;
  negate: boolean;
  dirOnly: boolean;
}

/** Longest pattern line accepted; longer lines are ignored (hostile input). */
const MAX_PATTERN_LENGTH = 4096;

function globToRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `**/` matches any number of directories, a trailing `**` everything below.
        if (glob[i + 2] === '/') {
          out += '(?:.*/)?';
          i += 2;
        } else {
          out += '.*';
          i += 1;
        }
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) out += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        out += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) {
      out += glob[i + 1]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      i += 1;
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return out;
}

/**
 * Parse `.melangeignore` text (gitignore syntax: `#` comments, `!` negation, trailing `/` for directories,
 * a `/` anywhere but the end anchors the pattern at the top).
 *
 * @param text - the file's content
 * @returns a predicate over workspace-relative paths (`/`-separated)
 */
export function parseIgnoreFile(text: string): (path: string, isDir: boolean) => boolean {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.replace(/(?<!\\)\s+$/, '');
    if (line === '' || line.startsWith('#') || line.length > MAX_PATTERN_LENGTH) continue;
    let negate = false;
    if (line.startsWith('!')) {
      negate = true;
      line = line.slice(1);
    }
    let dirOnly = false;
    if (line.endsWith('/')) {
      dirOnly = true;
      line = line.slice(0, -1);
    }
    const anchored = line.includes('/');
    if (line.startsWith('/')) line = line.slice(1);
    if (line === '') continue;
    const body = globToRegex(line);
    rules.push({
      regex: new RegExp(anchored ? `^${body}(?:/.*)?$` : `(?:^|/)${body}(?:/.*)?$`),
      negate,
      dirOnly,
    });
  }
  return (path, isDir) => {
    let ignored = false;
    for (const rule of rules) {
      if (rule.dirOnly && !isDir && !path.includes('/')) continue;
      if (rule.regex.test(path)) ignored = !rule.negate;
    }
    return ignored;
  };
}

/** Options of {@link populateWorkspace}. */
export interface PopulateOptions {
  /** Folders under the source folder that are never copied (the out-dir, caches, the workspace itself). */
  exclude?: readonly string[];
}

/**
 * Copy every regular file of `sourceDir` into `workspace` (symlinks and empty folders are not copied, as
 * melange does), honouring `.melangeignore` in the source folder.
 *
 * @param sourceDir - the recipe's folder or `--source-dir`
 * @param workspace - the workspace folder (created)
 * @param options - folders to leave out
 * @returns the number of files copied
 */
export async function populateWorkspace(
  sourceDir: string,
  workspace: string,
  options: PopulateOptions = {},
): Promise<number> {
  const root = resolve(sourceDir);
  const excluded = (options.exclude ?? []).map((p) => resolve(p));
  let ignore: (path: string, isDir: boolean) => boolean = () => false;
  try {
    ignore = parseIgnoreFile(await readFile(join(root, '.melangeignore'), 'utf8'));
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error;
  }
  let copied = 0;
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const abs = join(dir, entry.name);
      const rel = relative(root, abs).split(sep).join('/');
      if (entry.name === '.git' || excluded.some((e) => abs === e || abs.startsWith(e + sep))) continue;
      if (entry.isDirectory()) {
        if (!ignore(rel, true)) await walk(abs);
      } else if (entry.isFile() && !ignore(rel, false)) {
        const target = join(workspace, rel);
        await mkdir(join(target, '..'), { recursive: true });
        await copyFile(abs, target);
        await chmod(target, (await lstat(abs)).mode & 0o7777);
        copied++;
      }
    }
  };
  await mkdir(workspace, { recursive: true });
  await walk(root);
  return copied;
}
