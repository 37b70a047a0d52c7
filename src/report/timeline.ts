/**
 * The stream laid out by byte offset: one mark per header or record, consecutive
 * records of one type folded into one mark (a 2 GiB stream's 512 PAGE_DATA records of
 * a round are one mark, as `dump` folds them; each memory round its own). Past MAX_MARKS marks, whatever follows
 * is folded into the last mark but for END records, so the page stays small for a
 * stream of a million alternating records.
 */
import { LIBXL_REC_TYPE, PAGE_TYPE_SHIFT_HI, PFN_HI_MASK, REC_TYPE, pageTypeHasData, pageTypeName } from '../format/constants.js';
import { PAGE_DATA_HEADER_LAYOUT, isPfnRun, pfnArrayWords } from '../format/records.js';
import { itemLabel as labelOf, type RecordItem, type StreamItem } from '../stream/items.js';
import { itemFields, type MarkFields } from './fields.js';

export const MAX_MARKS = 2000;

export type MarkKind = 'header' | 'static' | 'static-end' | 'memory' | 'context' | 'checkpoint' | 'emulator' | 'end' | 'other' | 'trailing';

export interface Mark {
  offset: number;
  end: number;
  layer: string;
  kind: MarkKind;
  label: string;
  /** Index of the first record in its layer (headers: -1). */
  first: number;
  last: number;
  /** Records folded into this mark. */
  count: number;
  fields: MarkFields;
}

const STATIC = new Set<number>([REC_TYPE.X86_PV_INFO, REC_TYPE.X86_CPUID_POLICY, REC_TYPE.X86_MSR_POLICY]);
const MEMORY = new Set<number>([REC_TYPE.PAGE_DATA, REC_TYPE.X86_PV_P2M_FRAMES, REC_TYPE.CHECKPOINT_DIRTY_PFN_LIST]);
const CONTEXT = new Set<number>([
  REC_TYPE.X86_TSC_INFO,
  REC_TYPE.HVM_CONTEXT,
  REC_TYPE.HVM_PARAMS,
  REC_TYPE.SHARED_INFO,
  REC_TYPE.X86_PV_VCPU_BASIC,
  REC_TYPE.X86_PV_VCPU_EXTENDED,
  REC_TYPE.X86_PV_VCPU_XSAVE,
  REC_TYPE.X86_PV_VCPU_MSRS,
  REC_TYPE.TOOLSTACK,
]);
const CHECKPOINT = new Set<number>([REC_TYPE.CHECKPOINT, REC_TYPE.VERIFY]);

export function markKind(item: StreamItem): MarkKind {
  if (item.kind === 'trailing') return 'trailing';
  if (item.kind !== 'record') return 'header';
  if (item.layer === 'libxl') {
    if (item.type === LIBXL_REC_TYPE.END) return 'end';
    if (item.type === LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA || item.type === LIBXL_REC_TYPE.EMULATOR_CONTEXT || item.type === LIBXL_REC_TYPE.LIBXC_CONTEXT) return 'emulator';
    if (item.type === LIBXL_REC_TYPE.CHECKPOINT_END || item.type === LIBXL_REC_TYPE.CHECKPOINT_STATE) return 'checkpoint';
    return 'other';
  }
  if (item.type === REC_TYPE.END) return 'end';
  if (item.type === REC_TYPE.STATIC_DATA_END) return 'static-end';
  if (STATIC.has(item.type)) return 'static';
  if (MEMORY.has(item.type)) return 'memory';
  if (CONTEXT.has(item.type)) return 'context';
  if (CHECKPOINT.has(item.type)) return 'checkpoint';
  return 'other';
}

function layerOf(item: StreamItem): string {
  switch (item.kind) {
    case 'xl-header':
      return 'xl';
    case 'libxl-header':
      return 'libxl';
    case 'libxc-header':
      return 'libxc';
    case 'record':
      return item.layer;
    case 'trailing':
      return '-';
  }
}

/** Running totals of a folded run of PAGE_DATA records. */
interface PageTotals {
  pfns: number;
  withData: number;
  min: number;
  max: number;
  byType: Map<string, number>;
}

