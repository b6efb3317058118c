export { runCli, TK_VERSION } from './program.ts';
export type { RunOptions } from './program.ts';
