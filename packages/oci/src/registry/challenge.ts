/**
 * `WWW-Authenticate` challenges (RFC 7235 §4.1, RFC 6750 §3):
 * `Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a:pull"`,
 * `Basic realm="registry"`. One header may hold several challenges separated by commas, and a
 * response may carry several headers. Parameter names are case-insensitive; values are tokens or
 * quoted strings with `\` escapes.
 */
import { RegistryError } from './errors.ts';

/** One authentication challenge. */
export interface AuthChallenge {
  /** The scheme, lowercased: `bearer`, `basic`, … */
  readonly scheme: string;
  /** Parameters with lowercased names. */
  readonly params: ReadonlyMap<string, string>;
}

/** Longest WWW-Authenticate text parsed (all headers together). */
const MAX_CHALLENGE_LENGTH = 16 * 1024;
const TOKEN_CHARS = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

/**
 * Parse the `WWW-Authenticate` header values of a response.
 *
 * @param values - the header's value or values (as undici returns them)
 * @returns the challenges in order (empty when there is no header)
 * @throws {RegistryError} REGISTRY_BAD_RESPONSE when a value is malformed or too long
 */
export function parseChallenges(values: string | readonly string[] | undefined): AuthChallenge[] {
  if (values === undefined) return [];
  const list = typeof values === 'string' ? [values] : values;
  if (list.reduce((n, v) => n + v.length, 0) > MAX_CHALLENGE_LENGTH) {
    throw new RegistryError(
      'REGISTRY_BAD_RESPONSE',
      `WWW-Authenticate header is longer than ${MAX_CHALLENGE_LENGTH} characters`,
    );
  }
  const out: AuthChallenge[] = [];
  for (const value of list) out.push(...parseOne(value));
  return out;
}

function parseOne(text: string): AuthChallenge[] {
  const bad = (why: string): RegistryError =>
    new RegistryError('REGISTRY_BAD_RESPONSE', `malformed WWW-Authenticate ${JSON.stringify(text)}: ${why}`, {
      hint: 'the registry sent an authentication challenge tk cannot read; check the registry address',
    });
  const challenges: { scheme: string; params: Map<string, string> }[] = [];
  let i = 0;
  const skipSpace = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < text.length && TOKEN_CHARS.test(text[i]!)) i++;
    return text.slice(start, i);
  };
  const readQuoted = (): string => {
    i++; // opening quote
    let value = '';
    while (i < text.length) {
      const c = text[i]!;
      if (c === '\\') {
        if (i + 1 >= text.length) throw bad('a quoted string ends with a backslash');
        value += text[i + 1];
        i += 2;
      } else if (c === '"') {
        i++;
        return value;
      } else {
        value += c;
        i++;
      }
    }
    throw bad('a quoted string is not closed');
  };

  let current: { scheme: string; params: Map<string, string> } | undefined;
  for (;;) {
    skipSpace();
    while (i < text.length && text[i] === ',') {
      i++;
      skipSpace();
    }
    if (i >= text.length) break;
    const token = readToken();
    if (token === '') throw bad(`unexpected character ${JSON.stringify(text[i])} at offset ${i}`);
    skipSpace();
    if (text[i] === '=') {
      // A parameter of the current challenge (or token68 padding, which schemes we use never send).
      if (current === undefined) throw bad(`parameter ${token} before any scheme`);
      i++;
      skipSpace();
      const value = text[i] === '"' ? readQuoted() : readToken();
      const name = token.toLowerCase();
      if (!current.params.has(name)) current.params.set(name, value);
      skipSpace();
      if (i < text.length && text[i] !== ',') throw bad(`expected ',' at offset ${i}`);
      continue;
    }
    // A new challenge: `scheme [param=value, …]`.
    current = { scheme: token.toLowerCase(), params: new Map() };
    challenges.push(current);
    if (i < text.length && text[i] !== ',') {
      // First parameter follows the scheme after whitespace.
      const name = readToken();
      if (name === '') throw bad(`unexpected character ${JSON.stringify(text[i])} at offset ${i}`);
      skipSpace();
      if (text[i] !== '=') {
        // token68 form (`Negotiate abc==`): keep it as a nameless parameter and move on.
        while (i < text.length && text[i] === '=') i++;
        current.params.set('', name);
      } else if (i + 1 >= text.length || text[i + 1] === '=' || text[i + 1] === ',') {
        // token68 ending in '=' padding.
        while (i < text.length && text[i] === '=') i++;
        current.params.set('', name);
      } else {
        i++;
        skipSpace();
        const value = text[i] === '"' ? readQuoted() : readToken();
        current.params.set(name.toLowerCase(), value);
      }
      skipSpace();
      if (i < text.length && text[i] !== ',') throw bad(`expected ',' at offset ${i}`);
    }
  }
  return challenges;
}
