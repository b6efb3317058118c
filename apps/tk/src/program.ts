/**
 * The `tk` program: the melange, apko and apk command trees under one binary, a global `--log-level`,
 * and one error handler. `runCli` runs a command line against a context, so tests run commands in-process.
 */
import { Command, CommanderError, Option } from 'commander';
import { createCliLogger, renderError, type CliContext, type LogLevel, type TextSink } from '@tk/cli';
// The command trees come from the `./cli` subpaths: names, flags and help only. Each action imports its
// implementation when it runs, so `tk --help` or `tk apk verify` never loads the apko build, the HTTP
// client or the schema library (docs/performance.md).
import { melangeCommand } from '@tk/melange/cli';
import { apkCommand } from '@tk/apk-cli/cli';
import { apkoCommand } from '@tk/apko/cli';

/** tk's version. */
export const TK_VERSION = '0.1.0';

/** What a command line runs with, minus the logger (made from the level flag). */
export interface RunOptions {
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  stdout: TextSink;
  stderr: TextSink;
  isTTY?: boolean;
  readStdin?: () => Promise<string>;
}

/** The command groups, in the order `tk --help` lists them. */
const GROUPS: ReadonlyArray<readonly [string, (ctx: CliContext) => Command]> = [
  ['melange', melangeCommand],
  ['apko', apkoCommand],
  ['apk', apkCommand],
];

/**
 * The group a command line runs: its first word, when only `--log-level` comes before it. Undefined for
 * anything else (`--help`, `help`, an unknown word), which needs every group (the listing, suggestions).
 */
function groupOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--log-level') i++;
    else if (!arg.startsWith('--log-level=')) return arg.startsWith('-') ? undefined : arg;
  }
  return undefined;
}

function withExitOverride(command: Command, stdout: TextSink, stderr: TextSink, isTTY: boolean): void {
  command.exitOverride();
  command.configureOutput({
    writeOut: (s) => void stdout.write(s),
    writeErr: (s) => void stderr.write(s),
    // Off a terminal, help is wrapped at a fixed width so generated docs do not depend on the window.
    ...(isTTY ? {} : { getOutHelpWidth: () => 100, getErrHelpWidth: () => 100 }),
  });
  for (const sub of command.commands) withExitOverride(sub, stdout, stderr, isTTY);
}

/**
 * Run one command line.
 *
 * @param argv - arguments after the program name
 * @param options - working directory, environment, output streams
 * @returns the exit code
 */
export async function runCli(argv: readonly string[], options: RunOptions): Promise<number> {
  const envLevel = options.env['TK_LOG_LEVEL'];
  const ctx: CliContext = {
    cwd: options.cwd,
    env: options.env,
    stdout: options.stdout,
    stderr: options.stderr,
    isTTY: options.isTTY ?? false,
    logLevel: (envLevel as LogLevel | undefined) ?? 'info',
    logger: createCliLogger(options.stderr, { level: 'info', isTTY: options.isTTY ?? false }),
    ...(options.readStdin === undefined ? {} : { readStdin: options.readStdin }),
  };
  const program = new Command('tk')
    .description('build apk packages (melange) and OCI images (apko), reproducibly')
    .version(TK_VERSION, '--version')
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['debug', 'info', 'warn', 'error'])
        .default(ctx.logLevel),
    )
    .showHelpAfterError()
    .hook('preAction', (thisCommand) => {
      const level = thisCommand.opts<{ logLevel: LogLevel }>().logLevel;
      ctx.logLevel = level;
      ctx.logger = createCliLogger(options.stderr, { level, isTTY: ctx.isTTY });
    });
  // Only the group the command line runs is built (about 2 ms for melange's tree, in a fresh process).
  const group = groupOf(argv);
  const only = GROUPS.some(([name]) => name === group);
  for (const [name, build] of GROUPS) if (!only || name === group) program.addCommand(build(ctx));
  withExitOverride(program, options.stdout, options.stderr, options.isTTY ?? false);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (
      error instanceof CommanderError &&
      (error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help')
    )
      return 0;
    return renderError(error, options.stderr);
  }
}
