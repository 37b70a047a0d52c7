/** X86_PV_VCPU_EXTENDED: XEN_DOMCTL_get_ext_vcpucontext's state (at most 128 octets). */
import { REC_TYPE } from '../constants.js';
import { describePvVcpuExtended } from '../pv/describe.js';
import { vcpuRecord } from './common.js';

export const x86PvVcpuExtended = vcpuRecord(REC_TYPE.X86_PV_VCPU_EXTENDED, 'X86_PV_VCPU_EXTENDED', {
  ok: (n) => n <= 128,
  expected: 'at most 128 octets',
}, describePvVcpuExtended);
