/**
 * Per guest type save operations, as libxc splits them: the static records, what opens
 * the memory part (PV: its P2M frames), and the context records that close each
 * checkpoint. The engine (save.ts) calls these and knows nothing of PV or HVM.
 */
import { LIBXC_SAVED_HVM_PARAMS } from '../format/hvm-params.js';
import { REC_TYPE, type GuestType } from '../format/constants.js';
import type { DomainSource, VcpuContext } from '../domain/types.js';
import type { StreamWriter } from '../stream/writer.js';

export interface SaveOps {
  staticData(w: StreamWriter, src: DomainSource, version: number): Promise<void>;
  startOfStream(w: StreamWriter, src: DomainSource): Promise<void>;
  endOfCheckpoint(w: StreamWriter, src: DomainSource): Promise<void>;
  /** Pages libxc cannot map right now (a PV pfn with no frame) wait for the final round. */
  defersInvalidPages: boolean;
}

async function cpuPolicyRecords(w: StreamWriter, src: DomainSource, version: number): Promise<void> {
  if (version < 3) return;
  const policy = await src.getCpuPolicy();
  if (policy.cpuid && policy.cpuid.length > 0) {
    await w.libxcRecord({ type: REC_TYPE.X86_CPUID_POLICY, entries: policy.cpuid });
  }
  if (policy.msrs && policy.msrs.length > 0) {
    await w.libxcRecord({ type: REC_TYPE.X86_MSR_POLICY, entries: policy.msrs });
  }
}

async function tscInfo(w: StreamWriter, src: DomainSource): Promise<void> {
  const t = await src.getTscInfo();
  await w.libxcRecord({ type: REC_TYPE.X86_TSC_INFO, mode: t.mode, khz: t.khz, nsec: t.nsec, incarnation: t.incarnation, reserved: 0 });
}

export const HVM_OPS: SaveOps = {
  defersInvalidPages: false,
  staticData: cpuPolicyRecords,
  async startOfStream() {},
  async endOfCheckpoint(w, src) {
    // libxc's order (x86_hvm_end_of_checkpoint): TSC, HVM_CONTEXT, HVM_PARAMS. The spec
    // puts the params first; Xen's restorer buffers the context to the end, so both work,
    // and Xen's code is what every stream in the wild follows.
    await tscInfo(w, src);
    const ctx = await src.getHvmContext();
    if (ctx === undefined || ctx.length === 0) throw new Error('HVM domain has no HVM context to save');
    await w.libxcRecord({ type: REC_TYPE.HVM_CONTEXT, data: ctx });
    // Only the params libxc's write_hvm_params sends, in its order, and only non-zero ones.
    const all = await src.getHvmParams();
    const params = LIBXC_SAVED_HVM_PARAMS.flatMap((index) => all.filter((p) => p.index === BigInt(index) && p.value !== 0n));
    if (params.length > 0) await w.libxcRecord({ type: REC_TYPE.HVM_PARAMS, reserved: 0, params });
  },
};

const VCPU_RECORD: Record<VcpuContext['kind'], number> = {
  basic: REC_TYPE.X86_PV_VCPU_BASIC,
  extended: REC_TYPE.X86_PV_VCPU_EXTENDED,
  xsave: REC_TYPE.X86_PV_VCPU_XSAVE,
  msrs: REC_TYPE.X86_PV_VCPU_MSRS,
};
const VCPU_ORDER: VcpuContext['kind'][] = ['basic', 'extended', 'xsave', 'msrs'];

export const PV_OPS: SaveOps = {
  defersInvalidPages: true,
  async staticData(w, src, version) {
    const info = await src.getPvInfo();
    if (info === undefined) throw new Error('PV domain has no PV info to save');
    await w.libxcRecord({ type: REC_TYPE.X86_PV_INFO, guestWidth: info.guestWidth, ptLevels: info.ptLevels, reserved1: 0, reserved2: 0 });
    await cpuPolicyRecords(w, src, version);
  },
  async startOfStream(w, src) {
    const p2m = await src.getP2mFrames();
    if (p2m === undefined) throw new Error('PV domain has no P2M frames to save');
    await w.libxcRecord({ type: REC_TYPE.X86_PV_P2M_FRAMES, startPfn: p2m.startPfn, endPfn: p2m.endPfn, p2mPfns: p2m.p2mPfns });
  },
  async endOfCheckpoint(w, src) {
    await tscInfo(w, src);
    const shinfo = await src.getSharedInfo();
    if (shinfo === undefined) throw new Error('PV domain has no shared info page to save');
    await w.libxcRecord({ type: REC_TYPE.SHARED_INFO, data: shinfo });
    const vcpus = await src.getVcpuContexts();
    const ids = [...new Set(vcpus.map((v) => v.vcpuId))].sort((a, b) => a - b);
    for (const id of ids) {
      for (const kind of VCPU_ORDER) {
        for (const v of vcpus) {
          if (v.vcpuId !== id || v.kind !== kind) continue;
          await w.libxcRecord({ type: VCPU_RECORD[kind] as 4, vcpuId: id, reserved: 0, context: v.data });
        }
      }
    }
  },
};

export function saveOpsFor(guest: GuestType): SaveOps {
  return guest === 'pv' ? PV_OPS : HVM_OPS;
}
