/**
 * The rules of a libxc stream, as small named checks: one table from record type to the
 * check of its body (like Xen's libxc.py), and a list of sequence rules that look at a
 * record's place in the stream (static data, guest type, order, checkpoints).
 */
import {
  DHDR_TYPE_X86_HVM,
  DHDR_TYPE_X86_PV,
  DYNAMIC_RECORDS,
  HVM_ONLY_RECORDS,
  IHDR_OPT_RESERVED_MASK,
  LIBXC_VERSION_2,
  LIBXC_VERSION_3,
  PAGE_SHIFT,
  PAGE_SIZE,
  PAGE_TYPE_SHIFT_HI,
  PFN_RESERVED_MASK_HI,
  PV_ONLY_RECORDS,
  REC_TYPE,
  STATIC_RECORDS,
  VCPU_RECORDS,
  guestTypeOf,
  isKnownRecordType,
  isOptionalRecordType,
  isReservedPageType,
  pageTypeHasData,
  type GuestType,
} from '../format/constants.js';
import { checkHvmContext } from '../format/hvm-context.js';
import { HVM_PARAM_PAE_ENABLED, hvmParamName, hvmParamRefusal, LIBXC_SAVED_HVM_PARAMS } from '../format/hvm-params.js';
import { checkLength, isPfnRun, pfnArrayWords, RECORD_SPECS } from '../format/records.js';
import type { LibxcHeaderItem, RecordItem } from '../stream/items.js';
import type { Reporter } from './report.js';
import type { VerifyOptions } from './types.js';

/** What the sequence rules remember about one libxc stream. */
export class LibxcState {
  readonly version: number;
  readonly guestType: GuestType | undefined;
  staticDataEndSeen = false;
  pvInfo: { guestWidth: number } | undefined;
  p2mFramesSeen = false;
  /** X86_PV_P2M_FRAMES' end pfn: libxc's restorer refuses any page above it. */
  p2mEndPfn: number | undefined;
  /** A non-empty X86_PV_VCPU_BASIC for vcpu 0 arrived (libxc refuses a PV stream without one). */
  vcpu0Basic = false;
  pageDataSeen = false;
  /** Since the last CHECKPOINT: a later batch sends pages and registers again. */
  vcpuSeen = false;
  hvmContextEver = false;
  ended = false;

  constructor(readonly header: LibxcHeaderItem) {
    this.version = header.image.version;
    this.guestType = guestTypeOf(header.domain.type);
  }
}

export interface RecordContext {
  item: RecordItem;
  state: LibxcState;
  opts: VerifyOptions;
  r: Reporter;
  view: DataView;
}

export type RecordCheck = (ctx: RecordContext) => void;

// ---- headers -------------------------------------------------------------------------

const DOMAIN_TYPES_OTHER_ARCH: ReadonlyMap<number, string> = new Map([
  [3, 'x86 PVH'],
  [4, 'ARM'],
]);

export function checkLibxcHeader(h: LibxcHeaderItem, r: Reporter): void {
  const { image, domain } = h;
  if (image.version !== LIBXC_VERSION_2 && image.version !== LIBXC_VERSION_3) {
    r.report('libxc-version', `image header version ${image.version}, expected 2 or 3`);
  }
  if ((image.options & IHDR_OPT_RESERVED_MASK) !== 0) {
    r.report('libxc-options-reserved', `image header options 0x${image.options.toString(16).padStart(4, '0')}: bits 1-15 are reserved, expected zero`);
  }
  if (image.reserved1 !== 0 || image.reserved2 !== 0) {
    r.report('libxc-header-reserved', `image header reserved fields 0x${hex(image.reserved1, 4)}:0x${hex(image.reserved2, 8)}, expected zero`);
  }
  const other = DOMAIN_TYPES_OTHER_ARCH.get(domain.type);
  if (other !== undefined) {
    r.report('domain-type-unsupported', `domain type ${domain.type} (${other}) is not written by libxc; expected 1 (x86 PV) or 2 (x86 HVM)`);
  } else if (domain.type !== DHDR_TYPE_X86_PV && domain.type !== DHDR_TYPE_X86_HVM) {
    r.report('domain-type-reserved', `domain type ${domain.type} is reserved; expected 1 (x86 PV) or 2 (x86 HVM)`);
  }
  if (domain.pageShift !== PAGE_SHIFT) r.report('page-shift', `page_shift ${domain.pageShift}, expected 12`);
  if (domain.reserved !== 0) r.report('domain-header-reserved', `domain header reserved field 0x${hex(domain.reserved, 4)}, expected zero`);
  if (domain.xenMajor === 0) {
    r.report('converted-from-legacy', `xen_major 0: converted from a legacy stream by converter version ${domain.xenMinor}`);
  }
}

