/** X86_CPUID_POLICY (v3, static): xen_cpuid_leaf_t entries. */
import { LIBXC_VERSION_3, REC_TYPE } from '../constants.js';
import { StreamFormatError } from '../errors.js';
import { struct } from '../layout.js';
import { defineRecord } from '../record-module.js';
import { hex } from './common.js';

export const CPUID_LEAF_LAYOUT = struct('xen_cpuid_leaf', { leaf: 'u32', subleaf: 'u32', eax: 'u32', ebx: 'u32', ecx: 'u32', edx: 'u32' });

export interface CpuidEntry {
  leaf: number;
  subleaf: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

export interface CpuidPolicyRecord {
  type: typeof REC_TYPE.X86_CPUID_POLICY;
  entries: CpuidEntry[];
}

export const x86CpuidPolicy = defineRecord<CpuidPolicyRecord>({
  type: REC_TYPE.X86_CPUID_POLICY,
  name: 'X86_CPUID_POLICY',
  flags: { static: true, v3Only: true },
  length: { kind: 'multiple', of: CPUID_LEAF_LAYOUT.size, min: CPUID_LEAF_LAYOUT.size },
  decode(body, le) {
    const E = CPUID_LEAF_LAYOUT.size;
    if (body.length % E !== 0) throw new StreamFormatError(`X86_CPUID_POLICY: body is not a multiple of ${E} octets`);
    const entries: CpuidEntry[] = new Array(body.length / E);
    for (let i = 0; i < entries.length; i++) entries[i] = CPUID_LEAF_LAYOUT.read(body, le, E * i);
    return { type: REC_TYPE.X86_CPUID_POLICY, entries };
  },
  encode(r, le) {
    const out = new Uint8Array(CPUID_LEAF_LAYOUT.size * r.entries.length);
    r.entries.forEach((e, i) => CPUID_LEAF_LAYOUT.write(out, e, le, CPUID_LEAF_LAYOUT.size * i));
    return out;
  },
  describe: (r) => ({
    fields: { leaves: r.entries },
    text:
      `${r.entries.length} leaf/leaves: ` +
      r.entries.map((e) => `${hex(e.leaf, 8)}:${hex(e.subleaf, 8)} -> ${[e.eax, e.ebx, e.ecx, e.edx].map((v) => hex(v, 8)).join(':')}`).join('; '),
  }),
  check(ctx) {
    if (ctx.facts.version < LIBXC_VERSION_3) ctx.report('v2-policy-record', `${ctx.typeName} in a v2 stream; only v3 streams carry CPU policies`);
  },
});
