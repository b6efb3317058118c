/**
 * The `tk melange` command tree: flags and names as melange has them. Each action maps flags to options,
 * lazily imports the library and calls one function.
 */
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { CliError, type CliContext } from '@tk/cli';

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

  return melange;
}
