/** X86_PV_VCPU_XSAVE: xcr0, xcr0_accum, then the xsave area (at least those 16 octets). */
import { REC_TYPE } from '../constants.js';
import { describePvVcpuXsave } from '../pv/describe.js';
import { vcpuRecord } from './common.js';

export const x86PvVcpuXsave = vcpuRecord(REC_TYPE.X86_PV_VCPU_XSAVE, 'X86_PV_VCPU_XSAVE', {
  ok: (n) => n >= 16,
  expected: 'at least 16 octets',
}, describePvVcpuXsave);
