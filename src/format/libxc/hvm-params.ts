/** HVM_PARAMS: count, reserved, then (index, value) pairs of HVM params. */
import { ByteWriter } from '../bytes.js';
import { REC_TYPE } from '../constants.js';
import { StreamFormatError } from '../errors.js';
import { HVM_PARAM_PAE_ENABLED, hvmParamName, hvmParamRefusal, LIBXC_SAVED_HVM_PARAMS } from '../hvm-params.js';
import { struct } from '../layout.js';
import { defineRecord } from '../record-module.js';
import { hex } from './common.js';

export const HVM_PARAMS_HEADER_LAYOUT = struct('hvm_params_header', { count: 'u32', reserved: 'u32' });
export const HVM_PARAM_LAYOUT = struct('hvm_params_entry', { index: 'u64', value: 'u64' });

export interface HvmParam {
  index: bigint;
  value: bigint;
}

export interface HvmParamsRecord {
  type: typeof REC_TYPE.HVM_PARAMS;
  reserved: number;
  params: HvmParam[];
}

export const hvmParams = defineRecord<HvmParamsRecord>({
  type: REC_TYPE.HVM_PARAMS,
  name: 'HVM_PARAMS',
  flags: { dynamic: true, guest: 'hvm' },
  length: { kind: 'multiple', of: HVM_PARAM_LAYOUT.size, min: HVM_PARAMS_HEADER_LAYOUT.size, header: HVM_PARAMS_HEADER_LAYOUT.size },
  decode(body, le) {
    const { count, reserved } = HVM_PARAMS_HEADER_LAYOUT.read(body, le);
    const H = HVM_PARAMS_HEADER_LAYOUT.size;
    const E = HVM_PARAM_LAYOUT.size;
    if (body.length !== H + E * count) {
      throw new StreamFormatError(`HVM_PARAMS: count ${count} needs ${H + E * count} octets of body, found ${body.length}`);
    }
    const params: HvmParam[] = new Array(count);
    for (let i = 0; i < count; i++) params[i] = HVM_PARAM_LAYOUT.read(body, le, H + E * i);
    return { type: REC_TYPE.HVM_PARAMS, reserved, params };
  },
  encode(r, le) {
    const w = new ByteWriter(le, 8 + 16 * r.params.length).u32(r.params.length).u32(r.reserved);
    for (const p of r.params) w.u64(p.index).u64(p.value);
    return w.finish();
  },
  describe(r) {
    const params = r.params.map((p) => ({ name: hvmParamName(p.index), index: p.index, value: p.value }));
    return { fields: { params }, text: `${params.length} param(s): ${params.map((p) => `${p.name}=${hex(p.value)}`).join(' ')}` };
  },
  check(ctx) {
    const { body, littleEndian: le } = ctx;
    const { count, reserved } = HVM_PARAMS_HEADER_LAYOUT.read(body, le);
    if (reserved !== 0) ctx.report('reserved-nonzero', `HVM_PARAMS reserved field ${hex(reserved, 8)}, expected zero`);
    if (count === 0) ctx.report('errata-empty-hvm-params', 'HVM_PARAMS with count 0 (tolerated erratum)');
    const expected = HVM_PARAMS_HEADER_LAYOUT.size + HVM_PARAM_LAYOUT.size * count;
    if (ctx.length !== expected) {
      ctx.report('hvm-params-count', `HVM_PARAMS count ${count} needs a body of ${expected} octets, found ${ctx.length}`);
      return;
    }
    const seen = new Set<bigint>();
    for (let i = 0; i < count; i++) {
      const { index, value } = HVM_PARAM_LAYOUT.read(body, le, HVM_PARAMS_HEADER_LAYOUT.size + HVM_PARAM_LAYOUT.size * i);
      const refusal = hvmParamRefusal(index, value);
      if (refusal) ctx.report('hvm-param-refused', `HVM_PARAMS entry ${i}: ${refusal}; libxc's restore fails here`);
      else if (index !== BigInt(HVM_PARAM_PAE_ENABLED) && !LIBXC_SAVED_HVM_PARAMS.includes(Number(index))) {
        ctx.report('hvm-param-not-saved', `HVM_PARAMS entry ${i}: ${hvmParamName(index)} (${index}) is not one libxc's saver sends; the restorer sets it all the same`);
      }
      if (seen.has(index)) ctx.report('hvm-param-repeated', `HVM_PARAMS entry ${i}: ${hvmParamName(index)} set again; the last value wins`);
      seen.add(index);
    }
  },
});
