import { describe, expect, it } from 'vitest';
import { RUNNER_NAMES, runnerFor } from './index.ts';

describe('runnerFor', () => {
  it.each([
    ['bubblewrap', 'bubblewrap'],
    ['qemu', 'bubblewrap'],
    ['podman', 'podman'],
    ['docker', 'docker'],
    ['  Podman ', 'podman'],
    ['DOCKER', 'docker'],
  ])('gives --runner %j the %s runner', (name, expected) => {
    expect(runnerFor(name, { isRoot: false }).name).toBe(expected);
  });

  it.each(['lima', 'LIMA', 'kubernetes'])('says melange removed the %s runner', (name) => {
    let error: unknown;
    try {
      runnerFor(name, { isRoot: true });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      code: 'MELANGE_UNKNOWN_RUNNER',
      hint: expect.stringContaining('melange removed') as unknown,
      data: { runner: name },
    });
  });

  it.each(['', 'firecracker', 'bwrap', 'docker;rm -rf /', 'pod man', '__proto__', 'constructor', 'toString'])(
    'refuses %j, listing the runners it has',
    (name) => {
      expect(() => runnerFor(name, { isRoot: true })).toThrow(
        expect.objectContaining({
          code: 'MELANGE_UNKNOWN_RUNNER',
          message: expect.stringContaining(RUNNER_NAMES.join(', ')) as unknown,
        }),
      );
    },
  );

  it('passes the search path on: a runner whose tool is not there says so when checked', async () => {
    for (const name of ['podman', 'docker', 'bubblewrap']) {
      await expect(
        runnerFor(name, { isRoot: true, searchPath: '/nonexistent' }).checkUsable(),
      ).rejects.toMatchObject({
        code: 'MELANGE_RUNNER_UNUSABLE',
      });
    }
  });
});
