/** HPET (typecode 12): struct hvm_hw_hpet, registers of the three-timer HPET. */
import { struct, type FieldKind } from '../layout.js';
import { hex, plainRecord } from './save-record.js';

export const HPET_TIMER_NUM = 3;

const spec: Record<string, FieldKind> = {
  capability: 'u64',
  res0: 'u64',
  config: 'u64',
  res1: 'u64',
  isr: 'u64',
  res2: { bytes: 25 * 8 },
  mc64: 'u64',
  res3: 'u64',
};
const members: Record<string, string> = {};
for (let t = 0; t < HPET_TIMER_NUM; t++) {
  for (const f of ['config', 'cmp', 'fsb', 'res4']) {
    spec[`timer${t}_${f}`] = 'u64';
    members[`timer${t}_${f}`] = `timers[${t}].${f}`;
  }
}
spec.res5 = { bytes: 4 * (24 - HPET_TIMER_NUM) * 8 };
for (let t = 0; t < HPET_TIMER_NUM; t++) {
  spec[`period${t}`] = 'u64';
  members[`period${t}`] = `period[${t}]`;
}

export const HVM_HW_HPET_LAYOUT = struct('hvm_hw_hpet', spec);

export const hvmHpet = plainRecord({
  typecode: 12,
  name: 'HPET',
  perVcpu: false,
  rule: 'strict',
  length: 1048,
  layout: HVM_HW_HPET_LAYOUT,
  c: { type: 'struct hvm_hw_hpet', size: 1048, members },
  text: (r) =>
    `${(r.config as bigint) & 1n ? 'enabled' : 'halted'}, counter ${hex(r.mc64 as bigint)}, ` +
    [0, 1, 2].map((t) => `timer${t} cmp ${hex(r[`timer${t}_cmp`] as bigint)}`).join(', '),
});
