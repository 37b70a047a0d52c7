/** PV vcpu records and the shared info page for `dump`: one line of text and every field. */
import { REC_TYPE } from '../constants.js';
import { StreamFormatError } from '../errors.js';
import type { Described } from '../record-module.js';
import { vcpuRegistersText } from '../vcpu-text.js';
import { decodeExtVcpuContext } from './extended.js';
import { decodePvMsrs } from './msrs.js';
import { decodeSharedInfo, describeSharedInfo } from './shared-info.js';
import { decodePvVcpuContext, describePvVcpuContext, pvVcpuRegisters, widthOfContextLength, type PvGuestWidth } from './vcpu-context.js';
import { decodePvXsave, describePvXsave } from './xsave.js';

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

/**
 * A PV vcpu record's context decoded: BASIC as the vcpu's registers (in `width`, else the
 * width its length says), EXTENDED, XSAVE and MSRS by their layouts.
 */
export function describePvVcpuRecord(type: number, vcpuId: number, context: Uint8Array, le: boolean, width?: PvGuestWidth): Described {
  const base = { vcpuId, contextBytes: context.length };
  const plain = { fields: base, text: `vcpu ${vcpuId}, ${context.length} octet(s) of context` };
  if (context.length === 0) return plain;
  try {
    switch (type) {
      case REC_TYPE.X86_PV_VCPU_BASIC: {
        const w = width ?? widthOfContextLength(context.length);
        if (w === undefined) return plain;
        const ctx = decodePvVcpuContext(context, w, le);
        const registers = pvVcpuRegisters(vcpuId, ctx);
        return { fields: { ...base, width: w, registers, context: describePvVcpuContext(ctx) }, text: vcpuRegistersText(registers) };
      }
      case REC_TYPE.X86_PV_VCPU_EXTENDED: {
        const { pad_align: _p, ...x } = decodeExtVcpuContext(context, le);
        return {
          fields: { ...base, ...x },
          text: `vcpu ${vcpuId}: sysenter ${hex(x.sysenter_callback_cs)}:${hex(x.sysenter_callback_eip)}, syscall32 ${hex(x.syscall32_callback_cs)}:${hex(x.syscall32_callback_eip)}, MCG_CAP ${hex(x.mcg_cap)}`,
        };
      }
      case REC_TYPE.X86_PV_VCPU_XSAVE: {
        const d = describePvXsave(decodePvXsave(context, le));
        return { fields: { ...base, ...d.fields }, text: `vcpu ${vcpuId}: ${d.text}` };
      }
      case REC_TYPE.X86_PV_VCPU_MSRS: {
        const msrs = decodePvMsrs(context, le);
        return { fields: { ...base, msrs }, text: `vcpu ${vcpuId}: ${msrs.length} MSR(s): ${msrs.map((m) => `${m.name}=${hex(m.value)}`).join(' ')}` };
      }
    }
  } catch (err) {
    if (!(err instanceof StreamFormatError)) throw err;
  }
  return plain;
}

/** SHARED_INFO decoded in the guest's width (X86_PV_INFO's); only its size without one. */
export function describeSharedInfoPage(page: Uint8Array, width: PvGuestWidth | undefined, le: boolean): Described {
  if (width === undefined || page.length < 4096) return { fields: { bytes: page.length }, text: `${page.length} octet(s)` };
  const d = describeSharedInfo(decodeSharedInfo(page, width, le));
  return { fields: { bytes: page.length, ...d.fields }, text: `${page.length} octet(s), ${d.text}` };
}
