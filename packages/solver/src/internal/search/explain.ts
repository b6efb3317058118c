/**
 * The explanation of a failure: how a name came to be required (its chain), why each candidate was
 * ruled out, and the error that reports it. apk-tools prints its own errors from the final state
 * (`apk_solver_print_errors` in `commit.c`); here they come from the dead end itself.
 */
import { SolverError, type SolverErrorCode } from '../../errors.ts';
import type { UPackage } from '../universe.ts';
import type {
  Category,
  ChainLink,
  Constraint,
  Failure,
  Frame,
  Pending,
  Rejection,
  SearchState,
} from './state.ts';

/** How many nested failures a one-line summary descends into. */
const MAX_SUMMARY_DEPTH = 3;
/** Candidates listed in the error's data. */
const MAX_CANDIDATES_IN_DATA = 100;
/** Chains longer than this are shortened in messages (the data keeps them whole). */
const MAX_CHAIN_SHOWN = 24;
/** Sub-reasons shown for a dependency none of whose providers can be installed. */
export const MAX_SUB_REASONS = 3;
/** Candidate lines shown in a message. */
const MAX_CANDIDATE_LINES = 12;

/**
 * `name-version`, as apk-tools prints a package.
 *
 * @param pkg - the package
 * @returns the label
 */
export function packageLabel(pkg: UPackage): string {
  return `${pkg.entry.name}-${pkg.entry.version}`;
}

/** Who added a constraint: `world` or the package whose `D:` holds it. */
export function sourceLabel(constraint: Constraint): string {
  return constraint.from === undefined ? 'world' : packageLabel(constraint.from);
}

/** Nested failure summaries are clipped so that messages stay bounded however deep the search went. */
const MAX_SUMMARY = 600;

/** `text`, cut to {@link MAX_SUMMARY} characters. */
function clip(text: string): string {
  return text.length > MAX_SUMMARY ? `${text.slice(0, MAX_SUMMARY)}…` : text;
}

/** `text` as a JSON string, cut to 200 characters. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}

/** The rejection category of a candidate whose choice ended in a failure with `code`. */
export function categoryOf(code: SolverErrorCode): Category {
  if (code === 'SOLVER_CONFLICT') return 'conflict';
  if (code === 'SOLVER_NOTHING_PROVIDES') return 'nothing-provides';
  if (code === 'SOLVER_VIRTUAL_NEEDS_CHOICE') return 'virtual';
  return 'other';
}

// ---- chains ----

/**
 * How `name` comes to be required now: its earliest positive constraint, linked to its requirer's chain.
 *
 * @param state - the search state
 * @param name - the name about to be decided
 * @param entry - its pending entry
 * @returns the chain's last link, or undefined
 */
export function chainLinkFor(state: SearchState, name: string, entry: Pending): ChainLink | undefined {
  let first: Constraint | undefined;
  for (const constraint of state.constraints.get(name) ?? []) {
    if (!constraint.dep.conflict && (first === undefined || constraint.level < first.level))
      first = constraint;
  }
  if (first === undefined) {
    if (entry.kind !== 'iif') return undefined;
    const added = (entry.triggered ?? []).map((provider) => packageLabel(provider.pkg)).join(', ');
    return { text: `install_if adds ${added}`, parent: undefined };
  }
  if (first.from === undefined) return { text: `world: ${first.token}`, parent: undefined };
  return {
    text: `${packageLabel(first.from)} depends on ${first.token}`,
    parent: state.selectedAt.get(first.from)?.chain,
  };
}

/** The chain's texts, from the world down. */
function chainSteps(link: ChainLink | undefined): string[] {
  const steps: string[] = [];
  for (let current = link; current !== undefined; current = current.parent) steps.push(current.text);
  return steps.reverse();
}

/** The chain as one line, its middle elided when longer than {@link MAX_CHAIN_SHOWN}. */
function showChain(chain: readonly string[]): string {
  if (chain.length <= MAX_CHAIN_SHOWN) return chain.join(' -> ');
  const head = chain.slice(0, 8);
  const tail = chain.slice(chain.length - (MAX_CHAIN_SHOWN - 8));
  return [...head, `… ${chain.length - MAX_CHAIN_SHOWN} more …`, ...tail].join(' -> ');
}

// ---- failures ----

/** The first repository of a package, as `@tag name` or `name`. */
function repositoryLabel(state: SearchState, pkg: UPackage): string {
  const repository = state.universe.repositories[pkg.repos[0] ?? 0];
  if (repository === undefined) return '';
  return repository.tag === undefined ? repository.name : `@${repository.tag} ${repository.name}`;
}

/**
 * The failure of a frame that ran out of candidates; its code follows from the categories of the
 * rejections (one category: that one; mixed: unsatisfiable).
 *
 * @param frame - the dead end
 * @returns the failure, its text not yet built
 */
export function failureOf(frame: Frame): Failure {
  const noProviders = frame.order.length === 0;
  let code: SolverErrorCode = 'SOLVER_NOTHING_PROVIDES';
  if (!noProviders) {
    const categories = new Set(frame.rejections.map((rejection) => rejection.category));
    const only = categories.size === 1 ? [...categories][0] : undefined;
    code =
      only === 'conflict'
        ? 'SOLVER_CONFLICT'
        : only === 'nothing-provides'
          ? 'SOLVER_NOTHING_PROVIDES'
          : only === 'virtual'
            ? 'SOLVER_VIRTUAL_NEEDS_CHOICE'
            : 'SOLVER_UNSATISFIABLE';
  }
  const single = frame.rejections.length === 1 ? frame.rejections[0]!.nested : undefined;
  return {
    code,
    name: frame.name,
    chain: frame.chain,
    requiredAs: frame.requiredAs,
    rejections: frame.rejections,
    noProviders,
    ...(single === undefined ? {} : { only: single }),
  };
}

