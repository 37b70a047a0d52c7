/**
 * X86_PV_VCPU_BASIC's context: struct vcpu_guest_context as libxc sends it, in the
 * guest's width (X86_PV_INFO guest_width): the x86_64 layout (5168 octets) for a 64-bit
 * guest, the x86_32 layout (2800 octets, 4-octet packing; what a 64-bit toolstack gets
 * for a 32-bit guest) for a 32-bit one. Layouts as Debian's libxen-dev 4.17
 * xen/foreign/x86_64.h and x86_32.h declare them; cr3 holds a pfn (libxc's saver
 * normalises the mfn), for 32-bit guests in Xen's rotated `xen_pfn_to_cr3` form.
 */
import { struct, type FieldKind, type Layout, type StructValue } from '../layout.js';
import type { CStructRef } from '../hvm/save-record.js';
import type { SegmentRegister, VcpuMode, VcpuRegisters } from '../vcpu-registers.js';

const hexs = (v: number | bigint): string => `0x${v.toString(16)}`;

function withMembers(spec: Record<string, FieldKind>, prefix: string, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.filter((n) => n in spec).map((n) => [n, `${prefix}${n}`]));
}

const ARRAYS = (width: 'u32' | 'u64'): Record<string, FieldKind> => {
  const out: Record<string, FieldKind> = {};
  for (let i = 0; i < 8; i++) out[`ctrlreg${i}`] = width;
  for (let i = 0; i < 8; i++) out[`debugreg${i}`] = width;
  return out;
};
const arrayMembers = (): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 0; i < 8; i++) {
    out[`ctrlreg${i}`] = `ctrlreg[${i}]`;
    out[`debugreg${i}`] = `debugreg[${i}]`;
  }
  return out;
};

const USER_REGS_64: Record<string, FieldKind> = {
  r15: 'u64', r14: 'u64', r13: 'u64', r12: 'u64', rbp: 'u64', rbx: 'u64', r11: 'u64', r10: 'u64', r9: 'u64', r8: 'u64',
  rax: 'u64', rcx: 'u64', rdx: 'u64', rsi: 'u64', rdi: 'u64',
  error_code: 'u32', entry_vector: 'u32', rip: 'u64',
  cs: 'u16', _pad0: 'u16', saved_upcall_mask: 'u8', _pad1: { bytes: 3 },
  rflags: 'u64', rsp: 'u64',
  ss: 'u16', _pad2: { bytes: 6 }, es: 'u16', _pad3: { bytes: 6 }, ds: 'u16', _pad4: { bytes: 6 }, fs: 'u16', _pad5: { bytes: 6 }, gs: 'u16', _pad6: { bytes: 6 },
};

const VGC64_SPEC: Record<string, FieldKind> = {
  fpu_ctxt: { bytes: 512 },
  flags: 'u64',
  ...USER_REGS_64,
  trap_ctxt: { bytes: 256 * 16 },
  ldt_base: 'u64',
  ldt_ents: 'u64',
  gdt_frames: { bytes: 16 * 8 },
  gdt_ents: 'u64',
  kernel_ss: 'u64',
  kernel_sp: 'u64',
  ...ARRAYS('u64'),
  event_callback_eip: 'u64',
  failsafe_callback_eip: 'u64',
  syscall_callback_eip: 'u64',
  vm_assist: 'u64',
  fs_base: 'u64',
  gs_base_kernel: 'u64',
  gs_base_user: 'u64',
};

const USER_REGS_32: Record<string, FieldKind> = {
  ebx: 'u32', ecx: 'u32', edx: 'u32', esi: 'u32', edi: 'u32', ebp: 'u32', eax: 'u32',
  error_code: 'u16', entry_vector: 'u16', eip: 'u32',
  cs: 'u16', saved_upcall_mask: 'u8', _pad0: 'u8',
  eflags: 'u32', esp: 'u32',
  ss: 'u16', _pad1: 'u16', es: 'u16', _pad2: 'u16', ds: 'u16', _pad3: 'u16', fs: 'u16', _pad4: 'u16', gs: 'u16', _pad5: 'u16',
};

