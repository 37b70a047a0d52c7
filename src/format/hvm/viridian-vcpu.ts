/**
 * VIRIDIAN_VCPU (typecode 17): struct hvm_viridian_vcpu_context. It grew: Xen 4.6 and
 * older wrote 8 octets (apic_assist), 4.7-4.12 16 (vp_assist_msr and a pending/vector
 * octet, the same offsets), 4.13 and newer 216 (SynIC and synthetic timer MSRs).
 */
import { struct } from '../layout.js';
import { hex, isZero, plainRecord, u64s } from './save-record.js';

export const HVM_VIRIDIAN_VCPU_LAYOUT = struct('hvm_viridian_vcpu_context', {
  vp_assist_msr: 'u64',
  apic_assist_pending: 'u8',
  _pad: { bytes: 7 },
  simp_msr: 'u64',
  sint_msr: { bytes: 16 * 8 },
  stimer_config_msr: { bytes: 4 * 8 },
  stimer_count_msr: { bytes: 4 * 8 },
});

export const hvmViridianVcpu = plainRecord({
  typecode: 17,
  name: 'VIRIDIAN_VCPU',
  perVcpu: true,
  rule: 'zeroextend',
  length: 216,
  history: [
    { xen: '4.6 and older (apic_assist)', size: 8 },
    { xen: '4.7 to 4.12 (vp_assist_msr, vector/pending)', size: 16 },
  ],
  layout: HVM_VIRIDIAN_VCPU_LAYOUT,
  c: { type: 'struct hvm_viridian_vcpu_context', size: 216 },
  derive: (r) => ({ sint_msr: u64s(r.sint_msr), stimer_config_msr: u64s(r.stimer_config_msr), stimer_count_msr: u64s(r.stimer_count_msr) }),
  text: (r) => `VP assist ${hex(r.vp_assist_msr)}${r.apic_assist_pending ? ' (APIC assist pending)' : ''}, SIMP ${hex(r.simp_msr)}`,
  check(ctx) {
    // viridian_load_vcpu_ctxt refuses nonzero padding.
    if (!isZero(ctx.record._pad)) ctx.report('hvm-context-viridian', `vcpu ${ctx.instance}: VIRIDIAN_VCPU _pad is not zero`);
  },
});
