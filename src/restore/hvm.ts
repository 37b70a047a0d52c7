/**
 * HVM: params and the HVM context are kept until the stream completes, then given to
 * the domain params first (some params change how the context is read).
 */
import { REC_TYPE } from '../format/constants.js';
import { StreamFormatError } from '../format/errors.js';
import type { HvmParam } from '../format/records.js';
import { applyCpuPolicy, processX86Common, type GuestOps } from './ops.js';

export function hvmOps(): GuestOps {
  const params: HvmParam[] = [];
  let context: Uint8Array | undefined;
  return {
    async processRecord(ctx, rec, loc) {
      switch (rec.type) {
        case REC_TYPE.HVM_PARAMS:
          if (rec.params.length === 0) ctx.warn('HVM_PARAMS with count 0 (written by Xen 4.6-4.8 senders), tolerated', loc);
          for (const p of rec.params) {
            const at = params.findIndex((q) => q.index === p.index);
            if (at >= 0) params[at] = p;
            else params.push(p);
          }
          return true;
        case REC_TYPE.HVM_CONTEXT:
          context = rec.data.slice();
          return true;
        default:
          return processX86Common(ctx, rec, loc);
      }
    },
    pfnProblem: () => undefined,
    async staticDataComplete(ctx, data) {
      await applyCpuPolicy(ctx, data);
      return data.missing;
    },
    async streamComplete(ctx, loc) {
      if (context === undefined) throw new StreamFormatError('HVM stream ended without an HVM_CONTEXT record', loc);
      if (params.length > 0) await ctx.sink.setHvmParams(params);
      await ctx.sink.setHvmContext(context);
    },
  };
}
