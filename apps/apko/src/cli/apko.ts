/**
 * The `tk apko` command tree, with apko's command names and flags. Actions map flags to options,
 * lazily import the build, and call it.
 */
import { statSync } from 'node:fs';
import { homedir, arch as hostArch } from 'node:os';
import { dirname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { ExitError, isTkError, stringifyCanonical, writeFileAtomic } from '@tk/core';
import { CliError, type CliContext } from '@tk/cli';
import type { BuildOptions } from '../build/options.ts';
import { FINDING_CODES } from '../verify/findings.ts';

const collect = (value: string, previous: string[]): string[] => [
  ...previous,
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== ''),
];

interface CommonFlags {
  arch: string[];
  keyringAppend: string[];
  repositoryAppend: string[];
  buildRepositoryAppend: string[];
  packageAppend: string[];
  annotations: string[];
  buildDate?: string;
  lockfile?: string;
  cacheDir?: string;
  layerCache: boolean;
  layerCacheMaxSize?: number;
  layerCompression?: 'libdeflate' | 'zlib';
  offline: boolean;
  ignoreSignatures: boolean;
  includePaths: string[];
  workdir?: string;
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  k: 2 ** 10,
  m: 2 ** 20,
  g: 2 ** 30,
  t: 2 ** 40,
};

/** Parse a size flag: a whole number of bytes, optionally with K, M, G or T (powers of 1024), or "unlimited". */
function byteSize(name: string): (value: string) => number {
  return (value) => {
    if (/^unlimited$/i.test(value.trim())) return Infinity;
    const match = /^([0-9]+)\s*([kmgt]?)(?:i?b)?$/i.exec(value.trim());
    const bytes = match === null ? NaN : Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]!;
    if (!Number.isSafeInteger(bytes))
      throw new CliError(
        'CLI_BAD_FLAG',
        `${name} must be a size such as 500M or 2G, got ${JSON.stringify(value)}`,
        {
          hint: 'a whole number of bytes, or with K, M, G, T (powers of 1024); "unlimited" never evicts',
        },
      );
    return bytes;
  };
}

function addCommonFlags(command: Command): Command {
  return command
    .option(
      '--arch <arch>',
      'architectures to build (apk or OCI names, comma-separated; "host", "all")',
      collect,
      [],
    )
    .option('-k, --keyring-append <key>', 'extra public keys (files or URLs)', collect, [])
    .option('-r, --repository-append <repo>', 'extra repositories, for the build and the image', collect, [])
    .option('-b, --build-repository-append <repo>', 'extra repositories for the build only', collect, [])
    .option('-p, --package-append <pkg>', 'extra packages', collect, [])
    .option('--annotations <key:value>', 'OCI annotations', collect, [])
    .option('--build-date <rfc3339>', 'lower bound of the image time when SOURCE_DATE_EPOCH is unset')
    .option('--lockfile <file>', 'install exactly the packages of this lock file')
    .option(
      '--cache-dir <dir>',
      'download cache and compressed-layer cache (default $XDG_CACHE_HOME/tk or ~/.cache/tk)',
    )
    .option('--no-layer-cache', 'compress layers again instead of reusing them from --cache-dir/layers')
    .option(
      '--layer-cache-max-size <size>',
      'bound of the compressed-layer cache, least recently used layers evicted first: bytes, or K, M, G, T (powers of 1024); "unlimited" never evicts (default 1G)',
      byteSize('--layer-cache-max-size'),
    )
    .addOption(
      new Option(
        '--layer-compression <engine>',
        'deflate engine of image layers: libdeflate (default: a gzip member per 1 MiB block, fastest) or zlib (one gzip member, as gzip -6 and tk before the libdeflate layers write it); both give the same bytes on every machine, different from each other',
      ).choices(['libdeflate', 'zlib']),
    )
    .option('--offline', 'use only cached downloads and local repositories', false)
    .option('--ignore-signatures', 'accept unsigned or untrusted indexes (alias: --allow-untrusted)', false)
    .addOption(new Option('--allow-untrusted').hideHelp().default(false))
    .option('--include-paths <dir>', 'where include: files are searched', collect, [])
    .option(
      '-C, --workdir <dir>',
      'directory relative repository and key paths start from (default: the current one)',
    )
    .addOption(
      new Option('--vcs', 'accepted for apko compatibility; tk never probes git (use vcs-url:)')
        .hideHelp()
        .default(false),
    );
}

