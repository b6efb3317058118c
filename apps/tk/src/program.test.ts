import { describe, expect, it } from 'vitest';
import { runCli } from './program.ts';

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    cwd: process.cwd(),
    env: {},
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, stdout, stderr };
}

describe('runCli builds the command groups a command line needs', () => {
  it('lists every group in the program help', async () => {
    const { code, stdout } = await run('--help');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ {2}melange .*\n {2}apko .*\n {2}apk .*$/m);
  });

  it.each([
    [['apko', '--help']],
    [['--log-level', 'debug', 'apko', '--help']],
    [['--log-level=warn', 'apko', '--help']],
    [['help', 'apko']],
  ])('gives the same apko help for %j', async (argv) => {
    const { code, stdout } = await run(...argv);
    expect(code).toBe(0);
    expect(stdout).toBe((await run('apko', '--help')).stdout);
    expect(stdout).toMatch(/^Usage: tk apko /);
    expect(stdout).toContain('show-packages');
  });

  it.each(['melange', 'apk'])(
    'gives %s the same help built alone (tk %s --help) as with every group (tk help %s)',
    async (group) => {
      const alone = await run(group, '--help');
      expect(alone.stdout).toMatch(new RegExp(`^Usage: tk ${group} `));
      expect(alone.stdout).toBe((await run('help', group)).stdout);
    },
  );

  it('prints the version whichever groups are built', async () => {
    expect((await run('--version', 'apko')).stdout).toBe('0.1.0\n');
    expect((await run('apk', '--version')).stdout).toBe('0.1.0\n');
  });

  it('suggests a group for an unknown word, and refuses an unknown option before the group', async () => {
    const typo = await run('apkox', 'build');
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toMatch(/unknown command 'apkox'[\s\S]*Did you mean apko\?/);
    const option = await run('--bogus', 'apko');
    expect(option.code).not.toBe(0);
    expect(option.stderr).toMatch(/unknown option '--bogus'/);
  });
});
