/**
 * X86_TSC_INFO: the guest's TSC mode, frequency, elapsed nanoseconds and incarnation, as
 * `xc_domain_get_tsc_info` gives them (xg_sr_common_x86.c write_x86_tsc_info).
 */
import { REC_TYPE } from '../constants.js';
import { struct } from '../layout.js';
import { defineRecord } from '../record-module.js';

export const TSC_INFO_LAYOUT = struct('x86_tsc_info', {
  mode: 'u32',
  khz: 'u32',
  nsec: 'u64',
  incarnation: 'u32',
  reserved: 'u32',
});

export interface TscInfoRecord {
  type: typeof REC_TYPE.X86_TSC_INFO;
  mode: number;
  khz: number;
  nsec: bigint;
  incarnation: number;
  reserved: number;
}

export const x86TscInfo = defineRecord<TscInfoRecord>({
  type: REC_TYPE.X86_TSC_INFO,
  name: 'X86_TSC_INFO',
  flags: { dynamic: true },
  length: { kind: 'exact', length: TSC_INFO_LAYOUT.size },
  decode: (body, le) => ({ type: REC_TYPE.X86_TSC_INFO, ...TSC_INFO_LAYOUT.read(body, le) }),
  encode: ({ type: _type, ...fields }, le) => TSC_INFO_LAYOUT.encode(fields, le),
  describe: (r) => ({
    fields: { mode: r.mode, khz: r.khz, nsec: r.nsec, incarnation: r.incarnation },
    text: `mode ${r.mode}, ${r.khz} kHz, ${r.nsec} ns, incarnation ${r.incarnation}`,
  }),
  check(ctx) {
    const reserved = TSC_INFO_LAYOUT.get(ctx.body, 'reserved', ctx.littleEndian);
    if (reserved !== 0) ctx.report('reserved-nonzero', `X86_TSC_INFO reserved field 0x${reserved.toString(16).padStart(8, '0')}, expected zero`);
  },
});
