/** LAPIC_REGS (typecode 6): the local APIC's 1 KiB register page per vcpu. */
import { struct } from '../layout.js';
import { hex, plainRecord } from './save-record.js';

export const HVM_HW_LAPIC_REGS_LAYOUT = struct('hvm_hw_lapic_regs', { data: { bytes: 1024 } });

/** APIC register offsets in the page (Intel SDM vol. 3 table 10-1). */
const REG = { id: 0x20, version: 0x30, tpr: 0x80, ldr: 0xd0, dfr: 0xe0, svr: 0xf0, esr: 0x280, lvt_timer: 0x320, lvt_lint0: 0x350, lvt_lint1: 0x360, lvt_error: 0x370, tmict: 0x380, tmcct: 0x390, tdcr: 0x3e0 } as const;

function reg(data: Uint8Array, off: number): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(off, true);
}

/** Vectors set in a 256-bit APIC bitmap (ISR, TMR, IRR: eight 32-bit registers 16 octets apart). */
function vectors(data: Uint8Array, base: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < 8; i++) {
    const w = reg(data, base + i * 16);
    for (let b = 0; b < 32; b++) if ((w >>> b) & 1) out.push(i * 32 + b);
  }
  return out;
}

export const hvmLapicRegs = plainRecord({
  typecode: 6,
  name: 'LAPIC_REGS',
  perVcpu: true,
  rule: 'strict',
  length: 1024,
  layout: HVM_HW_LAPIC_REGS_LAYOUT,
  c: { type: 'struct hvm_hw_lapic_regs', size: 1024 },
  derive: (r) => ({
    ...Object.fromEntries(Object.entries(REG).map(([name, off]) => [name, reg(r.data, off)])),
    isr: vectors(r.data, 0x100),
    tmr: vectors(r.data, 0x180),
    irr: vectors(r.data, 0x200),
  }),
  text: (r) => {
    const svr = reg(r.data, REG.svr);
    return `id ${hex(reg(r.data, REG.id) >>> 24)}, svr ${hex(svr)} (${svr & 0x100 ? 'software enabled' : 'software disabled'}), tpr ${hex(reg(r.data, REG.tpr))}, irr [${vectors(r.data, 0x200).join(' ')}]`;
  },
});
