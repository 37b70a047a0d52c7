/** EMULATOR_CONTEXT: the device model's saved state, opaque to libxl and to xenmig. */
import { LIBXL_REC_TYPE } from '../constants.js';
import { emulatorRecord } from './emulator.js';

export const emulatorContext = emulatorRecord(LIBXL_REC_TYPE.EMULATOR_CONTEXT, 'EMULATOR_CONTEXT', (r, base) => ({
  fields: { ...base, bytes: r.data.length },
  text: `${base.emulator} #${r.index}, ${r.data.length} octet(s) of device model state`,
}));
