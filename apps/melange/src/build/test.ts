/**
 * `tk melange test`: for each package of the recipe (or the one named), a fresh guest from the test's own
 * environment plus the package pinned to its FULL version (melange installs by name: #2194) plus the test
 * pipelines' `needs`, then the test pipeline in the sandbox. Subpackages get their own fresh guest each, so
 * a missing runtime dependency is not hidden by the main package. A package without a test still gets a
 * smoke check — its guest must resolve and install, and a shell must start in it — where melange passes
 * silently (#1690).
 */
import { existsSync, lstatSync } from 'node:fs';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseImageConfig, type ImageConfig } from '@tk/apko';
import { silentLogger, type Logger } from '@tk/core';
import { MelangeError } from '../errors.ts';
import { loadRecipe } from '../recipe/load.ts';
import { compileRecipe } from '../recipe/compile.ts';
import type { CompiledStep } from '../recipe/types.ts';
import { assembleGuest } from '../guest/assemble.ts';
import { createBubblewrapRunner } from '../runner/bubblewrap.ts';
import type { Pod } from '../runner/types.ts';
import { presentLocalRepositories, selectArchs } from './archs.ts';
import { readEnvFiles } from './inputs.ts';
import type { TestOptions } from './options.ts';
import { interactiveFailureHook } from './interactive.ts';
import { runSteps } from './steps.ts';
import { populateWorkspace } from './workspace.ts';

/** The outcome for one package and arch. */
export interface PackageTestResult {
  arch: string;
  package: string;
  version: string;
  /** `test` when a test pipeline ran, `smoke` when the package has none and only the install was checked. */
  kind: 'test' | 'smoke';
  /** Installed packages of the test guest, `name=version`: the resolved test environment (melange #2161). */
  environment: string[];
  seconds: number;
}

/** Test results. */
export interface TestResult {
  results: PackageTestResult[];
}

/**
 * Test the packages of a recipe.
 *
 * @param options - flags and environment
 * @returns one result per package and arch
 * @throws {MelangeError} MELANGE_TEST_FAILED (with the failing step's error as cause)
 */
