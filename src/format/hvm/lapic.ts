/**
 * LAPIC (typecode 5): struct hvm_hw_lapic, the local APIC's hidden state per vcpu.
 * Xen 4.18 appended pending_esr (24 -> 32 octets); 4.17's loader takes at most 24.
 */
import { struct } from '../layout.js';
import { hex, plainRecord } from './save-record.js';

export const APIC_BASE_EXTD = 1n << 10n;
export const APIC_BASE_ENABLE = 1n << 11n;

export const HVM_HW_LAPIC_LAYOUT = struct('hvm_hw_lapic', {
  apic_base_msr: 'u64',
  disabled: 'u32',
  timer_divisor: 'u32',
  tdt_msr: 'u64',
  /** Xen 4.18 and newer. */
  pending_esr: 'u32',
  pad_esr: 'u32',
});

export const hvmLapic = plainRecord({
  typecode: 5,
  name: 'LAPIC',
  perVcpu: true,
  rule: 'zeroextend',
  length: 24,
  history: [{ xen: '4.18 and newer (pending_esr)', size: 32 }],
  layout: HVM_HW_LAPIC_LAYOUT,
  c: { type: 'struct hvm_hw_lapic', size: 24 },
  derive: (r) => ({
    enabled: (r.apic_base_msr & APIC_BASE_ENABLE) !== 0n,
    x2apic: (r.apic_base_msr & APIC_BASE_EXTD) !== 0n,
    base: r.apic_base_msr & ~0xfffn,
  }),
  text: (r) => {
    const mode = (r.apic_base_msr & APIC_BASE_ENABLE) === 0n ? 'disabled' : (r.apic_base_msr & APIC_BASE_EXTD) !== 0n ? 'x2APIC' : 'xAPIC';
    return `${mode}, base msr ${hex(r.apic_base_msr)}, divisor ${r.timer_divisor}, tdt ${hex(r.tdt_msr)}`;
  },
  check(ctx) {
    const b = ctx.record.apic_base_msr;
    // lapic_load_hidden: x2APIC mode needs the APIC enabled.
    if ((b & APIC_BASE_EXTD) !== 0n && (b & APIC_BASE_ENABLE) === 0n) {
      ctx.report('hvm-context-lapic', `vcpu ${ctx.instance}: APIC base MSR ${hex(b)} sets x2APIC mode (EXTD) with the APIC disabled (EN clear)`);
    }
  },
});
