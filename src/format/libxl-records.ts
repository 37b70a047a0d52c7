/**
 * libxl stream records (spec revision 2). Same framing as libxc records; the bodies
 * are few and small. LIBXC_CONTEXT is empty: the libxc stream follows it inline.
 */
import { ByteCursor, ByteWriter } from './bytes.js';
import { LIBXL_REC_TYPE } from './constants.js';
import { StreamFormatError } from './errors.js';
import { struct } from './layout.js';

/** The head of EMULATOR_XENSTORE_DATA and EMULATOR_CONTEXT; the data follows. */
export const EMULATOR_HEADER_LAYOUT = struct('libxl_emulator_hdr', { emulatorId: 'u32', index: 'u32' });
/** CHECKPOINT_STATE's body (anything after it is kept as it came). */
export const CHECKPOINT_STATE_LAYOUT = struct('libxl_sr_checkpoint_state', { controlId: 'u32' });

export interface EmulatorRecord {
  type: typeof LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA | typeof LIBXL_REC_TYPE.EMULATOR_CONTEXT;
  emulatorId: number;
  index: number;
  data: Uint8Array;
}

export type LibxlRecord =
  | { type: typeof LIBXL_REC_TYPE.END }
  | { type: typeof LIBXL_REC_TYPE.LIBXC_CONTEXT }
  | EmulatorRecord
  | { type: typeof LIBXL_REC_TYPE.CHECKPOINT_END }
  | { type: typeof LIBXL_REC_TYPE.CHECKPOINT_STATE; controlId: number; rest: Uint8Array }
  | { type: number; unknown: true; body: Uint8Array };

export function decodeLibxlRecord(type: number, body: Uint8Array, le: boolean): LibxlRecord {
  switch (type) {
    case LIBXL_REC_TYPE.END:
    case LIBXL_REC_TYPE.LIBXC_CONTEXT:
    case LIBXL_REC_TYPE.CHECKPOINT_END:
      if (body.length !== 0) throw new StreamFormatError(`body length ${body.length}, expected exactly 0`);
      return { type } as LibxlRecord;
    case LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA:
    case LIBXL_REC_TYPE.EMULATOR_CONTEXT: {
      if (body.length < 8) throw new StreamFormatError(`body length ${body.length}, expected at least 8`);
      const c = new ByteCursor(body, le);
      return { type, emulatorId: c.u32('emulator_id'), index: c.u32('index'), data: c.rest() };
    }
    case LIBXL_REC_TYPE.CHECKPOINT_STATE: {
      if (body.length < 4) throw new StreamFormatError(`body length ${body.length}, expected at least 4`);
      const c = new ByteCursor(body, le);
      return { type, controlId: c.u32('control_id'), rest: c.rest() };
    }
    default:
      return { type, unknown: true, body };
  }
}

export function encodeLibxlRecordBody(rec: LibxlRecord, le: boolean): Uint8Array {
  if ('unknown' in rec) return rec.body;
  if ('emulatorId' in rec) {
    return new ByteWriter(le, 8 + rec.data.length).u32(rec.emulatorId).u32(rec.index).bytes(rec.data).finish();
  }
  if ('controlId' in rec) return new ByteWriter(le, 4 + rec.rest.length).u32(rec.controlId).bytes(rec.rest).finish();
  return new Uint8Array(0);
}

/**
 * Xenstore data is NUL-terminated key, value, key, value... Returns the pairs, or a
 * text saying what is wrong with the layout.
 */
export function parseXenstoreData(data: Uint8Array): { pairs: [string, string][] } | { error: string } {
  if (data.length === 0) return { pairs: [] };
  if (data[data.length - 1] !== 0) return { error: 'xenstore data does not end with a NUL' };
  const strings: string[] = [];
  const dec = new TextDecoder();
  let start = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0) {
      strings.push(dec.decode(data.subarray(start, i)));
      start = i + 1;
    }
  }
  if (strings.length % 2 !== 0) return { error: `xenstore data holds ${strings.length} strings, expected key/value pairs` };
  const pairs: [string, string][] = [];
  for (let i = 0; i < strings.length; i += 2) {
    if (strings[i] === '') return { error: `xenstore data: key #${i / 2} is empty` };
    pairs.push([strings[i]!, strings[i + 1]!]);
  }
  return { pairs };
}

/**
 * The checks of parseXenstoreData without building strings: a huge record costs no more
 * than its own octets. `visit` sees each pair's key and value as views (false stops).
 */
export function scanXenstoreData(
  data: Uint8Array,
  visit?: (key: Uint8Array, value: Uint8Array, index: number) => boolean | void,
): { pairs: number } | { error: string } {
  if (data.length === 0) return { pairs: 0 };
  if (data[data.length - 1] !== 0) return { error: 'xenstore data does not end with a NUL' };
  let strings = 0;
  for (let i = data.indexOf(0); i >= 0; i = data.indexOf(0, i + 1)) strings++;
  if (strings % 2 !== 0) return { error: `xenstore data holds ${strings} strings, expected key/value pairs` };
  let start = 0;
  for (let n = 0; n < strings / 2; n++) {
    const keyEnd = data.indexOf(0, start);
    const valueEnd = data.indexOf(0, keyEnd + 1);
    if (keyEnd === start) return { error: `xenstore data: key #${n} is empty` };
    if (visit && visit(data.subarray(start, keyEnd), data.subarray(keyEnd + 1, valueEnd), n) === false) visit = undefined;
    start = valueEnd + 1;
  }
  return { pairs: strings / 2 };
}

export function encodeXenstoreData(pairs: [string, string][]): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const [k, v] of pairs) parts.push(enc.encode(k + '\0' + v + '\0'));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}
