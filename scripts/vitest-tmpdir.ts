/**
 * vitest's global setup: every test of a run makes its temporary files under one folder, removed when the
 * run ends, passed or failed. Tests create folders with `mkdtemp(tmpdir())` and many do not remove them
 * (the end-to-end builds leave guests of up to 1.6 GB each); before this, a day of runs filled the disk.
 * The folder is `$TMPDIR` for the test processes, which vitest starts after this setup, so `os.tmpdir()`
 * returns it everywhere, in the tests and in the tools they run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const previous = process.env['TMPDIR'];
  const dir = mkdtempSync(join(tmpdir(), 'tk-test-run-'));
  process.env['TMPDIR'] = dir;
  return () => {
    if (previous === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = previous;
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };
}
