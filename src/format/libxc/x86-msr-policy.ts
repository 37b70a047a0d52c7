/** X86_MSR_POLICY (v3, static): xen_msr_entry_t entries. */
import { LIBXC_VERSION_3, REC_TYPE } from '../constants.js';
import { StreamFormatError } from '../errors.js';
import { struct } from '../layout.js';
import { defineRecord } from '../record-module.js';
import { hex } from './common.js';

export const MSR_ENTRY_LAYOUT = struct('xen_msr_entry', { index: 'u32', flags: 'u32', value: 'u64' });

export interface MsrEntry {
  index: number;
  flags: number;
  value: bigint;
}

export interface MsrPolicyRecord {
  type: typeof REC_TYPE.X86_MSR_POLICY;
  entries: MsrEntry[];
}

export const x86MsrPolicy = defineRecord<MsrPolicyRecord>({
  type: REC_TYPE.X86_MSR_POLICY,
  name: 'X86_MSR_POLICY',
  flags: { static: true, v3Only: true },
  length: { kind: 'multiple', of: MSR_ENTRY_LAYOUT.size, min: MSR_ENTRY_LAYOUT.size },
  decode(body, le) {
    const E = MSR_ENTRY_LAYOUT.size;
    if (body.length % E !== 0) throw new StreamFormatError(`X86_MSR_POLICY: body is not a multiple of ${E} octets`);
    const entries: MsrEntry[] = new Array(body.length / E);
    for (let i = 0; i < entries.length; i++) entries[i] = MSR_ENTRY_LAYOUT.read(body, le, E * i);
    return { type: REC_TYPE.X86_MSR_POLICY, entries };
  },
  encode(r, le) {
    const out = new Uint8Array(MSR_ENTRY_LAYOUT.size * r.entries.length);
    r.entries.forEach((e, i) => MSR_ENTRY_LAYOUT.write(out, e, le, MSR_ENTRY_LAYOUT.size * i));
    return out;
  },
  describe: (r) => ({
    fields: { msrs: r.entries },
    text: `${r.entries.length} MSR(s): ` + r.entries.map((e) => `${hex(e.index, 8)} -> ${hex(e.value, 16)}`).join('; '),
  }),
  check(ctx) {
    if (ctx.facts.version < LIBXC_VERSION_3) ctx.report('v2-policy-record', `${ctx.typeName} in a v2 stream; only v3 streams carry CPU policies`);
  },
});
