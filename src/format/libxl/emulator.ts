/**
 * What EMULATOR_XENSTORE_DATA and EMULATOR_CONTEXT share: which device model and which of
 * its instances the data is for, then the data (libxl__sr_emulator_hdr).
 */
import { EMULATOR_ID, emulatorName, type LIBXL_REC_TYPE } from '../constants.js';
import { struct } from '../layout.js';
import { defineRecord, type BodyCheckContext, type Described, type RecordModule } from '../record-module.js';

/** The head of EMULATOR_XENSTORE_DATA and EMULATOR_CONTEXT; the data follows. */
export const EMULATOR_HEADER_LAYOUT = struct('libxl_emulator_hdr', { emulatorId: 'u32', index: 'u32' });

export interface EmulatorRecordOf<T extends number> {
  type: T;
  emulatorId: number;
  index: number;
  data: Uint8Array;
}

/** Either emulator record. */
export type EmulatorRecord = EmulatorRecordOf<typeof LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA | typeof LIBXL_REC_TYPE.EMULATOR_CONTEXT>;

/** The fields both emulator records show first, in this order. */
export interface EmulatorBase {
  emulator: string;
  emulatorId: number;
  index: number;
}

/**
 * One emulator record type. Its check sees only the head when the reader kept no more
 * (verify reads EMULATOR_CONTEXT heads-only: device model state can be large).
 */
export function emulatorRecord<T extends number>(
  type: T,
  name: string,
  describe: (r: EmulatorRecordOf<T>, base: EmulatorBase) => Described,
  checkData?: (ctx: BodyCheckContext<EmulatorRecordOf<T>>) => void,
): RecordModule<T, EmulatorRecordOf<T>> {
  const H = EMULATOR_HEADER_LAYOUT;
  return defineRecord<EmulatorRecordOf<T>>({
    type,
    name,
    flags: {},
    length: { kind: 'min', length: H.size },
    decode: (body, le) => ({ type, ...H.read(body, le), data: body.subarray(H.size) }),
    encode(r, le) {
      const out = new Uint8Array(H.size + r.data.length);
      H.write(out, { emulatorId: r.emulatorId, index: r.index }, le);
      out.set(r.data, H.size);
      return out;
    },
    describe: (r) => describe(r, { emulator: emulatorName(r.emulatorId), emulatorId: r.emulatorId, index: r.index }),
    check(ctx) {
      const id = H.get(ctx.body, 'emulatorId', ctx.littleEndian);
      if (id > EMULATOR_ID.QEMU_UPSTREAM) ctx.report('emulator-id-invalid', `emulator_id ${id}, expected 0 (unknown), 1 (qemu-traditional) or 2 (qemu-upstream)`);
      checkData?.(ctx);
    },
  });
}
