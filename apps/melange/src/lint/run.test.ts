import { describe, expect, it } from 'vitest';
import { createRecordingLogger } from '@tk/core';
import { MelangeError } from '../errors.ts';
import { defaultRequiredLinters, defaultWarnLinters } from './linters.ts';
import { formatLintResult, goJson, toMelangeResult } from './results.ts';
import { checkLinterNames, lintFailure, lintPackageTree, resolveLevels } from './run.ts';
import type { LintFile } from './types.ts';

const file = (path: string, mode = 0o644): LintFile => ({
  path,
  type: 'file',
  mode,
  data: new Uint8Array([1]),
});

describe('resolveLevels', () => {
  it('defaults to melange: 8 required linters, 20 warning ones, documentation and empty off', () => {
    const levels = resolveLevels({});
    expect([...levels].filter(([, l]) => l === 'require').map(([n]) => n)).toEqual(defaultRequiredLinters());
    expect([...levels].filter(([, l]) => l === 'warn').map(([n]) => n)).toEqual(defaultWarnLinters());
    expect(levels.size).toBe(28);
    expect(levels.has('empty')).toBe(false);
    // warn linters run first, as in melange
    expect([...levels.values()].indexOf('require')).toBe(20);
  });

  it('--lint-require and --lint-warn replace the lists; a name in both is required', () => {
    const levels = resolveLevels({ require: ['dev', 'strip'], warn: ['strip', 'empty'] });
    expect([...levels]).toEqual([
      ['empty', 'warn'],
      ['dev', 'require'],
      ['strip', 'require'],
    ]);
  });

  it('--disable turns linters off whatever the lists say', () => {
    const levels = resolveLevels({ disable: ['usrmerge', 'strip'] });
    expect(levels.has('usrmerge')).toBe(false);
    expect(levels.has('strip')).toBe(false);
    expect(levels.get('dev')).toBe('require');
  });

  it('checks.disabled lowers required linters to warn; checks.enabled runs off ones at warn', () => {
    const levels = resolveLevels({}, { disabled: ['usrmerge', 'strip'], enabled: ['empty'] });
    expect(levels.get('usrmerge')).toBe('warn');
    expect(levels.get('strip')).toBe('warn');
    expect(levels.get('empty')).toBe('warn');
    expect(levels.get('dev')).toBe('require');
  });
});

describe('checkLinterNames', () => {
  it('names every unknown linter with its flag', () => {
    let error: unknown;
    try {
      checkLinterNames({ require: ['dev', 'nope'], warn: ['strp'], disable: ['config/license'] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MelangeError);
    expect((error as MelangeError).code).toBe('MELANGE_LINT_UNKNOWN_LINTER');
    expect((error as MelangeError).data?.['unknown']).toEqual([
      '--lint-require nope',
      '--lint-warn strp',
      '--disable config/license',
    ]);
    expect(() => checkLinterNames({ disable: ['config/license'] }, ['config/license'])).not.toThrow();
  });
});

describe('lintPackageTree', () => {
  const tree = [file('usr/sbin/tool', 0o755), file('opt/x/y'), file('usr/bin/su', 0o4755)];

  it('reports findings at their level and lists the required failures', () => {
    const result = lintPackageTree(tree, { name: 'tool', fullName: 'tool-1.0-r0', testUses: [] });
    expect(result.package).toBe('tool');
    expect(result.fullName).toBe('tool-1.0-r0');
    expect(result.findings.map((f) => [f.linter, f.level])).toEqual([
      ['opt', 'warn'],
      ['setuidgid', 'require'],
      ['usrmerge', 'require'],
    ]);
    expect(result.failed).toEqual(['setuidgid', 'usrmerge']);
    const failure = lintFailure([result]);
    expect(failure?.code).toBe('MELANGE_LINT_FAILED');
    expect(failure?.message).toBe('required linters failed: tool-1.0-r0: setuidgid, usrmerge');
  });

  it('checks.disabled makes the package pass with warnings; unknown names there are warned about', () => {
    const logger = createRecordingLogger();
    const result = lintPackageTree(
      tree,
      { name: 'tool', testUses: [], checks: { disabled: ['usrmerge', 'setuidgid', 'no-such'] } },
      { logger },
    );
    expect(result.failed).toEqual([]);
    expect(result.findings.map((f) => f.level)).toEqual(['warn', 'warn', 'warn']);
    expect(lintFailure([result])).toBeUndefined();
    expect(logger.messages).toEqual([
      {
        level: 'warn',
        message: 'tool: checks: names an unknown linter "no-such" (ignored)',
        code: 'MELANGE_LINT_UNKNOWN_CHECK',
      },
    ]);
  });

  it('accepts walked files and apk entries alike (leading ./, trailing /, no mode)', () => {
    const result = lintPackageTree(
      [
        { path: './dev/', type: 'directory' },
        { path: './dev/null', type: 'char' },
        { path: '/usr/bin/x', type: 'file' },
      ],
      { name: 'p', testUses: [] },
      { require: ['dev'], warn: [] },
    );
    expect(result.findings[0]?.details).toEqual({ paths: ['dev/null'] });
  });

  it('renders text and melange JSON', () => {
    const result = {
      ...lintPackageTree(tree, { name: 'tool', fullName: 'tool-1.0-r0', testUses: [] }),
      arch: 'x86_64',
    };
    expect(formatLintResult(result)).toEqual([
      'tool-1.0-r0: FAILED (setuidgid, usrmerge)',
      '  [opt] tool writes to /opt (warning)',
      '      - opt/x/y',
      '    → This package should be a -compat package',
      '  [setuidgid] tool contains 1 file with special permissions (setuid/setgid)',
      '      - usr/bin/su (mode: 4755, setuid)',
      '    → Unset the setuid/setgid bit on the relevant files, or remove this linter',
      '  [usrmerge] Package contains paths in violation of usrmerge:',
      '    usr/sbin/tool',
      '    → Move binary to /usr/bin',
    ]);
    expect(Object.keys(toMelangeResult(result).findings)).toEqual(['opt', 'setuidgid', 'usrmerge']);
    expect(goJson({ a: '<&>' })).toBe('{\n  "a": "\\u003c\\u0026\\u003e"\n}');
  });
});
