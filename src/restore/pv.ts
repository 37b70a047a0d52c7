/**
 * x86 PV: X86_PV_INFO fixes the guest width, X86_PV_P2M_FRAMES the pfn range; vcpu
 * contexts and shared info are kept until the stream completes.
 */
import { PAGE_SIZE, REC_TYPE } from '../format/constants.js';
import { StreamFormatError } from '../format/errors.js';
import type { PvInfo, VcpuContext, VcpuContextKind } from '../domain/types.js';
import { applyCpuPolicy, processX86Common, type GuestOps } from './ops.js';

const VCPU_KIND: ReadonlyMap<number, VcpuContextKind> = new Map([
  [REC_TYPE.X86_PV_VCPU_BASIC, 'basic'],
  [REC_TYPE.X86_PV_VCPU_EXTENDED, 'extended'],
  [REC_TYPE.X86_PV_VCPU_XSAVE, 'xsave'],
  [REC_TYPE.X86_PV_VCPU_MSRS, 'msrs'],
]);

export function pvOps(): GuestOps {
  let info: PvInfo | undefined;
  let p2mEnd: number | undefined;
  const vcpus = new Map<string, VcpuContext>();
  let sharedInfo: Uint8Array | undefined;
  return {
    async processRecord(ctx, rec, loc) {
      switch (rec.type) {
        case REC_TYPE.X86_PV_INFO: {
          if (ctx.staticDataEnded) throw new StreamFormatError('X86_PV_INFO after STATIC_DATA_END', loc);
          if (info) throw new StreamFormatError('a second X86_PV_INFO record', loc);
          const { guestWidth, ptLevels } = rec;
          if (guestWidth !== 4 && guestWidth !== 8) throw new StreamFormatError(`guest_width ${guestWidth}, expected 4 or 8`, loc);
          if (ptLevels !== 3 && ptLevels !== 4) throw new StreamFormatError(`pt_levels ${ptLevels}, expected 3 or 4`, loc);
          if ((guestWidth === 8) !== (ptLevels === 4)) {
            throw new StreamFormatError(`guest_width ${guestWidth} with pt_levels ${ptLevels}: a 64-bit guest has 4 levels, a 32-bit one 3`, loc);
          }
          info = { guestWidth, ptLevels };
          return true;
        }
        case REC_TYPE.X86_PV_P2M_FRAMES: {
          if (!info) throw new StreamFormatError('X86_PV_P2M_FRAMES before X86_PV_INFO: the guest width is unknown', loc);
          if (rec.startPfn > rec.endPfn) throw new StreamFormatError(`p2m_start_pfn ${rec.startPfn} > p2m_end_pfn ${rec.endPfn}`, loc);
          const perFrame = PAGE_SIZE / info.guestWidth;
          const frames = Math.floor(rec.endPfn / perFrame) + 1;
          if (rec.p2mPfns.length !== frames) {
            throw new StreamFormatError(
              `${rec.p2mPfns.length} p2m frame(s), expected ${frames} for pfns up to ${rec.endPfn} at ${perFrame} entries per frame`,
              loc,
            );
          }
          p2mEnd = rec.endPfn;
          await ctx.sink.setP2mFrames({ startPfn: rec.startPfn, endPfn: rec.endPfn, p2mPfns: rec.p2mPfns });
          return true;
        }
        case REC_TYPE.X86_PV_VCPU_BASIC:
        case REC_TYPE.X86_PV_VCPU_EXTENDED:
        case REC_TYPE.X86_PV_VCPU_XSAVE:
        case REC_TYPE.X86_PV_VCPU_MSRS: {
          const kind = VCPU_KIND.get(rec.type)!;
          if (rec.context.length === 0) {
            ctx.warn(`vcpu ${rec.vcpuId} ${kind} record without context (written by Xen 4.6-4.8 senders), tolerated`, loc);
            return true;
          }
          vcpus.set(`${rec.vcpuId}:${kind}`, { vcpuId: rec.vcpuId, kind, data: rec.context.slice() });
          return true;
        }
        case REC_TYPE.SHARED_INFO:
          sharedInfo = rec.data.slice();
          return true;
        default:
          return processX86Common(ctx, rec, loc);
      }
    },
    pfnProblem(pfn) {
      if (p2mEnd === undefined) return 'PAGE_DATA before X86_PV_P2M_FRAMES: the pfn range is unknown';
      if (pfn > p2mEnd) return `pfn 0x${pfn.toString(16)} is beyond p2m_end_pfn 0x${p2mEnd.toString(16)}`;
      return undefined;
    },
    async staticDataComplete(ctx, data, loc) {
      if (!info) throw new StreamFormatError('PV static data ends without an X86_PV_INFO record', loc);
      await ctx.sink.setPvInfo(info);
      await applyCpuPolicy(ctx, data);
      return data.missing;
    },
    async streamComplete(ctx, loc) {
      if (p2mEnd === undefined) throw new StreamFormatError('PV stream ended without X86_PV_P2M_FRAMES', loc);
      const ids = new Set([...vcpus.values()].map((v) => v.vcpuId));
      for (const id of [...ids].sort((a, b) => a - b)) {
        if (!vcpus.has(`${id}:basic`)) throw new StreamFormatError(`vcpu ${id} has context records but no X86_PV_VCPU_BASIC`, loc);
      }
      for (const v of vcpus.values()) await ctx.sink.setVcpuContext(v);
      if (sharedInfo) await ctx.sink.setSharedInfo(sharedInfo);
    },
  };
}
