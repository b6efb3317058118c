/**
 * The `tk melange` command tree: flags and names as melange has them. Each action maps flags to options,
 * lazily imports the library and calls one function.
 */
import { existsSync } from 'node:fs';
import { arch as hostArch, availableParallelism, homedir, tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { stringifyCanonical } from '@tk/core';
import { CliError, type CliContext } from '@tk/cli';
import type { CommonOptions } from '../build/options.ts';
import { addMoreCommands } from './more-commands.ts';

/** tk's version, reported in SBOMs. */
export const MELANGE_TOOL_VERSION = '0.1.0';

const collect = (value: string, previous: string[]): string[] => [
  ...previous,
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== ''),
];
const repeat = (value: string, previous: string[]): string[] => [...previous, value];

/** Flags shared by build, test and compile. */
interface CommonFlags {
  arch: string[];
  runner: string;
  containerRuntime?: string;
  ulimit: string[];
  sourceDir?: string;
  workspaceDir?: string;
  cacheDir: string;
  apkCacheDir?: string;
  keyringAppend: string[];
  repositoryAppend: string[];
  pipelineDir: string[];
  pipelineDirs: string[];
  envFile: string[];
  debug: boolean;
  interactive: boolean;
  ignoreSignatures: boolean;
  offline: boolean;
  network: boolean;
  rm: boolean;
  keepWorkspace: boolean;
}

function addCommonFlags(command: Command): Command {
  return command
    .option(
      '--arch <arch>',
      'architectures (apk or OCI names, comma-separated; "host", "all"); default: the host',
      collect,
      [],
    )
    .option(
      '--runner <runner>',
      'bubblewrap (default), qemu (bubblewrap with qemu-user for foreign arches), podman or docker',
      'bubblewrap',
    )
    .option('--container-runtime <runtime>', 'podman/docker: the OCI runtime (--runtime), e.g. runc')
    .option(
      '--ulimit <type=soft:hard>',
      'podman/docker: a --ulimit for the build container (repeatable)',
      repeat,
      [],
    )
    .option('--source-dir <dir>', "folder copied into the workspace (default: the recipe's folder)")
    .option('--workspace-dir <dir>', 'keep the workspace in DIR/<arch> instead of a temporary folder')
    .option(
      '--cache-dir <dir>',
      'source cache mounted at /var/cache/melange (sha256:<hex> files)',
      './melange-cache/',
    )
    .option(
      '--apk-cache-dir <dir>',
      'cache of downloaded apk packages and pristine guests (default $XDG_CACHE_HOME/tk or ~/.cache/tk)',
    )
    .option('-k, --keyring-append <key>', 'extra public keys for the guest repositories', collect, [])
    .option('-r, --repository-append <repo>', 'extra repositories for the guest', collect, [])
    .option(
      '--pipeline-dir <dir>',
      'folder of custom pipelines, searched before the built-in ones (repeatable)',
      repeat,
      [],
    )
    .option('--pipeline-dirs <dirs>', 'folders of custom pipelines (comma-separated)', collect, [])
    .option(
      '--env-file <file>',
      'dotenv file of variables for every step (repeatable; recipe values win)',
      repeat,
      [],
    )
    .option('--debug', 'trace every command of every step (set -x)', false)
    .option(
      '-i, --interactive',
      'when a step fails, open a shell in its sandbox (exit 0 continues, other exits abort); needs a terminal',
      false,
    )
    .option('--ignore-signatures', 'accept unsigned or untrusted repositories and packages', false)
    .option('--offline', 'download nothing: sources and packages must be in the caches', false)
    .option('--network', 'give the sandbox the host network even when the recipe does not ask for it', false)
    .option('--rm', 'remove the workspace and guest when done (default)', true)
    .option('--no-rm', 'keep the workspace and guest when done')
    .option('--keep-workspace', 'keep the workspace and guest when done (same as --no-rm)', false);
}

