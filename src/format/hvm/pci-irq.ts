/** PCI_IRQ (typecode 7): struct hvm_hw_pci_irqs, the 128 virtual INTx wires (device*4 + INTx#). */
import { struct } from '../layout.js';
import { bitsSet } from './irq.js';
import { plainRecord } from './save-record.js';

export const HVM_HW_PCI_IRQS_LAYOUT = struct('hvm_hw_pci_irqs', { wires: { bytes: 16 } });

export const hvmPciIrq = plainRecord({
  typecode: 7,
  name: 'PCI_IRQ',
  perVcpu: false,
  rule: 'strict',
  length: 16,
  layout: HVM_HW_PCI_IRQS_LAYOUT,
  c: { type: 'struct hvm_hw_pci_irqs', size: 16, members: { wires: 'pad' } },
  derive: (r) => ({ asserted: bitsSet(r.wires).map((w) => ({ device: w >> 2, intx: 'ABCD'[w & 3] })) }),
  text: (r) => {
    const a = bitsSet(r.wires);
    return a.length === 0 ? 'no wire asserted' : `asserted: ${a.map((w) => `${w >> 2}:INT${'ABCD'[w & 3]}`).join(' ')}`;
  },
});
