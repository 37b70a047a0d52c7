/** X86_PV_VCPU_EXTENDED's context: struct xen_domctl_ext_vcpucontext as Xen 4.17 returns it (64 octets). */
import { struct } from '../layout.js';
import type { CStructRef } from '../hvm/save-record.js';

export const EXT_VCPUCONTEXT_LAYOUT = struct('xen_domctl_ext_vcpucontext', {
  vcpu: 'u32',
  size: 'u32',
  syscall32_callback_eip: 'u64',
  sysenter_callback_eip: 'u64',
  syscall32_callback_cs: 'u16',
  sysenter_callback_cs: 'u16',
  syscall32_disables_events: 'u8',
  sysenter_disables_events: 'u8',
  pad_align: 'u16',
  mcg_cap: 'u64',
  mci_ctl2_bank0: 'u64',
  mci_ctl2_bank1: 'u64',
  mcg_ext_ctl: 'u64',
});

export const EXT_VCPUCONTEXT_C: CStructRef = {
  type: 'struct xen_domctl_ext_vcpucontext',
  size: 64,
  members: { pad_align: null, mcg_cap: 'vmce.caps', mci_ctl2_bank0: 'vmce.mci_ctl2_bank0', mci_ctl2_bank1: 'vmce.mci_ctl2_bank1', mcg_ext_ctl: 'vmce.mcg_ext_ctl' },
};

export type ExtVcpuContext = ReturnType<typeof EXT_VCPUCONTEXT_LAYOUT.read>;

/** The extended context; a shorter one (older Xen: libxc sends `size` octets) is zero-extended. */
export function decodeExtVcpuContext(context: Uint8Array, littleEndian = true): ExtVcpuContext {
  const full = new Uint8Array(EXT_VCPUCONTEXT_LAYOUT.size);
  full.set(context.subarray(0, full.length));
  return EXT_VCPUCONTEXT_LAYOUT.read(full, littleEndian);
}

export function encodeExtVcpuContext(ctx: ExtVcpuContext, littleEndian = true): Uint8Array {
  return EXT_VCPUCONTEXT_LAYOUT.encode(ctx, littleEndian);
}
