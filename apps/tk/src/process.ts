/**
 * The one place that reads process globals: runs `tk` with this process's arguments, output and
 * environment. `main.ts` calls it when started as a module; the launcher (`bin/tk.cjs`) calls it from
 * the bundle.
 */
import { FdSink, isTerminal } from './fd-sink.ts';
import { runCli } from './program.ts';

const stdout = new FdSink(1, () => process.stdout);
const stderr = new FdSink(2, () => process.stderr);

/**
 * Run the command line of this process.
 *
 * @returns the exit code for `process.exitCode`
 */
export function runProcess(): Promise<number> {
  return runCli(process.argv.slice(2), {
    cwd: process.cwd(),
    env: process.env,
    stdout,
    stderr,
    isTTY: isTerminal(2, () => process.stderr),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  });
}

/**
 * Output not yet written: bytes that standard output and error had to leave to Node's streams (a full
 * non-blocking pipe). The launcher ends the process at once only when this is 0.
 *
 * @returns the byte count
 */
export function pendingOutput(): number {
  return stdout.pending + stderr.pending;
}
