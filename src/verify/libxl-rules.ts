/**
 * The rules of the outer layers: the xl save-file header and the libxl stream (header,
 * records, emulator ids, xenstore data), one check per libxl record type.
 */
import {
  CHECKPOINT_STATE_ID,
  LIBXL_OPT_LEGACY,
  LIBXL_OPT_RESERVED_MASK,
  LIBXL_REC_TYPE,
  LIBXL_VERSION,
  XL_MANDATORY_FLAG_JSON,
  XL_MANDATORY_KNOWN,
  isKnownLibxlRecordType,
  isOptionalRecordType,
} from '../format/constants.js';
import { xlConfigText } from '../format/headers.js';
import { scanXenstoreData } from '../format/libxl-records.js';
import type { LibxlHeaderItem, RecordItem, XlHeaderItem } from '../stream/items.js';
import type { Reporter } from './report.js';
import type { VerifyOptions } from './types.js';

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

const XENSTORE_KEY_OCTETS = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-/_@') XENSTORE_KEY_OCTETS[c.charCodeAt(0)] = 1;
const isXenstoreKeyOctet = (b: number): boolean => XENSTORE_KEY_OCTETS[b] === 1;

export class LibxlState {
  libxcContexts = 0;
  ended = false;
  constructor(readonly header: LibxlHeaderItem) {}
}

export interface LibxlRecordContext {
  item: RecordItem;
  state: LibxlState;
  opts: VerifyOptions;
  r: Reporter;
  view: DataView;
}

type LibxlCheck = (ctx: LibxlRecordContext) => void;

function exactlyEmpty({ item, r }: LibxlRecordContext): boolean {
  if (item.length === 0) return true;
  r.report('length-invalid', `${item.typeName} body length ${item.length}, expected exactly 0`);
  return false;
}

/** Checks emulator_id and index; true when the body is long enough to go on. */
function emulatorHeader({ item, r, view }: LibxlRecordContext): boolean {
  if (item.length < 8) {
    r.report('length-invalid', `${item.typeName} body length ${item.length}, expected at least 8`);
    return false;
  }
  const id = view.getUint32(0, item.littleEndian);
  if (id > 2) r.report('emulator-id-invalid', `emulator_id ${id}, expected 0 (unknown), 1 (qemu-traditional) or 2 (qemu-upstream)`);
  return true;
}

function checkCheckpointAllowed({ item, r, opts }: LibxlRecordContext): void {
  if (!opts.checkpointed) r.report('checkpoint-not-allowed', `${item.typeName} in a stream that is not checkpointed (use --checkpointed for Remus/COLO streams)`);
}

export const LIBXL_CHECKS: ReadonlyMap<number, LibxlCheck> = new Map<number, LibxlCheck>([
  [LIBXL_REC_TYPE.END, (ctx) => void exactlyEmpty(ctx)],
  [
    LIBXL_REC_TYPE.LIBXC_CONTEXT,
    (ctx) => {
      exactlyEmpty(ctx);
      if (ctx.state.libxcContexts > 0) ctx.r.report('libxl-libxc-context-repeated', 'a second LIBXC_CONTEXT record; a libxl stream carries one libxc stream');
    },
  ],
  [
    LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA,
    (ctx) => {
      if (!emulatorHeader(ctx)) return;
      // The libxl spec: keys strictly alphanumeric ASCII and -/_@.
      let bad: { index: number; key: string } | undefined;
      const parsed = scanXenstoreData(ctx.item.body.subarray(8), (key, _value, index) => {
        if (key.every(isXenstoreKeyOctet)) return true;
        bad = { index, key: new TextDecoder().decode(key) };
        return false;
      });
      if ('error' in parsed) {
        ctx.r.report('xenstore-malformed', parsed.error);
        return;
      }
      if (bad) {
        ctx.r.report('xenstore-malformed', `xenstore key #${bad.index} ${JSON.stringify(bad.key)} has characters outside alphanumeric ASCII and -/_@`);
      }
    },
  ],
  [LIBXL_REC_TYPE.EMULATOR_CONTEXT, (ctx) => void emulatorHeader(ctx)],
  [
    LIBXL_REC_TYPE.CHECKPOINT_END,
    (ctx) => {
      checkCheckpointAllowed(ctx);
      exactlyEmpty(ctx);
    },
  ],
  [
    LIBXL_REC_TYPE.CHECKPOINT_STATE,
    (ctx) => {
      checkCheckpointAllowed(ctx);
      const { item, r, view } = ctx;
      if (item.length < 4) {
        r.report('length-invalid', `CHECKPOINT_STATE body length ${item.length}, expected at least 4`);
        return;
      }
      const id = view.getUint32(0, item.littleEndian);
      if (id > CHECKPOINT_STATE_ID.SVM_RESUMED) r.report('checkpoint-state-invalid', `control_id ${id}, expected 0-3`);
    },
  ],
]);

export function checkLibxlRecord(ctx: LibxlRecordContext): void {
  const { item, r, state } = ctx;
  if (!isKnownLibxlRecordType(item.type)) {
    if (isOptionalRecordType(item.type)) r.report('unknown-optional-record', `${item.typeName}: unknown optional libxl record, ignored`);
    else r.report('unknown-mandatory-record', `${item.typeName}: unknown mandatory libxl record; a restorer must fail here`);
    return;
  }
  LIBXL_CHECKS.get(item.type)?.(ctx);
  if (item.type === LIBXL_REC_TYPE.LIBXC_CONTEXT) state.libxcContexts++;
  if (item.type === LIBXL_REC_TYPE.END) {
    state.ended = true;
    if (state.libxcContexts === 0) r.report('libxl-no-libxc-context', 'END of the libxl stream without a LIBXC_CONTEXT record; there is no domain in it');
  }
}
