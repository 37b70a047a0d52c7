/** HVM_CONTEXT: Xen's HVM save blob (hvm_save), checked as Xen 4.17's hvm_load would read it. */
import { REC_TYPE } from '../constants.js';
import { describeHvmContext } from '../hvm/context.js';
import { checkHvmContext } from '../hvm-context.js';
import { defineRecord } from '../record-module.js';
import { blobRecord, type BlobRecord } from './common.js';

export const hvmContext = defineRecord<BlobRecord<typeof REC_TYPE.HVM_CONTEXT>>({
  ...blobRecord(REC_TYPE.HVM_CONTEXT, 'HVM_CONTEXT', { dynamic: true, guest: 'hvm' }, { kind: 'min', length: 1 }, (ctx) => {
    for (const p of checkHvmContext(ctx.body)) ctx.report(p.code, `HVM_CONTEXT at blob offset ${p.offset}: ${p.message}; Xen 4.17's hvm_load refuses it`);
  }),
  // The save records as Xen wrote them, which a big-endian stream cannot hold (describeHvmContext says why).
  describe: (r, ctx) => describeHvmContext(r.data, ctx.littleEndian),
});
