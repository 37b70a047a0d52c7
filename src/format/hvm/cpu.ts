/**
 * CPU (typecode 2): struct hvm_hw_cpu, one vcpu's registers. Three sizes exist: 1032
 * (Xen 4.7 and newer: flags, pad0), 1024 (4.6 and older, zero-extended) and the compat
 * 1016 (`struct hvm_hw_cpu_compat`, before msr_tsc_aux, with tsc and the pending event
 * 8 octets earlier), which `_hvm_hw_fix_cpu` moves into place. Any record shorter than
 * 1032 has its flags forced to FPU_INITIALISED.
 */
import { struct, type StructValue } from '../layout.js';
import type { SegmentRegister, VcpuMode, VcpuRegisters } from '../vcpu-registers.js';
import { defineHvmSaveRecord, hex, namedFields, zeroExtend } from './save-record.js';

const SEGS = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldtr'] as const;

const CPU_HEAD = {
    fpu_regs: { bytes: 512 },
    rax: 'u64',
    rbx: 'u64',
    rcx: 'u64',
    rdx: 'u64',
    rbp: 'u64',
    rsi: 'u64',
    rdi: 'u64',
    rsp: 'u64',
    r8: 'u64',
    r9: 'u64',
    r10: 'u64',
    r11: 'u64',
    r12: 'u64',
    r13: 'u64',
    r14: 'u64',
    r15: 'u64',
    rip: 'u64',
    rflags: 'u64',
    cr0: 'u64',
    cr2: 'u64',
    cr3: 'u64',
    cr4: 'u64',
    dr0: 'u64',
    dr1: 'u64',
    dr2: 'u64',
    dr3: 'u64',
    dr6: 'u64',
    dr7: 'u64',
    cs_sel: 'u32',
    ds_sel: 'u32',
    es_sel: 'u32',
    fs_sel: 'u32',
    gs_sel: 'u32',
    ss_sel: 'u32',
    tr_sel: 'u32',
    ldtr_sel: 'u32',
    cs_limit: 'u32',
    ds_limit: 'u32',
    es_limit: 'u32',
    fs_limit: 'u32',
    gs_limit: 'u32',
    ss_limit: 'u32',
    tr_limit: 'u32',
    ldtr_limit: 'u32',
    idtr_limit: 'u32',
    gdtr_limit: 'u32',
    cs_base: 'u64',
    ds_base: 'u64',
    es_base: 'u64',
    fs_base: 'u64',
    gs_base: 'u64',
    ss_base: 'u64',
    tr_base: 'u64',
    ldtr_base: 'u64',
    idtr_base: 'u64',
    gdtr_base: 'u64',
    cs_arbytes: 'u32',
    ds_arbytes: 'u32',
    es_arbytes: 'u32',
    fs_arbytes: 'u32',
    gs_arbytes: 'u32',
    ss_arbytes: 'u32',
    tr_arbytes: 'u32',
    ldtr_arbytes: 'u32',
    sysenter_cs: 'u64',
    sysenter_esp: 'u64',
    sysenter_eip: 'u64',
    shadow_gs: 'u64',
    msr_flags: 'u64',
    msr_lstar: 'u64',
    msr_star: 'u64',
    msr_cstar: 'u64',
    msr_syscall_mask: 'u64',
    msr_efer: 'u64',
} as const;

const CPU_SPEC = { ...CPU_HEAD, msr_tsc_aux: 'u64', tsc: 'u64', pending_event: 'u32', error_code: 'u32', flags: 'u32', pad0: 'u32' } as const;

export const HVM_HW_CPU_LAYOUT = struct('hvm_hw_cpu', CPU_SPEC);
export const HVM_HW_CPU_COMPAT_LAYOUT = struct('hvm_hw_cpu_compat', { ...CPU_HEAD, tsc: 'u64', pending_event: 'u32', error_code: 'u32' } as const);

/** sizeof(struct hvm_hw_cpu) (Xen 4.7 and newer) and of struct hvm_hw_cpu_compat. */
export const HVM_HW_CPU_SIZE = HVM_HW_CPU_LAYOUT.size;
export const HVM_HW_CPU_COMPAT_SIZE = HVM_HW_CPU_COMPAT_LAYOUT.size;
export const XEN_X86_FPU_INITIALISED = 1;

