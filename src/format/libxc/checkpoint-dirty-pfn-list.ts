/** CHECKPOINT_DIRTY_PFN_LIST: COLO's back channel (secondary to primary), a list of u64 pfns. */
import { ByteCursor, ByteWriter } from '../bytes.js';
import { REC_TYPE } from '../constants.js';
import { StreamFormatError } from '../errors.js';
import { defineRecord } from '../record-module.js';

export interface DirtyPfnListRecord {
  type: typeof REC_TYPE.CHECKPOINT_DIRTY_PFN_LIST;
  pfns: bigint[];
}

export const checkpointDirtyPfnList = defineRecord<DirtyPfnListRecord>({
  type: REC_TYPE.CHECKPOINT_DIRTY_PFN_LIST,
  name: 'CHECKPOINT_DIRTY_PFN_LIST',
  flags: {},
  length: { kind: 'multiple', of: 8, min: 0 },
  decode(body, le) {
    if (body.length % 8 !== 0) throw new StreamFormatError('CHECKPOINT_DIRTY_PFN_LIST: body is not a multiple of 8 octets');
    const c = new ByteCursor(body, le);
    const pfns: bigint[] = [];
    while (c.remaining > 0) pfns.push(c.u64());
    return { type: REC_TYPE.CHECKPOINT_DIRTY_PFN_LIST, pfns };
  },
  encode(r, le) {
    const w = new ByteWriter(le, 8 * r.pfns.length);
    for (const p of r.pfns) w.u64(p);
    return w.finish();
  },
  describe: (r) => ({ fields: { pfns: r.pfns }, text: `${r.pfns.length} pfn(s)` }),
  check(ctx) {
    ctx.report('dirty-pfn-list-in-forward-stream', 'CHECKPOINT_DIRTY_PFN_LIST travels only from a COLO secondary back to the primary, never in a forward stream');
  },
});