function buildOptions(
  ctx: CliContext,
  config: string,
  flags: CommonFlags & { allowUntrusted?: boolean },
): BuildOptions {
  const workdir = resolve(ctx.cwd, flags.workdir ?? '.');
  return {
    configPath: resolve(ctx.cwd, config),
    workdir,
    env: ctx.env,
    hostArch: hostArch(),
    ...(flags.arch.length > 0 ? { archs: flags.arch } : {}),
    keyringAppend: flags.keyringAppend,
    repositoryAppend: flags.repositoryAppend,
    buildRepositoryAppend: flags.buildRepositoryAppend,
    packageAppend: flags.packageAppend,
    annotations: flags.annotations,
    ...(flags.buildDate === undefined ? {} : { buildDate: flags.buildDate }),
    ...(flags.lockfile === undefined ? {} : { lockfile: resolve(ctx.cwd, flags.lockfile) }),
    cacheDir: resolve(ctx.cwd, flags.cacheDir ?? defaultCache(ctx)),
    ...(flags.layerCache ? {} : { layerCache: false }),
    ...(flags.layerCacheMaxSize === undefined ? {} : { layerCacheMaxBytes: flags.layerCacheMaxSize }),
    ...(flags.layerCompression === undefined ? {} : { layerCompression: flags.layerCompression }),
    offline: flags.offline,
    allowUntrusted: flags.ignoreSignatures || flags.allowUntrusted === true,
    includePaths: flags.includePaths.map((p) => resolve(ctx.cwd, p)),
    toolVersion: TOOL_VERSION,
    logger: ctx.logger,
  };
}

function defaultCache(ctx: CliContext): string {
  const xdg = ctx.env['XDG_CACHE_HOME'];
  return xdg !== undefined && xdg !== ''
    ? resolve(xdg, 'tk')
    : resolve(ctx.env['HOME'] ?? homedir(), '.cache', 'tk');
}

/** Wrap a help line at 100 columns, continuation lines indented. */
function wrap(line: string, indent: number, width = 100): string {
  const out: string[] = [];
  let current = '';
  for (const word of line.split(/(?<=\S) (?=\S)/)) {
    if (current !== '' && current.length + 1 + word.length > width) {
      out.push(current);
      current = ' '.repeat(indent) + word;
    } else current = current === '' ? word : `${current} ${word}`;
  }
  out.push(current);
  return out.join('\n');
}

/** tk's version, reported in SBOMs. */
export const TOOL_VERSION = '0.1.0';

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Build the `apko` command.
 *
 * @param ctx - the invocation's context
 * @returns the command with its subcommands
 */
