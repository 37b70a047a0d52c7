/** ISA_IRQ (typecode 8): struct hvm_hw_isa_irqs, the 16 ISA IRQ wires. */
import { struct } from '../layout.js';
import { bitsSet } from './irq.js';
import { plainRecord } from './save-record.js';

export const HVM_HW_ISA_IRQS_LAYOUT = struct('hvm_hw_isa_irqs', { wires: { bytes: 8 } });

export const hvmIsaIrq = plainRecord({
  typecode: 8,
  name: 'ISA_IRQ',
  perVcpu: false,
  rule: 'strict',
  length: 8,
  layout: HVM_HW_ISA_IRQS_LAYOUT,
  c: { type: 'struct hvm_hw_isa_irqs', size: 8, members: { wires: 'pad' } },
  derive: (r) => ({ asserted: bitsSet(r.wires) }),
  text: (r) => {
    const a = bitsSet(r.wires);
    return a.length === 0 ? 'no IRQ asserted' : `asserted IRQ ${a.join(' ')}`;
  },
});
