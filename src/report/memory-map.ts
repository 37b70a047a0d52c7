/**
 * The guest's pfn space as a picture of fixed size, gathered one PAGE_DATA record at a
 * time. A stream does not say how large the guest is until its last page, so the map
 * starts with one pfn per cell and, whenever a pfn falls past the last cell, doubles
 * the pfns per cell and folds neighbouring cells together: counts stay exact per cell
 * and memory stays CELLS cells whatever the guest's size.
 *
 * Whether a page was sent before needs one bit per pfn: a bitmap in 32 Ki-pfn chunks,
 * capped (MAX_CHUNKS, 512 GiB of guest); past the cap resends are not told apart and
 * the map says its counts are approximate. Ranges of populated
 * pfns are read back from the same bitmap, capped at MAX_RANGES.
 */
import { PAGE_TYPE, pageTypeHasData, pageTypeName } from '../format/constants.js';
import { isPfnRun, pfnEntriesOf, wordsPageType, wordsPfn } from '../format/records.js';

/** Cells of the picture (a 128 x 32 grid on the page). */
export const CELLS = 4096;
/** Cells of each round's row in the per-round strip. */
export const ROUND_CELLS = 1024;
/** Rounds with a row of their own; later rounds share the last row. */
export const MAX_ROUND_ROWS = 32;
export const MAX_RANGES = 500;
const CHUNK_PFNS = 2 ** 15;
const MAX_CHUNKS = 4096;
/** Page types kept per cell: 0-15 (what the 4-bit type field can say). */
const TYPES = 16;

export interface PfnRange {
  first: number;
  /** Inclusive. */
  last: number;
}

export interface MemoryMapData {
  /** Pfns per cell (a power of two); cell i covers pfns [i*cellPfns, (i+1)*cellPfns). */
  cellPfns: number;
  /** Cells in use: up to the one holding the highest pfn seen. */
  cells: number;
  /** Per cell: distinct pfns given memory (types with data, and XALLOC). */
  populated: number[];
  /** Per cell: pfn entries that carried page contents, resends included. */
  sent: number[];
  /** Per cell: pages sent again after a first time. */
  resent: number[];
  /** Per cell: the most frequent page type's name index into typeNames (-1: none). */
  dominantType: number[];
  typeNames: string[];
  /** Per round (1-based row r-1): pages sent in that round per ROUND_CELLS cell. */
  rounds: { round: number; cellPfns: number; pages: number[] }[];
  /** Distinct populated pfns. */
  populatedPfns: number;
  pagesSent: number;
  pagesResent: number;
  /** Counts are approximate: the guest's pfns spread past the bitmap's cap (a resend there counts as a new page). */
  approximate: boolean;
  ranges: PfnRange[];
  /** Populated ranges beyond MAX_RANGES, counted only. */
  moreRanges: number;
  /** Holes (gaps between populated ranges, up to the highest pfn). */
  holes: number;
  maxPfn: number;
  byType: Record<string, number>;
}

export class MemoryMap {
  private cellPfns = 1;
  private populated = new Float64Array(CELLS);
  private sent = new Float64Array(CELLS);
  private resent = new Float64Array(CELLS);
  private types = new Float64Array(CELLS * TYPES);
  private readonly roundRows: Float64Array[] = [];
  private roundCellPfns = 1;
  private readonly bitmap = new Map<number, Uint8Array>();
  private approximate = false;
  private maxPfn = -1;
  private populatedPfns = 0;
  private pagesSent = 0;
  private pagesResent = 0;
  private readonly typeTotals = new Float64Array(TYPES);

  /** One PAGE_DATA body (at least its pfn array), sent in `round` (1-based). */
  pageData(body: Uint8Array, littleEndian: boolean, round: number): void {
    const { words } = pfnEntriesOf(body, littleEndian);
    const count = words.length / 2;
    let row: Float64Array | undefined;
    if (round > 0) {
      const r = Math.min(round, MAX_ROUND_ROWS) - 1;
      while (this.roundRows.length <= r) this.roundRows.push(new Float64Array(ROUND_CELLS));
      row = this.roundRows[r];
    }
    if (isPfnRun(words, count)) {
      // Nearly every record: one type, pfns ascending by one; grow once for the last.
      const type = wordsPageType(words, 0);
      const first = wordsPfn(words, 0);
      this.grow(first + count - 1);
      for (let pfn = first; pfn < first + count; pfn++) this.entry(pfn, type, row);
      return;
    }
    for (let i = 0; i < count; i++) {
      this.entry(wordsPfn(words, i), wordsPageType(words, i), row);
    }
  }

  private entry(pfn: number, type: number, row: Float64Array | undefined): void {
    this.typeTotals[type]!++;
    const memory = pageTypeHasData(type) || type === PAGE_TYPE.XALLOC;
    if (!memory) {
      // XTAB, BROKEN and reserved types: no memory; they still colour their cell's type.
      if (pfn <= this.maxPfn || this.grow(pfn)) this.types[this.cellOf(pfn) * TYPES + type]!++;
      return;
    }
    this.grow(pfn);
    const cell = this.cellOf(pfn);
    this.types[cell * TYPES + type]!++;
    const fresh = this.mark(pfn);
    if (fresh) {
      this.populated[cell]!++;
      this.populatedPfns++;
    }
    if (!pageTypeHasData(type)) return;
    this.sent[cell]!++;
    this.pagesSent++;
    if (!fresh && !this.approximate) {
      this.resent[cell]!++;
      this.pagesResent++;
    }
    if (row) row[Math.floor(pfn / this.roundCellPfns)]!++;
  }

