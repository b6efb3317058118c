/**
 * apk-tools 2.14.10's own solver test vectors (`test/*.test` in its source tree) through tk's public
 * resolver: every case that starts from nothing (no installed database) must select the same packages,
 * in the same order and with the same pins, or be refused like apk-tools refuses it. The vectors are
 * read from the apk-tools tree at test time (`APK_TOOLS_SRC`, default `/opt/apk-tools-src`; see
 * docs/testing.md); they are GPL data and are not copied into this repository.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isTkError } from '@tk/core';
import { parseIndexText } from '@tk/repo';
import { solve, type SolverRepository } from '@tk/solver';
import {
  notApplicable,
  parseVector,
  splitArgs,
  type SolverVector,
  type VectorInstall,
} from './apk-test-vectors.ts';

const SOURCE = process.env['APK_TOOLS_SRC'] ?? '/opt/apk-tools-src';
const TEST_DIR = join(SOURCE, 'test');
const present = existsSync(join(TEST_DIR, 'solver.sh'));

function loadVectors(): SolverVector[] {
  return readdirSync(TEST_DIR)
    .filter((file) => file.endsWith('.test'))
    .sort()
    .map((file) => parseVector(file.slice(0, -'.test'.length), readFileSync(join(TEST_DIR, file), 'utf8')));
}

function repositoriesOf(vector: SolverVector): SolverRepository[] {
  return vector.repositories.map((repository) => ({
    name: repository.file,
    ...(repository.tag === undefined ? {} : { tag: repository.tag }),
    entries: parseIndexText(readFileSync(join(TEST_DIR, repository.file), 'utf8'), {
      source: repository.file,
    }),
  }));
}

const show = (item: VectorInstall): string =>
  `${item.name}${item.tag === undefined ? '' : `@${item.tag}`} (${item.version})`;

/** What tk does with a vector, in the vector's terms. */
function runTk(vector: SolverVector): { installed: string[] } | { refused: string; code: string } {
  try {
    const solution = solve({
      world: [...vector.world, ...vector.operands],
      repositories: repositoriesOf(vector),
      arch: 'x86_64',
    });
    return {
      installed: solution.packages.map((item) =>
        show({
          name: item.entry.name,
          version: item.entry.version,
          ...(item.pin === undefined ? {} : { tag: item.pin }),
        }),
      ),
    };
  } catch (error) {
    if (!isTkError(error)) throw error;
    return { refused: error.message, code: error.code };
  }
}

if (!present) {
  // The vectors are GPL data fetched from apk-tools' repository, which neither this repository nor a
  // machine without GitHub can hold: the case is reported as skipped, with where to put them
  // (docs/decisions.md §21).
  it.skip(`apk-tools solver vectors: not run, apk-tools 2.14.10's source tree is not at ${SOURCE} (set APK_TOOLS_SRC; docs/testing.md says how to get it)`, () => {});
} else {
  const vectors = loadVectors();
  const applicable = vectors.filter((vector) => notApplicable(vector) === undefined);
  const agreed = new Set<string>();

  describe('apk-tools 2.14.10 solver vectors', () => {
    afterAll(() => {
      console.log(
        `${agreed.size}/${applicable.length} apk-tools solver vectors agree (${vectors.length - applicable.length} not applicable)`,
      );
    });

    it('finds the vectors', () => {
      expect(vectors.length).toBeGreaterThanOrEqual(90);
      expect(applicable.length).toBeGreaterThanOrEqual(45);
    });

    for (const vector of vectors) {
      const reason = notApplicable(vector);
      if (reason !== undefined) {
        it.skip(`${vector.id}: not applicable, ${reason}`, () => {});
        continue;
      }
      it(`${vector.id}: ${vector.args.join(' ')}`, () => {
        const tk = runTk(vector);
        const expected = vector.expect;
        if (expected.kind === 'install') {
          expect(tk, `apk-tools installs ${expected.packages.map(show).join(', ')}`).toEqual({
            installed: expected.packages.map(show),
          });
        } else if (expected.kind === 'refuse') {
          expect('refused' in tk, `apk-tools refuses:\n${expected.text}\ntk: ${JSON.stringify(tk)}`).toBe(
            true,
          );
          if (expected.badWorld && 'code' in tk) expect(tk.code).toBe('SOLVER_BAD_CONSTRAINT');
        } else {
          expect.fail(`unexpected @EXPECT block:\n${expected.text}`);
        }
        agreed.add(vector.id);
      });
    }
  });
}

describe('the vector reader (hostile input)', () => {
  it('splits arguments as xargs does', () => {
    expect(splitArgs('--test-world "a b" add  c\n')).toEqual(['--test-world', 'a b', 'add', 'c']);
    expect(splitArgs(`x 'y z' ""`)).toEqual(['x', 'y z', '']);
    expect(() => splitArgs('add "a')).toThrow(/unterminated/);
  });

  it('reads repositories, worlds, options and expectations', () => {
    const vector = parseVector(
      'v',
      '@ARGS\n--test-repo a.repo --test-repo !testing:b.repo\n--test-world "x y" --latest add -t .v z\n@EXPECT\n(1/2) Installing z@testing (1)\n(2/2) Installing y (2-r0)\nOK: 0 MiB in 2 packages\n',
    );
    expect(vector.repositories).toEqual([
      { file: 'a.repo', cache: false },
      { file: 'b.repo', tag: 'testing', cache: true },
    ]);
    expect(vector.world).toEqual(['x', 'y']);
    expect(vector.command).toBe('add');
    expect(vector.operands).toEqual(['z']);
    expect(vector.options).toEqual(['--latest', '-t .v']);
    expect(vector.expect).toEqual({
      kind: 'install',
      packages: [
        { name: 'z', tag: 'testing', version: '1' },
        { name: 'y', version: '2-r0' },
      ],
    });
    expect(notApplicable(vector)).toMatch(/-t/);
  });

  it('classifies refusals and odd output', () => {
    expect(
      parseVector('e', "@ARGS\nadd foo==\n@EXPECT\nERROR: 'foo==' is not a valid world dependency\n").expect,
    ).toMatchObject({
      kind: 'refuse',
      badWorld: true,
    });
    expect(parseVector('o', '@ARGS\nadd a\n@EXPECT\nsomething else\n').expect.kind).toBe('other');
    expect(notApplicable(parseVector('d', '@ARGS\n--test-instdb x.installed del a\n@EXPECT\n'))).toMatch(
      /installed database/,
    );
    expect(notApplicable(parseVector('u', '@ARGS\nupgrade\n@EXPECT\n'))).toMatch(/installed system/);
  });

  it('rejects malformed files', () => {
    expect(() => parseVector('n', 'no blocks')).toThrow(/@ARGS/);
    expect(() => parseVector('m', '@ARGS\n--test-repo\n@EXPECT\n')).toThrow(/needs a value/);
    expect(() => parseVector('h', `@ARGS\n${'x'.repeat(2 << 20)}\n@EXPECT\n`)).toThrow(/not a solver vector/);
    expect(() => parseVector('q', '@ARGS\nadd "a\n@EXPECT\n')).toThrow(/unterminated/);
  });
});
