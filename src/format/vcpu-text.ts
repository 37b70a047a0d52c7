/** One line of a vcpu's state, as `dump` and `info` print it. */
import type { VcpuRegisters } from './vcpu-registers.js';

const h = (x: bigint): string => `0x${x.toString(16)}`;

/** Mode, rip, rsp, cr0, cr3, cr4, efer and what is unusual (a vcpu that is down, notes). */
export function vcpuRegistersText(v: VcpuRegisters): string {
  const notes = [...(v.online ? [] : ['down']), ...v.notes];
  return `vcpu ${v.vcpu}: ${v.mode}, rip ${h(v.rip)} rsp ${h(v.rsp)} cr0 ${h(v.cr0)} cr3 ${h(v.cr3)} cr4 ${h(v.cr4)} efer ${h(v.efer)}${notes.length ? ` (${notes.join('; ')})` : ''}`;
}
