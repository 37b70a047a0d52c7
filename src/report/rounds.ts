/**
 * Memory rounds as seen in a stream, by the rule the guard's PassCounter uses (libxc
 * marks no round boundary; each round walks the dirty bitmap in pfn order, so a
 * PAGE_DATA record whose first pfn is not above the previous record's last pfn starts
 * a new round, and VERIFY starts the debug round), with where each round lies in the
 * stream. At most MAX_ROUNDS are kept; a hostile stream of descending pfns only
 * counts the rest.
 */
import { PAGE_TYPE_SHIFT_HI, PFN_HI_MASK, REC_TYPE, pageTypeHasData } from '../format/constants.js';
import { pfnArrayWords } from '../format/records.js';
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

export class StreamRounds {
  readonly rounds: StreamRound[] = [];
  /** Rounds seen (kept or not). */
  count = 0;
  private current: StreamRound | undefined;
  private lastPfn = -1;
  private nextIsVerify = false;

  /** The round this record belongs to (0 for records outside any round). */
  push(item: RecordItem): number {
    if (item.layer !== 'libxc') return 0;
    if (item.type === REC_TYPE.VERIFY) {
      this.nextIsVerify = true;
      this.close();
      return 0;
    }
    if (item.type === REC_TYPE.END) this.close();
    if (item.type !== REC_TYPE.PAGE_DATA || item.body.length < 8) return 0;
    const v = new DataView(item.body.buffer, item.body.byteOffset, item.body.byteLength);
    const count = Math.min(v.getUint32(0, item.littleEndian), Math.floor((item.body.length - 8) / 8));
    if (count === 0) return this.current?.round ?? 0;
    const words = pfnArrayWords(item.body, count, item.littleEndian);
    const pfnAt = (i: number): number => (words[2 * i + 1]! & PFN_HI_MASK) * 2 ** 32 + words[2 * i]!;
    let pages = 0;
    for (let i = 0; i < count; i++) if (pageTypeHasData(words[2 * i + 1]! >>> PAGE_TYPE_SHIFT_HI)) pages++;
    const first = pfnAt(0);
    if (this.current === undefined || this.nextIsVerify || first <= this.lastPfn) {
      this.close();
      this.count++;
      this.current = { round: this.count, verify: this.nextIsVerify, records: 0, pages: 0, offset: item.offset, end: item.end };
      this.nextIsVerify = false;
    }
    const c = this.current;
    c.records++;
    c.pages += pages;
    c.end = item.end;
    this.lastPfn = pfnAt(count - 1);
    return c.round;
  }

  close(): void {
    const c = this.current;
    this.current = undefined;
    this.lastPfn = -1;
    if (c !== undefined && this.rounds.length < MAX_ROUNDS) this.rounds.push(c);
  }
}
