/**
 * The vcpus' registers of a domain's saved state, for the ELF core's notes and `diff`:
 * from the HVM context blob or the PV guest's X86_PV_VCPU_BASIC contexts, through the one
 * decoder of each record (src/format/hvm, src/format/pv).
 */
import { hvmContextRegisters } from '../../format/hvm-context.js';
import { decodePvVcpuContext, pvVcpuRegisters as registersOf, widthOfContextLength } from '../../format/pv/vcpu-context.js';
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

/** A PV guest's vcpus, 64- or 32-bit, from their basic contexts (a context of another size gives none). */
export function pvVcpuRegisters(contexts: readonly VcpuContext[], guestWidth: number): VcpuRegisters[] {
  const out: VcpuRegisters[] = [];
  for (const c of [...contexts].filter((x) => x.kind === 'basic').sort((a, b) => a.vcpuId - b.vcpuId)) {
    const width = guestWidth === 4 || guestWidth === 8 ? guestWidth : widthOfContextLength(c.data.length);
    if (width === undefined || widthOfContextLength(c.data.length) !== width) continue;
    out.push(registersOf(c.vcpuId, decodePvVcpuContext(c.data, width)));
  }
  return out;
}
