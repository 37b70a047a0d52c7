/**
 * PAGE_DATA: count, reserved, count pfn entries (pfn in bits 51-0, page type in 63-60,
 * bits 59-52 reserved), then a page for each entry whose type carries data. The one
 * reader of pfn entries: verify, summary, dump and restore read them through here.
 */
import { ByteCursor, ByteWriter } from '../bytes.js';
import {
  PAGE_SIZE,
  PAGE_TYPE_SHIFT_HI,
  PFN_HI_MASK,
  PFN_RESERVED_MASK_HI,
  REC_TYPE,
  isReservedPageType,
  pageTypeHasData,
  pageTypeName,
} from '../constants.js';
import { StreamFormatError } from '../errors.js';
import { struct } from '../layout.js';
import { defineRecord } from '../record-module.js';
import { hex } from './common.js';

export const PAGE_DATA_HEADER_LAYOUT = struct('page_data_header', { count: 'u32', reserved: 'u32' });

/** One PAGE_DATA pfn entry, split into its fields. */
export interface PfnEntry {
  pfn: number;
  /** Bits 63-60. */
  pageType: number;
  /** Bits 59-52, zero in a conforming stream. */
  reservedBits: number;
}

export interface PageDataRecord {
  type: typeof REC_TYPE.PAGE_DATA;
  reserved: number;
  entries: PfnEntry[];
  /** The pages with data, concatenated in entry order (4096 octets each). */
  pages: Uint8Array;
}

export function decodePfnEntry(hi: number, lo: number): PfnEntry {
  return {
    pfn: (hi & PFN_HI_MASK) * 2 ** 32 + (lo >>> 0),
    pageType: hi >>> PAGE_TYPE_SHIFT_HI,
    reservedBits: (hi & PFN_RESERVED_MASK_HI) >>> 20,
  };
}

export function encodePfnEntry(e: PfnEntry): { hi: number; lo: number } {
  const hi = ((e.pageType & 0xf) << PAGE_TYPE_SHIFT_HI) | ((e.reservedBits & 0xff) << 20) | Math.floor(e.pfn / 2 ** 32);
  return { hi: hi >>> 0, lo: e.pfn % 2 ** 32 >>> 0 };
}

/** Whether this machine stores numbers little-endian (x86 and most others do). */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * PAGE_DATA's pfn array as host-order words, low word first: entry i is
 * `words[2i]` (bits 31-0) and `words[2i + 1]` (bits 63-32). Verifying a 2 GiB stream
 * walks half a million entries twice; typed-array indexing is several times cheaper than
 * DataView calls there. A stream in host order whose array is 4-aligned is viewed in
 * place, any other is copied (8 octets per entry, once).
 */
export function pfnArrayWords(body: Uint8Array, count: number, le: boolean): Uint32Array {
  const start = body.byteOffset + PAGE_DATA_HEADER_LAYOUT.size;
  if (le === HOST_LITTLE_ENDIAN && start % 4 === 0) return new Uint32Array(body.buffer, start, count * 2);
  const view = new DataView(body.buffer, start, count * 8);
  const loOff = le ? 0 : 4;
  const hiOff = le ? 4 : 0;
  const words = new Uint32Array(count * 2);
  for (let i = 0, off = 0; i < count; i++, off += 8) {
    words[2 * i] = view.getUint32(off + loOff, le);
    words[2 * i + 1] = view.getUint32(off + hiOff, le);
  }
  return words;
}

/** Entry i's pfn, from `pfnArrayWords`. */
export function wordsPfn(words: Uint32Array, i: number): number {
  return (words[2 * i + 1]! & PFN_HI_MASK) * 2 ** 32 + words[2 * i]!;
}

/** Entry i's page type, from `pfnArrayWords`. */
export function wordsPageType(words: Uint32Array, i: number): number {
  return words[2 * i + 1]! >>> PAGE_TYPE_SHIFT_HI;
}

/**
 * Whether a pfn array (as `pfnArrayWords` gives it) is one run: every entry has the
 * same high word (so one page type and the same reserved bits) and the pfns ascend by
 * one. libxc sends memory in order in batches of up to 1024 pfns, so nearly every
 * PAGE_DATA record is one run; callers then do their per-entry work once per record.
 */
