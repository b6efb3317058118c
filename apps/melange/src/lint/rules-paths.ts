/**
 * Linters that look only at paths (melange `pkg/linter/linters/*.go`): where files go, what they are named.
 *
 * Deviations from melange, on purpose:
 * - `infodir` looks for the file `usr/share/info/dir` (what its explanation and melange.md §8 describe);
 *   melange tests the prefix `usr/share/info/dir/`, which the file never matches, so melange never fires.
 * - `usrmerge` reports every path at or under `bin`, `sbin`, `lib`, `lib64`, `usr/sbin`; melange's walk skips
 *   the rest of a folder after the first file outside those, so it can miss some.
 * - `empty` skips packages with `options.no-provides` (melange's TODO).
 */
import { allPaths, type LinterContext, type LinterFailure } from './rule.ts';
import { goExt, isIgnoredPath, plural } from './tree.ts';

/** Man pages (melange `ManRegex`). */
export const MAN_REGEX =
  /^usr\/(?:local\/)?share\/man(?:\/man[0-9][^/]*)?(?:\/[^/]+\.[0-9][^/]*(?:\.(?:gz|bz2|xz|lzma|Z))?)?$|^usr\/man(?:\/man[0-9][^/]*)?(?:\/[^/]+\.[0-9][^/]*(?:\.(?:gz|bz2|xz|lzma|Z))?)?$/;
/** Info pages (melange `InfoRegex`). */
export const INFO_REGEX =
  /^usr\/(?:local\/)?share\/info\/(?:dir|[^/]+\.info(?:-[0-9]+)?(?:\.(?:gz|bz2|xz|lzma|Z))?)$/;
/** CUDA driver libraries (melange `IsCudaDriverLibRegex`). */
export const CUDA_DRIVER_LIB_REGEX = /^usr\/lib\/lib(cuda|nvidia-ml)\.so(\.[0-9]+)*$/;
/** Documentation files (melange `IsDocumentationFileRegex`). */
export const DOCUMENTATION_REGEX = /(?:READ(?:\.?ME)?|TODO|CREDITS|\.(?:md|docx?|rst|[0-9][a-z]))$/;
/** Shared objects (melange `IsSharedObjectFileRegex`). */
export const SHARED_OBJECT_REGEX = /\.so(?:\.[0-9]+)*$/;
/** Temporary folders (melange `IsTempDirRegex`). */
export const TEMP_DIR_REGEX = /^(var\/)?tmp\//;
/** pkg-config folders (melange `PkgconfDirRegex`). */
export const PKGCONF_DIR_REGEX = /^usr\/(lib|share)\/pkgconfig\//;

const notDir = (predicate: (path: string) => boolean) => (e: { dir: boolean; path: string }) =>
  !e.dir && predicate(e.path);

/** melange `dev`: files under `dev/`. */
export const devLinter = (ctx: LinterContext): LinterFailure | undefined =>
  allPaths(
    ctx,
    notDir((p) => p.startsWith('dev/')),
    () => `${ctx.pkg.name} writes to /dev`,
  );

/** melange `varempty`: files under `var/empty/`. */
export const varEmptyLinter = (ctx: LinterContext): LinterFailure | undefined =>
  allPaths(
    ctx,
    notDir((p) => p.startsWith('var/empty/')),
    () => `${ctx.pkg.name} writes to /var/empty`,
  );

/** melange `infodir`: `usr/share/info/dir`. */
export const infodirLinter = (ctx: LinterContext): LinterFailure | undefined =>
  allPaths(
    ctx,
    notDir((p) => p === 'usr/share/info/dir' || p.startsWith('usr/share/info/dir/')),
    () => `${ctx.pkg.name} writes to /usr/share/info/dir`,
  );

