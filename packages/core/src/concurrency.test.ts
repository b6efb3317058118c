import { describe, expect, it } from 'vitest';
import { mapLimit } from './concurrency.ts';

describe('mapLimit', () => {
  it('runs at most `limit` at once and keeps order', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, n));
      running--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });

  it('starts nothing after a failure, waits for running work, throws the first error', async () => {
    const started: number[] = [];
    let finished = 0;
    const error = await mapLimit([0, 1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      if (n === 1) throw new Error('first');
      await new Promise((r) => setTimeout(r, 20));
      finished++;
      return n;
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('first');
    expect(started).toEqual([0, 1]);
    expect(finished).toBe(1);
  });
});