/** What was wanted: the positive constraints as written, or the name. */
function wantedOf(failure: Failure): string {
  return quote(failure.requiredAs.length === 0 ? failure.name : failure.requiredAs.join(', '));
}

/** Entries of the name left out for their arch, as candidate lines. */
function otherArchCandidates(
  state: SearchState,
  name: string,
): { package: string; repository: string; reason: string }[] {
  return (state.universe.otherArch.get(name) ?? []).map((item) => ({
    package: `${item.entry.name}-${item.entry.version}`,
    repository:
      item.repository.tag === undefined
        ? item.repository.name
        : `@${item.repository.tag} ${item.repository.name}`,
    reason: `wrong arch ${item.entry.arch ?? '?'} (solving for ${state.arch})`,
  }));
}

/** ` (only x86_64 builds exist)` when the name exists for other arches only; else empty. */
function otherArchNote(state: SearchState, name: string): string {
  const elsewhere = state.universe.otherArch.get(name) ?? [];
  if (elsewhere.length === 0) return '';
  return ` (only ${elsewhere.map((item) => item.entry.arch ?? '?').join(', ')} builds exist)`;
}

/** One line, without the chain: for nesting a failure into an earlier candidate's reason. */
function summaryOf(state: SearchState, failure: Failure, depth: number): string {
  if (failure.noProviders)
    return clip(`nothing provides ${wantedOf(failure)}${otherArchNote(state, failure.name)}`);
  const reasons = failure.rejections
    .slice(0, MAX_SUB_REASONS)
    .map((rejection) => `${packageLabel(rejection.provider.pkg)}: ${reasonOf(state, rejection, depth - 1)}`);
  const more = failure.rejections.length > MAX_SUB_REASONS ? '; …' : '';
  return clip(`no installable provider of ${wantedOf(failure)}: ${reasons.join('; ')}${more}`);
}

/** Why a candidate was ruled out, descending `depth` nested failures. */
function reasonOf(state: SearchState, rejection: Rejection, depth: number): string {
  if (rejection.reason !== undefined) return rejection.reason;
  if (rejection.nested === undefined || depth <= 0) return 'chosen first, but a later choice failed';
  return `chosen first, then ${summaryOf(state, rejection.nested, depth)}`;
}

/** The hint of an error, by code (`SOLVER_VIRTUAL_NEEDS_CHOICE` names the name, so it is built in place). */
const hints: Record<string, string> = {
  SOLVER_CONFLICT: 'remove one side of the conflict from the world, or pin a version that avoids it',
  SOLVER_NOTHING_PROVIDES:
    'check the spelling, add a repository that provides it for this arch, or pick a version that does not need it',
  SOLVER_UNSATISFIABLE:
    'relax the version constraints in the world, or add a repository with a matching version',
};

/**
 * The error reporting a failure that reached the world: headline with the chain, one line per
 * candidate, a hint, and the same as data.
 *
 * @param state - the search state
 * @param top - the failure
 * @returns the error to throw
 */
export function errorOf(state: SearchState, top: Failure): SolverError {
  const { arch } = state;
  // A frame whose only candidate failed further down: report the deeper failure, whose chain runs
  // from the world down to the constraint that could not be met.
  let failure = top;
  while (failure.only !== undefined) failure = failure.only;
  const chain = chainSteps(failure.chain);
  const where = chain.length === 0 ? '' : ` (${showChain(chain)})`;
  const headline = failure.noProviders
    ? `nothing provides ${wantedOf(failure)}${where}`
    : `no installable provider of ${wantedOf(failure)}${where}`;
  const lines = failure.rejections
    .slice(0, MAX_CANDIDATE_LINES)
    .map(
      (rejection) =>
        `  ${packageLabel(rejection.provider.pkg)} [${repositoryLabel(state, rejection.provider.pkg)}]: ${clip(reasonOf(state, rejection, MAX_SUMMARY_DEPTH))}`,
    );
  if (failure.rejections.length > MAX_CANDIDATE_LINES) {
    lines.push(`  … and ${failure.rejections.length - MAX_CANDIDATE_LINES} more candidates`);
  }
  const elsewhere = otherArchCandidates(state, failure.name);
  for (const item of elsewhere) lines.push(`  ${item.package} [${item.repository}]: ${item.reason}`);
  const hint =
    failure.code === 'SOLVER_VIRTUAL_NEEDS_CHOICE'
      ? `add one of the providers of ${quote(failure.name)} to the world explicitly`
      : (hints[failure.code] ?? 'check the world and the repositories');
  const candidates = [
    ...failure.rejections.slice(0, MAX_CANDIDATES_IN_DATA).map((rejection) => ({
      package: packageLabel(rejection.provider.pkg),
      repository: repositoryLabel(state, rejection.provider.pkg),
      reason: clip(reasonOf(state, rejection, MAX_SUMMARY_DEPTH)),
    })),
    ...elsewhere,
  ];
  return new SolverError(failure.code, [`${arch}: ${headline}`, ...lines].join('\n'), {
    hint,
    data: {
      arch,
      name: failure.name,
      chain,
      requiredAs: failure.requiredAs,
      candidates,
      steps: state.steps,
      backtracks: state.backtracks,
    },
  });
}
