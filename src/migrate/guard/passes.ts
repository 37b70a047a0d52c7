/**
 * Live-migration rounds as seen from the stream. libxc marks no round boundary: each
 * round walks the dirty bitmap in pfn order, so a PAGE_DATA record whose first pfn is
 * not above the previous record's last pfn starts a new round. VERIFY starts the debug
 * round that resends every page for checking.
 */
import { REC_TYPE, pageTypeHasData } from '../../format/constants.js';
import type { RecordItem } from '../../stream/items.js';

export interface Pass {
  /** 1-based round number. */
  number: number;
  records: number;
  /** Pages that carried data (pfn entries of types without data are not counted). */
  pages: number;
  verify: boolean;
}

export class PassCounter {
  private current: Pass | undefined;
  private lastPfn = -1;
  private nextIsVerify = false;
  /**
   * Rounds closed so far: a count, not a list. A hostile stream can start a round with
   * every 24-octet PAGE_DATA record (descending pfns), and the guard must not keep
   * anything per round.
   */
  closed = 0;
  totalPages = 0;

  /** Feed each libxc record; returns the round that this record closed, if any. */
  push(item: RecordItem): Pass | undefined {
    if (item.type === REC_TYPE.VERIFY) {
      this.nextIsVerify = true;
      return this.close();
    }
    if (item.type !== REC_TYPE.PAGE_DATA || item.body.length < 8) return undefined;
    const v = new DataView(item.body.buffer, item.body.byteOffset, item.body.byteLength);
    const le = item.littleEndian;
    const count = Math.min(v.getUint32(0, le), Math.floor((item.body.length - 8) / 8));
    if (count === 0) return undefined;
    let pages = 0;
    let first = -1;
    let last = -1;
    for (let i = 0; i < count; i++) {
      const at = 8 + 8 * i;
      const hi = v.getUint32(le ? at + 4 : at, le);
      const lo = v.getUint32(le ? at : at + 4, le);
      if (pageTypeHasData(hi >>> 28)) pages++;
      last = (hi & 0xfffff) * 2 ** 32 + lo;
      if (i === 0) first = last;
    }
    let closed: Pass | undefined;
    if (this.current === undefined || this.nextIsVerify || first <= this.lastPfn) {
      closed = this.close();
      this.current = { number: this.closed + 1, records: 0, pages: 0, verify: this.nextIsVerify };
      this.nextIsVerify = false;
    }
    this.current.records++;
    this.current.pages += pages;
    this.totalPages += pages;
    this.lastPfn = last;
    return closed;
  }

  /** Ends the round in progress (at END); returns it. */
  close(): Pass | undefined {
    const c = this.current;
    this.current = undefined;
    this.lastPfn = -1;
    if (c) this.closed++;
    return c;
  }
}

export function describePass(p: Pass): string {
  return `${p.verify ? 'verify round' : `round ${p.number}`}: ${p.pages} page(s) in ${p.records} PAGE_DATA record(s)`;
}
