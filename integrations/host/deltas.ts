/**
 * Turns monotonically increasing kernel counters into per-interval deltas.
 *
 * Three things make this more than `cur - prev`:
 * - 32-bit wrap: several /proc counters are `unsigned int` on some kernels and architectures
 *   (diskstats time fields were until 4.19; net counters on 32-bit builds), so they wrap at 2^32.
 * - resets: a driver reload or a device re-created under the same name restarts its counters
 *   from 0; that is not a wrap, and reporting 2^32 - prev bytes would be a lie.
 * - appearance and disappearance: the first sample of a new device is only a baseline, and a
 *   device that vanished is forgotten so that its return starts from a fresh baseline too.
 */

const U32 = 2 ** 32;
const HALF_U32 = 2 ** 31;

/**
 * The increase from `prev` to `cur`, or undefined when the counter went backwards in a way that
 * is not a 32-bit wrap (a reset: no honest delta exists for this interval).
 *
 * A decrease counts as a wrap only when `prev` sat in the top half of the 32-bit range and `cur`
 * in the bottom half: a genuine wrap within one interval looks like that, while a reset of a
 * counter that was still small (or is 64-bit and already past 2^32) does not.
 */
export function counterDelta(prev: number, cur: number): number | undefined {
  if (cur >= prev) return cur - prev;
  if (prev < U32 && prev >= HALF_U32 && cur < HALF_U32) return U32 - prev + cur;
  return undefined;
}

export interface DeltaResult {
  /** Per-field deltas; undefined where the counter reset. Undefined as a whole on first sight. */
  deltas: (number | undefined)[] | undefined;
  resets: number;
}

export interface DeltaTable {
  /** Record the current counters of one key (device, interface) and get the deltas. */
  update(key: string, values: readonly number[]): DeltaResult;
  /** Forget every key not updated since the last sweep; returns the keys that disappeared. */
  sweep(): string[];
  readonly size: number;
}

export function createDeltaTable(): DeltaTable {
  const prev = new Map<string, { values: number[]; seen: boolean }>();
  return {
    update(key, values) {
      const entry = prev.get(key);
      if (!entry || entry.values.length !== values.length) {
        prev.set(key, { values: [...values], seen: true });
        return { deltas: undefined, resets: 0 };
      }
      let resets = 0;
      const deltas = values.map((v, i) => {
        const d = counterDelta(entry.values[i]!, v);
        if (d === undefined) resets++;
        entry.values[i] = v;
        return d;
      });
      entry.seen = true;
      return { deltas, resets };
    },
    sweep() {
      const gone: string[] = [];
      for (const [key, entry] of prev) {
        if (!entry.seen) {
          gone.push(key);
          prev.delete(key);
        } else entry.seen = false;
      }
      return gone;
    },
    get size() {
      return prev.size;
    },
  };
}
