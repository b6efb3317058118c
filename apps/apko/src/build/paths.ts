/**
 * Where relative paths in a configuration point. apko resolves them against its working directory
 * (`-C`), which surprises users who run it from elsewhere (apko#549, #485). tk resolves against the
 * working directory first, as apko does, and falls back to the configuration file's directory when the
 * path does not exist there, saying so at debug level.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Logger } from '@tk/core';

/**
 * Resolve a local path from a configuration.
 *
 * @param path - as written
 * @param workdir - `-C` (absolute)
 * @param configDir - the configuration file's directory (absolute)
 * @param logger - for the fallback note
 * @returns an absolute path
 */
export function resolveConfigPath(path: string, workdir: string, configDir: string, logger: Logger): string {
  return isAbsolute(path) ? path : resolve(baseDirFor(path, workdir, configDir, logger), path);
}

/**
 * The directory a relative configuration path is relative to: the working directory, or the
 * configuration's directory when the path exists only there.
 *
 * @returns an absolute directory
 */
export function baseDirFor(path: string, workdir: string, configDir: string, logger: Logger): string {
  if (isAbsolute(path) || isUrl(path) || existsSync(resolve(workdir, path))) return workdir;
  if (existsSync(resolve(configDir, path))) {
    logger.debug(`${path}: not found in ${workdir}; using the one next to the configuration in ${configDir}`);
    return configDir;
  }
  return workdir;
}

/** Whether a configuration item is a URL rather than a path. */
export function isUrl(item: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(item);
}
