/**
 * HVM: params and the HVM context are kept until the stream completes, then given to
 * the domain params first (some params change how the context is read). As libxc's
 * `handle_hvm_params` does when it reads the record, the pages of the xenstore and console
 * rings and the legacy ioreq pages are zeroed (when populated): the new host's backends
 * start from empty rings.
 */
import { PAGE_SIZE, REC_TYPE } from '../format/constants.js';
import { StreamFormatError } from '../format/errors.js';
import type { HvmParam } from '../format/records.js';
import { pagesZeroedOnRestore } from '../format/hvm-params.js';
import { applyCpuPolicy, processX86Common, type GuestOps, type RestoreContext } from './ops.js';

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

/** `xc_clear_domain_page`: zero the page if the domain has it (libxc ignores the failure if not). */
async function clearPage(ctx: RestoreContext, pfn: number, param: string): Promise<void> {
  const probe = new Uint8Array(PAGE_SIZE);
  const [populated] = await ctx.sink.readPages([pfn], probe);
  if (!populated) return;
  await ctx.sink.writePages([pfn], ZERO_PAGE);
  ctx.pageCleared(pfn, param);
}

export function hvmOps(): GuestOps {
  const params: HvmParam[] = [];
  let context: Uint8Array | undefined;
  return {
    async processRecord(ctx, rec, loc) {
      switch (rec.type) {
        case REC_TYPE.HVM_PARAMS:
          // Count 0 (the Xen 4.6-4.8 erratum): the rules warned of it (errata-empty-hvm-params).
          for (const { pfn, param } of pagesZeroedOnRestore(rec.params)) await clearPage(ctx, pfn, param);
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
