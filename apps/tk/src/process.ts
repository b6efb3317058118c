/**
 * The one place that reads process globals: runs `tk` with this process's arguments, streams and
 * environment. `main.ts` calls it when started as a module; the start-up snapshot (scripts/bundle.mjs)
 * calls it from its deserialized main function.
 */
import { runCli } from './program.ts';

/**
 * Run the command line of this process.
 *
 * @returns the exit code for `process.exitCode`
 */
export function runProcess(): Promise<number> {
  return runCli(process.argv.slice(2), {
    cwd: process.cwd(),
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: process.stderr.isTTY,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  });
}
