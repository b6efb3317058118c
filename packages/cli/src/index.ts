export { LOG_LEVELS } from './context.ts';
export type { CliContext, LogLevel, TextSink } from './context.ts';
export { createCliLogger, parseLogLevel } from './logger.ts';
export { renderError, CliError } from './errors.ts';
export type { CliErrorCode } from './errors.ts';
