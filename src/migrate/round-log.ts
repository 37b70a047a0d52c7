/**
 * The rounds of a migration as the receiving end sees them: the stream marks no round,
 * so the guard's rule (PassCounter) tells them apart, and the receiver times them as
 * they arrive. What a round's sender found dirty at its end is what the next round
 * carries. For `xenmig receive --json` and the report's pre-copy section.
 */
import { REC_TYPE } from '../format/constants.js';
import type { RecordItem, StreamItem } from '../stream/items.js';
import { PassCounter } from './guard/passes.js';

/** Rounds kept one by one (a hostile stream of descending pfns makes a round per record). */
const MAX_ROUNDS = 1000;

export interface ReceivedRound {
  round: number;
  phase: 'live' | 'final' | 'verify';
  /** Pages that carried contents. */
  pages: number;
  /** The next round's pages (what the sender found dirty); 0 after the last. */
  dirtyAfter: number;
  records: number;
  /** Stream octets from the round's first PAGE_DATA to the end of its last. */
  bytes: number;
  /** From the first octet of the stream to the round's first PAGE_DATA, as received. */
  startMs: number;
  durationMs: number;
}

export class RoundLog {
  readonly rounds: ReceivedRound[] = [];
  private readonly counter = new PassCounter();
  private current: (ReceivedRound & { offset: number }) | undefined;
  private t0 = 0;
  /** performance.now() when the last round's first record arrived: the final round runs while the guest is suspended. */
  lastRoundAt: number | undefined;

  /** Passes the items through, timing the rounds on the way. */
  async *watch(items: AsyncGenerator<StreamItem>): AsyncGenerator<StreamItem> {
    for await (const item of items) {
      if (this.t0 === 0) this.t0 = performance.now();
      if (item.kind === 'record' && item.layer === 'libxc') this.push(item);
      yield item;
    }
  }

  /** The counter tells the rounds apart (number, verify, records, pages); this adds where and when. */
  private push(item: RecordItem): void {
    const type = item.type;
    // A round lasts until whatever follows it arrives: the next round, or the context records.
    if (this.current !== undefined) this.current.durationMs = performance.now() - this.t0 - this.current.startMs;
    this.counter.push(item);
    if (type === REC_TYPE.END) this.counter.close();
    const p = this.counter.current;
    if (p === undefined) {
      // END or VERIFY closed the round.
      this.close();
      return;
    }
    if (type !== REC_TYPE.PAGE_DATA) return;
    if (this.current?.round !== p.number) {
      this.close();
      const now = performance.now();
      this.current = { round: p.number, phase: p.verify ? 'verify' : 'live', pages: 0, dirtyAfter: -1, records: 0, bytes: 0, startMs: now - this.t0, durationMs: 0, offset: item.offset };
      if (!p.verify) this.lastRoundAt = now;
    }
    const c = this.current;
    c.records = p.records;
    c.pages = p.pages;
    c.bytes = item.end - c.offset;
  }

  private close(): void {
    const c = this.current;
    this.current = undefined;
    if (c === undefined) return;
    const prev = this.rounds[this.rounds.length - 1];
    if (prev !== undefined && prev.round === c.round - 1 && c.phase !== 'verify') prev.dirtyAfter = c.pages;
    if (this.rounds.length < MAX_ROUNDS) {
      const { offset: _offset, ...round } = c;
      this.rounds.push(round);
    }
  }

  /** The stream is over: the last round is the final one. */
  finish(): ReceivedRound[] {
    this.close();
    const last = this.rounds.filter((r) => r.phase !== 'verify').pop();
    if (last !== undefined) {
      last.phase = 'final';
      last.dirtyAfter = 0;
    }
    return this.rounds;
  }
}
