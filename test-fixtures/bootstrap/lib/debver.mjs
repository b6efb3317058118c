// Debian versions: parsing, dpkg's ordering, and the mapping to apk versions used by the bootstrap
// repository. The mapping is documented in ../README.md ("Version mapping"); selftest.mjs checks it
// against dpkg's ordering on pairs of real Debian versions.

const DIGITS = /^[0-9]$/;
const LETTER = /^[A-Za-z]$/;

/** Largest digit run apk-tools 2.14 reads (it rejects 18 digits or more). */
const MAX_APK_DIGITS = 17;

/**
 * Split a Debian version into epoch, upstream version and revision (deb-version(7)).
 *
 * @param {string} version
 * @returns {{ epoch: number, upstream: string, revision: string }} revision is '' for native packages
 */
export function parseDebianVersion(version) {
  if (typeof version !== 'string' || version.length === 0 || version.length > 256)
    throw new Error(`invalid Debian version ${JSON.stringify(version)}`);
  let rest = version;
  let epoch = 0;
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    const text = rest.slice(0, colon);
    if (!/^[0-9]{1,9}$/.test(text))
      throw new Error(`invalid epoch in Debian version ${JSON.stringify(version)}`);
    epoch = Number(text);
    rest = rest.slice(colon + 1);
  }
  let revision = '';
  const dash = rest.lastIndexOf('-');
  if (dash >= 0) {
    revision = rest.slice(dash + 1);
    rest = rest.slice(0, dash);
    if (!/^[A-Za-z0-9.+~]+$/.test(revision))
      throw new Error(`invalid revision in Debian version ${JSON.stringify(version)}`);
  }
  if (!/^[0-9][A-Za-z0-9.+~:-]*$/.test(rest) || (dash < 0 && rest.includes('-')))
    throw new Error(`invalid upstream version in Debian version ${JSON.stringify(version)}`);
  return { epoch, upstream: rest, revision };
}

/** dpkg's character weight: '~' before everything (even the end), then the end, letters, other marks. */
function weight(char) {
  if (char === undefined) return 0;
  if (char === '~') return -1;
  if (DIGITS.test(char)) return 0;
  if (LETTER.test(char)) return char.charCodeAt(0);
  return char.charCodeAt(0) + 256;
}

/** dpkg `verrevcmp`: compare two upstream versions or two revisions. */
function compareFragment(a, b) {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !DIGITS.test(a[i])) || (j < b.length && !DIGITS.test(b[j]))) {
      const wa = weight(i < a.length ? a[i] : undefined);
      const wb = weight(j < b.length ? b[j] : undefined);
      if (wa !== wb) return wa < wb ? -1 : 1;
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    while (i < a.length && DIGITS.test(a[i]) && j < b.length && DIGITS.test(b[j])) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < a.length && DIGITS.test(a[i])) return 1;
    if (j < b.length && DIGITS.test(b[j])) return -1;
    if (firstDiff !== 0) return firstDiff < 0 ? -1 : 1;
  }
  return 0;
}

/**
 * Compare two Debian versions exactly as `dpkg --compare-versions` does.
 *
 * @param {string} a
 * @param {string} b
 * @returns {-1 | 0 | 1}
 */
export function compareDebianVersions(a, b) {
  const va = parseDebianVersion(a);
  const vb = parseDebianVersion(b);
  if (va.epoch !== vb.epoch) return va.epoch < vb.epoch ? -1 : 1;
  return compareFragment(va.upstream, vb.upstream) || compareFragment(va.revision, vb.revision);
}

/**
 * Whether `version` satisfies a Debian relation (`>=`, `<=`, `=`, `>>`, `<<`, and the obsolete `<`/`>`
 * which mean `<=`/`>=`).
 *
 * @param {string} version
 * @param {string} op
 * @param {string} target
 * @returns {boolean}
 */
export function debianVersionSatisfies(version, op, target) {
  const c = compareDebianVersions(version, target);
  switch (op) {
    case '>=':
    case '>':
      return c >= 0;
    case '<=':
    case '<':
      return c <= 0;
    case '=':
      return c === 0;
    case '>>':
      return c > 0;
    case '<<':
      return c < 0;
    default:
      throw new Error(`unknown Debian relation ${JSON.stringify(op)}`);
  }
}

/** Debian relation → apk operator. */
export function apkOperator(op) {
  const map = { '>=': '>=', '>': '>=', '<=': '<=', '<': '<=', '=': '=', '>>': '>', '<<': '<' };
  const result = map[op];
  if (result === undefined) throw new Error(`unknown Debian relation ${JSON.stringify(op)}`);
  return result;
}

/** A number as apk writes it: no leading zeros, at most 17 digits. */
function apkNumber(digits, notes) {
  let text = digits.replace(/^0+(?=[0-9])/, '');
  if (text.length > MAX_APK_DIGITS) {
    notes.push(`number ${digits} cut to ${MAX_APK_DIGITS} digits`);
    text = text.slice(0, MAX_APK_DIGITS);
  }
  return text;
}

/** Repackaging markers: they say how the tarball was re-made, not which upstream release it is. */
const REPACK_WORDS = new Set(['dfsg', 'ds', 'repack', 'debian', 'nozstd']);
const PRE_WORDS = { alpha: 'alpha', a: 'alpha', beta: 'beta', b: 'beta', pre: 'pre', rc: 'rc', cr: 'rc' };
const POST_WORDS = { git: 'git', svn: 'svn', hg: 'hg', cvs: 'cvs', bzr: 'p', p: 'p' };

