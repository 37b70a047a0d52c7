/** HVM_CONTEXT: Xen's HVM save blob (hvm_save), checked as Xen 4.17's hvm_load would read it. */
import { REC_TYPE } from '../constants.js';
import { checkHvmContext } from '../hvm-context.js';
import { blobRecord } from './common.js';

export const hvmContext = blobRecord(REC_TYPE.HVM_CONTEXT, 'HVM_CONTEXT', { dynamic: true, guest: 'hvm' }, { kind: 'min', length: 1 }, (ctx) => {
  for (const p of checkHvmContext(ctx.body)) ctx.report(p.code, `HVM_CONTEXT at blob offset ${p.offset}: ${p.message}; Xen 4.17's hvm_load refuses it`);
});