const VGC32_SPEC: Record<string, FieldKind> = {
  fpu_ctxt: { bytes: 512 },
  flags: 'u32',
  ...USER_REGS_32,
  trap_ctxt: { bytes: 256 * 8 },
  ldt_base: 'u32',
  ldt_ents: 'u32',
  gdt_frames: { bytes: 16 * 4 },
  gdt_ents: 'u32',
  kernel_ss: 'u32',
  kernel_sp: 'u32',
  ...ARRAYS('u32'),
  event_callback_cs: 'u32',
  event_callback_eip: 'u32',
  failsafe_callback_cs: 'u32',
  failsafe_callback_eip: 'u32',
  vm_assist: 'u32',
};

export const VCPU_GUEST_CONTEXT_X86_64_LAYOUT: Layout<Record<string, FieldKind>> = struct('vcpu_guest_context_x86_64', VGC64_SPEC);
export const VCPU_GUEST_CONTEXT_X86_32_LAYOUT: Layout<Record<string, FieldKind>> = struct('vcpu_guest_context_x86_32', VGC32_SPEC);

export const VCPU_GUEST_CONTEXT_X86_64_C: CStructRef = {
  type: 'struct vcpu_guest_context_x86_64',
  size: 5168,
  members: { ...withMembers(VGC64_SPEC, 'user_regs.', Object.keys(USER_REGS_64)), ...arrayMembers() },
};
export const VCPU_GUEST_CONTEXT_X86_32_C: CStructRef = {
  type: 'struct vcpu_guest_context_x86_32',
  size: 2800,
  members: { ...withMembers(VGC32_SPEC, 'user_regs.', Object.keys(USER_REGS_32)), ...arrayMembers() },
};

/** vcpu_guest_context flags (VGCF_*). */
export const VGCF = { i387_valid: 1, in_kernel: 4, failsafe_disables_events: 8, syscall_disables_events: 16, online: 32 } as const;
/** FLAT_RING3_CS32: a 64-bit PV guest's 32-bit user code segment. */
const FLAT_RING3_CS32 = 0xe023;

export type PvGuestWidth = 4 | 8;

export interface PvVcpuContext {
  width: PvGuestWidth;
  /** Every field of the layout by its C name (64-bit: bigint, 32-bit: number; arrays as views). */
  fields: StructValue<Record<string, FieldKind>>;
}

/** The layout of a width. */
export function vcpuContextLayout(width: PvGuestWidth): Layout<Record<string, FieldKind>> {
  return width === 8 ? VCPU_GUEST_CONTEXT_X86_64_LAYOUT : VCPU_GUEST_CONTEXT_X86_32_LAYOUT;
}

/** The guest width a BASIC context's length says (5168: 64-bit, 2800: 32-bit), if either. */
export function widthOfContextLength(length: number): PvGuestWidth | undefined {
  return length === VCPU_GUEST_CONTEXT_X86_64_LAYOUT.size ? 8 : length === VCPU_GUEST_CONTEXT_X86_32_LAYOUT.size ? 4 : undefined;
}

export function decodePvVcpuContext(context: Uint8Array, width: PvGuestWidth, littleEndian = true): PvVcpuContext {
  return { width, fields: vcpuContextLayout(width).read(context, littleEndian) };
}

export function encodePvVcpuContext(ctx: PvVcpuContext, littleEndian = true): Uint8Array {
  return vcpuContextLayout(ctx.width).encode(ctx.fields, littleEndian);
}

/** The pfn a context's cr3 names: cr3 >> 12 for 64-bit guests, `xen_cr3_to_pfn_x86_32` for 32-bit ones. */
export function pvCr3Pfn(width: PvGuestWidth, cr3: bigint): bigint {
  if (width === 8) return cr3 >> 12n;
  const c = Number(cr3 & 0xffffffffn);
  return BigInt(((c >>> 12) | (c << 20)) >>> 0);
}

const big = (v: unknown): bigint => (typeof v === 'bigint' ? v : BigInt(v as number));

