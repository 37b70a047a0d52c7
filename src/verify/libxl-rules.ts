/**
 * The rules of the outer layers: the xl save-file header, the libxl header, and the libxl
 * records' place in the stream. Each record's own body checks (emulator ids, xenstore
 * data, checkpoint states) are its module's (src/format/libxl/).
 */
import {
  LIBXL_OPT_LEGACY,
  LIBXL_OPT_RESERVED_MASK,
  LIBXL_REC_TYPE,
  LIBXL_VERSION,
  XL_MANDATORY_FLAG_JSON,
  XL_MANDATORY_KNOWN,
  isOptionalRecordType,
  type GuestType,
} from '../format/constants.js';
import { xlConfigText } from '../format/headers.js';
import { LIBXL_MODULES, LIBXL_MODULE_BY_TYPE } from '../format/libxl/table.js';
import type { StreamFacts } from '../format/record-module.js';
import type { LibxlHeaderItem, RecordItem, XlHeaderItem } from '../stream/items.js';
import { bodyChecks, checkWithModule } from './module-check.js';
import type { Reporter } from './report.js';

export function checkXlHeader(item: XlHeaderItem, r: Reporter): void {
  const h = item.header;
  if (!h.littleEndian) r.report('xl-big-endian', 'xl header is big-endian (byteorder 0x01020304 read big-endian); xl reads only its native order');
  const unknown = h.mandatoryFlags & ~XL_MANDATORY_KNOWN;
  if (unknown !== 0) {
    r.report('xl-mandatory-flags-unknown', `mandatory flags 0x${h.mandatoryFlags.toString(16)} include unknown bits 0x${unknown.toString(16)}; xl refuses such a file`);
  }
  if (h.optionalFlags !== 0) r.report('xl-optional-flags-unknown', `optional flags 0x${h.optionalFlags.toString(16)} are unknown and ignored`);
  if (h.config === undefined) {
    if (h.optionalData.length > 0) {
      r.report('xl-config-layout', `optional data of ${h.optionalData.length} octet(s) is too short for config_len`);
    } else {
      r.report('xl-config-missing', 'no domain config in the xl header; a restore needs one given separately');
    }
    return;
  }
  if ((h.mandatoryFlags & XL_MANDATORY_FLAG_JSON) !== 0) {
    try {
      JSON.parse(xlConfigText(h.config));
    } catch (err) {
      r.report('xl-config-not-json', `the JSON flag is set but the config does not parse: ${(err as Error).message}`);
    }
  }
}

export function checkLibxlHeader(item: LibxlHeaderItem, r: Reporter): void {
  const h = item.header;
  if (h.version !== LIBXL_VERSION) r.report('libxl-version', `libxl header version ${h.version}, expected 2 (libxl refuses any other)`);
  if ((h.options & LIBXL_OPT_RESERVED_MASK) !== 0) {
    r.report('libxl-options-reserved', `libxl header options 0x${h.options.toString(16)}: bits 2-31 are reserved, expected zero`);
  }
  if ((h.options & LIBXL_OPT_LEGACY) !== 0) r.report('libxl-converted-legacy', 'libxl stream converted from a legacy stream');
}

/**
 * What the libxl rules remember; record modules see it as StreamFacts: the libxl header's
 * version, and what the libxc stream inside has said so far (nothing before its header).
 */
export class LibxlState implements StreamFacts {
  libxcContexts = 0;
  ended = false;
  constructor(
    readonly header: LibxlHeaderItem,
    readonly checkpointed = false,
    private readonly libxc: () => StreamFacts | undefined = () => undefined,
  ) {}

  get version(): number {
    return this.header.header.version;
  }
  get guestType(): GuestType | undefined {
    return this.libxc()?.guestType;
  }
  get staticDataEndSeen(): boolean {
    return this.libxc()?.staticDataEndSeen ?? false;
  }
  get pvGuestWidth(): number | undefined {
    return this.libxc()?.pvGuestWidth;
  }
  get p2mEndPfn(): number | undefined {
    return this.libxc()?.p2mEndPfn;
  }
}

export interface LibxlRecordContext {
  item: RecordItem;
  state: LibxlState;
  r: Reporter;
}

/** Record type -> check of its body (run only when its length rule holds), from the libxl record modules. */
export const LIBXL_CHECKS: ReadonlyMap<number, (ctx: LibxlRecordContext) => void> = bodyChecks(LIBXL_MODULES);

/** Unknown types by their optional bit; a known one by its module; then the rules of the sequence. */
export function checkLibxlRecord(ctx: LibxlRecordContext): void {
  const { item, r, state } = ctx;
  const m = LIBXL_MODULE_BY_TYPE.get(item.type);
  if (m === undefined) {
    if (isOptionalRecordType(item.type)) r.report('unknown-optional-record', `${item.typeName}: unknown optional libxl record, ignored`);
    else r.report('unknown-mandatory-record', `${item.typeName}: unknown mandatory libxl record; a restorer must fail here`);
    return;
  }
  checkWithModule(m, LIBXL_CHECKS, ctx);
  if (item.type === LIBXL_REC_TYPE.LIBXC_CONTEXT) {
    if (state.libxcContexts > 0) r.report('libxl-libxc-context-repeated', 'a second LIBXC_CONTEXT record; a libxl stream carries one libxc stream');
    state.libxcContexts++;
  }
  if (item.type === LIBXL_REC_TYPE.END) {
    state.ended = true;
    if (state.libxcContexts === 0) r.report('libxl-no-libxc-context', 'END of the libxl stream without a LIBXC_CONTEXT record; there is no domain in it');
  }
}