async function commonOptions(
  ctx: CliContext,
  configPath: string,
  flags: CommonFlags,
): Promise<CommonOptions> {
  const { runnerFor } = await import('../runner/index.ts');
  const path = (p: string): string => resolve(ctx.cwd, p);
  const isRoot = process.getuid?.() === 0;
  const cliEnv: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'XDG_RUNTIME_DIR', 'DOCKER_HOST', 'DOCKER_CONFIG', 'CONTAINER_HOST']) {
    const value = ctx.env[name];
    if (value !== undefined) cliEnv[name] = value;
  }
  const runner = runnerFor(flags.runner, {
    isRoot,
    hostUser: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
    ...(ctx.env['PATH'] === undefined ? {} : { searchPath: ctx.env['PATH'] }),
    hostArch: hostArch(),
    container: {
      cliEnv,
      ...(flags.containerRuntime === undefined ? {} : { runtime: flags.containerRuntime }),
      ...(flags.ulimit.length === 0 ? {} : { ulimits: flags.ulimit }),
    },
    logger: ctx.logger,
  });
  const interactive = flags.interactive && Boolean(process.stdin.isTTY && process.stderr.isTTY);
  if (flags.interactive && !interactive)
    ctx.logger.warn('--interactive needs a terminal on stdin and stderr; a failing step fails the build');
  return {
    runner,
    configPath: path(configPath),
    archs: flags.arch,
    hostArch: hostArch(),
    ...(flags.sourceDir === undefined ? {} : { sourceDir: path(flags.sourceDir) }),
    ...(flags.workspaceDir === undefined ? {} : { workspaceDir: path(flags.workspaceDir) }),
    cacheDir: path(flags.cacheDir),
    apkCacheDir: path(flags.apkCacheDir ?? defaultCacheDir(ctx)),
    keyringAppend: flags.keyringAppend.map((k) => (/^[a-z]+:\/\//.test(k) ? k : path(k))),
    repositoryAppend: flags.repositoryAppend.map((r) =>
      /^(@\S+\s+)?[a-z]+:\/\//.test(r) || r.startsWith('@') ? r : path(r),
    ),
    pipelineDirs: [...flags.pipelineDir, ...flags.pipelineDirs].map(path),
    envFiles: flags.envFile.map(path),
    debug: flags.debug,
    interactive,
    allowUntrusted: flags.ignoreSignatures,
    offline: flags.offline,
    network: flags.network,
    keepWorkspace: flags.keepWorkspace || !flags.rm,
    env: ctx.env,
    isRoot,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    toolVersion: MELANGE_TOOL_VERSION,
    tempDir: ctx.env['TMPDIR'] ?? tmpdir(),
    logger: ctx.logger,
    onStepOutput: (line) => ctx.logger.info(`  ${line}`),
  };
}

/** tk's download cache, shared with `tk apko`: `$XDG_CACHE_HOME/tk`, else `~/.cache/tk`. */
function defaultCacheDir(ctx: CliContext): string {
  const xdg = ctx.env['XDG_CACHE_HOME'];
  return xdg !== undefined && xdg !== '' ? resolve(xdg, 'tk') : resolve(homedir(), '.cache', 'tk');
}

/** melange's default recipe names, looked up when no file is given. */
function defaultRecipe(ctx: CliContext): string {
  for (const name of ['.melange.yaml', '.melange.yml', 'melange.yaml', 'melange.yml']) {
    if (existsSync(resolve(ctx.cwd, name))) return name;
  }
  throw new CliError(
    'CLI_BAD_FLAG',
    'no recipe given and none of .melange.yaml, .melange.yml, melange.yaml, melange.yml here',
    {
      hint: 'tk melange build path/to/recipe.yaml',
    },
  );
}

function integer(name: string) {
  return (value: string): number => {
    if (!/^[0-9]+$/.test(value))
      throw new CliError('CLI_BAD_FLAG', `${name} must be a whole number, got ${JSON.stringify(value)}`);
    return Number(value);
  };
}

const signatureAlgorithm = new Option(
  '--signature-algorithm <alg>',
  'RSA-SHA256 (melange, apk-tools 2.14) or RSA-SHA1 (older apk-tools, Alpine)',
)
  .choices(['sha256', 'sha1'])
  .default('sha256');

/**
 * Build the `melange` command.
 *
 * @param ctx - the invocation's context (cwd, output streams, logger)
 * @returns the command with its subcommands
 */
export function melangeCommand(ctx: CliContext): Command {
  const melange = new Command('melange').description(
    'build, sign and index apk packages (melange-compatible)',
  );
  const path = (p: string): string => resolve(ctx.cwd, p);

  melange
    .command('keygen')
    .description('generate an RSA key pair for signing packages and indexes: NAME (PKCS#1 PEM) and NAME.pub')
    .argument('[name]', 'private key file to write', 'melange.rsa')
    .option('--key-size <bits>', 'RSA key size in bits (at least 2048)', integer('--key-size'), 4096)
    .option('-f, --force', 'overwrite existing key files', false)
    .action(async (name: string, opts: { keySize: number; force: boolean }) => {
      const { keygen } = await import('../commands/keygen.ts');
      const written = await keygen({ path: path(name), bits: opts.keySize, force: opts.force });
      ctx.logger.info(
        `wrote ${written.privateKeyPath} and ${written.publicKeyPath} (${opts.keySize}-bit RSA)`,
      );
    });

  melange
    .command('index')
    .description('create (or merge into) a signed APKINDEX.tar.gz from apk packages')
    .argument('<apks...>', 'package files')
    .option('-o, --output <file>', 'index file to write', 'APKINDEX.tar.gz')
    .option('-s, --source <file>', 'existing index to merge into (default: the output)')
    .option('-m, --merge', 'merge into the existing index instead of replacing it', false)
    .option('-a, --arch <arch>', 'index only packages of this arch')
    .option('--signing-key <key>', 'private key to sign the index with')
    .addOption(signatureAlgorithm)
    .action(
      async (
        apks: string[],
        opts: { output: string; source?: string; merge: boolean; arch?: string; signingKey?: string },
      ) => {
        const { indexPackages } = await import('../commands/index-packages.ts');
        await indexPackages({
          packages: apks.map(path),
          output: path(opts.output),
          merge: opts.merge,
          ...(opts.source === undefined ? {} : { source: path(opts.source) }),
          ...(opts.arch === undefined ? {} : { arch: opts.arch }),
          ...(opts.signingKey === undefined ? {} : { signingKey: path(opts.signingKey) }),
          logger: ctx.logger,
        });
      },
    );

  melange
    .command('sign')
    .description('sign apk packages in place, replacing any existing signature')
    .argument('<apks...>', 'package files')
    .option('-k, --signing-key <key>', 'private key', 'local-melange.rsa')
    .addOption(signatureAlgorithm)
    .action(async (apks: string[], opts: { signingKey: string; signatureAlgorithm: 'sha256' | 'sha1' }) => {
      const { signPackages } = await import('../commands/sign.ts');
      await signPackages({
        packages: apks.map(path),
        signingKey: path(opts.signingKey),
        algorithm: opts.signatureAlgorithm,
        logger: ctx.logger,
      });
    });

  melange
    .command('sign-index')
    .description('sign an APKINDEX.tar.gz in place')
    .argument('<index>', 'index file')
    .option('--signing-key <key>', 'private key', 'melange.rsa')
    .option('-f, --force', 'replace existing signatures', false)
    .addOption(signatureAlgorithm)
    .action(
      async (
        index: string,
        opts: { signingKey: string; force: boolean; signatureAlgorithm: 'sha256' | 'sha1' },
      ) => {
        const { signIndex } = await import('../commands/sign.ts');
        await signIndex({
          index: path(index),
          signingKey: path(opts.signingKey),
          force: opts.force,
          algorithm: opts.signatureAlgorithm,
          logger: ctx.logger,
        });
      },
    );

  const build = addCommonFlags(
    melange
      .command('build')
      .description(
        'build the packages of a recipe in a sandbox: signed apks and a signed index in OUT-DIR/<arch>/',
      )
      .argument('[config]', 'recipe (default: melange.yaml or .melange.yaml here)'),
  )
    .option('--out-dir <dir>', 'where packages go (OUT-DIR/<arch>/)', './packages/')
    .option('--empty-workspace', 'start with an empty workspace instead of a copy of the source dir', false)
    .option('--signing-key <key>', 'private key to sign the packages and the index with')
    .addOption(signatureAlgorithm)
    .option('-p, --package-append <pkg>', 'extra packages in the build guest', collect, [])
    .option('--vars-file <file>', 'YAML map of variables merged over vars:')
    .option(
      '--secret <name=file>',
      "a build secret: FILE's content as variable NAME of every step, never in any output (repeatable)",
      repeat,
      [],
    )
    .option('--build-option <name>', 'enable a build option of the recipe (repeatable)', repeat, [])
    .option('--build-date <time>', 'RFC 3339 build time when SOURCE_DATE_EPOCH is unset')
    .option('--namespace <ns>', 'namespace for SBOMs and the maintainer field', 'unknown')
    .option('--generate-index', 'update OUT-DIR/<arch>/APKINDEX.tar.gz (default)', true)
    .option('--no-generate-index', 'do not touch the index')
    .option('--strip-origin-name', 'each package is its own origin', false)
    .option(
      '--lint-require <linters>',
      "linters that fail the build (comma-separated; default melange's required set)",
      collect,
    )
    .option(
      '--lint-warn <linters>',
      "linters that only warn (comma-separated; default melange's warning set)",
      collect,
    )
    .option(
      '--persist-lint-results',
      'write OUT-DIR/<arch>/lint-<pkg>-<version>.json for packages with findings',
      false,
    )
    .option('--git-commit <sha>', 'commit of the recipe repository, for the SBOM (default: detected)')
    .option('--git-repo-url <url>', 'URL of the recipe repository, for the SBOM')
    .option('--license <spdx>', 'licence of the recipe file, for the SBOM')
    .option('--timeout <duration>', 'stop the build after this long (Go duration: 30m, 1h)')
    .addOption(
      new Option('--override-host-triplet-libc-substitution-flavor <flavor>', 'libc of ${{host.triplet.*}}')
        .choices(['gnu', 'musl'])
        .default('gnu'),
    )
    .addOption(new Option('--cleanup', 'accepted for melange compatibility (no effect)').hideHelp())
    .addOption(
      new Option('--cache-source <dir>', 'accepted for melange compatibility (no effect)').hideHelp(),
    )
    .addOption(
      new Option('--fail-on-lint-warning', 'accepted for melange compatibility (no effect)').hideHelp(),
    );
  build.action(
    async (
      config: string | undefined,
      flags: CommonFlags & {
        outDir: string;
        emptyWorkspace: boolean;
        signingKey?: string;
        signatureAlgorithm: 'sha256' | 'sha1';
        packageAppend: string[];
        varsFile?: string;
        secret: string[];
        buildOption: string[];
        buildDate?: string;
        namespace: string;
        generateIndex: boolean;
        stripOriginName: boolean;
        lintRequire?: string[];
        lintWarn?: string[];
        persistLintResults: boolean;
        gitCommit?: string;
        gitRepoUrl?: string;
        license?: string;
        timeout?: string;
        overrideHostTripletLibcSubstitutionFlavor: 'gnu' | 'musl';
      },
    ) => {
      const { buildPackages, parseGoDuration } = await import('../build/build.ts');
      let timeoutSeconds: number | undefined;
      if (flags.timeout !== undefined) {
        const ms = parseGoDuration(flags.timeout);
        if (ms === undefined)
          throw new CliError('CLI_BAD_FLAG', `--timeout ${flags.timeout} is not a duration`, {
            hint: 'for example --timeout 45m',
          });
        timeoutSeconds = Math.ceil(ms / 1000);
      }
      const result = await buildPackages({
        ...(await commonOptions(ctx, config ?? defaultRecipe(ctx), flags)),
        outDir: path(flags.outDir),
        emptyWorkspace: flags.emptyWorkspace,
        ...(flags.signingKey === undefined ? {} : { signingKey: path(flags.signingKey) }),
        signatureAlgorithm: flags.signatureAlgorithm,
        packageAppend: flags.packageAppend,
        ...(flags.varsFile === undefined ? {} : { varsFile: path(flags.varsFile) }),
        secrets: flags.secret.map((spec) => {
          const eq = spec.indexOf('=');
          return eq < 0 ? spec : `${spec.slice(0, eq)}=${path(spec.slice(eq + 1))}`;
        }),
        parallel: flags.interactive ? 1 : availableParallelism(),
        buildOptions: flags.buildOption,
        ...(flags.buildDate === undefined ? {} : { buildDate: flags.buildDate }),
        namespace: flags.namespace,
        generateIndex: flags.generateIndex,
        stripOriginName: flags.stripOriginName,
        ...(flags.lintRequire === undefined ? {} : { lintRequire: flags.lintRequire }),
        ...(flags.lintWarn === undefined ? {} : { lintWarn: flags.lintWarn }),
        persistLintResults: flags.persistLintResults,
        ...(flags.gitCommit === undefined ? {} : { gitCommit: flags.gitCommit }),
        ...(flags.gitRepoUrl === undefined ? {} : { gitRepoUrl: flags.gitRepoUrl }),
        ...(flags.license === undefined ? {} : { license: flags.license }),
        ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }),
        hostTripletLibc: flags.overrideHostTripletLibcSubstitutionFlavor,
      });
      for (const arch of result.archs) {
        const phases = Object.entries(arch.timings)
          .map(([k, v]) => `${k} ${v} s`)
          .join(', ');
        ctx.logger.info(`${arch.arch}: ${arch.packages.length} package(s) (${phases})`);
      }
    },
  );

  addCommonFlags(
    melange
      .command('test')
      .description(
        'install each built package (pinned to its version) in a fresh guest and run its test: pipeline',
      )
      .argument('[config]', 'recipe (default: melange.yaml or .melange.yaml here)')
      .argument('[package]', 'test only this package or subpackage'),
  )
    .option('--out-dir <dir>', 'where the built packages are (added as a repository)', './packages/')
    .option('--test-package-append <pkg>', 'extra packages in every test guest', collect, [])
    .addOption(new Option('--test-option <opt>', 'accepted for melange compatibility (no effect)').hideHelp())
    .action(
      async (
        config: string | undefined,
        pkg: string | undefined,
        flags: CommonFlags & { outDir: string; testPackageAppend: string[] },
      ) => {
        const { testPackages, summarizeTests } = await import('../build/test.ts');
        const result = await testPackages({
          ...(await commonOptions(ctx, config ?? defaultRecipe(ctx), flags)),
          outDir: path(flags.outDir),
          testPackageAppend: flags.testPackageAppend,
          ...(pkg === undefined ? {} : { packageName: pkg }),
        });
        summarizeTests(result, ctx.logger);
      },
    );

  melange
    .command('compile')
    .description('print the compiled recipe of one arch as JSON (uses expanded, variables substituted)')
    .argument('[config]', 'recipe (default: melange.yaml or .melange.yaml here)')
    .option('--arch <arch>', 'the arch to compile for (default: the host)')
    .option('--pipeline-dir <dir>', 'folder of custom pipelines (repeatable)', repeat, [])
    .option('--pipeline-dirs <dirs>', 'folders of custom pipelines (comma-separated)', collect, [])
    .option('--build-option <name>', 'enable a build option (repeatable)', repeat, [])
    .option('--env-file <file>', 'dotenv file (repeatable)', repeat, [])
    .option('--vars-file <file>', 'YAML map of variables')
    .action(
      async (
        config: string | undefined,
        flags: {
          arch?: string;
          pipelineDir: string[];
          pipelineDirs: string[];
          buildOption: string[];
          envFile: string[];
          varsFile?: string;
        },
      ) => {
        const { loadRecipe } = await import('../recipe/load.ts');
        const { compileRecipe } = await import('../recipe/compile.ts');
        const { selectArchs } = await import('../build/archs.ts');
        const { readEnvFiles, readVarsFile } = await import('../build/inputs.ts');
        const { recipe } = await loadRecipe(path(config ?? defaultRecipe(ctx)));
        const [arch] = selectArchs(flags.arch === undefined ? [] : [flags.arch], hostArch(), []);
        const compiled = await compileRecipe(recipe, {
          arch: arch!,
          pipelineDirs: [...flags.pipelineDir, ...flags.pipelineDirs].map(path),
          buildOptions: flags.buildOption,
          envFileVars: await readEnvFiles(flags.envFile.map(path)),
          ...(flags.varsFile === undefined ? {} : { varsFile: await readVarsFile(path(flags.varsFile)) }),
        });
        ctx.stdout.write(
          stringifyCanonical(JSON.parse(JSON.stringify(compiled)) as never, { indent: 2 }) + '\n',
        );
      },
    );

  addMoreCommands(melange, ctx);
  return melange;
}
