/**
 * `diff`: two domains compared, each a migration stream (a file or "-") or a memory image.
 * Both inputs are read at the same time, each on its own: a stream is replayed to the
 * state a restore would leave (see state.ts), so the order of its records and pages does
 * not matter and neither does the other input's; then the two states are compared by pfn
 * and by record (compare.ts).
 */
import { IoError, StreamFormatError, UsageError } from '../format/errors.js';
import { compareStates, type CompareOptions, type DiffResult } from './compare.js';
import { collectState, type CollectOptions, type DiffInputState } from './state.js';

export * from './compare.js';
export * from './state.js';

export interface DiffOptions extends CompareOptions, Omit<CollectOptions, 'checkpoint'> {
  /** Checkpointed streams: the state as of checkpoint N of both, or [N of A, M of B]. */
  checkpoint?: number | [number, number];
}

/** One input could not be read: which one, and the typed error underneath (offset and what). */
export class DiffInputError extends Error {
  constructor(
    readonly input: string,
    readonly inner: unknown,
  ) {
    super(`${input === '-' ? 'standard input' : input}: ${(inner as Error)?.message ?? String(inner)}`);
  }
}

export async function diffInputs(a: string, b: string, opts: DiffOptions = {}): Promise<DiffResult> {
  if (a === '-' && b === '-') throw new UsageError('only one of the two inputs can be standard input ("-")');
  const cp = opts.checkpoint;
  const collect = (side: 0 | 1): CollectOptions => {
    const o: CollectOptions = {};
    if (opts.checkpointed !== undefined) o.checkpointed = opts.checkpointed;
    if (cp !== undefined) o.checkpoint = typeof cp === 'number' ? cp : cp[side];
    return o;
  };
  const read = (path: string, side: 0 | 1): Promise<DiffInputState> =>
    collectState(path, collect(side)).catch((err: unknown) => {
      if (err instanceof UsageError) throw err;
      if (err instanceof StreamFormatError || err instanceof IoError || (err as NodeJS.ErrnoException)?.code !== undefined) throw new DiffInputError(path, err);
      throw err;
    });
  // Side by side; a failure of one still lets the other finish and close its input.
  const [ra, rb] = await Promise.allSettled([read(a, 0), read(b, 1)]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return compareStates(ra.value, rb.value, opts);
}
