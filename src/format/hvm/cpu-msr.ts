/** CPU_MSR (typecode 20): struct hvm_msr, a count and that many {index, _rsvd, val} entries. */
import { struct } from '../layout.js';
import { msrName } from '../msr-names.js';
import { defineHvmSaveRecord, hex } from './save-record.js';

export const HVM_MSR_LAYOUT = struct('hvm_msr', { count: 'u32', pad_align: 'u32' });
export const HVM_ONE_MSR_LAYOUT = struct('hvm_one_msr', { index: 'u32', _rsvd: 'u32', val: 'u64' });
/** HVM_CPU_MSR_SIZE(n). */
export const hvmCpuMsrSize = (count: number): number => HVM_MSR_LAYOUT.size + HVM_ONE_MSR_LAYOUT.size * count;

/** The MSRs Xen 4.17's `hvm_load_cpu_msrs` takes; any other index fails the load. */
export const HVM_LOADABLE_MSRS: ReadonlySet<number> = new Set([0x48, 0x140, 0xd90, 0xda0, 0xc001011f, 0xc0011027, 0xc0011019, 0xc001101a, 0xc001101b]);

export interface HvmMsrEntry {
  index: number;
  name: string;
  _rsvd: number;
  val: bigint;
}
export interface HvmCpuMsrRecord {
  count: number;
  msrs: HvmMsrEntry[];
}

export const hvmCpuMsr = defineHvmSaveRecord<'CPU_MSR', HvmCpuMsrRecord>({
  typecode: 20,
  name: 'CPU_MSR',
  perVcpu: true,
  maxInstance: 0,
  rule: 'msr',
  length: hvmCpuMsrSize(1),
  history: [],
  layout: HVM_MSR_LAYOUT,
  c: { type: 'struct hvm_msr', size: 8, members: { pad_align: null } },
  decode: (body) => {
    const count = HVM_MSR_LAYOUT.get(body, 'count', true);
    const msrs: HvmMsrEntry[] = [];
    for (let o = HVM_MSR_LAYOUT.size; o + HVM_ONE_MSR_LAYOUT.size <= body.length && msrs.length < count; o += HVM_ONE_MSR_LAYOUT.size) {
      const e = HVM_ONE_MSR_LAYOUT.read(body, true, o);
      msrs.push({ index: e.index, name: msrName(e.index), _rsvd: e._rsvd, val: e.val });
    }
    return { count, msrs };
  },
  encode: (r) => {
    const out = new Uint8Array(hvmCpuMsrSize(r.msrs.length));
    HVM_MSR_LAYOUT.write(out, { count: r.count, pad_align: 0 }, true);
    r.msrs.forEach((m, i) => HVM_ONE_MSR_LAYOUT.write(out, { index: m.index, _rsvd: m._rsvd, val: m.val }, true, hvmCpuMsrSize(i)));
    return out;
  },
  describe: (r) => ({
    fields: { count: r.count, msrs: r.msrs },
    text: `${r.count} MSR(s): ${r.msrs.map((m) => `${m.name}=${hex(m.val)}`).join(' ')}`,
  }),
  check(ctx) {
    for (const m of ctx.record.msrs) {
      if (m._rsvd !== 0) ctx.report('hvm-context-msr', `vcpu ${ctx.instance}: MSR ${m.name} _rsvd ${hex(m._rsvd)}, expected zero`);
      else if (!HVM_LOADABLE_MSRS.has(m.index)) ctx.report('hvm-context-msr', `vcpu ${ctx.instance}: MSR ${m.name} is not one hvm_load_cpu_msrs takes`);
    }
  },
});