function hex(v: number, width: number): string {
  return (v >>> 0).toString(16).padStart(width, '0');
}

// ---- record bodies --------------------------------------------------------------------

function checkPageData({ item, r, view, state }: RecordContext): void {
  const count = view.getUint32(0, item.littleEndian);
  const reserved = view.getUint32(4, item.littleEndian);
  if (count === 0) r.report('page-data-count-zero', 'PAGE_DATA count is 0, expected at least 1 pfn');
  if (reserved !== 0) r.report('reserved-nonzero', `PAGE_DATA reserved field 0x${hex(reserved, 8)}, expected zero`);
  const arrayEnd = 8 + 8 * count;
  if (item.length < arrayEnd) {
    r.report('page-data-length', `PAGE_DATA count ${count} needs a pfn array of ${8 * count} octets; body length ${item.length} leaves ${item.length - 8}`);
    return;
  }
  const words = pfnArrayWords(item.body, count, item.littleEndian);
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
  const entry = (i: number): string => `0x${hex(words[2 * i + 1]!, 8)}${hex(words[2 * i]!, 8)}`;
  if (badReserved >= 0) {
    r.report('pfn-reserved-bits', `pfn[${badReserved}] ${entry(badReserved)} has reserved bits 59-52 set, expected zero`);
  }
  if (badType >= 0) {
    const t = words[2 * badType + 1]! >>> PAGE_TYPE_SHIFT_HI;
    r.report('page-type-reserved', `pfn[${badType}] ${entry(badType)} has page type ${t}; types 5-8 are reserved`);
  }
  if (state.guestType === 'pv' && state.p2mEndPfn !== undefined) {
    // A run only needs its last entry looked at.
    const end = state.p2mEndPfn;
    for (let i = entries === 1 ? count - 1 : 0; i < count; i++) {
      const pfn = (words[2 * i + 1]! & 0xfffff) * 0x100000000 + words[2 * i]!;
      if (pfn > end) {
        r.report('pv-pfn-beyond-p2m', `pfn[${i}] 0x${pfn.toString(16)} is beyond p2m_end_pfn 0x${end.toString(16)}; libxc's restorer refuses it ("outside domain maximum")`);
        break;
      }
    }
  }
  const expected = arrayEnd + PAGE_SIZE * withData;
  if (item.length !== expected) {
    r.report(
      'page-data-length',
      `PAGE_DATA body length ${item.length}, expected 8 + 8*${count} + 4096*${withData} (pages with data) = ${expected}`,
    );
  }
}

function checkPvInfo({ item, r, view, state }: RecordContext): void {
  const width = view.getUint8(0);
  const levels = view.getUint8(1);
  const res1 = view.getUint16(2, item.littleEndian);
  const res2 = view.getUint32(4, item.littleEndian);
  const widthOk = width === 4 || width === 8;
  const levelsOk = levels === 3 || levels === 4;
  if (!widthOk) r.report('pv-info-width', `guest_width ${width}, expected 4 or 8`);
  if (!levelsOk) r.report('pv-info-levels', `pt_levels ${levels}, expected 3 or 4`);
  if (widthOk && levelsOk && (width === 4) !== (levels === 3)) {
    r.report('pv-info-combination', `guest_width ${width} with pt_levels ${levels}; a 32-bit guest has 3 levels, a 64-bit guest 4`);
  }
  if (state.pvInfo !== undefined) r.report('pv-info-repeated', 'a second X86_PV_INFO; expected exactly one');
  if (res1 !== 0 || res2 !== 0) r.report('reserved-nonzero', `X86_PV_INFO reserved fields 0x${hex(res1, 4)}:0x${hex(res2, 8)}, expected zero`);
}

