/**
 * Sources of `fetch` steps: prefetching into the melange cache on the host (checked by checksum) and
 * judging archives before the sandbox extracts them.
 */
export { prefetchSources } from './fetch.ts';
export type { PrefetchOptions, FetchedSource } from './fetch.ts';
export { checkArchive } from './archive-check.ts';
export type { ArchiveCheckOptions, ArchiveCheckResult, UncheckedFormat } from './archive-check.ts';
export type { SourceFetch, SourceRequest, SourceResponse } from './download.ts';
export { prefetchGitSources, gitConfigEnv, classifyRepository, mirrorKey } from './git.ts';
export type { GitPrefetchOptions, GitPrefetchResult, GitMirror, GitRepositoryKind } from './git.ts';
