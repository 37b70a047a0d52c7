/**
 * Live-migration rounds as seen from the stream. libxc marks no round boundary: each
 * round walks the dirty bitmap in pfn order, so a PAGE_DATA record whose first pfn is
 * not above the previous record's last pfn starts a new round. VERIFY starts the debug
 * round that resends every page for checking.
 */
import { REC_TYPE, pageTypeHasData } from '../../format/constants.js';
import { pfnEntriesOf, wordsPageType, wordsPfn } from '../../format/libxc/page-data.js';
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
  private open: Pass | undefined;
  private lastPfn = -1;
  private nextIsVerify = false;
  /**
   * Rounds closed so far: a count, not a list. A hostile stream can start a round with
   * every 24-octet PAGE_DATA record (descending pfns), and the guard must not keep
   * anything per round.
   */
  closed = 0;
  totalPages = 0;

  /** The round the last PAGE_DATA record belongs to, until the next one starts or END/VERIFY closes it. */
  get current(): Readonly<Pass> | undefined {
    return this.open;
  }

  /** Feed each libxc record; returns the round that this record closed, if any. */
  push(item: RecordItem): Pass | undefined {
    if (item.type === REC_TYPE.VERIFY) {
      this.nextIsVerify = true;
      return this.close();
    }
    if (item.type !== REC_TYPE.PAGE_DATA) return undefined;
    const { words } = pfnEntriesOf(item.body, item.littleEndian);
    const count = words.length / 2;
    if (count === 0) return undefined;
    let pages = 0;
    for (let i = 0; i < count; i++) if (pageTypeHasData(wordsPageType(words, i))) pages++;
    const first = wordsPfn(words, 0);
    const last = wordsPfn(words, count - 1);
    let closed: Pass | undefined;
    if (this.open === undefined || this.nextIsVerify || first <= this.lastPfn) {
      closed = this.close();
      this.open = { number: this.closed + 1, records: 0, pages: 0, verify: this.nextIsVerify };
      this.nextIsVerify = false;
    }
    this.open.records++;
    this.open.pages += pages;
    this.totalPages += pages;
    this.lastPfn = last;
    return closed;
  }

  /** Ends the round in progress (at END); returns it. */
  close(): Pass | undefined {
    const c = this.open;
    this.open = undefined;
    this.lastPfn = -1;
    if (c) this.closed++;
    return c;
  }
}

export function describePass(p: Pass): string {
  return `${p.verify ? 'verify round' : `round ${p.number}`}: ${p.pages} page(s) in ${p.records} PAGE_DATA record(s)`;
}
