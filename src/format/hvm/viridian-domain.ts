/** VIRIDIAN_DOMAIN (typecode 15): struct hvm_viridian_domain_context, Hyper-V enlightenment MSRs of the domain. */
import { struct } from '../layout.js';
import { hex, plainRecord } from './save-record.js';

export const HVM_VIRIDIAN_DOMAIN_LAYOUT = struct('hvm_viridian_domain_context', {
  hypercall_gpa: 'u64',
  guest_os_id: 'u64',
  time_ref_count: 'u64',
  reference_tsc: 'u64',
});

export const hvmViridianDomain = plainRecord({
  typecode: 15,
  name: 'VIRIDIAN_DOMAIN',
  perVcpu: false,
  rule: 'zeroextend',
  length: 32,
  layout: HVM_VIRIDIAN_DOMAIN_LAYOUT,
  c: { type: 'struct hvm_viridian_domain_context', size: 32 },
  text: (r) => `guest os id ${hex(r.guest_os_id)}, hypercall page ${hex(r.hypercall_gpa)}, reference tsc ${hex(r.reference_tsc)}`,
});