export type HvmCpuRecord = StructValue<typeof CPU_SPEC>;

/** Which of Xen's CPU record layouts a body length is. */
export function cpuRecordLayoutName(length: number): string {
  if (length === HVM_HW_CPU_SIZE) return 'hvm_hw_cpu';
  if (length === HVM_HW_CPU_COMPAT_SIZE) return 'hvm_hw_cpu_compat (no msr_tsc_aux)';
  if (length === 1024) return 'hvm_hw_cpu of Xen 4.6 and older (no flags)';
  return `${length} octets, zero-extended`;
}

/** struct hvm_hw_cpu as Xen's loader sees a body of any accepted length (after `_hvm_hw_fix_cpu`). */
export function decodeCpu(body: Uint8Array): HvmCpuRecord {
  if (body.length === HVM_HW_CPU_COMPAT_SIZE) {
    const c = HVM_HW_CPU_COMPAT_LAYOUT.read(body, true);
    return { ...c, msr_tsc_aux: 0n, flags: XEN_X86_FPU_INITIALISED, pad0: 0 };
  }
  const r = HVM_HW_CPU_LAYOUT.read(zeroExtend(body, HVM_HW_CPU_SIZE), true);
  if (body.length !== HVM_HW_CPU_SIZE) r.flags = XEN_X86_FPU_INITIALISED;
  return r;
}

const CR0_PE = 1n;
const CR0_ET = 0x10n;
const CR0_PG = 0x80000000n;
/** ~HVM_CR0_GUEST_RESERVED_BITS: PE MP EM TS ET NE WP AM NW CD PG. */
export const CR0_VALID = 0xe005003fn;
/**
 * The most CR4 bits Xen 4.17's `hvm_cr4_guest_valid_bits` lets any guest have (every
 * feature in the policy, nested virt on): VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR
 * OSXMMEXCPT UMIP VMXE FSGSBASE PCIDE OSXSAVE SMEP SMAP PKE CET. Never LA57 (bit 12),
 * SMXE (14), PKS (24) nor the reserved bits: no policy makes those loadable.
 */
export const CR4_MAX_VALID = 0xf72fffn;
/** EFER_KNOWN_MASK: SCE LME LMA NXE SVME LMSLE FFXSE. */
export const EFER_KNOWN = 0x7d01n;
const EFER_LME = 0x100n;
const EFER_LMA = 0x400n;
/** The widest physical address x86 defines: a CR3 above it fails any policy's maxphysaddr. */
const MAX_PHYS_BITS = 52n;
const RFLAGS_VM = 1n << 17n;
/** Xen's segment attributes (arbytes): L is bit 9, D/B bit 10. */
const ATTR_L = 0x200;

const CR4_NAMES = ['VME', 'PVI', 'TSD', 'DE', 'PSE', 'PAE', 'MCE', 'PGE', 'PCE', 'OSFXSR', 'OSXMMEXCPT', 'UMIP', 'LA57', 'VMXE', 'SMXE', '15', 'FSGSBASE', 'PCIDE', 'OSXSAVE', 'KL', 'SMEP', 'SMAP', 'PKE', 'CET', 'PKS'];

function bitNames(v: bigint, names: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < 64; i++) if ((v >> BigInt(i)) & 1n) out.push(names[i] ?? String(i));
  return out.join('|');
}

/** real, vm86, protected, compat or long, from CR0.PE, RFLAGS.VM, EFER.LMA and CS.L. */
export function cpuMode(r: Pick<HvmCpuRecord, 'cr0' | 'rflags' | 'msr_efer' | 'cs_arbytes'>): VcpuMode {
  if ((r.cr0 & CR0_PE) === 0n) return 'real';
  if ((r.msr_efer & EFER_LMA) !== 0n) return r.cs_arbytes & ATTR_L ? 'long' : 'compat';
  if ((r.rflags & RFLAGS_VM) !== 0n) return 'vm86';
  return 'protected';
}

