/** TSC_ADJUST (typecode 19): struct hvm_tsc_adjust, IA32_TSC_ADJUST per vcpu. */
import { struct } from '../layout.js';
import { plainRecord } from './save-record.js';

export const HVM_TSC_ADJUST_LAYOUT = struct('hvm_tsc_adjust', { tsc_adjust: 'u64' });

export const hvmTscAdjust = plainRecord({
  typecode: 19,
  name: 'TSC_ADJUST',
  perVcpu: true,
  rule: 'strict',
  length: 8,
  layout: HVM_TSC_ADJUST_LAYOUT,
  c: { type: 'struct hvm_tsc_adjust', size: 8 },
  derive: (r) => ({ tsc_adjust: BigInt.asIntN(64, r.tsc_adjust) }),
  text: (r) => `TSC_ADJUST ${BigInt.asIntN(64, r.tsc_adjust)}`,
});