export function isPfnRun(words: Uint32Array, count: number): boolean {
  if (count === 0) return false;
  const hi = words[1]!;
  const lo = words[0]!;
  if (lo + count - 1 > 0xffffffff) return false;
  for (let i = 1; i < count; i++) {
    if (words[2 * i + 1] !== hi || words[2 * i] !== lo + i) return false;
  }
  return true;
}

/**
 * The pfn entries a body holds whole, as far as it goes: its count, capped by the octets
 * there (a body whose page contents were skipped still has its whole array).
 */
export function pfnEntriesOf(body: Uint8Array, le: boolean): { count: number; words: Uint32Array } {
  const H = PAGE_DATA_HEADER_LAYOUT;
  const count = body.length >= H.size ? H.get(body, 'count', le) : 0;
  const n = Math.max(0, Math.min(count, Math.floor((body.length - H.size) / 8)));
  return { count, words: pfnArrayWords(body, n, le) };
}

/** Pfn entries of a PAGE_DATA body (only the pfn array is needed), as dump shows them. */
export interface PageDataStats {
  count: number;
  byType: Record<string, number>;
  withData: number;
  minPfn: number;
  maxPfn: number;
  pfns?: { pfn: number; type: string }[];
}

export function pfnEntryStats(body: Uint8Array, le: boolean, listPfns: boolean): PageDataStats {
  const { count, words } = pfnEntriesOf(body, le);
  const n = words.length / 2;
  const stats: PageDataStats = { count, byType: {}, withData: 0, minPfn: Infinity, maxPfn: -1 };
  if (listPfns) stats.pfns = [];
  for (let i = 0; i < n; i++) {
    const type = wordsPageType(words, i);
    const pfn = wordsPfn(words, i);
    const name = pageTypeName(type);
    stats.byType[name] = (stats.byType[name] ?? 0) + 1;
    if (pageTypeHasData(type)) stats.withData++;
    if (pfn < stats.minPfn) stats.minPfn = pfn;
    if (pfn > stats.maxPfn) stats.maxPfn = pfn;
    if (stats.pfns) stats.pfns.push({ pfn, type: (words[2 * i + 1]! & PFN_RESERVED_MASK_HI) !== 0 ? `${name}+reserved-bits` : name });
  }
  return stats;
}

export function pageStatsText(s: PageDataStats): string {
  const types = Object.entries(s.byType)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const range = s.maxPfn >= 0 ? `, pfn ${hex(s.minPfn)}-${hex(s.maxPfn)}` : '';
  return `${s.count} pfn(s) [${types}]${range}, ${s.withData} page(s) of data`;
}

/** Reads PAGE_DATA's fixed part and pfn array; page contents stay a view of the body. */
export function decodePageData(body: Uint8Array, le: boolean): PageDataRecord {
  const c = new ByteCursor(body, le);
  const count = c.u32('count');
  const reserved = c.u32('reserved');
  c.need(count * 8, `pfn array of ${count} entries`);
  const entries: PfnEntry[] = new Array(count);
  let withData = 0;
  for (let i = 0; i < count; i++) {
    const a = c.u32();
    const b = c.u32();
    const e = le ? decodePfnEntry(b, a) : decodePfnEntry(a, b);
    entries[i] = e;
    if (pageTypeHasData(e.pageType)) withData++;
  }
  const pages = c.bytesView(c.remaining);
  if (pages.length !== withData * PAGE_SIZE) {
    throw new StreamFormatError(
      `PAGE_DATA: ${count} pfn(s), ${withData} with data need ${8 + 8 * count + withData * PAGE_SIZE} octets of body, found ${body.length}`,
    );
  }
  return { type: REC_TYPE.PAGE_DATA, reserved, entries, pages };
}

