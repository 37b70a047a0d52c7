/**
 * The registers the ELF core's notes are written from, read out of what a stream or a
 * memory image keeps of each vcpu: the HVM context blob's CPU save records, or a 64-bit
 * PV guest's X86_PV_VCPU_BASIC context.
 *
 * STOPGAP, to be replaced when the `state` branch lands: its decoders
 * (src/format/hvm/cpu.ts, src/format/pv/*.ts) produce `VcpuRegisters` from each record
 * through their layouts. Until then this reads only the registers the notes need, at the
 * offsets `encodeHvmCpuRecord` writes (struct hvm_hw_cpu) and the simulated PV guest
 * writes (struct vcpu_guest_context, x86_64); it is no decoder of the whole records.
 */
import { HVM_SAVE_TYPE_CPU, HVM_SAVE_TYPE_END } from '../../format/hvm-context.js';
import type { SegmentRegister, VcpuMode, VcpuRegisters } from '../../format/vcpu-registers.js';
import type { VcpuContext } from '../types.js';

/** struct hvm_hw_cpu offsets (Xen 4.17 public/arch-x86/hvm/save.h). */
const HVM_CPU = {
  /** rax rbx rcx rdx rbp rsi rdi rsp r8..r15, 8 octets each. */
  gprs: 512,
  rip: 640,
  rflags: 648,
  cr0: 656,
  cr2: 664,
  cr3: 672,
  cr4: 680,
  /** cs ds es fs gs ss tr ldtr: selectors (u32), limits (u32), bases (u64), arbytes (u32). */
  sel: 736,
  limit: 768,
  idtrLimit: 800,
  gdtrLimit: 804,
  base: 808,
  idtrBase: 872,
  gdtrBase: 880,
  arbytes: 888,
  shadowGs: 944,
  efer: 992,
} as const;

/** struct vcpu_guest_context (x86_64) offsets (Xen public/arch-x86/xen.h, xen-x86_64.h). */
const PV64 = {
  flags: 512,
  /** user_regs: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi, 8 octets each. */
  regs: 520,
  rip: 648,
  cs: 656,
  rflags: 664,
  rsp: 672,
  ss: 680,
  es: 688,
  ds: 696,
  fs: 704,
  gs: 712,
  gdtEnts: 4960,
  ctrlreg: 4984,
  fsBase: 5144,
  gsBaseKernel: 5152,
  gsBaseUser: 5160,
  size: 5168,
} as const;

const VGCF_IN_KERNEL = 4;
const VGCF_ONLINE = 32;
const EFER_LMA = 0x400n;
const CR0_PE = 1n;
const RFLAGS_VM = 0x20000n;
/** Segment attribute L (64-bit code) in Xen's arbytes. */
const AR_L = 0x200;

function reader(bytes: Uint8Array, at: number, length: number) {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, length);
  // A shorter record (Xen zero-extends it) reads as zero past its end.
  return {
    u64: (o: number): bigint => (o + 8 <= length ? view.getBigUint64(o, true) : 0n),
    u32: (o: number): number => (o + 4 <= length ? view.getUint32(o, true) : 0),
    u16: (o: number): number => (o + 2 <= length ? view.getUint16(o, true) : 0),
  };
}

function modeOf(cr0: bigint, efer: bigint, rflags: bigint, csAttributes: number): VcpuMode {
  if ((cr0 & CR0_PE) === 0n) return 'real';
  if ((efer & EFER_LMA) !== 0n) return (csAttributes & AR_L) !== 0 ? 'long' : 'compat';
  return (rflags & RFLAGS_VM) !== 0n ? 'vm86' : 'protected';
}

/** The CPU save records of an HVM context blob, as registers (one per record, in blob order). */
export function hvmVcpuRegisters(blob: Uint8Array): VcpuRegisters[] {
  const out: VcpuRegisters[] = [];
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  for (let off = 0; off + 8 <= blob.length; ) {
    const typecode = view.getUint16(off, true);
    const instance = view.getUint16(off + 2, true);
    const length = Math.min(view.getUint32(off + 4, true), blob.length - off - 8);
    if (typecode === HVM_SAVE_TYPE_END) break;
    if (typecode === HVM_SAVE_TYPE_CPU) out.push(hvmCpuRecordRegisters(blob.subarray(off + 8, off + 8 + length), instance));
    off += 8 + length;
  }
  return out;
}

