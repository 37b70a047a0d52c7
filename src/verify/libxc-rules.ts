/**
 * The rules of a libxc stream, as small named checks: one table from record type to the
 * check of its body (like Xen's libxc.py), and a list of sequence rules that look at a
 * record's place in the stream (static data, guest type, order, checkpoints).
 */
import {
  DHDR_TYPE_X86_HVM,
  DHDR_TYPE_X86_PV,
  IHDR_OPT_RESERVED_MASK,
  LIBXC_VERSION_2,
  LIBXC_VERSION_3,
  PAGE_SHIFT,
  REC_TYPE,
  guestTypeOf,
  isOptionalRecordType,
  type GuestType,
} from '../format/constants.js';
import type { StreamFacts } from '../format/record-module.js';
import {
  DYNAMIC_RECORDS,
  HVM_ONLY_RECORDS,
  LIBXC_MODULES,
  LIBXC_MODULE_BY_TYPE,
  P2M_FRAMES_HEADER_LAYOUT,
  PV_INFO_LAYOUT,
  PV_ONLY_RECORDS,
  STATIC_RECORDS,
  VCPU_HEADER_LAYOUT,
  VCPU_RECORDS,
} from '../format/records.js';
import type { LibxcHeaderItem, RecordItem } from '../stream/items.js';
import type { Reporter } from './report.js';
import { bodyChecks, checkWithModule } from './module-check.js';
import type { VerifyOptions } from './types.js';

/** What the sequence rules remember about one libxc stream; record modules see it as StreamFacts. */
export class LibxcState implements StreamFacts {
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

  constructor(
    readonly header: LibxcHeaderItem,
    readonly checkpointed = false,
  ) {
    this.version = header.image.version;
    this.guestType = guestTypeOf(header.domain.type);
  }

  get pvGuestWidth(): number | undefined {
    return this.pvInfo?.guestWidth;
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

/** The one table: record type -> check of its body (run only when its length rule holds), from the record modules. */
export const BODY_CHECKS: ReadonlyMap<number, RecordCheck> = bodyChecks(LIBXC_MODULES);

/** Length rule, then the body check; unknown types by their optional bit. */
export function checkRecordBody(ctx: RecordContext): void {
  const { item, r } = ctx;
  const m = LIBXC_MODULE_BY_TYPE.get(item.type);
  if (m === undefined) {
    if (isOptionalRecordType(item.type)) r.report('unknown-optional-record', `${item.typeName}: unknown optional record, ignored`);
    else r.report('unknown-mandatory-record', `${item.typeName}: unknown mandatory record; a restorer must fail here`);
    return;
  }
  checkWithModule(m, BODY_CHECKS, ctx);
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
      // Even a body of the wrong length fixes the width the later rules assume (a u8: no byte order).
      state.pvInfo ??= { guestWidth: item.body[PV_INFO_LAYOUT.offsetOf('guestWidth')] === 4 ? 4 : 8 };
      break;
    case REC_TYPE.X86_PV_P2M_FRAMES:
      state.p2mFramesSeen = true;
      if (item.length >= P2M_FRAMES_HEADER_LAYOUT.size) state.p2mEndPfn = P2M_FRAMES_HEADER_LAYOUT.get(item.body, 'endPfn', item.littleEndian);
      break;
    case REC_TYPE.X86_PV_VCPU_BASIC:
      state.vcpuSeen = true;
      if (item.length > VCPU_HEADER_LAYOUT.size && VCPU_HEADER_LAYOUT.get(item.body, 'vcpuId', item.littleEndian) === 0) state.vcpu0Basic = true;
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
  // A v3 PV stream without it was told so at its STATIC_DATA_END.
  if (state.guestType === 'pv' && state.pvInfo === undefined && !(state.version >= LIBXC_VERSION_3 && state.staticDataEndSeen)) {
    r.report('pv-info-missing', 'END of a PV stream without X86_PV_INFO; it cannot be restored');
  }
  if (state.guestType === 'pv' && !state.p2mFramesSeen) {
    r.report('pv-p2m-frames-missing', 'END of a PV stream without X86_PV_P2M_FRAMES; it cannot be restored');
  }
  if (state.version < LIBXC_VERSION_3 && !(state.guestType === 'pv' ? state.p2mFramesSeen : state.pageDataSeen)) {
    r.report(
      'static-data-end-never-inferred',
      `END of a v2 stream without ${state.guestType === 'pv' ? 'X86_PV_P2M_FRAMES' : 'PAGE_DATA'}, where a v3 receiver infers STATIC_DATA_END: it carries no memory`,
    );
  }
  if (state.guestType === 'pv' && !state.vcpu0Basic) {
    r.report('pv-vcpu0-basic-missing', 'END of a PV stream without X86_PV_VCPU_BASIC for vcpu 0; libxc\'s restorer refuses it ("Sender didn\'t send vcpu0\'s basic state")');
  }
}
