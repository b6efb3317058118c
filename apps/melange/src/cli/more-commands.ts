/**
 * `tk melange lint`, `query`, `package-version` and `bump`, with melange's names and flags (melange.md §7).
 * Each action maps flags to options, lazily imports the library and calls one function; output goes to
 * `ctx.stdout` (results) and the logger (progress).
 */
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { CliContext } from '@tk/cli';

const collect = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== ''),
];
const repeat = (value: string, previous: string[]): string[] => [...previous, value];

/** melange's default recipe names, looked up when no file is given. */
async function recipeOrDefault(ctx: CliContext, config: string | undefined): Promise<string> {
  if (config !== undefined) return resolve(ctx.cwd, config);
  const { findDefaultRecipe } = await import('../recipe/load.ts');
  return findDefaultRecipe(ctx.cwd);
}

interface LintFlags {
  lintRequire?: string[];
  lintWarn?: string[];
  disable: string[];
  persistLintResults: boolean;
  outDir: string;
  format: 'text' | 'json';
  pipelineDir: string[];
  pipelineDirs: string[];
}

function addLint(melange: Command, ctx: CliContext): void {
  const path = (p: string): string => resolve(ctx.cwd, p);
  melange
    .command('lint')
    .description(
      'lint built apks (using the .melange.yaml they embed) and recipe YAML files; exits non-zero when a required linter fails',
    )
    .argument('<files...>', '.apk packages and/or recipes')
    .option(
      '--lint-require <linters>',
      'linters that must pass (comma-separated, repeatable; replaces the default list)',
      collect,
    )
    .option(
      '--lint-warn <linters>',
      'linters that only warn (comma-separated, repeatable; replaces the default list)',
      collect,
    )
    .option('--disable <linters>', 'linters not to run (comma-separated, repeatable)', collect, [])
    .option(
      '--persist-lint-results',
      'write findings as JSON to OUT-DIR/<arch>/lint-<name>-<version>-r<epoch>.json',
      false,
    )
    .option('--out-dir <dir>', 'where --persist-lint-results writes', 'packages')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--pipeline-dir <dir>', 'folder of custom pipelines, for recipes (repeatable)', repeat, [])
    .option(
      '--pipeline-dirs <dirs>',
      'folders of custom pipelines, for recipes (comma-separated)',
      collect,
      [],
    )
    .addOption(new Option('--fail-on-lint-warning', 'deprecated in melange (no effect)').hideHelp())
    .addHelpText(
      'after',
      `
Linters (default level): dev, infodir, libtool/la-files, setuidgid, tempdir, usrmerge, varempty, worldwrite
(require); binaryarch, cudaruntimelib, dll, duplicate, dylib, lddcheck, maninfo, nonlinux, object, opt, pkgconf,
python/docs, python/multiple, python/test, sbom, srv, staticarchive, strip, unsupportedarch, usrlocal (warn);
documentation, empty (off). Recipes: config/schema, config/version, config/license, config/empty,
config/pipeline, config/compile (require); config/checks (warn).`,
    )
    .action(async (files: string[], flags: LintFlags) => {
      const { lintFiles, lintResultsJson } = await import('../commands/lint.ts');
      const { formatLintResult } = await import('../lint/results.ts');
      const result = await lintFiles({
        paths: files.map(path),
        ...(flags.lintRequire === undefined ? {} : { require: flags.lintRequire }),
        ...(flags.lintWarn === undefined ? {} : { warn: flags.lintWarn }),
        disable: flags.disable,
        persist: flags.persistLintResults,
        outDir: path(flags.outDir),
        pipelineDirs: [...flags.pipelineDir, ...flags.pipelineDirs].map(path),
        logger: ctx.logger,
      });
      if (flags.format === 'json') ctx.stdout.write(lintResultsJson(result.results));
      else for (const r of result.results) ctx.stdout.write(`${formatLintResult(r).join('\n')}\n`);
      for (const w of result.written) ctx.logger.info(`wrote ${w}`);
      if (result.failure !== undefined) throw result.failure;
    });
}

function addQuery(melange: Command, ctx: CliContext): void {
  melange
    .command('query')
    .description('render a Go template over the parsed recipe, e.g. "{{.Package.Name}}-{{.Package.Version}}"')
    .argument('<config>', 'recipe')
    .argument('<template>', 'Go text/template')
    .action(async (config: string, template: string) => {
      const { queryRecipe } = await import('../commands/query.ts');
      ctx.stdout.write(await queryRecipe(resolve(ctx.cwd, config), template, { logger: ctx.logger }));
    });

  melange
    .command('package-version')
    .description('print name-version-rEPOCH of a recipe')
    .argument('[config]', 'recipe (default: melange.yaml or .melange.yaml here)')
    .action(async (config: string | undefined) => {
      const { packageVersion } = await import('../commands/package-version.ts');
      ctx.stdout.write(await packageVersion(await recipeOrDefault(ctx, config), { logger: ctx.logger }));
    });
}

function addBump(melange: Command, ctx: CliContext): void {
  melange
    .command('bump')
    .description(
      'set a new version (epoch reset to 0, or +1 when unchanged), refresh fetch checksums and expected-commit; edits the file in place',
    )
    .argument('<config>', 'recipe')
    .argument('<version>', 'the new upstream version')
    .option('--expected-commit <sha>', "set the git-checkout step's expected-commit")
    .option(
      '--cache-dir <dir>',
      'source cache (sha256:<hex> files): checksums from it when possible, downloads kept in it',
    )
    .option('--dry-run', 'print the new recipe instead of writing it', false)
    .action(
      async (
        config: string,
        version: string,
        flags: { expectedCommit?: string; cacheDir?: string; dryRun: boolean },
      ) => {
        const { bumpRecipe } = await import('../commands/bump.ts');
        const result = await bumpRecipe({
          configPath: resolve(ctx.cwd, config),
          version,
          ...(flags.expectedCommit === undefined ? {} : { expectedCommit: flags.expectedCommit }),
          ...(flags.cacheDir === undefined ? {} : { cacheDir: resolve(ctx.cwd, flags.cacheDir) }),
          tempDir: ctx.env['TMPDIR'] ?? tmpdir(),
          dryRun: flags.dryRun,
          logger: ctx.logger,
        });
        if (flags.dryRun) ctx.stdout.write(result.text);
      },
    );
}

/**
 * Register `lint`, `query`, `package-version` and `bump` on the `melange` command.
 *
 * @param melange - the `tk melange` command
 * @param ctx - the invocation's context (cwd, env, output streams, logger)
 */
export function addMoreCommands(melange: Command, ctx: CliContext): void {
  addLint(melange, ctx);
  addQuery(melange, ctx);
  addBump(melange, ctx);
}
