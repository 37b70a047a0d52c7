/**
 * When to stop pre-copying and suspend. libxc asks its policy before each round with
 * the round number and how many pages are dirty (-1 while it does not know yet), and
 * the default stops once fewer than 50 pages are dirty or after 5 rounds.
 */
export interface PrecopyStats {
  /** Rounds completed so far (the first pass over all memory is round 1). */
  iteration: number;
  /** Pages dirty now, or -1 when the log has not been read since the last round. */
  dirtyCount: number;
  /** Pages sent by all rounds so far. */
  totalWritten: number;
}

export type PrecopyDecision = 'continue' | 'stop' | 'abort';

export type PrecopyPolicy = (stats: PrecopyStats) => PrecopyDecision;

export const XEN_MAX_ITERATIONS = 5;
export const XEN_TARGET_DIRTY_COUNT = 50;

export function xenPrecopyPolicy(stats: PrecopyStats): PrecopyDecision {
  return (stats.dirtyCount >= 0 && stats.dirtyCount < XEN_TARGET_DIRTY_COUNT) || stats.iteration >= XEN_MAX_ITERATIONS
    ? 'stop'
    : 'continue';
}

/** The same rule with other limits (`--max-rounds`, `--target-dirty`). */
export function precopyPolicy(maxRounds: number, targetDirty: number): PrecopyPolicy {
  return (s) => ((s.dirtyCount >= 0 && s.dirtyCount < targetDirty) || s.iteration >= maxRounds ? 'stop' : 'continue');
}
