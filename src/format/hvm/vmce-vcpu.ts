/** VMCE_VCPU (typecode 18): struct hvm_vmce_vcpu; Xen 4.9 and older wrote 24 octets (no mcg_ext_ctl). */
import { struct } from '../layout.js';
import { hex, plainRecord } from './save-record.js';

export const HVM_VMCE_VCPU_LAYOUT = struct('hvm_vmce_vcpu', {
  caps: 'u64',
  mci_ctl2_bank0: 'u64',
  mci_ctl2_bank1: 'u64',
  mcg_ext_ctl: 'u64',
});

export const hvmVmceVcpu = plainRecord({
  typecode: 18,
  name: 'VMCE_VCPU',
  perVcpu: true,
  rule: 'zeroextend',
  length: 32,
  history: [{ xen: '4.9 and older (no mcg_ext_ctl)', size: 24 }],
  layout: HVM_VMCE_VCPU_LAYOUT,
  c: { type: 'struct hvm_vmce_vcpu', size: 32 },
  text: (r) => `MCG_CAP ${hex(r.caps)}, MCi_CTL2 ${hex(r.mci_ctl2_bank0)} ${hex(r.mci_ctl2_bank1)}, MCG_EXT_CTL ${hex(r.mcg_ext_ctl)}`,
});
