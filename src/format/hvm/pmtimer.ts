/** PMTIMER (typecode 13): struct hvm_hw_pmtimer, the ACPI PM timer and PM1a status/enable. */
import { struct } from '../layout.js';
import { hex, plainRecord } from './save-record.js';

export const HVM_HW_PMTIMER_LAYOUT = struct('hvm_hw_pmtimer', { tmr_val: 'u32', pm1a_sts: 'u16', pm1a_en: 'u16' });

export const hvmPmtimer = plainRecord({
  typecode: 13,
  name: 'PMTIMER',
  perVcpu: false,
  rule: 'strict',
  length: 8,
  layout: HVM_HW_PMTIMER_LAYOUT,
  c: { type: 'struct hvm_hw_pmtimer', size: 8 },
  text: (r) => `timer ${hex(r.tmr_val, 8)}, PM1a status ${hex(r.pm1a_sts, 4)} enable ${hex(r.pm1a_en, 4)}`,
});