/** The shared register shape of one HVM vcpu's CPU record. */
export function hvmCpuRegisters(vcpu: number, r: HvmCpuRecord): VcpuRegisters {
  const seg = (s: (typeof SEGS)[number]): SegmentRegister => ({
    selector: r[`${s}_sel`],
    base: r[`${s}_base`],
    limit: r[`${s}_limit`],
    attributes: r[`${s}_arbytes`],
  });
  const mode = cpuMode(r);
  const notes: string[] = [];
  if (mode === 'real' && r.rip === 0xfff0n && r.cs_sel === 0xf000) notes.push('at the reset vector (not started)');
  if ((r.msr_efer & EFER_LME) !== 0n && (r.msr_efer & EFER_LMA) === 0n) notes.push('EFER.LME set, long mode not active');
  if ((r.rflags & 0x200n) === 0n && mode !== 'real') notes.push('interrupts disabled');
  if (r.pending_event >>> 31) notes.push(`pending event vector ${r.pending_event & 0xff} type ${(r.pending_event >> 8) & 7}`);
  return {
    vcpu,
    online: true,
    mode,
    rax: r.rax,
    rbx: r.rbx,
    rcx: r.rcx,
    rdx: r.rdx,
    rsi: r.rsi,
    rdi: r.rdi,
    rbp: r.rbp,
    rsp: r.rsp,
    r8: r.r8,
    r9: r.r9,
    r10: r.r10,
    r11: r.r11,
    r12: r.r12,
    r13: r.r13,
    r14: r.r14,
    r15: r.r15,
    rip: r.rip,
    rflags: r.rflags,
    cr0: r.cr0,
    cr2: r.cr2,
    cr3: r.cr3,
    cr4: r.cr4,
    efer: r.msr_efer,
    cs: seg('cs'),
    ds: seg('ds'),
    es: seg('es'),
    fs: seg('fs'),
    gs: seg('gs'),
    ss: seg('ss'),
    kernelGsBase: r.shadow_gs,
    gdtr: { base: r.gdtr_base, limit: r.gdtr_limit },
    idtr: { base: r.idtr_base, limit: r.idtr_limit },
    notes,
  };
}

export const hvmCpu = defineHvmSaveRecord<'CPU', HvmCpuRecord>({
  typecode: 2,
  name: 'CPU',
  perVcpu: true,
  maxInstance: 0,
  rule: 'zeroextend',
  length: HVM_HW_CPU_SIZE,
  history: [
    { xen: '4.6 and older (no flags, pad0)', size: 1024 },
    { xen: 'any, struct hvm_hw_cpu_compat (no msr_tsc_aux)', size: HVM_HW_CPU_COMPAT_SIZE },
  ],
  layout: HVM_HW_CPU_LAYOUT,
  c: { type: 'struct hvm_hw_cpu', size: HVM_HW_CPU_SIZE },
  decode: decodeCpu,
  encode: (r) => HVM_HW_CPU_LAYOUT.encode(r, true),
  describe: (r) => {
    const v = hvmCpuRegisters(0, r);
    return {
      fields: {
        mode: v.mode,
        cr0Bits: bitNames(r.cr0 & CR0_VALID, ['PE', 'MP', 'EM', 'TS', 'ET', 'NE', ...Array(10).fill(''), 'WP', '', 'AM', ...Array(10).fill(''), 'NW', 'CD', 'PG'] as string[]),
        cr4Bits: bitNames(r.cr4, CR4_NAMES),
        ...namedFields(HVM_HW_CPU_LAYOUT, r),
        pending: r.pending_event >>> 31 ? { vector: r.pending_event & 0xff, type: (r.pending_event >> 8) & 7, errorValid: ((r.pending_event >> 11) & 1) === 1 } : null,
        notes: v.notes,
      },
      text: `${v.mode}, rip ${hex(r.rip)} rsp ${hex(r.rsp)} cr0 ${hex(r.cr0)} cr3 ${hex(r.cr3)} cr4 ${hex(r.cr4)} efer ${hex(r.msr_efer)}${v.notes.length ? ` (${v.notes.join('; ')})` : ''}`,
    };
  },
  check(ctx) {
    const r = ctx.record;
    const where = `vcpu ${ctx.instance}`;
    if (r.pad0 !== 0) ctx.report('hvm-context-cpu', `${where}: pad0 ${hex(r.pad0)}, expected zero`);
    if ((r.cr0 & ~CR0_VALID) !== 0n) ctx.report('hvm-context-cpu', `${where}: CR0 ${hex(r.cr0)} has reserved bits set`);
    else if ((r.cr0 & CR0_ET) === 0n) ctx.report('hvm-context-cpu', `${where}: CR0 ${hex(r.cr0)} lacks ET`);
    else if ((r.cr0 & (CR0_PE | CR0_PG)) === CR0_PG) ctx.report('hvm-context-cpu', `${where}: CR0 ${hex(r.cr0)} has PG without PE`);
    if ((r.cr4 & ~CR4_MAX_VALID) !== 0n) {
      ctx.report('hvm-context-cr4', `${where}: CR4 ${hex(r.cr4)} sets ${bitNames(r.cr4 & ~CR4_MAX_VALID, CR4_NAMES)}, which no guest may have (hvm_cr4_guest_valid_bits)`);
    }
    if ((r.msr_efer & ~EFER_KNOWN) !== 0n) ctx.report('hvm-context-cpu', `${where}: EFER ${hex(r.msr_efer)}: unknown bits set`);
    else if ((r.msr_efer & EFER_LMA) !== 0n && ((r.msr_efer & EFER_LME) === 0n || (r.cr0 & CR0_PG) === 0n)) {
      ctx.report('hvm-context-cpu', `${where}: EFER ${hex(r.msr_efer)}: LMA/LME/CR0.PG inconsistency`);
    }
    if (r.cr3 >> MAX_PHYS_BITS !== 0n) ctx.report('hvm-context-cr3', `${where}: CR3 ${hex(r.cr3)} is above any physical address (${MAX_PHYS_BITS} bits)`);
    if ((r.flags & ~XEN_X86_FPU_INITIALISED) !== 0) ctx.report('hvm-context-cpu', `${where}: flags ${hex(r.flags)}, only FPU_INITIALISED (1) is defined`);
    if (r.msr_tsc_aux >> 32n !== 0n) ctx.report('hvm-context-cpu', `${where}: MSR_TSC_AUX ${hex(r.msr_tsc_aux)} does not fit 32 bits`);
  },
});

