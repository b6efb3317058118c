/**
 * `tk melange build --interactive` on a real terminal: the built CLI runs in a detached tmux session, a
 * step fails, a shell opens in the sandbox with the failed script in its history; `exit 0` continues the
 * build (the package is written), `exit 1` aborts it (no package). Needs `pnpm exec tsc -b` first (it runs
 * apps/tk/dist/main.js) and tmux (scripts/setup.sh installs it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APK_CACHE, BOOTSTRAP, BOOTSTRAP_KEY, ROOT, buildBench, tempDir } from './helpers.ts';

const bench = buildBench();
const CLI = join(ROOT, 'apps/tk/dist/main.js');

function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const missing = [
  ...(bench.ready ? [] : [bench.reason]),
  ...(hasTmux() ? [] : ['tmux (apt-get install tmux, or ./scripts/setup.sh)']),
  ...(existsSync(CLI) ? [] : ['the built CLI (pnpm exec tsc -b)']),
];

const RECIPE = `package:
  name: itest
  version: 1.0.0
  epoch: 0
  copyright:
    - license: MIT
environment:
  contents:
    packages: [busybox, busybox-binsh, tk-baselayout]
pipeline:
  - runs: |
      mkdir -p \${{targets.destdir}}/etc
      echo hi > \${{targets.destdir}}/etc/itest
  - working-directory: /home/build/sub
    runs: |
      echo about to fail
      false
`;

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

function tmux(...args: string[]): string {
  return execFileSync('tmux', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Poll the pane (or a file) until `check` holds; fails after `seconds`. */
async function waitFor(what: string, check: () => boolean, seconds: number): Promise<void> {
  for (let i = 0; i < seconds * 4; i++) {
    if (check()) return;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(missing.length > 0)(
  `melange build --interactive on a terminal${missing.length > 0 ? ` (skipped: needs ${missing.join(', ')})` : ''}`,
  () => {
    let work: string;
    const sessions: string[] = [];

    beforeAll(() => {
      work = tempDir('interactive');
      writeFileSync(join(work, 'itest.yaml'), RECIPE);
    });
    afterAll(() => {
      for (const s of sessions) {
        try {
          tmux('kill-session', '-t', s);
        } catch {
          // already gone
        }
      }
      rmSync(work, { recursive: true, force: true });
    });

    /** Start the build in tmux, wait for the shell, check the history, send `exitCommand`. */
    async function run(
      name: string,
      exitCommand: string,
    ): Promise<{ exit: number; out: string; pane: string }> {
      const session = `tk-interactive-${process.pid}-${name}`;
      sessions.push(session);
      const out = join(work, `out-${name}`);
      const exitFile = join(work, `exit-${name}`);
      const command = [
        'node',
        CLI,
        'melange',
        'build',
        join(work, 'itest.yaml'),
        '--interactive',
        '--arch',
        'x86_64',
        '-r',
        BOOTSTRAP,
        '-k',
        BOOTSTRAP_KEY,
        '--out-dir',
        out,
        '--cache-dir',
        join(work, 'cache'),
        '--apk-cache-dir',
        APK_CACHE,
      ]
        .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
        .join(' ');
      tmux(
        'new-session',
        '-d',
        '-s',
        session,
        '-x',
        '200',
        '-y',
        '50',
        `cd '${work}' && ${command}; echo EXIT=$? > '${exitFile}'; sleep 600`,
      );
      const pane = (): string => tmux('capture-pane', '-p', '-t', session, '-S', '-200');
      await waitFor('the interactive shell prompt', () => /tk-debug \S+ \$/.test(pane()), 120);
      tmux(
        'send-keys',
        '-t',
        session,
        'test -e /home/build/.ash_history && echo HIST-OK; pwd; cat /home/build/.ash_history',
        'Enter',
      );
      await waitFor('HIST-OK', () => /^HIST-OK$/m.test(pane()), 30);
      tmux('send-keys', '-t', session, exitCommand, 'Enter');
      await waitFor('the build to end', () => existsSync(exitFile), 120);
      const text = pane();
      tmux('kill-session', '-t', session);
      const exit = Number(/EXIT=(\d+)/.exec(readFileSync(exitFile, 'utf8'))?.[1] ?? 'NaN');
      return { exit, out, pane: text };
    }

    it('exit 0 from the shell continues the build, which writes its package', async () => {
      const { exit, out, pane } = await run('continue', 'exit 0');
      expect(pane).toMatch(/^\/home\/build\/sub$/m);
      expect(pane).toContain('continuing as if the step had passed');
      expect(exit).toBe(0);
      expect(readdirSync(join(out, 'x86_64'))).toContain('itest-1.0.0-r0.apk');
      // The history file holds the failed script, line by line.
      expect(pane).toMatch(/^echo about to fail\nfalse$/m);
    }, 300_000);

    it('exit 1 from the shell aborts the build with the step failure and no package', async () => {
      const { exit, out, pane } = await run('abort', 'exit 1');
      expect(exit).not.toBe(0);
      expect(pane).toContain('MELANGE_STEP_FAILED');
      expect(existsSync(join(out, 'x86_64', 'itest-1.0.0-r0.apk'))).toBe(false);
    }, 300_000);
  },
);
