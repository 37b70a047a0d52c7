/** IOAPIC (typecode 4): struct hvm_hw_vioapic with its 48 redirection entries. */
import { struct } from '../layout.js';
import { hex, plainRecord, u64s } from './save-record.js';

export const VIOAPIC_NUM_PINS = 48;

export const HVM_HW_VIOAPIC_LAYOUT = struct('hvm_hw_vioapic', {
  base_address: 'u64',
  ioregsel: 'u32',
  id: 'u32',
  redirtbl: { bytes: VIOAPIC_NUM_PINS * 8 },
});

/** union vioapic_redir_entry's bit-fields. */
export function redirectionEntry(bits: bigint): Record<string, number | boolean> {
  const lo = Number(bits & 0xffffffffn);
  return {
    vector: lo & 0xff,
    delivery_mode: (lo >> 8) & 7,
    dest_mode: ((lo >> 11) & 1) === 1,
    delivery_status: ((lo >> 12) & 1) === 1,
    polarity: ((lo >> 13) & 1) === 1,
    remote_irr: ((lo >> 14) & 1) === 1,
    trig_mode: ((lo >> 15) & 1) === 1,
    mask: ((lo >> 16) & 1) === 1,
    dest_id: Number(bits >> 56n),
  };
}

export const hvmIoapic = plainRecord({
  typecode: 4,
  name: 'IOAPIC',
  perVcpu: false,
  rule: 'strict',
  length: 400,
  layout: HVM_HW_VIOAPIC_LAYOUT,
  c: { type: 'struct hvm_hw_vioapic', size: 400 },
  derive: (r) => ({ redirtbl: u64s(r.redirtbl).map(redirectionEntry) }),
  text: (r) => {
    const unmasked = u64s(r.redirtbl).filter((b) => (b & 0x10000n) === 0n).length;
    return `base ${hex(r.base_address)}, id ${r.id}, ${unmasked} of ${VIOAPIC_NUM_PINS} pin(s) unmasked`;
  },
});
