/**
 * `include:` merging, following apko's `ImageConfiguration.MergeInto` (`pkg/build/types/
 * image_configuration.go`): the including file is the target and wins.
 * - scalars (`cmd`, `work-dir`, `stop-signal`, `format`, `accounts.run-as`, `vcs-url`): the target's value
 *   unless it is empty;
 * - `entrypoint`, `certificates`, `layering`, `contents.baseimage`: taken whole from the target when it
 *   sets them (apko: non-zero entrypoint, non-nil pointers), else from the base;
 * - `archs`: the target's list when non-empty, else the base's;
 * - lists (`contents.*` lists, `paths`, `accounts.users`, `accounts.groups`, `volumes`): base first, then
 *   target;
 * - maps (`environment`, `annotations`): merged key by key, the target winning.
 * One difference: apko's MergeInto forgets the base's `vcs-url`; tk treats it as a scalar like the others.
 *
 * Positions follow the values, so an issue found after merging still points into the right file.
 */
import { PositionIndex, type PathSegment } from './yaml.ts';

/** A configuration value together with the positions of its parts. */
export interface PositionedValue {
  value: unknown;
  positions: PositionIndex;
}

type Rule =
  | 'scalar'
  | 'whole'
  | 'nonzero'
  | 'nonempty'
  | 'concat'
  | 'map'
  | 'target'
  | { [key: string]: Rule };

const RULES: { [key: string]: Rule } = {
  contents: {
    repositories: 'concat',
    build_repositories: 'concat',
    runtime_repositories: 'concat',
    keyring: 'concat',
    runtime_keyring: 'concat',
    packages: 'concat',
    baseimage: 'whole',
  },
  entrypoint: 'nonzero',
  cmd: 'scalar',
  'work-dir': 'scalar',
  'stop-signal': 'scalar',
  accounts: { 'run-as': 'scalar', users: 'concat', groups: 'concat' },
  environment: 'map',
  paths: 'concat',
  archs: 'nonempty',
  annotations: 'map',
  include: 'target',
  volumes: 'concat',
  'vcs-url': 'scalar',
  layering: 'whole',
  format: 'scalar',
  certificates: 'whole',
};

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

function startsWith(path: readonly PathSegment[], prefix: readonly PathSegment[]): boolean {
  return prefix.length <= path.length && prefix.every((seg, i) => path[i] === seg);
}

/** Copy the positions under `prefix` from `from` into `to`, shifting the index right after the prefix. */
function copyPositions(
  from: PositionIndex,
  to: PositionIndex,
  prefix: readonly PathSegment[],
  shift = 0,
): void {
  for (const { path, pos } of from.entries()) {
    if (!startsWith(path, prefix)) continue;
    const out = [...path];
    const at = prefix.length;
    if (shift !== 0 && typeof out[at] === 'number') out[at] = out[at] + shift;
    to.set(out, pos);
  }
}

function mergeField(
  rule: Rule,
  base: unknown,
  target: unknown,
  path: PathSegment[],
  b: PositionIndex,
  t: PositionIndex,
  out: PositionIndex,
): unknown {
  const take = (side: 'base' | 'target'): unknown => {
    if (side === 'target') {
      copyPositions(t, out, path);
      return target;
    }
    copyPositions(b, out, path);
    return base;
  };
  if (base === undefined) return take('target');
  if (target === undefined && rule !== 'target') return take('base');
  if (typeof rule === 'object') {
    if (!isRec(base) || !isRec(target)) return take('target');
    const pos = t.get(path);
    if (pos !== undefined) out.set(path, pos);
    return mergeObject(rule, base, target, path, b, t, out);
  }
  switch (rule) {
    case 'target':
      return take('target');
    case 'scalar':
      return take(target === '' ? 'base' : 'target');
    case 'whole':
      return take('target');
    case 'nonzero':
      return take(isRec(target) && Object.keys(target).length === 0 ? 'base' : 'target');
    case 'nonempty':
      return take(Array.isArray(target) && target.length === 0 ? 'base' : 'target');
    case 'concat': {
      if (!Array.isArray(base) || !Array.isArray(target)) return take('target');
      copyPositions(b, out, path);
      copyPositions(t, out, path, base.length);
      const pos = t.get(path);
      if (pos !== undefined) out.set(path, pos);
      return [...(base as unknown[]), ...(target as unknown[])];
    }
    case 'map': {
      if (!isRec(base) || !isRec(target)) return take('target');
      const merged: Rec = {};
      for (const [k, v] of Object.entries(base)) {
        if (Object.hasOwn(target, k)) continue;
        merged[k] = v;
        copyPositions(b, out, [...path, k]);
      }
      for (const [k, v] of Object.entries(target)) {
        merged[k] = v;
        copyPositions(t, out, [...path, k]);
      }
      const pos = t.get(path);
      if (pos !== undefined) out.set(path, pos);
      return merged;
    }
  }
}

function mergeObject(
  rules: { [key: string]: Rule },
  base: Rec,
  target: Rec,
  path: PathSegment[],
  b: PositionIndex,
  t: PositionIndex,
  out: PositionIndex,
): Rec {
  const merged: Rec = {};
  const keys = [...Object.keys(target), ...Object.keys(base).filter((k) => !Object.hasOwn(target, k))];
  for (const key of keys) {
    const rule = rules[key] ?? 'whole';
    const value = mergeField(
      rule,
      Object.hasOwn(base, key) ? base[key] : undefined,
      Object.hasOwn(target, key) ? target[key] : undefined,
      [...path, key],
      b,
      t,
      out,
    );
    if (value !== undefined) merged[key] = value;
  }
  return merged;
}

/**
 * Merge an included (base) configuration under the including (target) one, as apko's `MergeInto` does.
 *
 * @param base - the included file's value and positions
 * @param target - the including file's value and positions
 * @returns the merged value, with positions pointing into whichever file each part came from
 */
export function mergeConfigs(base: PositionedValue, target: PositionedValue): PositionedValue {
  const positions = new PositionIndex();
  const root = target.positions.get([]);
  if (root !== undefined) positions.set([], root);
  if (!isRec(base.value) || !isRec(target.value)) {
    copyPositions(target.positions, positions, []);
    return { value: target.value, positions };
  }
  const value = mergeObject(RULES, base.value, target.value, [], base.positions, target.positions, positions);
  return { value, positions };
}