/** The shared register shape of a PV vcpu's BASIC context. */
export function pvVcpuRegisters(vcpu: number, ctx: PvVcpuContext): VcpuRegisters {
  const f = ctx.fields as Record<string, unknown>;
  const w64 = ctx.width === 8;
  const g = (n64: string, n32: string): bigint => big(f[w64 ? n64 : n32] ?? 0);
  const flags = Number(big(f.flags));
  const seg = (name: string, base = 0n): SegmentRegister => ({ selector: Number(f[name]), base, limit: 0, attributes: 0 });
  const cs = Number(f.cs);
  const mode: VcpuMode = w64 ? (cs === FLAT_RING3_CS32 ? 'compat' : 'long') : 'protected';
  const notes: string[] = [];
  if (!(flags & VGCF.online)) notes.push('VGCF_online clear: the vcpu stays down');
  if (!(flags & VGCF.i387_valid)) notes.push('FPU state not valid');
  if (!(flags & VGCF.in_kernel)) notes.push('in user mode');
  const cr3 = big(f.ctrlreg3);
  if (cr3 === 0n && flags & VGCF.online) notes.push('cr3 0: no page tables');
  const gdtEnts = Number(big(f.gdt_ents));
  return {
    vcpu,
    online: (flags & VGCF.online) !== 0,
    mode,
    rax: g('rax', 'eax'),
    rbx: g('rbx', 'ebx'),
    rcx: g('rcx', 'ecx'),
    rdx: g('rdx', 'edx'),
    rsi: g('rsi', 'esi'),
    rdi: g('rdi', 'edi'),
    rbp: g('rbp', 'ebp'),
    rsp: g('rsp', 'esp'),
    r8: w64 ? g('r8', '') : 0n,
    r9: w64 ? g('r9', '') : 0n,
    r10: w64 ? g('r10', '') : 0n,
    r11: w64 ? g('r11', '') : 0n,
    r12: w64 ? g('r12', '') : 0n,
    r13: w64 ? g('r13', '') : 0n,
    r14: w64 ? g('r14', '') : 0n,
    r15: w64 ? g('r15', '') : 0n,
    rip: g('rip', 'eip'),
    rflags: g('rflags', 'eflags'),
    cr0: big(f.ctrlreg0),
    cr2: big(f.ctrlreg2),
    cr3,
    cr4: big(f.ctrlreg4),
    // A PV context carries no EFER: Xen runs every 64-bit PV guest with LME|LMA|SCE|NXE, but the record does not say.
    efer: 0n,
    cs: seg('cs'),
    ds: seg('ds'),
    es: seg('es'),
    fs: seg('fs', w64 ? big(f.fs_base) : 0n),
    gs: seg('gs', w64 ? big(f.gs_base_user) : 0n),
    ss: seg('ss'),
    kernelGsBase: w64 ? big(f.gs_base_kernel) : 0n,
    gdtr: { base: 0n, limit: gdtEnts > 0 ? gdtEnts * 8 - 1 : 0 },
    idtr: { base: 0n, limit: 0 },
    notes,
  };
}

/** Named fields for `dump --json`: every layout field, arrays unpacked, flags named. */
export function describePvVcpuContext(ctx: PvVcpuContext): Record<string, unknown> {
  const f = ctx.fields as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const step = ctx.width;
  for (const fi of vcpuContextLayout(ctx.width).fields) {
    if (/^_pad/.test(fi.name)) continue;
    const v = f[fi.name];
    if (fi.name === 'gdt_frames') {
      const b = v as Uint8Array;
      const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const frames: bigint[] = [];
      for (let o = 0; o < b.length; o += step) frames.push(step === 8 ? view.getBigUint64(o, true) : BigInt(view.getUint32(o, true)));
      out.gdt_frames = frames.slice(0, Math.ceil(Number(big(f.gdt_ents)) / 512));
    } else if (fi.name === 'trap_ctxt') {
      out.trap_ctxt = trapTable(v as Uint8Array, ctx.width);
    } else out[fi.name] = v;
  }
  const flags = Number(big(f.flags));
  out.flagNames = Object.entries(VGCF)
    .filter(([, bit]) => flags & bit)
    .map(([n]) => n);
  out.cr3_pfn = pvCr3Pfn(ctx.width, big(f.ctrlreg3));
  return out;
}

/** The trap table's entries with a handler (vector, flags, cs, address). */
function trapTable(b: Uint8Array, width: PvGuestWidth): { vector: number; flags: number; cs: number; address: bigint }[] {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const size = width === 8 ? 16 : 8;
  const out: { vector: number; flags: number; cs: number; address: bigint }[] = [];
  for (let o = 0; o + size <= b.length; o += size) {
    const address = width === 8 ? view.getBigUint64(o + 8, true) : BigInt(view.getUint32(o + 4, true));
    if (address === 0n) continue;
    out.push({ vector: view.getUint8(o), flags: view.getUint8(o + 1), cs: view.getUint16(o + 2, true), address });
  }
  return out;
}

export { hexs as pvHex };