export async function testPackages(options: TestOptions): Promise<TestResult> {
  const logger = options.logger ?? silentLogger;
  const configPath = resolve(options.configPath);
  const { recipe } = await loadRecipe(configPath);
  const archs = selectArchs(options.archs ?? [], options.hostArch, recipe.package['target-architecture']);
  const envFileVars = await readEnvFiles(options.envFiles ?? []);
  const runner =
    options.runner ??
    createBubblewrapRunner({
      isRoot: options.isRoot,
      logger,
      ...(options.env['PATH'] === undefined ? {} : { searchPath: options.env['PATH'] }),
    });
  for (const arch of archs) await runner.checkUsable({ arch });
  const results: PackageTestResult[] = [];
  for (const arch of archs) {
    const compiled = await compileRecipe(recipe, {
      arch,
      pipelineDirs: [...(options.pipelineDirs ?? [])],
      envFileVars,
    });
    const version = `${compiled.package.version}-r${compiled.package.epoch}`;
    const targets = compiled.packages
      .map((p) => ({ name: p.name, test: p.main ? compiled.test : p.test }))
      .filter((p) => options.packageName === undefined || p.name === options.packageName);
    if (targets.length === 0) {
      throw new MelangeError(
        'MELANGE_TEST_FAILED',
        `the recipe has no package named ${options.packageName ?? ''}`,
        {
          hint: `test one of: ${compiled.packages.map((p) => p.name).join(', ')}`,
        },
      );
    }
    for (const target of targets) {
      const start = performance.now();
      const testEnv: ImageConfig =
        target.test?.environment ?? parseImageConfig('contents: {}\n', { source: 'test' });
      const environment: ImageConfig = {
        ...testEnv,
        contents: {
          ...testEnv.contents,
          packages: [
            ...testEnv.contents.packages,
            `${target.name}=${version}`,
            ...(target.test?.needs ?? []),
            ...(options.testPackageAppend ?? []),
          ],
        },
      };
      const scratch = await mkdtemp(join(options.tempDir, `tk-melange-test-${target.name}-${arch}-`));
      let pod: Pod | undefined;
      try {
        logger.info(
          `${arch}: testing ${target.name}-${version}${target.test === undefined ? ' (no test: install check)' : ''}`,
        );
        const guest = await assembleGuest({
          environment,
          arch,
          repositoryAppend: presentLocalRepositories(
            [resolve(options.outDir), ...(options.repositoryAppend ?? [])],
            arch,
            logger,
          ),
          keyringAppend: [...(options.keyringAppend ?? [])],
          packageAppend: [],
          ...(options.apkCacheDir === undefined ? {} : { cacheDir: options.apkCacheDir }),
          offline: options.offline ?? false,
          allowUntrusted: options.allowUntrusted ?? false,
          baseDir: dirname(configPath),
          dir: join(scratch, 'guest'),
          sourceDateEpoch: 0,
          env: options.env,
          isRoot: options.isRoot,
          logger,
        });
        const workspace = join(scratch, 'workspace');
        if (options.sourceDir !== undefined) await populateWorkspace(resolve(options.sourceDir), workspace);
        else await mkdir(workspace, { recursive: true });
        const hasUser = environment.accounts.users.some((u) => u.uid === 1000);
        const hasShell = existsSync(join(guest.dir, 'bin', 'sh')) || isSymlink(join(guest.dir, 'bin', 'sh'));
        if (!hasShell) {
          if (target.test !== undefined) {
            throw new MelangeError(
              'MELANGE_TEST_FAILED',
              `${arch}: the test environment of ${target.name} has no /bin/sh to run its test steps in`,
              {
                hint: 'add busybox to test.environment.contents.packages, or pass --test-package-append busybox (Wolfi passes wolfi-base)',
              },
            );
          }
          // Nothing to start a shell with: the resolved, installed guest is the install check.
          results.push({
            arch,
            package: target.name,
            version,
            kind: 'smoke',
            environment: guest.packages.map((p) => `${p.name}=${p.version}`),
            seconds: Math.round((performance.now() - start) / 100) / 10,
          });
          continue;
        }
        pod = await runner.start({
          guestDir: guest.dir,
          workspaceDir: workspace,
          user: hasUser ? { uid: 1000, gid: 1000 } : 'root',
          network: options.network ?? false,
          arch,
        });
        const steps: CompiledStep[] = target.test?.pipeline ?? [
          {
            name: 'install check',
            with: {},
            runs: 'true',
            workingDirectory: '/home/build',
            environment: {},
            enabled: true,
            pipeline: [],
          },
        ];
        try {
          await runSteps(
            steps,
            {
              pod,
              env: { ...envFileVars, HOME: hasUser ? '/home/build' : '/root', ...environment.environment },
              packageName: target.name,
              debug: options.debug ?? false,
              onStep: (label) => logger.info(`${arch}: ${target.name}: ${label}`),
              ...(options.onStepOutput === undefined ? {} : { onOutput: options.onStepOutput }),
              ...(options.interactive === true
                ? { onFailure: interactiveFailureHook(pod, { logger, label: `${arch}: ${target.name}` }) }
                : {}),
            },
            'test.pipeline',
          );
        } catch (error) {
          throw new MelangeError(
            'MELANGE_TEST_FAILED',
            `${arch}: test of ${target.name}-${version} failed: ${(error as Error).message}`,
            { hint: 'run with --debug to trace the test steps', cause: error },
          );
        }
        results.push({
          arch,
          package: target.name,
          version,
          kind: target.test === undefined ? 'smoke' : 'test',
          environment: guest.packages.map((p) => `${p.name}=${p.version}`),
          seconds: Math.round((performance.now() - start) / 100) / 10,
        });
      } finally {
        if (pod !== undefined) await pod.close().catch(() => undefined);
        if (options.keepWorkspace !== true) await rm(scratch, { recursive: true, force: true });
      }
    }
  }
  return { results };
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** For the CLI: a one-line summary of a logger-less run. */
export function summarizeTests(result: TestResult, logger: Logger): void {
  for (const r of result.results) {
    logger.info(
      `${r.arch}: ${r.package}-${r.version}: ${r.kind === 'test' ? 'tests passed' : 'installs (no test)'} in ${r.seconds} s`,
    );
  }
}
