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

export interface PrecopyLimits {
  maxRounds: number;
  targetDirty: number;
}

/** The limits of the policies made here, so a stop can be explained (a caller's own policy has none). */
const LIMITS = new WeakMap<PrecopyPolicy, PrecopyLimits>([[xenPrecopyPolicy, { maxRounds: XEN_MAX_ITERATIONS, targetDirty: XEN_TARGET_DIRTY_COUNT }]]);

/** The same rule with other limits (`--max-rounds`, `--target-dirty`). */
export function precopyPolicy(maxRounds: number, targetDirty: number): PrecopyPolicy {
  const policy: PrecopyPolicy = (s) => ((s.dirtyCount >= 0 && s.dirtyCount < targetDirty) || s.iteration >= maxRounds ? 'stop' : 'continue');
  LIMITS.set(policy, { maxRounds, targetDirty });
  return policy;
}

export function precopyLimits(policy: PrecopyPolicy): PrecopyLimits | undefined {
  return LIMITS.get(policy);
}

/** Why pre-copy ended where it did, in one line (for the migration log and its report). */
export function explainPrecopyStop(stats: PrecopyStats, decision: PrecopyDecision, limits: PrecopyLimits | undefined): string {
  if (decision === 'abort') return 'the pre-copy policy aborted the migration';
  if (limits !== undefined) {
    if (stats.dirtyCount >= 0 && stats.dirtyCount < limits.targetDirty) {
      return `${stats.dirtyCount} page(s) dirty after round ${stats.iteration}, fewer than the target of ${limits.targetDirty}`;
    }
    if (stats.iteration >= limits.maxRounds) return `${stats.iteration} round(s) done, the limit is ${limits.maxRounds}`;
  }
  return `the pre-copy policy said stop after round ${stats.iteration}`;
}
