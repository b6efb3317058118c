/**
 * Parsing an apko configuration given as text, synchronously. Unlike `loadImageConfig` this loads zod up
 * front (a synchronous caller cannot wait for it to load), so it lives apart from `load.ts`.
 */
import { silentLogger, type Logger } from '@tk/core';
import { checkDocument, conclude, concludeWithZod, readDocument } from './load.ts';
import type { ImageConfig } from './schema.ts';
import { issueReporter } from './validate.ts';
import { checkWithZod } from './zod-check.ts';

/** Options of {@link parseImageConfig}. */
export interface ParseImageConfigOptions {
  /** File name used in issues (default `apko.yaml`). */
  source?: string;
  /** Receives warnings about keys that have no effect. */
  logger?: Logger;
}

/**
 * Parse and validate a configuration given as text. `include:` cannot be followed without files, so a
 * configuration that has one is refused: use `loadImageConfig`.
 *
 * @param text - YAML (or JSON) text or its UTF-8 bytes
 * @param options - the name to report issues under, a logger
 * @returns the validated configuration with defaults applied
 * @throws {ConfigError} CONFIG_INVALID / CONFIG_UNSUPPORTED with `data.issues` listing every problem;
 *   CONFIG_YAML_SYNTAX; CONFIG_TOO_LARGE
 * @example
 * const config = parseImageConfig('contents:\n  packages: [busybox]\narchs: [x86_64]\n', { source: 'apko.yaml' });
 * config.archs; // ['amd64']
 */
export function parseImageConfig(
  text: string | Uint8Array,
  options: ParseImageConfigOptions = {},
): ImageConfig {
  const source = options.source ?? 'apko.yaml';
  const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
  const doc = readDocument(bytes, source);
  checkDocument(doc, checkWithZod);
  if (doc.include !== undefined) {
    const report = issueReporter(doc.issues, doc.positions, source);
    report(['include'], 'cannot be followed when parsing text', {
      hint: 'load the configuration from its file (loadImageConfig) so that includes can be read',
    });
  }
  const result = conclude(doc, doc.issues, source, options.logger ?? silentLogger);
  return 'report' in result ? concludeWithZod(result, checkWithZod) : result;
}