/** melange `tempdir`: files in `tmp/`, `var/tmp/`; anything in `var/run/`; `run/` (folders only with a tmpfiles.d snippet). */
export const tempDirLinter = (ctx: LinterContext): LinterFailure | undefined => {
  const tmpfiles = ctx.entries.some((e) => e.path.startsWith('usr/lib/tmpfiles.d/'));
  return allPaths(
    ctx,
    (e) => {
      if (!e.dir && TEMP_DIR_REGEX.test(e.path)) return true;
      if (e.path.startsWith('var/run/')) return true;
      if (e.path.startsWith('run/')) return !e.dir || !tmpfiles;
      return false;
    },
    () => `${ctx.pkg.name} writes to a temp dir`,
  );
};

const USRMERGE_DIRS = ['sbin', 'bin', 'usr/sbin', 'lib', 'lib64'];

/** melange `usrmerge`: paths at or under `bin`, `sbin`, `lib`, `lib64`, `usr/sbin`. */
export const usrmergeLinter = (ctx: LinterContext): LinterFailure | undefined => {
  const paths = ctx.entries
    .map((e) => e.path)
    .filter((p) => !isIgnoredPath(p) && USRMERGE_DIRS.some((d) => p === d || p.startsWith(`${d}/`)));
  if (paths.length === 0) return undefined;
  return {
    message: ['Package contains paths in violation of usrmerge:', ...paths].join('\n'),
    details: { paths },
  };
};

/** melange `libtool/la-files`: `.la` files. */
export const laFilesLinter = (ctx: LinterContext): LinterFailure | undefined =>
  allPaths(
    ctx,
    notDir((p) => goExt(p) === '.la'),
    (paths) =>
      `${ctx.pkg.name} contains ${paths.length} libtool archive (.la) ${plural(paths.length, 'file', 'files')}. Remove them in the build pipeline; if this package legitimately needs to ship .la files, disable this linter via checks.disabled`,
  );

/** `opt`, `srv`, `usr/local`: allowed in `-compat` packages. */
function compatOnly(prefix: string, what: (name: string) => string) {
  return (ctx: LinterContext): LinterFailure | undefined =>
    ctx.pkg.name.endsWith('-compat')
      ? undefined
      : allPaths(
          ctx,
          notDir((p) => p.startsWith(prefix)),
          () => what(ctx.pkg.name),
        );
}

/** melange `opt`: files under `opt/` outside `-compat` packages. */
export const optLinter = compatOnly('opt/', (n) => `${n} writes to /opt`);
/** melange `srv`: files under `srv/` outside `-compat` packages. */
export const srvLinter = compatOnly('srv/', (n) => `${n} writes to /srv`);
/** melange `usrlocal`: files under `usr/local/` outside `-compat` packages. */
export const usrLocalLinter = compatOnly(
  'usr/local/',
  (n) => `${n} contains /usr/local path in non-compat package`,
);

/** melange `object`: `.o` files. */
export const objectLinter = (ctx: LinterContext): LinterFailure | undefined =>
  allPaths(
    ctx,
    notDir((p) => goExt(p) === '.o'),
    (paths) =>
      `${ctx.pkg.name} contains ${paths.length} intermediate object ${plural(paths.length, 'file', 'files')}. This is usually wrong. In most cases they should be removed`,
  );

/** melange `maninfo`: man and info pages outside `-doc` packages. */
export const manInfoLinter = (ctx: LinterContext): LinterFailure | undefined =>
  ctx.pkg.name.endsWith('-doc')
    ? undefined
    : allPaths(
        ctx,
        notDir((p) => MAN_REGEX.test(p) || INFO_REGEX.test(p)),
        (paths) =>
          `${ctx.pkg.name} contains ${paths.length} man/info ${plural(paths.length, 'file', 'files')} but is not a documentation package`,
      );

/** melange `documentation`: README, TODO, `*.md`… outside `-doc` packages. */
export const documentationLinter = (ctx: LinterContext): LinterFailure | undefined =>
  ctx.pkg.name.endsWith('-doc')
    ? undefined
    : allPaths(
        ctx,
        notDir((p) => DOCUMENTATION_REGEX.test(p)),
        (paths) =>
          `${ctx.pkg.name} contains ${paths.length} documentation ${plural(paths.length, 'file', 'files')} but is not a documentation package`,
      );

