/**
 * X86_PV_VCPU_XSAVE's context: what XEN_DOMCTL_getvcpuextstate returns: xcr0, xcr0_accum,
 * then an uncompacted XSAVE area (FXSAVE legacy region, 64-octet header, components).
 */
import { struct } from '../layout.js';
import { XSAVE_AREA_HEAD, xstateNames } from '../hvm/cpu-xsave.js';

export const PV_XSAVE_LAYOUT = struct('pv_vcpu_xsave', {
  xcr0: 'u64',
  xcr0_accum: 'u64',
  ...XSAVE_AREA_HEAD,
});

export interface PvXsaveContext {
  xcr0: bigint;
  xcr0_accum: bigint;
  /** Absent when the context holds only xcr0 and xcr0_accum (a vcpu that never used XSAVE). */
  area?: { fpu_sse: Uint8Array; xstate_bv: bigint; xcomp_bv: bigint; reserved: Uint8Array; extended: Uint8Array };
}

export function decodePvXsave(context: Uint8Array, littleEndian = true): PvXsaveContext {
  const view = new DataView(context.buffer, context.byteOffset, context.byteLength);
  const xcr0 = context.length >= 8 ? view.getBigUint64(0, littleEndian) : 0n;
  const xcr0_accum = context.length >= 16 ? view.getBigUint64(8, littleEndian) : 0n;
  if (context.length < PV_XSAVE_LAYOUT.size) return { xcr0, xcr0_accum };
  const r = PV_XSAVE_LAYOUT.read(context, littleEndian);
  return { xcr0, xcr0_accum, area: { fpu_sse: r.fpu_sse, xstate_bv: r.xstate_bv, xcomp_bv: r.xcomp_bv, reserved: r.reserved, extended: context.subarray(PV_XSAVE_LAYOUT.size) } };
}

export function encodePvXsave(x: PvXsaveContext, littleEndian = true): Uint8Array {
  if (!x.area) {
    const out = new Uint8Array(16);
    const v = new DataView(out.buffer);
    v.setBigUint64(0, x.xcr0, littleEndian);
    v.setBigUint64(8, x.xcr0_accum, littleEndian);
    return out;
  }
  const out = new Uint8Array(PV_XSAVE_LAYOUT.size + x.area.extended.length);
  PV_XSAVE_LAYOUT.write(out, { xcr0: x.xcr0, xcr0_accum: x.xcr0_accum, fpu_sse: x.area.fpu_sse, xstate_bv: x.area.xstate_bv, xcomp_bv: x.area.xcomp_bv, reserved: x.area.reserved }, littleEndian);
  out.set(x.area.extended, PV_XSAVE_LAYOUT.size);
  return out;
}

export function describePvXsave(x: PvXsaveContext): { fields: Record<string, unknown>; text: string } {
  const h = (v: bigint): string => `0x${v.toString(16)}`;
  const fields: Record<string, unknown> = { xcr0: x.xcr0, xcr0Components: xstateNames(x.xcr0), xcr0_accum: x.xcr0_accum };
  if (x.area) Object.assign(fields, { xstate_bv: x.area.xstate_bv, xstateBvComponents: xstateNames(x.area.xstate_bv), xcomp_bv: x.area.xcomp_bv, extendedBytes: x.area.extended.length });
  return { fields, text: `xcr0 ${h(x.xcr0)} [${xstateNames(x.xcr0).join(' ')}], accum ${h(x.xcr0_accum)}${x.area ? `, xstate_bv ${h(x.area.xstate_bv)}` : ', no save area'}` };
}