function checkP2mFrames({ item, r, view, state }: RecordContext): void {
  const start = view.getUint32(0, item.littleEndian);
  const end = view.getUint32(4, item.littleEndian);
  if (start > end) {
    r.report('p2m-frames-range', `p2m_start_pfn ${start} is above p2m_end_pfn ${end}`);
    return;
  }
  // Each P2M frame holds one page of guest-width entries; libxc wants exactly the frames
  // that pfns start..end fall in.
  const perFrame = PAGE_SIZE / (state.pvInfo?.guestWidth ?? 8);
  const needed = Math.floor(end / perFrame) + 1 - Math.floor(start / perFrame);
  const have = (item.length - 8) / 8;
  if (have !== needed) {
    r.report('p2m-frames-count', `pfns ${start}-${end} span ${needed} p2m frame(s) of ${perFrame} entries, the record holds ${have}`);
  }
}

/** Context sizes libxc's restorer refuses, by record type (BASIC's depends on the guest's ABI). */
const VCPU_CONTEXT_RULES: ReadonlyMap<number, { ok: (n: number) => boolean; expected: string }> = new Map([
  [REC_TYPE.X86_PV_VCPU_EXTENDED, { ok: (n: number) => n <= 128, expected: 'at most 128 octets' }],
  [REC_TYPE.X86_PV_VCPU_XSAVE, { ok: (n: number) => n >= 16, expected: 'at least 16 octets' }],
  [REC_TYPE.X86_PV_VCPU_MSRS, { ok: (n: number) => n % 16 === 0, expected: 'a multiple of 16 octets (index, reserved, value)' }],
]);

function checkVcpu({ item, r, view }: RecordContext): void {
  const reserved = view.getUint32(4, item.littleEndian);
  if (reserved !== 0) r.report('reserved-nonzero', `${item.typeName} reserved field 0x${hex(reserved, 8)}, expected zero`);
  const context = item.length - 8;
  if (context === 0) {
    r.report('errata-empty-vcpu', `${item.typeName} for vcpu ${view.getUint32(0, item.littleEndian)} has no context (tolerated erratum)`);
    return;
  }
  const rule = VCPU_CONTEXT_RULES.get(item.type);
  if (rule && !rule.ok(context)) r.report('vcpu-context-size', `${item.typeName} context of ${context} octets, expected ${rule.expected}`);
}

function checkTscInfo({ item, r, view }: RecordContext): void {
  const reserved = view.getUint32(20, item.littleEndian);
  if (reserved !== 0) r.report('reserved-nonzero', `X86_TSC_INFO reserved field 0x${hex(reserved, 8)}, expected zero`);
}

function checkHvmParams({ item, r, view }: RecordContext): void {
  const count = view.getUint32(0, item.littleEndian);
  const reserved = view.getUint32(4, item.littleEndian);
  if (reserved !== 0) r.report('reserved-nonzero', `HVM_PARAMS reserved field 0x${hex(reserved, 8)}, expected zero`);
  if (count === 0) r.report('errata-empty-hvm-params', 'HVM_PARAMS with count 0 (tolerated erratum)');
  const expected = 8 + 16 * count;
  if (item.length !== expected) {
    r.report('hvm-params-count', `HVM_PARAMS count ${count} needs a body of ${expected} octets, found ${item.length}`);
    return;
  }
  const seen = new Set<bigint>();
  for (let i = 0, off = 8; i < count; i++, off += 16) {
    const index = view.getBigUint64(off, item.littleEndian);
    const value = view.getBigUint64(off + 8, item.littleEndian);
    const refusal = hvmParamRefusal(index, value);
    if (refusal) r.report('hvm-param-refused', `HVM_PARAMS entry ${i}: ${refusal}; libxc's restore fails here`);
    else if (index !== BigInt(HVM_PARAM_PAE_ENABLED) && !LIBXC_SAVED_HVM_PARAMS.includes(Number(index))) {
      r.report('hvm-param-not-saved', `HVM_PARAMS entry ${i}: ${hvmParamName(index)} (${index}) is not one libxc's saver sends; the restorer sets it all the same`);
    }
    if (seen.has(index)) r.report('hvm-param-repeated', `HVM_PARAMS entry ${i}: ${hvmParamName(index)} set again; the last value wins`);
    seen.add(index);
  }
}

/** What Xen's `hvm_load` would refuse in the blob, offsets counted from the record's start. */
function checkHvmContextRecord({ item, r }: RecordContext): void {
  for (const p of checkHvmContext(item.body)) r.report(p.code, `HVM_CONTEXT at blob offset ${p.offset}: ${p.message}; Xen 4.17's hvm_load refuses it`);
}

