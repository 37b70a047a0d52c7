/**
 * The vcpus' registers of a domain's saved state, for the ELF core's notes and `diff`:
 * from the HVM context blob or the PV guest's X86_PV_VCPU_BASIC contexts, through the one
 * decoder of each record (src/format/hvm, src/format/pv).
 */
import { hvmContextRegisters } from '../../format/hvm-context.js';
import { decodePvVcpuContext, pvVcpuRegisters as registersOf, vcpuContextLayout, widthOfContextLength } from '../../format/pv/vcpu-context.js';
import type { VcpuRegisters } from '../../format/vcpu-registers.js';
import type { VcpuContext } from '../types.js';

/** Each vcpu of an HVM context blob with a CPU save record (Xen writes it little-endian). */
export function hvmVcpuRegisters(blob: Uint8Array): VcpuRegisters[] {
  try {
    return hvmContextRegisters(blob);
  } catch {
    // A blob hvm_load would refuse still makes a core: its memory, without registers.
    return [];
  }
}

/** A PV guest's vcpus, 64- or 32-bit, from their basic contexts (a longer context than the width's gives none). */
export function pvVcpuRegisters(contexts: readonly VcpuContext[], guestWidth: number): VcpuRegisters[] {
  const out: VcpuRegisters[] = [];
  for (const c of [...contexts].filter((x) => x.kind === 'basic').sort((a, b) => a.vcpuId - b.vcpuId)) {
    const width = guestWidth === 4 || guestWidth === 8 ? guestWidth : widthOfContextLength(c.data.length);
    if (width === undefined) continue;
    const size = vcpuContextLayout(width).size;
    if (c.data.length > size) continue;
    // A short context (libxc would refuse it) still names its leading registers: read zero-extended.
    const data = c.data.length === size ? c.data : new Uint8Array(size);
    if (data !== c.data) data.set(c.data);
    const regs = registersOf(c.vcpuId, decodePvVcpuContext(data, width));
    if (data !== c.data) regs.notes.push(`context of ${c.data.length} octets, shorter than vcpu_guest_context (${size})`);
    out.push(regs);
  }
  return out;
}
