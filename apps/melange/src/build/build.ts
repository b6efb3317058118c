/**
 * `tk melange build`: recipe → compiled pipelines → sources in the cache → guest root → sandboxed steps →
 * packages (SCA, SBOM, `.melange.yaml`, signature) → the arch's signed index, updated under a lock.
 * Arches are built one after the other; a failure leaves no package and no index change for its arch.
 */
import { mkdtemp, mkdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { silentLogger, type Logger } from '@tk/core';
import { MelangeError } from '../errors.ts';
import { loadRecipe } from '../recipe/load.ts';
import { compileRecipe } from '../recipe/compile.ts';
import { renderCompiledRecipe } from '../recipe/render.ts';
import type { CompiledRecipe, CompiledStep, Recipe } from '../recipe/types.ts';
import { prefetchSources, type FetchedSource } from '../source/fetch.ts';
import { gitConfigEnv, prefetchGitSources } from '../source/git.ts';
import { assembleGuest, type Guest } from '../guest/assemble.ts';
import { createBubblewrapRunner } from '../runner/bubblewrap.ts';
import type { Pod, Runner } from '../runner/types.ts';
import { emitPackages, walkPackages, type EmittedPackage } from '../package/emit.ts';
import { updateIndex } from '../package/index-update.ts';
import { presentLocalRepositories, selectArchs } from './archs.ts';
import { gitInfo, readEnvFiles, readSecrets, readVarsFile, redactor, sourceDateEpoch } from './inputs.ts';
import { refuseLeaks } from './leaks.ts';
import {
  formatLintResult,
  lintFailure,
  lintPackageTree,
  lintTargetOf,
  persistLintResults,
  type PackageLintResult,
} from '../lint/index.ts';
import type { ApkInputFile } from '@tk/apk';
import type { BuildOptions } from './options.ts';
import { interactiveFailureHook } from './interactive.ts';
import { runSteps } from './steps.ts';
import { populateWorkspace } from './workspace.ts';

/** What one arch's build produced. */
export interface ArchResult {
  arch: string;
  packages: EmittedPackage[];
  /** The index written, when `generateIndex`. */
  index?: string;
  /** Seconds spent per phase. */
  timings: Record<string, number>;
}

/** What a build produced. */
export interface BuildResult {
  recipe: Recipe;
  sourceDateEpoch: number;
  archs: ArchResult[];
}

/** The user the steps run as: `environment.accounts.run-as`, else the `build` user (uid 1000). */
export function buildUser(compiled: CompiledRecipe): { uid: number; gid: number } | 'root' {
  const accounts = compiled.environment.accounts;
  const runAs = accounts['run-as'];
  if (runAs === undefined || runAs === '') return { uid: 1000, gid: 1000 };
  if (runAs === 'root' || runAs === '0') return 'root';
  const user = accounts.users.find((u) => u.username === runAs || String(u.uid) === runAs);
  if (user === undefined) {
    if (/^[0-9]+$/.test(runAs)) return { uid: Number(runAs), gid: Number(runAs) };
    throw new MelangeError(
      'MELANGE_STEP_FAILED',
      `environment.accounts.run-as names "${runAs}", which is not a user of the build environment`,
      {
        hint: 'add the user to environment.accounts.users, or remove run-as to build as the `build` user (uid 1000)',
      },
    );
  }
  if (user.uid === 0) return 'root';
  return { uid: user.uid, gid: user.gid ?? user.uid };
}

/** Every compiled step of the build (main and subpackage pipelines), for source prefetching. */
function allSteps(compiled: CompiledRecipe): CompiledStep[] {
  return [...compiled.pipeline, ...compiled.packages.flatMap((p) => p.pipeline)];
}

function seconds(start: number): number {
  return Math.round((performance.now() - start) / 100) / 10;
}

/** A Go duration (`1h30m`, `45s`) in milliseconds. */
export function parseGoDuration(text: string): number | undefined {
  const re = /([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/gy;
  const unit: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  let total = 0;
  let end = 0;
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * unit[m[2]!]!;
    end = m.index + m[0].length;
  }
  return end === text.length && text.length > 0 ? total : undefined;
}

/**
 * Build every package of a recipe for every selected arch.
 *
 * @param options - flags and environment
 * @returns the packages written per arch
 */
export async function buildPackages(options: BuildOptions): Promise<BuildResult> {
  const logger = options.logger ?? silentLogger;
  const configPath = resolve(options.configPath);
  const { recipe } = await loadRecipe(configPath);
  const archs = selectArchs(options.archs ?? [], options.hostArch, recipe.package['target-architecture']);
  const git = await gitInfo(configPath);
  const sde = sourceDateEpoch(options.env, options.buildDate, git.time, logger);
  const envFileVars = await readEnvFiles(options.envFiles ?? []);
  const secrets = await readSecrets(options.secrets ?? []);
  const varsFile = options.varsFile === undefined ? undefined : await readVarsFile(options.varsFile);
  const runner =
    options.runner ??
    createBubblewrapRunner({
      isRoot: options.isRoot,
      logger,
      ...(options.env['PATH'] === undefined ? {} : { searchPath: options.env['PATH'] }),
    });
  for (const arch of archs) await runner.checkUsable({ arch });
  const context: Omit<ArchContext, 'abort'> = {
    options,
    configPath,
    sde,
    envFileVars,
    secrets,
    ...(varsFile === undefined ? {} : { varsFile }),
    commit: options.gitCommit ?? recipe.package.commit ?? git.commit,
    ...(git.path === undefined ? {} : { recipeRepoPath: git.path }),
    runner,
    logger,
  };
  // Arches build side by side, `parallel` at a time; the first failure stops the others' steps.
  const abort = new AbortController();
  const results = new Map<string, ArchResult>();
  const queue = [...archs];
  const failures: unknown[] = [];
  const worker = async (): Promise<void> => {
    for (let arch = queue.shift(); arch !== undefined; arch = queue.shift()) {
      if (abort.signal.aborted) return;
      try {
        results.set(arch, await buildArch(recipe, arch, { ...context, abort: abort.signal }));
      } catch (error) {
        failures.push(error);
        abort.abort();
      }
    }
  };
  const lanes = options.interactive === true ? 1 : Math.max(1, Math.min(options.parallel ?? 1, archs.length));
  await Promise.all(Array.from({ length: lanes }, worker));
  if (failures.length > 0) throw failures[0];
  return { recipe, sourceDateEpoch: sde, archs: archs.map((a) => results.get(a)!) };
}

interface ArchContext {
  options: BuildOptions;
  configPath: string;
  sde: number;
  envFileVars: Record<string, string>;
  /** `--secret` values: in the steps' environment only. */
  secrets: Record<string, string>;
  varsFile?: Record<string, string>;
  /** Set when another arch's build failed. */
  abort: AbortSignal;
  commit: string | undefined;
  /** The recipe's path inside its git repository (the SBOM's config purl), when it is in one. */
  recipeRepoPath?: string;
  runner: Runner;
  logger: Logger;
}

async function buildArch(recipe: Recipe, arch: string, ctx: ArchContext): Promise<ArchResult> {
  const { options, logger } = ctx;
  const timings: Record<string, number> = {};
  let t = performance.now();
  const compiled = await compileRecipe(recipe, {
    arch,
    pipelineDirs: [...(options.pipelineDirs ?? [])],
    buildOptions: [...(options.buildOptions ?? [])],
    envFileVars: ctx.envFileVars,
    sourceDateEpoch: ctx.sde,
    ...(ctx.varsFile === undefined ? {} : { varsFile: ctx.varsFile }),
    ...(options.hostTripletLibc === undefined ? {} : { hostTripletLibc: options.hostTripletLibc }),
  });
  const pkg = compiled.package;
  const fullVersion = `${pkg.version}-r${pkg.epoch}`;
  logger.info(
    `${arch}: building ${pkg.name}-${fullVersion} (${compiled.packages.length} package${compiled.packages.length === 1 ? '' : 's'})`,
  );
  timings['compile'] = seconds(t);

  t = performance.now();
  // The cache folder is made only when a source is stored in it (prefetchSources, prefetchGitSources): like
  // melange, a build that stores nothing leaves no empty ./melange-cache behind, and the guest's
  // /var/cache/melange is mounted only when the folder exists.
  const sources: FetchedSource[] = await prefetchSources(allSteps(compiled), {
    cacheDir: options.cacheDir,
    offline: options.offline ?? false,
    logger,
  });
  const gitSources = await prefetchGitSources(allSteps(compiled), {
    cacheDir: options.cacheDir,
    offline: options.offline ?? false,
    logger,
    env: options.env,
  });
  timings['sources'] = seconds(t);

  const scratch = await mkdtemp(join(options.tempDir, `tk-melange-${pkg.name}-${arch}-`));
  const workspace =
    options.workspaceDir === undefined
      ? join(scratch, 'workspace')
      : join(resolve(options.workspaceDir), arch);
  let keep = options.keepWorkspace ?? false;
  let pod: Pod | undefined;
  try {
    t = performance.now();
    const guest: Guest = await assembleGuest({
      environment: compiled.environment,
      arch,
      repositoryAppend: presentLocalRepositories(options.repositoryAppend ?? [], arch, logger),
      keyringAppend: [...(options.keyringAppend ?? [])],
      packageAppend: [...(options.packageAppend ?? [])],
      ...(options.apkCacheDir === undefined ? {} : { cacheDir: options.apkCacheDir }),
      offline: options.offline ?? false,
      allowUntrusted: options.allowUntrusted ?? false,
      baseDir: dirname(ctx.configPath),
      dir: join(scratch, 'guest'),
      sourceDateEpoch: ctx.sde,
      env: options.env,
      isRoot: options.isRoot,
      logger,
    });
    timings['guest'] = seconds(t);

    t = performance.now();
    await rm(workspace, { recursive: true, force: true });
    if (options.emptyWorkspace === true) await mkdir(workspace, { recursive: true });
    else {
      const sourceDir = resolve(options.sourceDir ?? dirname(ctx.configPath));
      const exclude = [options.outDir, options.cacheDir, options.workspaceDir, options.apkCacheDir, scratch]
        .filter((p): p is string => p !== undefined)
        .map((p) => resolve(p));
      const copied = await populateWorkspace(sourceDir, workspace, { exclude });
      logger.debug(`${arch}: copied ${copied} files from ${sourceDir} into the workspace`);
    }
    for (const p of compiled.packages)
      await mkdir(join(workspace, 'melange-out', p.name), { recursive: true });
    timings['workspace'] = seconds(t);

    const network = options.network === true || compiled.recipe.capabilities.networking === true;
    pod = await ctx.runner.start({
      guestDir: guest.dir,
      workspaceDir: workspace,
      ...((await isDir(options.cacheDir)) ? { cacheDir: resolve(options.cacheDir) } : {}),
      user: buildUser(compiled),
      network,
      capabilities: { add: compiled.recipe.capabilities.add, drop: compiled.recipe.capabilities.drop },
      arch,
    });
    const env: Record<string, string> = {
      ...ctx.envFileVars,
      ...compiled.environment.environment,
      ...gitConfigEnv(gitSources.config, compiled.environment.environment),
      SOURCE_DATE_EPOCH: String(ctx.sde),
      ...ctx.secrets,
    };
    const hidden = [...Object.values(ctx.envFileVars), ...Object.values(ctx.secrets)];
    const redact = redactor(hidden);
    const timeoutMs =
      options.timeoutSeconds !== undefined && options.timeoutSeconds > 0
        ? options.timeoutSeconds * 1000
        : pkg.timeout === undefined
          ? undefined
          : parseGoDuration(pkg.timeout);
    const abort = new AbortController();
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => abort.abort(), timeoutMs);
    const onOtherFailure = (): void => abort.abort();
    ctx.abort.addEventListener('abort', onOtherFailure);
    t = performance.now();
    try {
      const stepCtx = {
        pod,
        env,
        debug: options.debug ?? false,
        signal: abort.signal,
        onStep: (label: string) => logger.info(`${arch}: ${label}`),
        redact,
        ...(options.onStepOutput === undefined ? {} : { onOutput: options.onStepOutput }),
        ...(options.interactive === true
          ? { onFailure: interactiveFailureHook(pod, { logger, label: arch }) }
          : {}),
      };
      await runSteps(compiled.pipeline, { ...stepCtx, packageName: pkg.name });
      for (const sub of compiled.packages.filter((p) => !p.main)) {
        await runSteps(
          sub.pipeline,
          { ...stepCtx, packageName: sub.name },
          `subpackages[${sub.name}].pipeline`,
        );
      }
    } catch (error) {
      if (abort.signal.aborted && ctx.abort.aborted) throw error;
      if (abort.signal.aborted) {
        throw new MelangeError(
          'MELANGE_BUILD_TIMEOUT',
          `${arch}: the build of ${pkg.name} ran out of its ${Math.round((timeoutMs ?? 0) / 1000)} s`,
          {
            hint: 'raise --timeout or package.timeout',
            cause: error,
          },
        );
      }
      throw error;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      ctx.abort.removeEventListener('abort', onOtherFailure);
    }
    timings['pipelines'] = seconds(t);
    await refuseLeaks(join(workspace, 'melange-out'), hidden);
    // The pod gives the workspace back first (a container runner lends it to the build user), so the walk
    // sees the owners the packages record. One walk serves the linters and the packages.
    await pod.close();
    pod = undefined;
    t = performance.now();
    const mapOwner = (uid: number, gid: number): { uid: number; gid: number } => ({
      uid: uid === options.uid ? 0 : uid,
      gid: gid === options.gid ? 0 : gid,
    });
    const walked = await walkPackages({
      compiled,
      outputRoot: join(workspace, 'melange-out'),
      mapOwner,
      users: guest.users,
      groups: guest.groups,
    });
    await lintOutputs(compiled, arch, walked, options, logger);
    timings['lint'] = seconds(t);

    t = performance.now();
    const locked = Object.fromEntries(guest.packages.map((p) => [p.name, p.version]));
    const embedded = renderCompiledRecipe(compiled, { locked });
    const emitted = await emitPackages({
      compiled,
      arch,
      outputRoot: join(workspace, 'melange-out'),
      outDir: join(resolve(options.outDir), arch),
      sourceDateEpoch: ctx.sde,
      embeddedConfig: embedded,
      namespace: options.namespace ?? 'unknown',
      stripOriginName: options.stripOriginName ?? false,
      users: guest.users,
      groups: guest.groups,
      mapOwner,
      walked,
      sources,
      config: {
        path: ctx.recipeRepoPath ?? basename(ctx.configPath),
        ...(options.gitRepoUrl === undefined ? {} : { repository: options.gitRepoUrl }),
        ...(ctx.commit === undefined ? {} : { commit: ctx.commit }),
        ...(options.license === undefined ? {} : { license: options.license }),
      },
      ...(options.signingKey === undefined ? {} : { signingKey: resolve(options.signingKey) }),
      ...(options.signatureAlgorithm === undefined ? {} : { signatureAlgorithm: options.signatureAlgorithm }),
      toolVersion: options.toolVersion,
      logger,
    });
    timings['package'] = seconds(t);
    for (const p of emitted) logger.info(`${arch}: wrote ${p.path}`);

    let index: string | undefined;
    if (options.generateIndex ?? true) {
      t = performance.now();
      index = await updateIndex({
        archDir: join(resolve(options.outDir), arch),
        packages: emitted.map((p) => p.path),
        arch,
        ...(options.signingKey === undefined ? {} : { signingKey: resolve(options.signingKey) }),
        ...(options.signatureAlgorithm === undefined
          ? {}
          : { signatureAlgorithm: options.signatureAlgorithm }),
        logger,
      });
      timings['index'] = seconds(t);
    }
    return { arch, packages: emitted, ...(index === undefined ? {} : { index }), timings };
  } catch (error) {
    if (options.keepWorkspace === true) keep = true;
    throw error;
  } finally {
    if (pod !== undefined) await pod.close().catch(() => undefined);
    if (keep) logger.info(`${arch}: kept the workspace ${workspace} and guest ${join(scratch, 'guest')}`);
    else {
      await rm(scratch, { recursive: true, force: true });
      if (options.workspaceDir === undefined) await rm(workspace, { recursive: true, force: true });
    }
  }
}

/** Run the linters over each package's output tree (melange.md §8); a failed required linter fails the build. */
async function lintOutputs(
  compiled: CompiledRecipe,
  arch: string,
  walked: ReadonlyMap<string, ApkInputFile[]>,
  options: BuildOptions,
  logger: Logger,
): Promise<void> {
  const fullVersion = `${compiled.package.version}-r${compiled.package.epoch}`;
  const results: PackageLintResult[] = [];
  for (const pkg of compiled.packages) {
    const files = walked.get(pkg.name) ?? [];
    const result = {
      ...lintPackageTree(files, lintTargetOf(pkg, fullVersion), {
        ...(options.lintRequire === undefined ? {} : { require: options.lintRequire }),
        ...(options.lintWarn === undefined ? {} : { warn: options.lintWarn }),
        logger,
      }),
      arch,
    };
    // A clean package is news at info level; findings are warnings.
    const report = (line: string): void =>
      result.findings.length === 0
        ? logger.info(`${arch}: lint ${line}`)
        : logger.warn(`${arch}: ${line}`, 'MELANGE_LINT');
    for (const line of formatLintResult(result)) report(line);
    results.push(result);
  }
  if (options.persistLintResults === true) await persistLintResults(results, resolve(options.outDir));
  const failure = lintFailure(results);
  if (failure !== undefined) throw failure;
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Path separator-safe check that `child` is inside `parent`. */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !rel.startsWith(sep);
}