function checkToolstack({ r }: RecordContext): void {
  r.report('toolstack-record', 'TOOLSTACK record: deprecated, a conforming stream has none');
}

function checkCheckpoint({ r, opts }: RecordContext): void {
  if (!opts.checkpointed) r.report('checkpoint-not-allowed', 'CHECKPOINT record in a stream that is not checkpointed (use --checkpointed for Remus/COLO streams)');
}

function checkDirtyPfnList({ r }: RecordContext): void {
  r.report('dirty-pfn-list-in-forward-stream', 'CHECKPOINT_DIRTY_PFN_LIST travels only from a COLO secondary back to the primary, never in a forward stream');
}

function checkStaticDataEnd({ r, state }: RecordContext): void {
  if (state.version < LIBXC_VERSION_3) {
    r.report('v2-static-data-end', 'STATIC_DATA_END in a v2 stream; only v3 streams carry it');
  } else if (state.staticDataEndSeen) {
    r.report('static-data-end-repeated', 'a second STATIC_DATA_END; expected exactly one');
  }
}

function checkPolicy({ item, r, state }: RecordContext): void {
  if (state.version < LIBXC_VERSION_3) r.report('v2-policy-record', `${item.typeName} in a v2 stream; only v3 streams carry CPU policies`);
}

/** The one table: record type -> check of its body (run only when its length rule holds). */
export const BODY_CHECKS: ReadonlyMap<number, RecordCheck> = new Map<number, RecordCheck>([
  [REC_TYPE.PAGE_DATA, checkPageData],
  [REC_TYPE.X86_PV_INFO, checkPvInfo],
  [REC_TYPE.X86_PV_P2M_FRAMES, checkP2mFrames],
  [REC_TYPE.X86_PV_VCPU_BASIC, checkVcpu],
  [REC_TYPE.X86_PV_VCPU_EXTENDED, checkVcpu],
  [REC_TYPE.X86_PV_VCPU_XSAVE, checkVcpu],
  [REC_TYPE.X86_PV_VCPU_MSRS, checkVcpu],
  [REC_TYPE.X86_TSC_INFO, checkTscInfo],
  [REC_TYPE.HVM_PARAMS, checkHvmParams],
  [REC_TYPE.HVM_CONTEXT, checkHvmContextRecord],
  [REC_TYPE.TOOLSTACK, checkToolstack],
  [REC_TYPE.CHECKPOINT, checkCheckpoint],
  [REC_TYPE.CHECKPOINT_DIRTY_PFN_LIST, checkDirtyPfnList],
  [REC_TYPE.STATIC_DATA_END, checkStaticDataEnd],
  [REC_TYPE.X86_CPUID_POLICY, checkPolicy],
  [REC_TYPE.X86_MSR_POLICY, checkPolicy],
]);

/** Length rule, then the body check; unknown types by their optional bit. */
export function checkRecordBody(ctx: RecordContext): void {
  const { item, r } = ctx;
  if (!isKnownRecordType(item.type)) {
    if (isOptionalRecordType(item.type)) r.report('unknown-optional-record', `${item.typeName}: unknown optional record, ignored`);
    else r.report('unknown-mandatory-record', `${item.typeName}: unknown mandatory record; a restorer must fail here`);
    return;
  }
  const spec = RECORD_SPECS.get(item.type)!;
  const bad = checkLength(spec.length, item.length);
  if (bad !== undefined) {
    r.report('length-invalid', `${spec.name} ${bad}`);
    return;
  }
  BODY_CHECKS.get(item.type)?.(ctx);
}

// ---- sequence rules --------------------------------------------------------------------

export interface SequenceRule {
  name: string;
  check: RecordCheck;
}

const staticData: SequenceRule = {
  name: 'static data before STATIC_DATA_END (v3)',
  check({ item, state, r }) {
    if (state.version < LIBXC_VERSION_3) return;
    if (!state.staticDataEndSeen && DYNAMIC_RECORDS.has(item.type)) {
      r.report('dynamic-before-static-data-end', `${item.typeName} before STATIC_DATA_END; a v3 stream sends its static data first`);
    }
    if (state.staticDataEndSeen && STATIC_RECORDS.has(item.type)) {
      r.report('static-after-static-data-end', `${item.typeName} after STATIC_DATA_END; static records come before it`);
    }
  },
};

