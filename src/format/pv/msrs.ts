/** X86_PV_VCPU_MSRS' context: struct xen_domctl_vcpu_msr entries (index, reserved, value). */
import { struct } from '../layout.js';
import { msrName } from '../msr-names.js';
import type { CStructRef } from '../hvm/save-record.js';

export const VCPU_MSR_LAYOUT = struct('xen_domctl_vcpu_msr', { index: 'u32', reserved: 'u32', value: 'u64' });
export const VCPU_MSR_C: CStructRef = { type: 'struct xen_domctl_vcpu_msr', size: 16 };

export interface PvMsr {
  index: number;
  name: string;
  reserved: number;
  value: bigint;
}

export function decodePvMsrs(context: Uint8Array, littleEndian = true): PvMsr[] {
  const out: PvMsr[] = [];
  for (let o = 0; o + VCPU_MSR_LAYOUT.size <= context.length; o += VCPU_MSR_LAYOUT.size) {
    const e = VCPU_MSR_LAYOUT.read(context, littleEndian, o);
    out.push({ index: e.index, name: msrName(e.index), reserved: e.reserved, value: e.value });
  }
  return out;
}

export function encodePvMsrs(msrs: readonly PvMsr[], littleEndian = true): Uint8Array {
  const out = new Uint8Array(msrs.length * VCPU_MSR_LAYOUT.size);
  msrs.forEach((m, i) => VCPU_MSR_LAYOUT.write(out, { index: m.index, reserved: m.reserved, value: m.value }, littleEndian, i * VCPU_MSR_LAYOUT.size));
  return out;
}