/** The registers of one vcpu that a CPU save record carries (the rest stay zero). */
export interface HvmCpuRegisters {
  /** rax, rbx, rcx, rdx, rbp, rsi, rdi, rsp, r8-r15, in struct hvm_hw_cpu's order. */
  gprs: readonly bigint[];
  rip: bigint;
  rflags: bigint;
  cr0: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  /** Selector, limit, base and attributes of cs ds es fs gs ss tr ldtr, in that order. */
  segments: readonly { sel: number; limit: number; base: bigint; arbytes: number }[];
  gdtr: { base: bigint; limit: number };
  idtr: { base: bigint; limit: number };
  tsc: bigint;
  tscAux: number;
}

const GPRS = ['rax', 'rbx', 'rcx', 'rdx', 'rbp', 'rsi', 'rdi', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;

/** struct hvm_hw_cpu (1032 octets) with FPU_INITIALISED set: what `hvm_save_cpu_ctxt` writes. */
export function encodeHvmCpuRecord(x: HvmCpuRegisters): Uint8Array {
  const r = HVM_HW_CPU_LAYOUT.zero();
  // The FXSAVE image: FCW 0x37f and MXCSR 0x1f80, as after FNINIT/reset.
  const fpu = new Uint8Array(512);
  const fv = new DataView(fpu.buffer);
  fv.setUint16(0, 0x37f, true);
  fv.setUint32(24, 0x1f80, true);
  r.fpu_regs = fpu;
  GPRS.forEach((name, i) => (r[name] = x.gprs[i] ?? 0n));
  r.rip = x.rip;
  r.rflags = x.rflags;
  r.cr0 = x.cr0;
  r.cr3 = x.cr3;
  r.cr4 = x.cr4;
  r.dr7 = 0x400n; // as after reset
  x.segments.forEach((s, i) => {
    const n = SEGS[i]!;
    r[`${n}_sel`] = s.sel;
    r[`${n}_limit`] = s.limit;
    r[`${n}_base`] = s.base;
    r[`${n}_arbytes`] = s.arbytes;
  });
  r.idtr_limit = x.idtr.limit;
  r.gdtr_limit = x.gdtr.limit;
  r.idtr_base = x.idtr.base;
  r.gdtr_base = x.gdtr.base;
  r.msr_efer = x.efer;
  r.msr_tsc_aux = BigInt(x.tscAux >>> 0);
  r.tsc = x.tsc;
  r.flags = XEN_X86_FPU_INITIALISED;
  return HVM_HW_CPU_LAYOUT.encode(r, true);
}
