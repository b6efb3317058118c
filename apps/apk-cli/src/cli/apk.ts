/**
 * The `tk apk` command tree: inspect and verify packages and indexes as apk-tools would.
 */
import { resolve } from 'node:path';
import { Command } from 'commander';
import { ExitError } from '@tk/core';
import type { CliContext } from '@tk/cli';

/**
 * Build the `apk` command.
 *
 * @param ctx - the invocation's context
 * @returns the command with its subcommands
 */
export function apkCommand(ctx: CliContext): Command {
  const apk = new Command('apk').description(
    'inspect and verify apk packages and indexes (apk-tools compatible verdicts)',
  );
  const path = (p: string): string => resolve(ctx.cwd, p);

  apk
    .command('verify')
    .description(
      'verify package (and APKINDEX) signatures: prints FILE: 0 - OK | 0 - UNTRUSTED | -129 - BAD signature',
    )
    .argument('<files...>', '.apk or APKINDEX.tar.gz files')
    .option(
      '--keyring <path>',
      'trusted public key file or directory (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option(
      '--keys-dir <dir>',
      'apk-tools spelling of --keyring',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .action(async (files: string[], opts: { keyring: string[]; keysDir: string[] }) => {
      const { verifyFiles, formatVerdict, keyringFrom } = await import('../commands/verify.ts');
      const keyring = await keyringFrom([...opts.keyring, ...opts.keysDir].map(path), ctx.logger);
      const verdicts = await verifyFiles(files.map(path), keyring, ctx.logger);
      let failed = 0;
      for (const verdict of verdicts) {
        ctx.stdout.write(
          `${formatVerdict({ ...verdict, file: files[verdicts.indexOf(verdict)] ?? verdict.file })}\n`,
        );
        if (verdict.status !== 'OK') {
          failed++;
          ctx.logger.info(
            `  ${files[verdicts.indexOf(verdict)] ?? verdict.file}: ${verdict.reason}${verdict.code === undefined ? '' : ` [${verdict.code}]`}`,
          );
        }
      }
      if (failed > 0) throw new ExitError(Math.min(failed, 100));
    });

  apk
    .command('info')
    .description("show a package file's metadata, scripts, signatures and contents")
    .argument('<file>', '.apk file')
    .option('--json', 'machine-readable output', false)
    .action(async (file: string, opts: { json: boolean }) => {
      const { readPackageInfo, formatPackageInfo, packageInfoJson } = await import('../commands/info.ts');
      const pkg = await readPackageInfo(path(file), ctx.logger);
      ctx.stdout.write(opts.json ? packageInfoJson(pkg) : formatPackageInfo(pkg));
    });

  return apk;
}