function hvmCpuRecordRegisters(body: Uint8Array, vcpu: number): VcpuRegisters {
  const r = reader(body, 0, body.length);
  const gpr = (i: number): bigint => r.u64(HVM_CPU.gprs + 8 * i);
  const seg = (i: number): SegmentRegister => ({
    selector: r.u32(HVM_CPU.sel + 4 * i) & 0xffff,
    base: r.u64(HVM_CPU.base + 8 * i),
    limit: r.u32(HVM_CPU.limit + 4 * i),
    attributes: r.u32(HVM_CPU.arbytes + 4 * i),
  });
  const [cs, ds, es, fs, gs, ss] = [0, 1, 2, 3, 4, 5].map(seg) as [SegmentRegister, SegmentRegister, SegmentRegister, SegmentRegister, SegmentRegister, SegmentRegister];
  const cr0 = r.u64(HVM_CPU.cr0);
  const efer = r.u64(HVM_CPU.efer);
  const rflags = r.u64(HVM_CPU.rflags);
  const regs: VcpuRegisters = {
    vcpu,
    online: true,
    mode: modeOf(cr0, efer, rflags, cs.attributes),
    rax: gpr(0), rbx: gpr(1), rcx: gpr(2), rdx: gpr(3), rbp: gpr(4), rsi: gpr(5), rdi: gpr(6), rsp: gpr(7),
    r8: gpr(8), r9: gpr(9), r10: gpr(10), r11: gpr(11), r12: gpr(12), r13: gpr(13), r14: gpr(14), r15: gpr(15),
    rip: r.u64(HVM_CPU.rip),
    rflags,
    cr0,
    cr2: r.u64(HVM_CPU.cr2),
    cr3: r.u64(HVM_CPU.cr3),
    cr4: r.u64(HVM_CPU.cr4),
    efer,
    cs, ds, es, fs, gs, ss,
    kernelGsBase: r.u64(HVM_CPU.shadowGs),
    gdtr: { base: r.u64(HVM_CPU.gdtrBase), limit: r.u32(HVM_CPU.gdtrLimit) },
    idtr: { base: r.u64(HVM_CPU.idtrBase), limit: r.u32(HVM_CPU.idtrLimit) },
    notes: [],
  };
  if (body.length < HVM_CPU.efer + 8) regs.notes.push(`CPU record of ${body.length} octets, zero-extended`);
  return regs;
}

/**
 * A 64-bit PV guest's vcpus from their X86_PV_VCPU_BASIC contexts. A 32-bit guest's
 * contexts (another layout) give nothing here.
 */
export function pvVcpuRegisters(contexts: readonly VcpuContext[], guestWidth: number): VcpuRegisters[] {
  if (guestWidth !== 8) return [];
  return contexts
    .filter((c) => c.kind === 'basic')
    .sort((a, b) => a.vcpuId - b.vcpuId)
    .map((c) => pvBasicRegisters(c.data, c.vcpuId));
}

function pvBasicRegisters(data: Uint8Array, vcpu: number): VcpuRegisters {
  const r = reader(data, 0, data.length);
  const g = (i: number): bigint => r.u64(PV64.regs + 8 * i);
  const flat = (selector: number, base = 0n): SegmentRegister => ({ selector, base, limit: 0xffffffff, attributes: 0 });
  const flags = Number(r.u64(PV64.flags) & 0xffffffffn);
  const cr0 = r.u64(PV64.ctrlreg);
  const regs: VcpuRegisters = {
    vcpu,
    online: (flags & VGCF_ONLINE) !== 0,
    mode: 'long',
    r15: g(0), r14: g(1), r13: g(2), r12: g(3), rbp: g(4), rbx: g(5), r11: g(6), r10: g(7), r9: g(8), r8: g(9),
    rax: g(10), rcx: g(11), rdx: g(12), rsi: g(13), rdi: g(14),
    rip: r.u64(PV64.rip),
    rflags: r.u64(PV64.rflags),
    rsp: r.u64(PV64.rsp),
    cr0,
    cr2: r.u64(PV64.ctrlreg + 2 * 8),
    cr3: r.u64(PV64.ctrlreg + 3 * 8),
    cr4: r.u64(PV64.ctrlreg + 4 * 8),
    efer: 0n,
    cs: flat(r.u16(PV64.cs)),
    ds: flat(r.u16(PV64.ds)),
    es: flat(r.u16(PV64.es)),
    fs: flat(r.u16(PV64.fs), r.u64(PV64.fsBase)),
    gs: flat(r.u16(PV64.gs), r.u64(PV64.gsBaseUser)),
    ss: flat(r.u16(PV64.ss)),
    kernelGsBase: r.u64(PV64.gsBaseKernel),
    gdtr: { base: 0n, limit: Math.max(0, Number(r.u64(PV64.gdtEnts) & 0xffffn) * 8 - 1) },
    idtr: { base: 0n, limit: 0 },
    notes: [],
  };
  if (!regs.online) regs.notes.push('down');
  if ((flags & VGCF_IN_KERNEL) !== 0) regs.notes.push('in kernel mode');
  if (data.length < PV64.size) regs.notes.push(`context of ${data.length} octets, shorter than vcpu_guest_context (${PV64.size})`);
  return regs;
}
