/** PIT (typecode 10): struct hvm_hw_pit, the 8254's three channels and the speaker gate. */
import { struct, type FieldKind } from '../layout.js';
import { plainRecord } from './save-record.js';

const CHANNEL: Record<string, FieldKind> = {
  count: 'u32',
  latched_count: 'u16',
  count_latched: 'u8',
  status_latched: 'u8',
  status: 'u8',
  read_state: 'u8',
  write_state: 'u8',
  write_latch: 'u8',
  rw_mode: 'u8',
  mode: 'u8',
  bcd: 'u8',
  gate: 'u8',
};

const spec: Record<string, FieldKind> = {};
const members: Record<string, string> = {};
for (let ch = 0; ch < 3; ch++) {
  for (const [name, kind] of Object.entries(CHANNEL)) {
    spec[`ch${ch}_${name}`] = kind;
    members[`ch${ch}_${name}`] = `channels[${ch}].${name}`;
  }
}
spec.speaker_data_on = 'u32';
spec.pad0 = 'u32';

export const HVM_HW_PIT_LAYOUT = struct('hvm_hw_pit', spec);

export const hvmPit = plainRecord({
  typecode: 10,
  name: 'PIT',
  perVcpu: false,
  rule: 'strict',
  length: 56,
  layout: HVM_HW_PIT_LAYOUT,
  c: { type: 'struct hvm_hw_pit', size: 56, members },
  derive: (r) => ({
    channels: [0, 1, 2].map((ch) => Object.fromEntries(Object.keys(CHANNEL).map((n) => [n, r[`ch${ch}_${n}`]]))),
  }),
  text: (r) => `${[0, 1, 2].map((ch) => `ch${ch} mode ${r[`ch${ch}_mode`]} count ${r[`ch${ch}_count`]}${r[`ch${ch}_gate`] ? '' : ' gated'}`).join(', ')}, speaker ${r.speaker_data_on ? 'on' : 'off'}`,
});
