/**
 * The guest's work while it runs: it keeps writing into its own memory at a set rate,
 * so a live migration has dirty pages to chase. Which pages it writes and what it
 * writes are fixed by the seed; how many land in each pre-copy round depends on time,
 * as it does for a real guest.
 */
import { Prng } from './prng.js';

export type DirtyPattern = 'uniform' | 'hotset';

export interface WorkloadOptions {
  /** Pages written per second (0: idle). */
  rate: number;
  pattern?: DirtyPattern;
  /** Hot set: this fraction of pages... */
  hotFraction?: number;
  /** ...receives this share of the writes. */
  hotShare?: number;
  seed?: number;
  /** How often the timer fires, in ms. */
  tickMs?: number;
}

/** What the workload needs from the domain it runs in. */
export interface WorkloadTarget {
  /** The pfns that hold ordinary memory the guest may write. */
  writablePfns(): readonly number[];
  /** Write `value` somewhere in the page and mark it dirty. */
  touch(pfn: number, value: number): void;
}

export class Workload {
  private timer: NodeJS.Timeout | undefined;
  private readonly prng: Prng;
  private started = 0;
  private done = 0;
  private counter = 0;
  private hot: number[] = [];
  private pfns: readonly number[] = [];
  /** Pages written since the domain was created. */
  written = 0;

  constructor(
    private readonly target: WorkloadTarget,
    readonly options: WorkloadOptions,
  ) {
    this.prng = new Prng((options.seed ?? 1) ^ 0x574f524b);
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  start(): void {
    if (this.timer !== undefined || this.options.rate <= 0) return;
    this.choosePages();
    if (this.pfns.length === 0) return;
    this.started = performance.now();
    this.done = 0;
    const tick = this.options.tickMs ?? 5;
    const step = (): void => {
      this.runDue();
      this.timer = setTimeout(step, tick);
      this.timer.unref();
    };
    this.timer = setTimeout(step, tick);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer === undefined) return;
    // Writes that were due by now happen before the vcpus stop.
    this.runDue();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Write `n` pages now (tests drive the workload by hand with this). */
  burst(n: number): void {
    this.choosePages();
    for (let i = 0; i < n; i++) this.writeOne();
  }

  /** The pages it may write, and (once, from the seed) its hot set: one run of them. */
  private choosePages(): void {
    this.pfns = this.target.writablePfns();
    if (this.pfns.length > 0 && (this.options.pattern ?? 'uniform') === 'hotset' && this.hot.length === 0) {
      const n = Math.max(1, Math.floor(this.pfns.length * (this.options.hotFraction ?? 0.05)));
      const start = this.prng.below(this.pfns.length - n + 1);
      this.hot = this.pfns.slice(start, start + n);
    }
  }

  private runDue(): void {
    const due = Math.floor(((performance.now() - this.started) / 1000) * this.options.rate);
    // After a long stall (the event loop was busy sending), catch up at most a second's worth.
    const n = Math.min(due - this.done, Math.max(1, this.options.rate));
    for (let i = 0; i < n; i++) this.writeOne();
    this.done = due;
  }

  private writeOne(): void {
    const hotShare = this.options.hotShare ?? 0.9;
    const useHot = this.hot.length > 0 && this.prng.next() / 0x100000000 < hotShare;
    const from = useHot ? this.hot : this.pfns;
    const pfn = from[this.prng.below(from.length)]!;
    this.target.touch(pfn, ++this.counter);
    this.written++;
  }
}