const guestType: SequenceRule = {
  name: 'records of the stream\'s guest type',
  check({ item, state, r }) {
    if (state.guestType === 'hvm' && PV_ONLY_RECORDS.has(item.type)) {
      r.report('wrong-guest-type', `${item.typeName} is a PV record in an HVM stream`);
    } else if (state.guestType === 'pv' && HVM_ONLY_RECORDS.has(item.type)) {
      r.report('wrong-guest-type', `${item.typeName} is an HVM record in a PV stream`);
    }
  },
};

const pvOrder: SequenceRule = {
  name: 'PV: X86_PV_INFO, X86_PV_P2M_FRAMES, PAGE_DATA, vcpu records',
  check({ item, state, r }) {
    if (state.guestType !== 'pv') return;
    if (item.type === REC_TYPE.X86_PV_P2M_FRAMES && state.pvInfo === undefined) {
      r.report('pv-order', 'X86_PV_P2M_FRAMES before X86_PV_INFO; expected X86_PV_INFO first');
    } else if (item.type === REC_TYPE.PAGE_DATA && !state.p2mFramesSeen) {
      r.report('pv-order', 'PAGE_DATA before X86_PV_P2M_FRAMES; expected the P2M frames first');
    } else if (item.type === REC_TYPE.PAGE_DATA && state.vcpuSeen) {
      r.report('pv-order', 'PAGE_DATA after vcpu records; expected all page data before the vcpu records');
    } else if (item.type === REC_TYPE.SHARED_INFO && state.pvInfo === undefined) {
      r.report('pv-order', 'SHARED_INFO before X86_PV_INFO; expected X86_PV_INFO first');
    } else if (VCPU_RECORDS.has(item.type) && !state.pageDataSeen) {
      r.report('pv-order', `${item.typeName} before any PAGE_DATA; expected page data first`);
    }
  },
};

export const SEQUENCE_RULES: readonly SequenceRule[] = [staticData, guestType, pvOrder];

/** What the record changes in the state, after every rule has seen it. */
export function advanceState(item: RecordItem, state: LibxcState): void {
  switch (item.type) {
    case REC_TYPE.STATIC_DATA_END:
      state.staticDataEndSeen = true;
      break;
    case REC_TYPE.X86_PV_INFO:
      state.pvInfo ??= { guestWidth: item.body[0] === 4 ? 4 : 8 };
      break;
    case REC_TYPE.X86_PV_P2M_FRAMES:
      state.p2mFramesSeen = true;
      if (item.length >= 8) state.p2mEndPfn = new DataView(item.body.buffer, item.body.byteOffset, 8).getUint32(4, item.littleEndian);
      break;
    case REC_TYPE.X86_PV_VCPU_BASIC:
      state.vcpuSeen = true;
      if (item.length > 8 && new DataView(item.body.buffer, item.body.byteOffset, 4).getUint32(0, item.littleEndian) === 0) state.vcpu0Basic = true;
      break;
    case REC_TYPE.PAGE_DATA:
      state.pageDataSeen = true;
      break;
    case REC_TYPE.HVM_CONTEXT:
      state.hvmContextEver = true;
      break;
    case REC_TYPE.CHECKPOINT:
      state.vcpuSeen = false;
      break;
    case REC_TYPE.END:
      state.ended = true;
      break;
    default:
      if (VCPU_RECORDS.has(item.type)) state.vcpuSeen = true;
  }
}

/** At END: can the stream be restored at all? */
export function checkCompleteness(state: LibxcState, r: Reporter): void {
  if (state.version >= LIBXC_VERSION_3 && !state.staticDataEndSeen) {
    r.report('static-data-end-missing', 'END of a v3 stream without STATIC_DATA_END; expected exactly one');
  }
  if (state.guestType === 'hvm' && !state.hvmContextEver) {
    r.report('hvm-context-missing', 'END of an HVM stream without HVM_CONTEXT; it cannot be restored');
  }
  if (state.guestType === 'pv' && state.pvInfo === undefined) {
    r.report('pv-info-missing', 'END of a PV stream without X86_PV_INFO; it cannot be restored');
  }
  if (state.guestType === 'pv' && !state.vcpu0Basic) {
    r.report('pv-vcpu0-basic-missing', 'END of a PV stream without X86_PV_VCPU_BASIC for vcpu 0; libxc\'s restorer refuses it ("Sender didn\'t send vcpu0\'s basic state")');
  }
}
