/**
 * Shell-like word splitting for `entrypoint.command` and `cmd`, as apko does with google/shlex:
 * words split on whitespace; single quotes keep everything literally; double quotes keep whitespace
 * and allow `\"` `\\` escapes; a backslash outside quotes escapes the next character; `#` at the start
 * of a word begins a comment.
 */
import { ApkoError } from './errors.ts';

/**
 * Split a command line into words.
 *
 * @param line - the command as written in the configuration
 * @param field - the configuration key, for messages
 * @returns the words
 * @throws {ApkoError} APKO_BAD_COMMAND for unterminated quotes or a trailing backslash
 * @example
 * shellSplit(`/bin/sh -c "echo hello world"`) // ['/bin/sh', '-c', 'echo hello world']
 */
export function shellSplit(line: string, field = 'command'): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  const fail = (why: string): never => {
    throw new ApkoError('APKO_BAD_COMMAND', `${field}: ${why} in ${JSON.stringify(line)}`, {
      hint: 'close the quote or remove the trailing backslash',
    });
  };
  while (i < line.length) {
    const c = line[i]!;
    if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === '#' && !inWord) {
      break;
    } else if (c === '\\') {
      if (i + 1 >= line.length) fail('a trailing backslash');
      word += line[i + 1];
      inWord = true;
      i += 2;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) fail('an unterminated single quote');
      word += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      inWord = true;
      let closed = false;
      while (i < line.length) {
        const d = line[i]!;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < line.length && ['"', '\\', '$', '`', '\n'].includes(line[i + 1]!)) {
          word += line[i + 1];
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
      if (!closed) fail('an unterminated double quote');
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
