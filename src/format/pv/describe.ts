/**
 * PV vcpu contexts and the shared info page for `dump`: one line of text and every field.
 * The record modules (src/format/libxc/x86-pv-vcpu-*.ts, shared-info.ts) describe
 * themselves through these.
 */
import type { DescribeContext, Described } from '../record-module.js';
import { vcpuRegistersText } from '../vcpu-text.js';
import { decodeExtVcpuContext } from './extended.js';
import { decodePvMsrs } from './msrs.js';
import { decodeSharedInfo, describeSharedInfo } from './shared-info.js';
import { decodePvVcpuContext, describePvVcpuContext, pvVcpuRegisters, widthOfContextLength, type PvGuestWidth } from './vcpu-context.js';
import { decodePvXsave, describePvXsave } from './xsave.js';

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

/**
 * A PV vcpu record's context read by its layout: the fields after vcpuId and contextBytes,
 * and the line; undefined when the layout is unknown (it may also throw StreamFormatError
 * on a context that does not fit, which the record module turns into the plain line).
 */
export type PvContextDescriber = (vcpuId: number, context: Uint8Array, ctx: DescribeContext) => Described | undefined;

/** X86_PV_VCPU_BASIC as the vcpu's registers, in the stream's guest width, else the width the context's length says. */
export const describePvVcpuBasic: PvContextDescriber = (vcpuId, context, ctx) => {
  const w = ctx.pvGuestWidth ?? widthOfContextLength(context.length);
  if (w === undefined) return undefined;
  const decoded = decodePvVcpuContext(context, w, ctx.littleEndian);
  const registers = pvVcpuRegisters(vcpuId, decoded);
  return { fields: { width: w, registers, context: describePvVcpuContext(decoded) }, text: vcpuRegistersText(registers) };
};

export const describePvVcpuExtended: PvContextDescriber = (vcpuId, context, ctx) => {
  const { pad_align: _p, ...x } = decodeExtVcpuContext(context, ctx.littleEndian);
  return {
    fields: x,
    text: `vcpu ${vcpuId}: sysenter ${hex(x.sysenter_callback_cs)}:${hex(x.sysenter_callback_eip)}, syscall32 ${hex(x.syscall32_callback_cs)}:${hex(x.syscall32_callback_eip)}, MCG_CAP ${hex(x.mcg_cap)}`,
  };
};

export const describePvVcpuXsave: PvContextDescriber = (vcpuId, context, ctx) => {
  const d = describePvXsave(decodePvXsave(context, ctx.littleEndian));
  return { fields: d.fields, text: `vcpu ${vcpuId}: ${d.text}` };
};

export const describePvVcpuMsrs: PvContextDescriber = (vcpuId, context, ctx) => {
  const msrs = decodePvMsrs(context, ctx.littleEndian);
  return { fields: { msrs }, text: `vcpu ${vcpuId}: ${msrs.length} MSR(s): ${msrs.map((m) => `${m.name}=${hex(m.value)}`).join(' ')}` };
};

/** SHARED_INFO decoded in the guest's width (X86_PV_INFO's); only its size without one. */
export function describeSharedInfoPage(page: Uint8Array, width: PvGuestWidth | undefined, le: boolean): Described {
  if (width === undefined || page.length < 4096) return { fields: { bytes: page.length }, text: `${page.length} octet(s)` };
  const d = describeSharedInfo(decodeSharedInfo(page, width, le));
  return { fields: { bytes: page.length, ...d.fields }, text: `${page.length} octet(s), ${d.text}` };
}