export class Timeline {
  readonly marks: Mark[] = [];
  private pages: PageTotals | undefined;
  /** The memory round of the last mark: a new round starts a new mark. */
  private round = 0;
  /** Records folded past the cap. */
  overflowRecords = 0;

  /** `round`: the memory round a PAGE_DATA record belongs to (StreamRounds), else 0. */
  push(item: StreamItem, round = 0): void {
    const kind = markKind(item);
    const layer = layerOf(item);
    const label = labelOf(item);
    const index = item.kind === 'record' ? item.index : -1;
    const end = item.kind === 'trailing' ? item.offset + item.length : item.end;
    const last = this.marks[this.marks.length - 1];
    const isPage = item.kind === 'record' && item.layer === 'libxc' && item.type === REC_TYPE.PAGE_DATA;
    const sameRound = !isPage || round === this.round;
    const sameType =
      last !== undefined && item.kind === 'record' && last.layer === layer && last.label === label && sameRound && kind !== 'end' && kind !== 'static-end';
    if (isPage) this.round = round;
    const full = this.marks.length >= MAX_MARKS && last !== undefined && kind !== 'end';
    if (sameType || full) {
      last!.end = end;
      last!.count++;
      if (index >= 0) last!.last = index;
      if (!sameType) {
        this.overflowRecords++;
        if (last!.label !== 'several') {
          this.pages = undefined;
          last!.label = 'several';
          last!.kind = 'other';
          last!.fields = { note: `the page shows at most ${MAX_MARKS} marks; the records from here on are folded together` };
        }
        return;
      }
      if (isPage) this.addPages(item as RecordItem, last!);
      return;
    }
    const mark: Mark = { offset: item.offset, end, layer, kind, label, first: index, last: index, count: 1, fields: isPage ? {} : itemFields(item) };
    this.marks.push(mark);
    this.pages = undefined;
    if (isPage) this.addPages(item as RecordItem, mark);
  }

  private addPages(item: RecordItem, mark: Mark): void {
    const t = (this.pages ??= { pfns: 0, withData: 0, min: Infinity, max: -1, byType: new Map() });
    const body = item.body;
    const H = PAGE_DATA_HEADER_LAYOUT;
    if (body.length >= H.size) {
      const count = Math.min(H.get(body, 'count', item.littleEndian), Math.floor((body.length - H.size) / 8));
      const words = pfnArrayWords(body, count, item.littleEndian);
      if (isPfnRun(words, count)) {
        // Nearly every record: one type, pfns ascending by one.
        const type = words[1]! >>> PAGE_TYPE_SHIFT_HI;
        const first = (words[1]! & PFN_HI_MASK) * 2 ** 32 + words[0]!;
        const name = pageTypeName(type);
        t.byType.set(name, (t.byType.get(name) ?? 0) + count);
        if (pageTypeHasData(type)) t.withData += count;
        if (first < t.min) t.min = first;
        if (first + count - 1 > t.max) t.max = first + count - 1;
        t.pfns += count;
        mark.fields = pageFields(t);
        return;
      }
      let lastType = -1;
      let run = 0;
      const flush = (): void => {
        if (run === 0) return;
        const name = pageTypeName(lastType);
        t.byType.set(name, (t.byType.get(name) ?? 0) + run);
      };
      for (let i = 0; i < count; i++) {
        const hi = words[2 * i + 1]!;
        const type = hi >>> PAGE_TYPE_SHIFT_HI;
        const pfn = (hi & PFN_HI_MASK) * 2 ** 32 + words[2 * i]!;
        if (type !== lastType) {
          flush();
          lastType = type;
          run = 0;
        }
        run++;
        if (pageTypeHasData(type)) t.withData++;
        if (pfn < t.min) t.min = pfn;
        if (pfn > t.max) t.max = pfn;
      }
      flush();
      t.pfns += count;
    }
    mark.fields = pageFields(t);
  }
}

function pageFields(t: PageTotals): MarkFields {
  return {
    pfns: t.pfns,
    pagesWithData: t.withData,
    ...(t.max >= 0 ? { pfnRange: `0x${t.min.toString(16)}-0x${t.max.toString(16)}` } : {}),
    byType: [...t.byType].map(([k, v]) => `${k} ${v}`).join(', '),
  };
}
