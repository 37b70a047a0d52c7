/** X86_PV_VCPU_BASIC: a vcpu's vcpu_guest_context (its size depends on the guest's width). */
import { REC_TYPE } from '../constants.js';
import { describePvVcpuBasic } from '../pv/describe.js';
import { vcpuRecord } from './common.js';

export const x86PvVcpuBasic = vcpuRecord(REC_TYPE.X86_PV_VCPU_BASIC, 'X86_PV_VCPU_BASIC', undefined, describePvVcpuBasic);
