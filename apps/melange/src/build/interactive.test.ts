import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRecordingLogger } from '@tk/core';
import type { CompiledStep } from '../recipe/types.ts';
import type { Pod, RunRequest, RunResult } from '../runner/types.ts';
import { MelangeError } from '../errors.ts';
import {
  historyLines,
  historyScript,
  interactiveFailureHook,
  INTERACTIVE_PROMPT,
  shellScript,
} from './interactive.ts';
import { runSteps, type StepContext } from './steps.ts';

function step(runs: string, extra: Partial<CompiledStep> = {}): CompiledStep {
  return {
    runs,
    with: {},
    workingDirectory: '/home/build',
    environment: {},
    enabled: true,
    pipeline: [],
    ...extra,
  };
}

/** A pod that records requests; scripts containing `FAIL` exit 1, the tty shell exits `shellExit`. */
function fakePod(shellExit: number): Pod & { requests: RunRequest[] } {
  const requests: RunRequest[] = [];
  return {
    requests,
    run(req: RunRequest): Promise<RunResult> {
      requests.push(req);
      const exitCode = req.tty === true ? shellExit : req.script.includes('FAIL') ? 1 : 0;
      if (exitCode !== 0 && req.tty !== true) req.onOutput?.('it broke\n', 'stderr');
      return Promise.resolve({ exitCode, durationMs: 1 });
    },
    close: () => Promise.resolve(),
  };
}

function context(pod: Pod, extra: Partial<StepContext> = {}): StepContext {
  return { pod, env: { FOO: 'bar' }, packageName: 'pkg', debug: false, ...extra };
}

describe('interactiveFailureHook with runSteps', () => {
  const script = 'echo one\n\n  FAIL "$x" \'q\'\n';
  const steps = [
    step(script, {
      name: 'compile',
      workingDirectory: '/home/build/src',
      environment: { STEP: '1' },
      pipeline: [step('echo child')],
    }),
    step('echo after'),
  ];

  it('writes the history, opens a tty shell at the workdir and continues on exit 0', async () => {
    const pod = fakePod(0);
    const logger = createRecordingLogger();
    const ran = await runSteps(steps, context(pod, { onFailure: interactiveFailureHook(pod, { logger }) }));
    expect(ran).toBe(2);
    const [failed, history, shell, child, after] = pod.requests;
    expect(pod.requests).toHaveLength(5);
    expect(failed?.tty).toBeUndefined();
    // The history: the failed step's non-empty lines, written as the build user before the shell starts.
    expect(history?.tty).toBeUndefined();
    expect(history?.env['TK_FAILED_SCRIPT']).toBe('echo one\n  FAIL "$x" \'q\'');
    expect(history?.env['HOME']).toBe('/home/build');
    expect(history?.script).toContain("> '/home/build/.ash_history'");
    // The shell: same environment as the step, its working directory, the terminal, no history variable.
    expect(shell?.tty).toBe(true);
    expect(shell?.workdir).toBe('/home/build/src');
    expect(shell?.script).toBe(shellScript('/home/build/src'));
    expect(shell?.env).toMatchObject({ FOO: 'bar', STEP: '1', HOME: '/home/build', PS1: INTERACTIVE_PROMPT });
    expect(shell?.env['PATH']).toBeDefined();
    expect(shell?.env).not.toHaveProperty('TK_FAILED_SCRIPT');
    expect(shell?.onOutput).toBeUndefined();
    // Continued as if the step had passed: its children and the next step ran.
    expect(child?.script).toContain('echo child');
    expect(after?.script).toContain('echo after');
    expect(logger.messages.some((m) => m.level === 'warn' && m.message.includes('opening a shell'))).toBe(
      true,
    );
  });

  it('aborts with the original MELANGE_STEP_FAILED on any other exit', async () => {
    const pod = fakePod(1);
    const error = await runSteps(steps, context(pod, { onFailure: interactiveFailureHook(pod) })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MelangeError);
    expect((error as MelangeError).code).toBe('MELANGE_STEP_FAILED');
    expect((error as MelangeError).message).toContain('step "compile"');
    expect((error as MelangeError).message).toContain('it broke');
    expect(pod.requests).toHaveLength(3);
    expect(pod.requests.some((r) => r.script.includes('echo after'))).toBe(false);
  });

  it('uses the step environment HOME for the history', async () => {
    const pod = fakePod(0);
    await runSteps(
      [step('FAIL', { workingDirectory: '/work' })],
      context(pod, { env: { HOME: '/root' }, onFailure: interactiveFailureHook(pod) }),
    );
    expect(pod.requests[1]?.script).toContain("'/root/.ash_history'");
    expect(pod.requests[2]?.env['HOME']).toBe('/root');
    expect(pod.requests[2]?.workdir).toBe('/work');
  });

  it('does not open a shell when the build is already aborted or without the hook', async () => {
    const pod = fakePod(0);
    const controller = new AbortController();
    controller.abort();
    await expect(
      runSteps(
        [step('FAIL')],
        context(pod, { signal: controller.signal, onFailure: interactiveFailureHook(pod) }),
      ),
    ).rejects.toMatchObject({ code: 'MELANGE_STEP_FAILED' });
    expect(pod.requests).toHaveLength(1);
    const plain = fakePod(0);
    await expect(runSteps([step('FAIL')], context(plain))).rejects.toMatchObject({
      code: 'MELANGE_STEP_FAILED',
    });
    expect(plain.requests).toHaveLength(1);
  });

  it('passes the hook the step, workdir, environment and error', async () => {
    const pod = fakePod(0);
    const calls: unknown[][] = [];
    const failing = step('FAIL', { workingDirectory: '/x y', environment: { A: '1' } });
    await runSteps(
      [failing],
      context(pod, {
        onFailure: (...args) => {
          calls.push(args);
          return Promise.resolve('continue');
        },
      }),
    );
    expect(calls).toHaveLength(1);
    const [s, workdir, env, error] = calls[0] as [CompiledStep, string, Record<string, string>, MelangeError];
    expect(s).toBe(failing);
    expect(workdir).toBe('/x y');
    expect(env).toMatchObject({ FOO: 'bar', A: '1' });
    expect(error.code).toBe('MELANGE_STEP_FAILED');
  });
});

describe('history and shell scripts', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('historyLines keeps the non-empty lines of the script', () => {
    expect(historyLines(step('a\n\n   \nb  \n'))).toEqual(['a', 'b  ']);
    expect(historyLines({ ...step(''), runs: undefined })).toEqual([]);
  });

  it('historyScript writes hostile text verbatim into a home with spaces and quotes', () => {
    dir = mkdtempSync(join(tmpdir(), 'tk-interactive-'));
    const home = join(dir, "it's $HOME `x`");
    const text = 'echo "$(id)" `uname` \'q\' \\n %s %%\nrm -rf "$HOME"';
    execFileSync('/bin/sh', ['-c', historyScript(home)], {
      env: { PATH: '/usr/bin:/bin', TK_FAILED_SCRIPT: text },
    });
    expect(readFileSync(join(home, '.ash_history'), 'utf8')).toBe(`${text}\n`);
  });

  it('shellScript quotes the workdir and falls back to /', () => {
    expect(shellScript("/a'b")).toBe("cd '/a'\\''b' 2>/dev/null || cd /\nexec /bin/sh -i");
  });
});
