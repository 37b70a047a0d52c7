/** PCI_LINK (typecode 9): struct hvm_hw_pci_link, the PCI-ISA router's four links to GSIs. */
import { struct } from '../layout.js';
import { plainRecord } from './save-record.js';

export const HVM_HW_PCI_LINK_LAYOUT = struct('hvm_hw_pci_link', { route: { bytes: 4 }, pad0: { bytes: 4 } });

export const hvmPciLink = plainRecord({
  typecode: 9,
  name: 'PCI_LINK',
  perVcpu: false,
  rule: 'strict',
  length: 8,
  layout: HVM_HW_PCI_LINK_LAYOUT,
  c: { type: 'struct hvm_hw_pci_link', size: 8 },
  derive: (r) => ({ routes: [...r.route] }),
  text: (r) => `links -> GSI ${[...r.route].map((g, i) => `${i}:${g}`).join(' ')}`,
});
