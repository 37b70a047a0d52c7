/** MTRR (typecode 14): struct hvm_hw_mtrr, PAT and MTRRs per vcpu. */
import { struct } from '../layout.js';
import { hex, plainRecord, u64s } from './save-record.js';

export const MTRR_VCNT = 8;
const NUM_FIXED_MSR = 11;

export const HVM_HW_MTRR_LAYOUT = struct('hvm_hw_mtrr', {
  msr_pat_cr: 'u64',
  msr_mtrr_var: { bytes: MTRR_VCNT * 2 * 8 },
  msr_mtrr_fixed: { bytes: NUM_FIXED_MSR * 8 },
  msr_mtrr_cap: 'u64',
  msr_mtrr_def_type: 'u64',
});

const MEMORY_TYPE = ['UC', 'WC', '2?', '3?', 'WT', 'WP', 'WB', '7?'];

export const hvmMtrr = plainRecord({
  typecode: 14,
  name: 'MTRR',
  perVcpu: true,
  rule: 'strict',
  length: 240,
  layout: HVM_HW_MTRR_LAYOUT,
  c: { type: 'struct hvm_hw_mtrr', size: 240 },
  derive: (r) => {
    const v = u64s(r.msr_mtrr_var);
    return {
      msr_mtrr_var: Array.from({ length: MTRR_VCNT }, (_, i) => ({ base: v[2 * i]!, mask: v[2 * i + 1]! })),
      msr_mtrr_fixed: u64s(r.msr_mtrr_fixed),
      variable_count: Number(r.msr_mtrr_cap & 0xffn),
      enabled: (r.msr_mtrr_def_type & 0x800n) !== 0n,
      default_type: MEMORY_TYPE[Number(r.msr_mtrr_def_type & 7n)],
    };
  },
  text: (r) =>
    `PAT ${hex(r.msr_pat_cr, 16)}, MTRRs ${(r.msr_mtrr_def_type & 0x800n) !== 0n ? 'enabled' : 'disabled'} default ${MEMORY_TYPE[Number(r.msr_mtrr_def_type & 7n)]}, cap ${hex(r.msr_mtrr_cap)}`,
  check(ctx) {
    // hvm_load_mtrr_msr: no more variable ranges than the record has room for.
    const vcnt = Number(ctx.record.msr_mtrr_cap & 0xffn);
    if (vcnt > MTRR_VCNT) ctx.report('hvm-context-mtrr', `vcpu ${ctx.instance}: MTRRcap names ${vcnt} variable ranges, at most ${MTRR_VCNT} load`);
  },
});
