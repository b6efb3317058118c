/**
 * Test helper: compile tiny C programs and a shared library with the host's C compiler, for tests that need
 * real ELF files linked against the host's libc. Tests skip (with this reason) when there is no compiler.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The compiler to use, or undefined when `cc` does not run. */
export function findCompiler(): string | undefined {
  for (const cc of ['cc', 'gcc', 'clang']) {
    try {
      execFileSync(cc, ['--version'], { stdio: 'ignore' });
      return cc;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

/** Why compiler tests are skipped. */
export const NO_COMPILER = 'no C compiler (cc, gcc or clang) on this machine: apt-get install -y gcc';

/** Paths of the compiled fixtures. */
export interface CompiledFixtures {
  /** `hello`: a program linked against libc only. */
  hello: string;
  /** `libfoo.so.1.2.3` with SONAME `libfoo.so.1`. */
  libfoo: string;
  /** `usefoo`: a program linked against libfoo (DT_NEEDED libfoo.so.1) and libc. */
  usefoo: string;
}

/**
 * Compile the fixtures into a folder.
 *
 * @param cc - the compiler
 * @param dir - where to put sources and outputs
 * @returns the output paths
 */
export function compileFixtures(cc: string, dir: string): CompiledFixtures {
  writeFileSync(join(dir, 'hello.c'), '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n');
  writeFileSync(join(dir, 'foo.c'), 'int foo(void) { return 42; }\n');
  writeFileSync(join(dir, 'usefoo.c'), 'int foo(void);\nint main(void) { return foo() == 42 ? 0 : 1; }\n');
  const run = (args: string[]): void => void execFileSync(cc, args, { cwd: dir, stdio: 'pipe' });
  run(['-O1', '-o', 'hello', 'hello.c']);
  run(['-O1', '-shared', '-fPIC', '-Wl,-soname,libfoo.so.1', '-o', 'libfoo.so.1.2.3', 'foo.c']);
  execFileSync('ln', ['-sf', 'libfoo.so.1.2.3', 'libfoo.so'], { cwd: dir });
  run(['-O1', '-o', 'usefoo', 'usefoo.c', '-L.', '-lfoo']);
  return { hello: join(dir, 'hello'), libfoo: join(dir, 'libfoo.so.1.2.3'), usefoo: join(dir, 'usefoo') };
}
