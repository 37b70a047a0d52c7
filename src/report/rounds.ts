/**
 * Memory rounds as seen in a stream, told apart by the guard's own PassCounter (libxc
 * marks no round boundary: see migrate/guard/passes.ts), with where each round lies in
 * the stream. At most MAX_ROUNDS are kept; a hostile stream of descending pfns only
 * counts the rest.
 */
import { REC_TYPE } from '../format/constants.js';
import { PassCounter } from '../migrate/guard/passes.js';
import type { RecordItem } from '../stream/items.js';

export const MAX_ROUNDS = 1000;

export interface StreamRound {
  round: number;
  verify: boolean;
  records: number;
  /** Pages that carried contents. */
  pages: number;
  offset: number;
  end: number;
}

/** The guard's round counter, with where each round lies in the stream. */
export class StreamRounds {
  readonly rounds: StreamRound[] = [];
  private readonly passes = new PassCounter();
  private current: StreamRound | undefined;

  /** Rounds seen (kept or not). */
  get count(): number {
    return this.passes.closed + (this.passes.current === undefined ? 0 : 1);
  }

  /** The round this record belongs to (0 for records outside any round). */
  push(item: RecordItem): number {
    if (item.layer !== 'libxc') return 0;
    this.passes.push(item);
    if (item.type === REC_TYPE.END) this.passes.close();
    const p = this.passes.current;
    if (p === undefined) {
      // END or VERIFY closed the round (or none has started).
      this.keep();
      return 0;
    }
    if (item.type !== REC_TYPE.PAGE_DATA) return 0;
    if (this.current?.round !== p.number) {
      this.keep();
      this.current = { round: p.number, verify: p.verify, records: 0, pages: 0, offset: item.offset, end: item.end };
    }
    const c = this.current;
    // A record without pfn entries belongs to the round without growing it.
    if (p.records !== c.records) {
      c.records = p.records;
      c.pages = p.pages;
      c.end = item.end;
    }
    return c.round;
  }

  close(): void {
    this.passes.close();
    this.keep();
  }

  private keep(): void {
    const c = this.current;
    this.current = undefined;
    if (c !== undefined && this.rounds.length < MAX_ROUNDS) this.rounds.push(c);
  }
}
