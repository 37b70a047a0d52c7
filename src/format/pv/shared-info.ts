/**
 * SHARED_INFO's page: struct shared_info in the guest's width (x86_64: 3136 octets used,
 * x86_32: 2344), the rest of the 4 KiB page unused. Per-vcpu event and time state for the
 * 32 legacy vcpu slots, the event channel bitmaps, the wallclock, and the arch part
 * naming the P2M (max_pfn, pfn_to_mfn_frame_list_list).
 */
import { struct, type FieldKind, type Layout } from '../layout.js';
import type { CStructRef } from '../hvm/save-record.js';
import type { PvGuestWidth } from './vcpu-context.js';

export const XEN_LEGACY_MAX_VCPUS = 32;

/** struct vcpu_time_info, the same in both widths: the tail of each vcpu_info. */
const VCPU_TIME_INFO = {
  time_version: 'u32',
  time_pad0: 'u32',
  tsc_timestamp: 'u64',
  system_time: 'u64',
  tsc_to_system_mul: 'u32',
  tsc_shift: 'u8',
  time_flags: 'u8',
  time_pad1: 'u16',
} as const satisfies Record<string, FieldKind>;

const VCPU_INFO_64 = struct('vcpu_info_x86_64', {
  evtchn_upcall_pending: 'u8',
  evtchn_upcall_mask: 'u8',
  pad_align: { bytes: 6 },
  evtchn_pending_sel: 'u64',
  cr2: 'u64',
  arch_pad: 'u64',
  ...VCPU_TIME_INFO,
});
const VCPU_INFO_32 = struct('vcpu_info_x86_32', {
  evtchn_upcall_pending: 'u8',
  evtchn_upcall_mask: 'u8',
  pad_align: 'u16',
  evtchn_pending_sel: 'u32',
  cr2: 'u32',
  arch_pad: { bytes: 20 },
  ...VCPU_TIME_INFO,
});
const vcpuInfoMembers = {
  pad_align: null,
  cr2: 'arch.cr2',
  arch_pad: 'arch.pad',
  time_version: 'time.version',
  time_pad0: 'time.pad0',
  tsc_timestamp: 'time.tsc_timestamp',
  system_time: 'time.system_time',
  tsc_to_system_mul: 'time.tsc_to_system_mul',
  tsc_shift: 'time.tsc_shift',
  time_flags: 'time.flags',
  time_pad1: 'time.pad1',
};
export const VCPU_INFO_X86_64_C: CStructRef = { type: 'struct vcpu_info_x86_64', size: 64, members: vcpuInfoMembers };
export const VCPU_INFO_X86_32_C: CStructRef = { type: 'struct vcpu_info_x86_32', size: 64, members: vcpuInfoMembers };

const arch = (w: 'u32' | 'u64'): Record<string, FieldKind> => ({
  max_pfn: w,
  pfn_to_mfn_frame_list_list: w,
  nmi_reason: w,
  p2m_cr3: w,
  p2m_vaddr: w,
  p2m_generation: w,
});

export const SHARED_INFO_X86_64_LAYOUT: Layout<Record<string, FieldKind>> = struct('shared_info_x86_64', {
  vcpu_info: { bytes: 64 * XEN_LEGACY_MAX_VCPUS },
  evtchn_pending: { bytes: 64 * 8 },
  evtchn_mask: { bytes: 64 * 8 },
  wc_version: 'u32',
  wc_sec: 'u32',
  wc_nsec: 'u32',
  wc_sec_hi: 'u32',
  ...arch('u64'),
});
export const SHARED_INFO_X86_32_LAYOUT: Layout<Record<string, FieldKind>> = struct('shared_info_x86_32', {
  vcpu_info: { bytes: 64 * XEN_LEGACY_MAX_VCPUS },
  evtchn_pending: { bytes: 32 * 4 },
  evtchn_mask: { bytes: 32 * 4 },
  wc_version: 'u32',
  wc_sec: 'u32',
  wc_nsec: 'u32',
  ...arch('u32'),
  wc_sec_hi: 'u32',
});
const archMembers = Object.fromEntries(Object.keys(arch('u32')).map((n) => [n, `arch.${n}`]));
export const SHARED_INFO_X86_64_C: CStructRef = { type: 'struct shared_info_x86_64', size: 3136, members: archMembers };
export const SHARED_INFO_X86_32_C: CStructRef = { type: 'struct shared_info_x86_32', size: 2344, members: { ...archMembers, wc_sec_hi: 'arch.wc_sec_hi' } };
export const VCPU_INFO_X86_64_LAYOUT = VCPU_INFO_64;
export const VCPU_INFO_X86_32_LAYOUT = VCPU_INFO_32;

const popcount = (b: Uint8Array): number =>
  b.reduce((n, x) => {
    for (let v = x; v; v &= v - 1) n++;
    return n;
  }, 0);

export interface SharedInfo {
  width: PvGuestWidth;
  fields: Record<string, unknown>;
  /** The vcpu_info slots that are not all zero. */
  vcpus: { vcpu: number; info: Record<string, unknown> }[];
}

export function decodeSharedInfo(page: Uint8Array, width: PvGuestWidth, littleEndian = true): SharedInfo {
  const layout = width === 8 ? SHARED_INFO_X86_64_LAYOUT : SHARED_INFO_X86_32_LAYOUT;
  const vi = width === 8 ? VCPU_INFO_64 : VCPU_INFO_32;
  const f = layout.read(page, littleEndian) as Record<string, unknown>;
  const slots = f.vcpu_info as Uint8Array;
  const vcpus: SharedInfo['vcpus'] = [];
  for (let i = 0; i < XEN_LEGACY_MAX_VCPUS; i++) {
    const at = i * vi.size;
    if (slots.subarray(at, at + vi.size).every((b) => b === 0)) continue;
    const info = vi.read(slots, littleEndian, at) as Record<string, unknown>;
    delete info.pad_align;
    vcpus.push({ vcpu: i, info });
  }
  const { vcpu_info: _v, evtchn_pending, evtchn_mask, ...rest } = f;
  return {
    width,
    fields: { ...rest, evtchnPendingCount: popcount(evtchn_pending as Uint8Array), evtchnMaskedCount: popcount(evtchn_mask as Uint8Array), evtchn_pending, evtchn_mask },
    vcpus,
  };
}

export function describeSharedInfo(s: SharedInfo): { fields: Record<string, unknown>; text: string } {
  const f = s.fields;
  return {
    fields: { width: s.width, ...f, vcpu_info: s.vcpus },
    text: `${s.width * 8}-bit, max_pfn ${hexOf(f.max_pfn)}, frame list list ${hexOf(f.pfn_to_mfn_frame_list_list)}, wallclock ${f.wc_sec}.${String(f.wc_nsec).padStart(9, '0')} s, ${f.evtchnPendingCount} event(s) pending, ${s.vcpus.length} vcpu slot(s) in use`,
  };
}

const hexOf = (v: unknown): string => `0x${(v as number | bigint).toString(16)}`;
