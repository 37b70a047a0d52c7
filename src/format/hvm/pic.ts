/** PIC (typecode 3): struct hvm_hw_vpic, instance 0 the master 8259, 1 the slave. */
import { struct } from '../layout.js';
import { hex, plainRecord } from './save-record.js';

export const HVM_HW_VPIC_LAYOUT = struct('hvm_hw_vpic', {
  irr: 'u8',
  imr: 'u8',
  isr: 'u8',
  irq_base: 'u8',
  /** Bit-fields init_state:4, priority_add:4. */
  init_bits: 'u8',
  /** Bit-fields readsel_isr, poll, auto_eoi, rotate_on_auto_eoi, special_fully_nested_mode, special_mask_mode, is_master. */
  mode_bits: 'u8',
  elcr: 'u8',
  int_output: 'u8',
});

export const hvmPic = plainRecord({
  typecode: 3,
  name: 'PIC',
  perVcpu: false,
  maxInstance: 1,
  rule: 'strict',
  length: 8,
  layout: HVM_HW_VPIC_LAYOUT,
  c: { type: 'struct hvm_hw_vpic', size: 8, members: { init_bits: null, mode_bits: null } },
  derive: (r) => ({
    init_state: r.init_bits & 0xf,
    priority_add: r.init_bits >> 4,
    readsel_isr: (r.mode_bits & 1) !== 0,
    poll: (r.mode_bits & 2) !== 0,
    auto_eoi: (r.mode_bits & 4) !== 0,
    rotate_on_auto_eoi: (r.mode_bits & 8) !== 0,
    special_fully_nested_mode: (r.mode_bits & 16) !== 0,
    special_mask_mode: (r.mode_bits & 32) !== 0,
    is_master: (r.mode_bits & 64) !== 0,
  }),
  text: (r) => `${r.mode_bits & 64 ? 'master' : 'slave'}, irr ${hex(r.irr, 2)} imr ${hex(r.imr, 2)} isr ${hex(r.isr, 2)}, vectors ${hex(r.irq_base, 2)}, elcr ${hex(r.elcr, 2)}`,
});
