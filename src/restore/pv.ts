/**
 * x86 PV: X86_PV_INFO fixes the guest width, X86_PV_P2M_FRAMES the pfn range; vcpu
 * contexts and shared info are kept until the stream completes.
 */
import { REC_TYPE } from '../format/constants.js';
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
        // Width, levels, their pairing, a second record, its place before STATIC_DATA_END,
        // the P2M's range and frame count: the verifier's rules, run by the engine first.
        case REC_TYPE.X86_PV_INFO:
          info = { guestWidth: rec.guestWidth, ptLevels: rec.ptLevels };
          return true;
        case REC_TYPE.X86_PV_P2M_FRAMES:
          p2mEnd = rec.endPfn;
          await ctx.sink.setP2mFrames({ startPfn: rec.startPfn, endPfn: rec.endPfn, p2mPfns: rec.p2mPfns });
          return true;
        case REC_TYPE.X86_PV_VCPU_BASIC:
        case REC_TYPE.X86_PV_VCPU_EXTENDED:
        case REC_TYPE.X86_PV_VCPU_XSAVE:
        case REC_TYPE.X86_PV_VCPU_MSRS: {
          const kind = VCPU_KIND.get(rec.type)!;
          // The Xen 4.6-4.8 erratum: the rules warned of it (errata-empty-vcpu).
          if (rec.context.length === 0) return true;
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