export function apkoCommand(ctx: CliContext): Command {
  const apko = new Command('apko').description(
    'build and publish OCI images from apk packages (apko-compatible)',
  );

  addCommonFlags(
    apko
      .command('build')
      .description(
        'build an image: writes a docker-load tarball (hello:latest-amd64, …) with the OCI index inside, or an OCI layout, plus SPDX SBOMs',
      )
      .argument('<config>', 'apko YAML configuration')
      .argument('<tag>', 'image tag, e.g. hello:latest')
      .argument('<output>', 'tarball file (or an existing directory / --output-format oci for an OCI layout)')
      .addOption(
        new Option(
          '--output-format <format>',
          'docker: a docker/podman load tarball; oci: an image layout directory',
        ).choices(['docker', 'oci']),
      )
      .option('--sbom-path <dir>', 'where SBOMs go (default: next to the output)')
      .option('--no-sbom', 'do not write SBOMs'),
  ).action(
    async (
      config: string,
      tag: string,
      output: string,
      flags: CommonFlags & { outputFormat?: 'docker' | 'oci'; sbomPath?: string; sbom: boolean },
    ) => {
      const { buildImage, summarize } = await import('../build/build.ts');
      const { writeImage, writeSboms } = await import('../build/outputs.ts');
      const { buildSboms } = await import('../build/sbom.ts');
      const out = resolve(ctx.cwd, output);
      const format = flags.outputFormat ?? (isDirectory(out) ? 'oci' : 'docker');
      const result = await buildImage(buildOptions(ctx, config, flags));
      await writeImage(result, { output: out, format, tags: [tag], logger: ctx.logger });
      if (flags.sbom) {
        const dir = resolve(ctx.cwd, flags.sbomPath ?? (format === 'oci' ? out : dirname(out)));
        const written = await writeSboms(
          dir,
          buildSboms(result, [tag], { toolVersion: TOOL_VERSION, logger: ctx.logger }),
        );
        ctx.logger.info(`wrote ${written.length} SBOMs to ${dir}`);
      }
      summarize(result, ctx.logger);
      ctx.stdout.write(`${result.index.index.digest}\n`);
    },
  );

  addCommonFlags(
    apko
      .command('build-minirootfs')
      .description('write the root filesystem of one arch as a tar (gzip when the name ends in .gz)')
      .argument('<config>', 'apko YAML configuration')
      .argument('<output>', 'tar file')
      .option('--build-arch <arch>', 'the arch to build (default: the host)'),
  ).action(async (config: string, output: string, flags: CommonFlags & { buildArch?: string }) => {
    const { buildImage } = await import('../build/build.ts');
    const { writeRootfsTar } = await import('../build/outputs.ts');
    const result = await buildImage(
      buildOptions(ctx, config, { ...flags, arch: [flags.buildArch ?? 'host'] }),
    );
    await writeRootfsTar(result.archs[0]!, resolve(ctx.cwd, output));
  });

  addCommonFlags(
    apko
      .command('show-packages')
      .description('print the resolved packages of each arch')
      .argument('<config>', 'apko YAML configuration')
      .addOption(
        new Option('--format <format>', 'output format')
          .choices(['name-version', 'name=version', 'name version', 'packagelock', 'json'])
          .default('name version'),
      ),
  ).action(async (config: string, flags: CommonFlags & { format: string }) => {
    const { resolveImage } = await import('../build/resolve.ts');
    const { resolved } = await resolveImage(buildOptions(ctx, config, flags));
    if (flags.format === 'json' || flags.format === 'packagelock') {
      const doc = Object.fromEntries(
        resolved.map((r) => [
          r.arch,
          r.packages.map((p) => ({
            name: p.entry.name,
            version: p.entry.version,
            checksum: p.entry.checksum,
            repository: p.repository.name,
            ...(p.pin === undefined ? {} : { pin: p.pin }),
          })),
        ]),
      );
      ctx.stdout.write(stringifyCanonical(doc, { indent: 2, finalNewline: true, htmlEscape: false }));
      return;
    }
    for (const r of resolved) {
      if (resolved.length > 1) ctx.stdout.write(`${r.arch}:\n`);
      for (const p of r.packages) {
        const line =
          flags.format === 'name-version'
            ? `${p.entry.name}-${p.entry.version}`
            : flags.format === 'name=version'
              ? `${p.entry.name}=${p.entry.version}`
              : `${p.entry.name} ${p.entry.version}`;
        ctx.stdout.write(`${resolved.length > 1 ? '  ' : ''}${line}\n`);
      }
    }
  });

  addCommonFlags(
    apko
      .command('lock')
      .description('resolve and write a lock file (<config>.lock.json) that --lockfile can install exactly')
      .argument('<config>', 'apko YAML configuration')
      .option(
        '--output <file>',
        'lock file to write (default: next to the config, .yaml replaced by .lock.json)',
      ),
  ).action(async (config: string, flags: CommonFlags & { output?: string }) => {
    const { resolveImage, lockFileFor } = await import('../build/build.ts');
    const { fetchArchPackages } = await import('../build/assemble.ts');
    const { serializeLockFile } = await import('@tk/solver');
    const { prepared, resolved } = await resolveImage(buildOptions(ctx, config, flags));
    const items = [];
    for (const r of resolved) {
      const fetched = await fetchArchPackages(prepared, r);
      items.push({
        arch: r.arch,
        items: fetched.map((f) => ({
          resolved: f.resolved,
          bytes: f.fetched.bytes,
          sections: f.fetched.pkg.sections,
        })),
      });
    }
    const target = resolve(ctx.cwd, flags.output ?? config.replace(/\.ya?ml$/, '') + '.lock.json');
    await writeFileAtomic(target, serializeLockFile(lockFileFor(prepared, items)));
    ctx.logger.info(`wrote ${target}`);
  });
  apko.addCommand(
    new Command('resolve').description('deprecated alias of lock').action(() => undefined),
    { hidden: true },
  );

  apko
    .command('show-config')
    .description('print the configuration after includes and flags, as JSON')
    .argument('<config>', 'apko YAML configuration')
    .option('--arch <arch>', 'architectures', collect, [])
    .option('-p, --package-append <pkg>', 'extra packages', collect, [])
    .action(async (config: string, flags: { arch: string[]; packageAppend: string[] }) => {
      const { loadImageConfig } = await import('../config/load.ts');
      const { applyBuildOptions } = await import('../config/options.ts');
      const loaded = await loadImageConfig(resolve(ctx.cwd, config), { logger: ctx.logger });
      const merged = applyBuildOptions(loaded.config, {
        hostArch: hostArch(),
        ...(flags.arch.length > 0 ? { archs: flags.arch } : {}),
        packageAppend: flags.packageAppend,
      });
      ctx.stdout.write(
        stringifyCanonical(merged as never, { indent: 2, finalNewline: true, htmlEscape: false }),
      );
    });

  addCommonFlags(
    apko
      .command('publish')
      .description(
        'build an image and push it to a registry: blobs, per-arch manifests by digest, the index to every tag',
      )
      .argument('<config>', 'apko YAML configuration')
      .argument('<tags...>', 'REGISTRY/REPO:TAG references')
      .option('--sbom-path <dir>', 'also write SBOMs to this directory')
      .option('--image-refs <file>', 'write every pushed reference (per-arch and index), one per line')
      .option('--insecure', 'allow plain HTTP to registries that are not on a loopback address', false),
  ).action(
    async (
      config: string,
      tags: string[],
      flags: CommonFlags & { sbomPath?: string; imageRefs?: string; insecure: boolean },
    ) => {
      const { buildImage, summarize } = await import('../build/build.ts');
      const { writeSboms } = await import('../build/outputs.ts');
      const { buildSboms } = await import('../build/sbom.ts');
      const { createDockerKeychain, pushImageIndex } = await import('@tk/oci');
      const result = await buildImage(buildOptions(ctx, config, flags));
      summarize(result, ctx.logger);
      const pushed = await pushImageIndex(tags, result.index, {
        keychain: createDockerKeychain({ env: ctx.env, homedir: ctx.env['HOME'] ?? homedir() }),
        insecure: flags.insecure,
        logger: ctx.logger,
      });
      if (flags.sbomPath !== undefined) {
        await writeSboms(
          resolve(ctx.cwd, flags.sbomPath),
          buildSboms(result, tags, { toolVersion: TOOL_VERSION, logger: ctx.logger }),
        );
      }
      if (flags.imageRefs !== undefined) {
        await writeFileAtomic(
          resolve(ctx.cwd, flags.imageRefs),
          [...pushed.manifests, ...pushed.refs].map((r) => `${r}\n`).join(''),
        );
      }
      for (const tag of pushed.tags) ctx.logger.info(`pushed ${tag}`);
      ctx.stdout.write(`${pushed.refs[0] ?? pushed.digest}\n`);
    },
  );

  apko
    .command('login')
    .description(
      'log in to a registry: checks the credentials, then stores them in the Docker config (~/.docker/config.json)',
    )
    .argument('<registry>', 'registry host, e.g. registry.example.com or localhost:5000')
    .requiredOption('-u, --username <user>', 'user name')
    .option('-p, --password <password>', 'password (prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input', false)
    .option('--insecure', 'allow plain HTTP to a registry that is not on a loopback address', false)
    .action(
      async (
        registry: string,
        flags: { username: string; password?: string; passwordStdin: boolean; insecure: boolean },
      ) => {
        const { login } = await import('@tk/oci');
        let password = flags.password;
        if (flags.passwordStdin) password = (await ctx.readStdin?.())?.replace(/\r?\n$/, '');
        if (password === undefined || password === '') {
          const { CliError } = await import('@tk/cli');
          throw new CliError('CLI_BAD_FLAG', 'no password given', {
            hint: 'pass --password-stdin and pipe the password in, or -p',
          });
        }
        const result = await login(registry, flags.username, password, {
          env: ctx.env,
          homedir: ctx.env['HOME'] ?? homedir(),
          insecure: flags.insecure,
          logger: ctx.logger,
        });
        ctx.logger.info(`logged in to ${result.registry}`);
      },
    );

  apko
    .command('verify-image')
    .description(
      'check that every file of an image belongs to an installed apk package (type, owner, mode, checksum) or is one tk writes, and that its SBOM names exactly the installed packages',
    )
    .argument(
      '<image>',
      'image tarball (tk apko build, docker save, podman save) or OCI layout, or REGISTRY/REPO:TAG (or @sha256:…)',
    )
    .option(
      '--sbom-path <dir>',
      "where sbom-<arch>.spdx.json are (default: the tarball's folder, or the layout; for a registry image or a docker/podman save tarball the SBOM is not checked without it)",
    )
    .option('--no-sbom', 'skip the SBOM check')
    .addOption(new Option('--format <format>', 'report format').choices(['text', 'json']).default('text'))
    .option('--insecure', 'allow plain HTTP to a registry that is not on a loopback address', false)
    .addHelpText(
      'after',
      [
        '',
        'Exit status: 0 when nothing was found, 1 when there are findings, 2 when the image cannot be read',
        'or trusted (a digest mismatch, a malformed image; the error is printed).',
        '',
        'Findings:',
        ...Object.entries(FINDING_CODES).map(([code, meaning]) => wrap(`  ${code.padEnd(22)}${meaning}`, 24)),
      ].join('\n'),
    )
    .action(
      async (
        image: string,
        flags: { sbomPath?: string; sbom: boolean; format: 'text' | 'json'; insecure: boolean },
      ) => {
        const { verifyImage, formatReport, reportJson } = await import('../verify/index.ts');
        const { createDockerKeychain } = await import('@tk/oci');
        let report;
        try {
          report = await verifyImage({
            image,
            cwd: ctx.cwd,
            sbom: flags.sbom,
            ...(flags.sbomPath === undefined ? {} : { sbomPath: flags.sbomPath }),
            keychain: createDockerKeychain({ env: ctx.env, homedir: ctx.env['HOME'] ?? homedir() }),
            insecure: flags.insecure,
            logger: ctx.logger,
          });
        } catch (error) {
          // The image could not be verified at all: say why, and exit 2 (1 means findings).
          if (!isTkError(error)) throw error;
          const { renderError } = await import('@tk/cli');
          renderError(error, ctx.stderr);
          throw new ExitError(2);
        }
        ctx.stdout.write(flags.format === 'json' ? reportJson(report) : formatReport(report));
        if (!report.ok) throw new ExitError(1);
      },
    );

  return apko;
}