/** melange `sbom`: non-SPDX files in `var/lib/db/sbom/`. */
export const sbomLinter = (ctx: LinterContext): LinterFailure | undefined =>
  allPaths(
    ctx,
    notDir(
      (p) => p.startsWith('var/lib/db/sbom/') && !p.slice(16).includes('/') && !p.endsWith('.spdx.json'),
    ),
    () => `${ctx.pkg.name} writes to var/lib/db/sbom`,
  );

/** melange `cudaruntimelib`: `usr/lib/libcuda.so*`, `usr/lib/libnvidia-ml.so*`. */
export const cudaDriverLibLinter = (ctx: LinterContext): LinterFailure | undefined =>
  allPaths(
    ctx,
    notDir((p) => CUDA_DRIVER_LIB_REGEX.test(p)),
    () => `${ctx.pkg.name} contains CUDA driver-specific libraries`,
  );

/** `dll`, `dylib`: allowed in `-dev` packages. */
function foreignLibrary(ext: string, word: string) {
  return (ctx: LinterContext): LinterFailure | undefined =>
    ctx.pkg.name.endsWith('-dev')
      ? undefined
      : allPaths(
          ctx,
          notDir((p) => goExt(p) === ext),
          (paths) =>
            `${ctx.pkg.name} contains ${paths.length} ${word} ${plural(paths.length, 'file', 'files')}`,
        );
}

/** melange `dll`: `.dll` files outside `-dev` packages. */
export const dllLinter = foreignLibrary('.dll', 'DLL');
/** melange `dylib`: `.dylib` files outside `-dev` packages. */
export const dylibLinter = foreignLibrary('.dylib', 'dylib');

/** melange `staticarchive`: `.a` files outside `-dev` and `-static` packages. */
export const staticArchiveLinter = (ctx: LinterContext): LinterFailure | undefined =>
  ctx.pkg.name.endsWith('-dev') || ctx.pkg.name.endsWith('-static')
    ? undefined
    : allPaths(
        ctx,
        notDir((p) => goExt(p) === '.a'),
        (paths) =>
          `${ctx.pkg.name} contains ${paths.length} static ${plural(paths.length, 'archive', 'archives')}. Static archives bloat packages and should typically be in -dev packages or removed`,
      );

/** `pkgconf`, `lddcheck`: files of a kind, but no test pipeline that checks them. */
function needsTest(
  tests: readonly string[],
  matches: (path: string) => boolean,
  what: string,
  testName: string,
) {
  return (ctx: LinterContext): LinterFailure | undefined => {
    const uses = ctx.pkg.testUses;
    if (uses?.some((u) => tests.includes(u)) === true) return undefined;
    return allPaths(ctx, notDir(matches), () =>
      uses === undefined
        ? `${ctx.pkg.name} contains ${what} but missing .melange.yaml`
        : `${ctx.pkg.name} contains ${what} but ${testName} is not configured`,
    );
  };
}

/** melange `pkgconf`: pkg-config files without a `test/pkgconf` test. */
export const pkgconfLinter = needsTest(
  ['test/pkgconf'],
  (p) => PKGCONF_DIR_REGEX.test(p),
  'pkgconfig files',
  'test/pkgconf',
);
/** melange `lddcheck`: shared objects without a `test/ldd-check` (or `test/tw/ldd-check`) test. */
export const lddcheckLinter = needsTest(
  ['test/ldd-check', 'test/tw/ldd-check'],
  (p) => SHARED_OBJECT_REGEX.test(p),
  'shared objects',
  'test/ldd-check',
);

/** melange `empty`: nothing but folders (and the SBOM), unless `no-provides`. */
export const emptyLinter = (ctx: LinterContext): LinterFailure | undefined => {
  if (ctx.pkg.noProvides === true) return undefined;
  const found = ctx.entries.some((e) => !e.dir && !isIgnoredPath(e.path));
  return found ? undefined : { message: 'package is empty but no-provides is not set' };
};