/**
 * Map the upstream part of a Debian version to apk's `N{.N}[a-z]{_suffix[N]}`.
 *
 * @param {string} upstream
 * @param {string[]} notes receives a line for every lossy step
 * @returns {string}
 */
function mapUpstream(upstream, notes) {
  const core = /^[0-9]+(?:\.[0-9]+)*/.exec(upstream);
  if (core === null)
    throw new Error(`upstream version ${JSON.stringify(upstream)} does not start with a digit`);
  let out = core[0]
    .split('.')
    .map((n) => apkNumber(n, notes))
    .join('.');
  let rest = upstream.slice(core[0].length);
  // One lowercase letter right after the numbers is apk's letter (1.2a); Debian orders it the same way.
  const letter = /^([a-z])(?=$|[.+~:-])/.exec(rest);
  if (letter !== null) {
    out += letter[1];
    rest = rest.slice(1);
  }
  while (rest.length > 0) {
    // Stable updates of native packages (ca-certificates 20250419~deb12u2): one number D*100+U.
    const stable = /^([~+.])deb([0-9]+)u([0-9]+)/.exec(rest);
    if (stable !== null) {
      const number = String(Number(stable[2]) * 100 + Math.min(Number(stable[3]), 99));
      if (Number(stable[3]) > 99) notes.push(`stable update number ${stable[3]} capped at 99`);
      out += `_${stable[1] === '~' ? 'pre' : 'p'}${number}`;
      rest = rest.slice(stable[0].length);
      continue;
    }
    const part = /^([~+.:-]?)([A-Za-z]*)([0-9]*)/.exec(rest);
    if (part === null || part[0].length === 0) {
      notes.push(`dropped unexpected text ${JSON.stringify(rest)}`);
      break;
    }
    rest = rest.slice(part[0].length);
    const [, sep, rawWord, digits] = part;
    const word = rawWord.toLowerCase();
    const number = digits === '' ? '' : apkNumber(digits, notes);
    if (sep === '~') {
      const name = PRE_WORDS[word];
      if (name === undefined && word !== '' && word !== 'pre')
        notes.push(`pre-release word ${JSON.stringify(rawWord)} mapped to _pre`);
      out += `_${name ?? 'pre'}${number}`;
      continue;
    }
    // Anything after '+', '.', '-' or ':' sorts after the version without it: a post-release suffix.
    // Repack markers (+dfsg, +ds, .dfsg) become a bare _p: readable, and ordered as Debian orders them.
    const name = POST_WORDS[word];
    if (name === undefined && word !== '' && !REPACK_WORDS.has(word))
      notes.push(`word ${JSON.stringify(rawWord)} mapped to _p`);
    out += `_${name ?? 'p'}${number}`;
  }
  return out;
}

const REVISION = /^([0-9]+)(?:\.([0-9]+))?(?:([~+])deb([0-9]+)u([0-9]+))?(?:\+b([0-9]+))?$/;

/**
 * Encode a Debian revision as one apk `-r` number that orders the same way.
 *
 * R = A·10^9 + B'·10^7 + S·10^6 + D·10^4 + U·10^2 + K for `A[.B][(~|+)debDuU][+bK]`, where B' is 0 without
 * `.B` and B+1 with it, and S is 0 for `~debDuU`, 1 for none and 2 for `+debDuU`.
 *
 * @param {string} revision
 * @param {string[]} notes
 * @returns {bigint}
 */
export function encodeRevision(revision, notes) {
  const m = REVISION.exec(revision);
  if (m === null) {
    const lead = /^[0-9]+/.exec(revision);
    notes.push(
      `revision ${JSON.stringify(revision)} is outside the A[.B][~|+debDuU][+bK] grammar; only its leading number is kept`,
    );
    return BigInt(lead === null ? 0 : lead[0].slice(0, 8)) * 10n ** 9n + 10n ** 6n;
  }
  const [, a, b, sign, d, u, k] = m;
  const field = (text, max, what) => {
    const value = text === undefined ? 0 : Number(text);
    if (value > max) {
      notes.push(`${what} ${value} capped at ${max}`);
      return max;
    }
    return value;
  };
  const major = BigInt(field(a, 99_999_999, 'revision'));
  const minor = b === undefined ? 0 : field(b, 98, 'NMU number') + 1;
  const s = sign === undefined ? 1 : sign === '~' ? 0 : 2;
  const dist = field(d, 99, 'Debian release');
  const update = field(u, 99, 'stable update');
  const binnmu = field(k, 99, 'binNMU');
  return (
    major * 10n ** 9n +
    BigInt(minor) * 10n ** 7n +
    BigInt(s) * 10n ** 6n +
    BigInt(dist) * 10n ** 4n +
    BigInt(update) * 10n ** 2n +
    BigInt(binnmu)
  );
}

/**
 * Map a Debian version to an apk version that apk-tools orders the same way (within one epoch; see
 * README "Version mapping"): upstream `N.N…` kept, `~word N` → pre-release suffix, `+word N` → post-release
 * suffix, repack markers (`+dfsg`, `+ds`, `.dfsg`) dropped, the revision packed into `-r<R>`, the epoch dropped.
 *
 * @param {string} version a Debian version, e.g. `2.36-9+deb12u14`
 * @returns {{ version: string, notes: string[] }} e.g. `2.36-r9002121400`
 */
export function debianToApkVersion(version) {
  const { epoch, upstream, revision } = parseDebianVersion(version);
  const notes = [];
  if (epoch !== 0) notes.push(`epoch ${epoch} dropped`);
  let out = mapUpstream(upstream, notes);
  if (revision !== '') out += `-r${encodeRevision(revision, notes)}`;
  return { version: out, notes };
}
