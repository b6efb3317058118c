/** Bounded concurrency for async work. */

/**
 * Run `fn` over `items` with at most `limit` running at once. On the first failure no new item starts;
 * the running ones are awaited and the first error is thrown (never a partial success).
 *
 * @param items - work items
 * @param limit - concurrency
 * @param fn - the work
 * @returns results in item order
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}
