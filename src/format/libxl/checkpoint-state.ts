/**
 * CHECKPOINT_STATE: COLO's control message (libxl_sr_checkpoint_state). The primary sends
 * CHECKPOINT_NEW in the stream; ids 1-3 travel back from the secondary.
 */
import { CHECKPOINT_STATE_ID, LIBXL_REC_TYPE } from '../constants.js';
import { struct } from '../layout.js';
import { defineRecord } from '../record-module.js';
import { checkCheckpointed } from './checkpointed.js';

/** CHECKPOINT_STATE's body (anything after it is kept as it came). */
export const CHECKPOINT_STATE_LAYOUT = struct('libxl_sr_checkpoint_state', { controlId: 'u32' });

export interface CheckpointStateRecord {
  type: typeof LIBXL_REC_TYPE.CHECKPOINT_STATE;
  controlId: number;
  rest: Uint8Array;
}

const L = CHECKPOINT_STATE_LAYOUT;

export const checkpointState = defineRecord<CheckpointStateRecord>({
  type: LIBXL_REC_TYPE.CHECKPOINT_STATE,
  name: 'CHECKPOINT_STATE',
  flags: {},
  length: { kind: 'min', length: L.size },
  decode: (body, le) => ({ type: LIBXL_REC_TYPE.CHECKPOINT_STATE, ...L.read(body, le), rest: body.subarray(L.size) }),
  encode(r, le) {
    const out = new Uint8Array(L.size + r.rest.length);
    L.write(out, { controlId: r.controlId }, le);
    out.set(r.rest, L.size);
    return out;
  },
  describe: (r) => ({ fields: { controlId: r.controlId }, text: `control id ${r.controlId}` }),
  check(ctx) {
    checkCheckpointed(ctx);
    const id = L.get(ctx.body, 'controlId', ctx.littleEndian);
    if (id > CHECKPOINT_STATE_ID.SVM_RESUMED) ctx.report('checkpoint-state-invalid', `control_id ${id}, expected 0-3`);
  },
});
