/**
 * One vcpu's architectural state in one shape, whatever record it came from (an HVM CPU
 * save record, a PV vcpu_guest_context of either width). `dump` and `info` print it, the
 * ELF core's NT_PRSTATUS and QEMU-style CPU notes are written from it, and `diff` compares
 * it. Decoders of each record produce it; nothing else reads registers from raw offsets.
 */

export type VcpuMode = 'real' | 'protected' | 'long' | 'compat' | 'vm86';

export interface SegmentRegister {
  selector: number;
  base: bigint;
  limit: number;
  /** Access rights as Xen keeps them (HVM arbytes), 0 where the record has none (PV). */
  attributes: number;
}

export interface VcpuRegisters {
  vcpu: number;
  /** false for a vcpu that is down (PV: VGCF_online clear; HVM: no CPU record / INIT state). */
  online: boolean;
  mode: VcpuMode;
  /** 64-bit general registers, in the x86-64 order rax rbx rcx rdx rsi rdi rbp rsp r8-r15. */
  rax: bigint;
  rbx: bigint;
  rcx: bigint;
  rdx: bigint;
  rsi: bigint;
  rdi: bigint;
  rbp: bigint;
  rsp: bigint;
  r8: bigint;
  r9: bigint;
  r10: bigint;
  r11: bigint;
  r12: bigint;
  r13: bigint;
  r14: bigint;
  r15: bigint;
  rip: bigint;
  rflags: bigint;
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  cs: SegmentRegister;
  ds: SegmentRegister;
  es: SegmentRegister;
  fs: SegmentRegister;
  gs: SegmentRegister;
  ss: SegmentRegister;
  /** MSR_KERNEL_GS_BASE (HVM shadow_gs; PV gs_base_kernel). */
  kernelGsBase: bigint;
  gdtr: { base: bigint; limit: number };
  idtr: { base: bigint; limit: number };
  /** What is odd about this vcpu, in words (e.g. "down", "paging off in long mode"). */
  notes: string[];
}