  private cellOf(pfn: number): number {
    return Math.floor(pfn / this.cellPfns);
  }

  /** Widens the cells until pfn fits; false when a pfn is absurdly high (never). */
  private grow(pfn: number): boolean {
    if (pfn > this.maxPfn) this.maxPfn = pfn;
    while (pfn >= CELLS * this.cellPfns) {
      this.cellPfns *= 2;
      for (const a of [this.populated, this.sent, this.resent]) fold(a, 1);
      fold(this.types, TYPES);
    }
    while (pfn >= ROUND_CELLS * this.roundCellPfns) {
      this.roundCellPfns *= 2;
      for (const row of this.roundRows) fold(row, 1);
    }
    return true;
  }

  /** Sets pfn's bit; true if it was clear. Past the chunk cap, every pfn counts as new. */
  private mark(pfn: number): boolean {
    const key = Math.floor(pfn / CHUNK_PFNS);
    let chunk = this.bitmap.get(key);
    if (chunk === undefined) {
      if (this.bitmap.size >= MAX_CHUNKS) {
        this.approximate = true;
        return true;
      }
      chunk = new Uint8Array(CHUNK_PFNS / 8);
      this.bitmap.set(key, chunk);
    }
    const bit = pfn - key * CHUNK_PFNS;
    const mask = 1 << (bit & 7);
    if ((chunk[bit >>> 3]! & mask) !== 0) return false;
    chunk[bit >>> 3] = chunk[bit >>> 3]! | mask;
    return true;
  }

  /** Populated ranges in pfn order, read from the bitmap. */
  private ranges(): { ranges: PfnRange[]; more: number; total: number } {
    const ranges: PfnRange[] = [];
    let more = 0;
    let total = 0;
    let open: PfnRange | undefined;
    const close = (): void => {
      if (!open) return;
      total++;
      if (ranges.length < MAX_RANGES) ranges.push(open);
      else more++;
      open = undefined;
    };
    for (const key of [...this.bitmap.keys()].sort((a, b) => a - b)) {
      const chunk = this.bitmap.get(key)!;
      const base = key * CHUNK_PFNS;
      for (let byte = 0; byte < chunk.length; byte++) {
        const v = chunk[byte]!;
        if (v === 0 || v === 0xff) {
          // Whole bytes first: the common case of long runs and long holes.
          if (v === 0) close();
          else {
            const p = base + byte * 8;
            if (open && open.last === p - 1) open.last = p + 7;
            else {
              close();
              open = { first: p, last: p + 7 };
            }
          }
          continue;
        }
        for (let b = 0; b < 8; b++) {
          const p = base + byte * 8 + b;
          if ((v & (1 << b)) === 0) close();
          else if (open && open.last === p - 1) open.last = p;
          else {
            close();
            open = { first: p, last: p };
          }
        }
      }
    }
    close();
    return { ranges, more, total };
  }

  finish(): MemoryMapData {
    const cells = this.maxPfn < 0 ? 0 : this.cellOf(this.maxPfn) + 1;
    const dominantType: number[] = [];
    for (let c = 0; c < cells; c++) {
      let best = -1;
      let bestN = 0;
      for (let t = 0; t < TYPES; t++) {
        const n = this.types[c * TYPES + t]!;
        if (n > bestN) {
          best = t;
          bestN = n;
        }
      }
      dominantType.push(best);
    }
    const byType: Record<string, number> = {};
    this.typeTotals.forEach((n, t) => {
      if (n > 0) byType[pageTypeName(t)] = n;
    });
    const { ranges, more, total } = this.ranges();
    const holes = total === 0 ? 0 : total - 1 + (ranges[0]!.first > 0 ? 1 : 0);
    const roundCells = this.maxPfn < 0 ? 0 : Math.floor(this.maxPfn / this.roundCellPfns) + 1;
    return {
      cellPfns: this.cellPfns,
      cells,
      populated: Array.from(this.populated.subarray(0, cells)),
      sent: Array.from(this.sent.subarray(0, cells)),
      resent: Array.from(this.resent.subarray(0, cells)),
      dominantType,
      typeNames: Array.from({ length: TYPES }, (_, t) => pageTypeName(t)),
      rounds: this.roundRows.map((row, i) => ({ round: i + 1, cellPfns: this.roundCellPfns, pages: Array.from(row.subarray(0, roundCells)) })),
      populatedPfns: this.populatedPfns,
      pagesSent: this.pagesSent,
      pagesResent: this.pagesResent,
      approximate: this.approximate,
      ranges,
      moreRanges: more,
      holes,
      maxPfn: this.maxPfn,
      byType,
    };
  }
}

/** Adds each pair of neighbouring cells (of `width` values each) into one, in place. */
function fold(a: Float64Array, width: number): void {
  const cells = a.length / width;
  for (let c = 0; c < cells / 2; c++) {
    for (let k = 0; k < width; k++) a[c * width + k] = a[2 * c * width + k]! + a[(2 * c + 1) * width + k]!;
  }
  a.fill(0, (cells / 2) * width);
}
