/**
 * EMULATOR_XENSTORE_DATA: the device model's xenstore keys and values, which libxl writes
 * back under the restored domain's device-model path.
 */
import { LIBXL_REC_TYPE } from '../constants.js';
import { emulatorRecord, EMULATOR_HEADER_LAYOUT } from './emulator.js';
import { parseXenstoreData, scanXenstoreData } from './xenstore-data.js';

// The libxl spec: keys strictly alphanumeric ASCII and -/_@.
const XENSTORE_KEY_OCTETS = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-/_@') XENSTORE_KEY_OCTETS[c.charCodeAt(0)] = 1;
const isXenstoreKeyOctet = (b: number): boolean => XENSTORE_KEY_OCTETS[b] === 1;

export const emulatorXenstoreData = emulatorRecord(
  LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA,
  'EMULATOR_XENSTORE_DATA',
  (r, base) => {
    const parsed = parseXenstoreData(r.data);
    if ('error' in parsed) return { fields: { ...base, error: parsed.error }, text: `${base.emulator} #${r.index}: ${parsed.error}` };
    return {
      fields: { ...base, pairs: Object.fromEntries(parsed.pairs) },
      text: `${base.emulator} #${r.index}: ${parsed.pairs.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}`,
    };
  },
  (ctx) => {
    let bad: { index: number; key: string } | undefined;
    const parsed = scanXenstoreData(ctx.body.subarray(EMULATOR_HEADER_LAYOUT.size), (key, _value, index) => {
      if (key.every(isXenstoreKeyOctet)) return true;
      bad = { index, key: new TextDecoder().decode(key) };
      return false;
    });
    if ('error' in parsed) {
      ctx.report('xenstore-malformed', parsed.error);
      return;
    }
    if (bad) ctx.report('xenstore-malformed', `xenstore key #${bad.index} ${JSON.stringify(bad.key)} has characters outside alphanumeric ASCII and -/_@`);
  },
);