export function encodePageData(rec: PageDataRecord, le: boolean): Uint8Array {
  const w = new ByteWriter(le, 8 + rec.entries.length * 8 + rec.pages.length);
  w.u32(rec.entries.length).u32(rec.reserved);
  for (const e of rec.entries) {
    const { hi, lo } = encodePfnEntry(e);
    if (le) w.u32(lo).u32(hi);
    else w.u32(hi).u32(lo);
  }
  return w.bytes(rec.pages).finish();
}

export const pageData = defineRecord<PageDataRecord>({
  type: REC_TYPE.PAGE_DATA,
  name: 'PAGE_DATA',
  flags: { dynamic: true },
  length: { kind: 'min', length: 16 },
  decode: decodePageData,
  encode: encodePageData,
  describe(r) {
    const s: PageDataStats = { count: r.entries.length, byType: {}, withData: 0, minPfn: Infinity, maxPfn: -1 };
    for (const e of r.entries) {
      const name = pageTypeName(e.pageType);
      s.byType[name] = (s.byType[name] ?? 0) + 1;
      if (pageTypeHasData(e.pageType)) s.withData++;
      s.minPfn = Math.min(s.minPfn, e.pfn);
      s.maxPfn = Math.max(s.maxPfn, e.pfn);
    }
    return { fields: { ...s }, text: pageStatsText(s) };
  },
  check(ctx) {
    const { body, littleEndian: le, facts } = ctx;
    const H = PAGE_DATA_HEADER_LAYOUT;
    const count = H.get(body, 'count', le);
    const reserved = H.get(body, 'reserved', le);
    const length = ctx.length;
    if (count === 0) ctx.report('page-data-count-zero', 'PAGE_DATA count is 0, expected at least 1 pfn');
    if (reserved !== 0) ctx.report('reserved-nonzero', `PAGE_DATA reserved field ${hex(reserved, 8)}, expected zero`);
    const arrayEnd = H.size + 8 * count;
    if (length < arrayEnd) {
      ctx.report('page-data-length', `PAGE_DATA count ${count} needs a pfn array of ${8 * count} octets; body length ${length} leaves ${length - H.size}`);
      return;
    }
    const words = pfnArrayWords(body, count, le);
    let withData = 0;
    let badReserved = -1;
    let badType = -1;
    // One run shares one high word: the entry checks below then only need entry 0.
    const entries = isPfnRun(words, count) ? 1 : count;
    for (let i = 0; i < entries; i++) {
      const hi = words[2 * i + 1]!;
      const type = hi >>> PAGE_TYPE_SHIFT_HI;
      if ((hi & PFN_RESERVED_MASK_HI) !== 0 && badReserved < 0) badReserved = i;
      if (isReservedPageType(type)) {
        if (badType < 0) badType = i;
      } else if (pageTypeHasData(type)) withData++;
    }
    if (entries === 1) withData *= count;
    const entry = (i: number): string => `${hex(words[2 * i + 1]!, 8)}${words[2 * i]!.toString(16).padStart(8, '0')}`;
    if (badReserved >= 0) {
      ctx.report('pfn-reserved-bits', `pfn[${badReserved}] ${entry(badReserved)} has reserved bits 59-52 set, expected zero`);
    }
    if (badType >= 0) {
      ctx.report('page-type-reserved', `pfn[${badType}] ${entry(badType)} has page type ${wordsPageType(words, badType)}; types 5-8 are reserved`);
    }
    if (facts.guestType === 'pv' && facts.p2mEndPfn !== undefined) {
      // A run only needs its last entry looked at.
      const end = facts.p2mEndPfn;
      for (let i = entries === 1 ? count - 1 : 0; i < count; i++) {
        const pfn = wordsPfn(words, i);
        if (pfn > end) {
          ctx.report('pv-pfn-beyond-p2m', `pfn[${i}] ${hex(pfn)} is beyond p2m_end_pfn ${hex(end)}; libxc's restorer refuses it ("outside domain maximum")`);
          break;
        }
      }
    }
    const expected = arrayEnd + PAGE_SIZE * withData;
    if (length !== expected) {
      ctx.report('page-data-length', `PAGE_DATA body length ${length}, expected 8 + 8*${count} + 4096*${withData} (pages with data) = ${expected}`);
    }
  },
});
