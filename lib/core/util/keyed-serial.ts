/** Runs work for one key after the work queued before it for that key; a failure does not stop the next. */
export type KeyedSerial = <T>(key: string, work: () => Promise<T>) => Promise<T>;

/**
 * One promise chain per key (a channel, a session): work for a key runs in the order it was queued,
 * work for different keys runs side by side. A key's chain is forgotten once it runs empty.
 */
export function createKeyedSerial(): KeyedSerial {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const result = (tails.get(key) ?? Promise.resolve()).then(work);
    const tail = result.catch(() => {});
    tails.set(key, tail);
    void tail.then(() => tails.get(key) === tail && tails.delete(key));
    return result;
  };
}
