export { melangeCommand } from './cli/melange.ts';
export { keygen } from './commands/keygen.ts';
export type { KeygenOptions } from './commands/keygen.ts';
export { indexPackages } from './commands/index-packages.ts';
export type { IndexPackagesOptions, IndexPackagesResult } from './commands/index-packages.ts';
export { signPackages, signIndex } from './commands/sign.ts';
export type { SignPackagesOptions, SignIndexOptions } from './commands/sign.ts';
export { MelangeError } from './errors.ts';
export type { MelangeErrorCode } from './errors.ts';
export { buildPackages, buildUser, parseGoDuration } from './build/build.ts';
export type { BuildResult, ArchResult } from './build/build.ts';
export { testPackages } from './build/test.ts';
export type { TestResult, PackageTestResult } from './build/test.ts';
export type { BuildOptions, TestOptions, CommonOptions } from './build/options.ts';
export { selectArchs } from './build/archs.ts';
export { parseDotenv } from './build/inputs.ts';
export { parseRecipe, loadRecipe, parsePipelineDefinition, findDefaultRecipe } from './recipe/load.ts';
export { recipeJsonSchema } from './recipe/schema.ts';
export { compileRecipe } from './recipe/compile.ts';
export type { CompileOptions } from './recipe/compile.ts';
export { renderCompiledRecipe } from './recipe/render.ts';
export { evaluateCondition } from './recipe/cond.ts';
export { substitute } from './recipe/subst.ts';
export type {
  Recipe,
  CompiledRecipe,
  CompiledStep,
  CompiledPackage,
  PipelineStep,
  PipelineDefinition,
} from './recipe/types.ts';
export { prefetchSources, checkArchive } from './source/index.ts';
export type { FetchedSource, ArchiveCheckResult } from './source/index.ts';
export { assembleGuest } from './guest/assemble.ts';
export type { Guest, GuestOptions } from './guest/assemble.ts';
export { createBubblewrapRunner } from './runner/bubblewrap.ts';
export type { Runner, Pod, RunnerSpec, RunRequest, RunResult } from './runner/types.ts';
export { emitPackages } from './package/emit.ts';
export type { EmittedPackage, EmitPackagesInput } from './package/emit.ts';
export { updateIndex } from './package/index-update.ts';
export { lintPackageTree, lintApkFile, lintRecipeFile, LINTERS } from './lint/index.ts';
export type { LintFile, LintFinding, LintLevel, LintPackage, PackageLintResult } from './lint/index.ts';
export { addMoreCommands } from './cli/more-commands.ts';
