/** X86_PV_VCPU_MSRS: xen_domctl_vcpu_msr entries (index, reserved, value). */
import { REC_TYPE } from '../constants.js';
import { describePvVcpuMsrs } from '../pv/describe.js';
import { vcpuRecord } from './common.js';

export const x86PvVcpuMsrs = vcpuRecord(REC_TYPE.X86_PV_VCPU_MSRS, 'X86_PV_VCPU_MSRS', {
  ok: (n) => n % 16 === 0,
  expected: 'a multiple of 16 octets (index, reserved, value)',
}, describePvVcpuMsrs);
