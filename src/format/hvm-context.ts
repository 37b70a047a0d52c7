/**
 * Xen's HVM context blob (the body of HVM_CONTEXT) is a run of save records, each with a
 * descriptor `typecode u16 | instance u16 | length u32` in the host's (little-endian)
 * order, ending with typecode 0. Only what summaries need: the CPU records' instances.
 */
/** Typecodes of Xen's HVM save records (public/arch-x86/hvm/save.h). */
export const HVM_SAVE_TYPE_END = 0;
export const HVM_SAVE_TYPE_HEADER = 1;
export const HVM_SAVE_TYPE_CPU = 2;

/** The vcpu ids of the CPU records in an HVM context blob (little-endian descriptors). */
export function hvmContextVcpus(blob: Uint8Array): number[] {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const ids: number[] = [];
  for (let off = 0; off + 8 <= blob.length; ) {
    const typecode = view.getUint16(off, true);
    const instance = view.getUint16(off + 2, true);
    const length = view.getUint32(off + 4, true);
    if (typecode === HVM_SAVE_TYPE_END) break;
    if (typecode === HVM_SAVE_TYPE_CPU) ids.push(instance);
    off += 8 + length;
  }
  return ids;
}

/** HVM_SAVE_MAGIC in the HEADER record's first field. */
export const HVM_FILE_MAGIC = 0x54381286;

/** What Xen's HEADER save record carries (struct hvm_save_header). */
export interface HvmSaveHeader {
  version: number;
  changeset: bigint;
  /** CPUID leaf 1 eax of the host that saved. */
  cpuid: number;
  /** Guest TSC frequency in kHz. */
  gtscKhz: number;
}

/** One save record of an HVM context blob: its descriptor's typecode and instance, and its body. */
export interface HvmSaveRecord {
  typecode: number;
  instance: number;
  body: Uint8Array;
}

/** An HVM context blob as `hvm_save` lays it out: HEADER, the records in the order given, END. */
export function encodeHvmContext(header: HvmSaveHeader, records: readonly HvmSaveRecord[]): Uint8Array {
  const size = 8 + 24 + records.reduce((n, r) => n + 8 + r.body.length, 0) + 8;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let off = 0;
  const descriptor = (typecode: number, instance: number, length: number): void => {
    view.setUint16(off, typecode, true);
    view.setUint16(off + 2, instance, true);
    view.setUint32(off + 4, length, true);
    off += 8;
  };
  descriptor(HVM_SAVE_TYPE_HEADER, 0, 24);
  view.setUint32(off, HVM_FILE_MAGIC, true);
  view.setUint32(off + 4, header.version, true);
  view.setBigUint64(off + 8, header.changeset, true);
  view.setUint32(off + 16, header.cpuid, true);
  view.setUint32(off + 20, header.gtscKhz, true);
  off += 24;
  for (const r of records) {
    descriptor(r.typecode, r.instance, r.body.length);
    out.set(r.body, off);
    off += r.body.length;
  }
  descriptor(HVM_SAVE_TYPE_END, 0, 0);
  return out;
}

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

/** struct hvm_hw_cpu (Xen 4.17, 1032 octets) with FPU_INITIALISED set: what `hvm_save_cpu_ctxt` writes. */
export function encodeHvmCpuRecord(r: HvmCpuRegisters): Uint8Array {
  const out = new Uint8Array(HVM_HW_CPU_SIZE);
  const v = new DataView(out.buffer);
  const u64 = (o: number, x: bigint): void => v.setBigUint64(o, BigInt.asUintN(64, x), true);
  // The FXSAVE image: FCW 0x37f and MXCSR 0x1f80, as after FNINIT/reset.
  v.setUint16(0, 0x37f, true);
  v.setUint32(24, 0x1f80, true);
  r.gprs.forEach((x, i) => u64(512 + 8 * i, x));
  u64(640, r.rip);
  u64(648, r.rflags);
  u64(CPU_OFF.cr0, r.cr0);
  u64(672, r.cr3);
  u64(CPU_OFF.cr4, r.cr4);
  u64(728, 0x400n); // dr7 as after reset
  r.segments.forEach((s, i) => {
    v.setUint32(736 + 4 * i, s.sel, true);
    v.setUint32(768 + 4 * i, s.limit, true);
    u64(808 + 8 * i, s.base);
    v.setUint32(888 + 4 * i, s.arbytes, true);
  });
  v.setUint32(800, r.idtr.limit, true);
  v.setUint32(804, r.gdtr.limit, true);
  u64(872, r.idtr.base);
  u64(880, r.gdtr.base);
  u64(CPU_OFF.efer, r.efer);
  u64(CPU_OFF.tscAux, BigInt(r.tscAux >>> 0));
  u64(1008, r.tsc);
  v.setUint32(CPU_OFF.flags, XEN_X86_FPU_INITIALISED, true);
  return out;
}

/**
 * How Xen 4.17's `hvm_load` (xen/arch/x86/hvm/save.c and each type's loader) takes a save
 * record: `strict` needs exactly `length` octets (`hvm_load_entry`); `zeroextend` takes up
 * to `length` and zero-fills the rest (`hvm_load_entry_zeroextend`; CPU also has its
 * compat size, and the struct's tail is zero-filled); `xsave` and `msr` have their own
 * variable-length checks. `perVcpu` records carry a vcpu id as their instance.
 */
export interface HvmSaveType {
  code: number;
  name: string;
  length: number;
  rule: 'strict' | 'zeroextend' | 'xsave' | 'msr';
  perVcpu: boolean;
  /** Highest instance a per-domain record may carry (PIC: master and slave). */
  maxInstance?: number;
}

/** sizeof(struct hvm_hw_cpu) in Xen 4.17 and the compat size without msr_tsc_aux. */
export const HVM_HW_CPU_SIZE = 1032;
export const HVM_HW_CPU_COMPAT_SIZE = 1016;
/** offsetof(struct hvm_hw_cpu_xsave, save_area) + XSTATE_AREA_MIN_SIZE (FXSAVE 512 + header 64). */
const XSAVE_RECORD_MIN = 24 + 512 + 64;
/** HVM_CPU_MSR_SIZE(n) = offsetof(struct hvm_msr, msr) + n * sizeof(struct hvm_one_msr). */
const cpuMsrSize = (count: number): number => 8 + 16 * count;

/** Xen 4.17's save record types (public/arch-x86/hvm/save.h), sizes as the Debian headers give them. */
export const HVM_SAVE_TYPES: ReadonlyMap<number, HvmSaveType> = new Map(
  (
    [
      [1, 'HEADER', 24, 'strict', false, 0],
      [2, 'CPU', HVM_HW_CPU_SIZE, 'zeroextend', true],
      [3, 'PIC', 8, 'strict', false, 1],
      [4, 'IOAPIC', 400, 'strict', false, 0],
      [5, 'LAPIC', 24, 'zeroextend', true],
      [6, 'LAPIC_REGS', 1024, 'strict', true],
      [7, 'PCI_IRQ', 16, 'strict', false, 0],
      [8, 'ISA_IRQ', 8, 'strict', false, 0],
      [9, 'PCI_LINK', 8, 'strict', false, 0],
      [10, 'PIT', 56, 'strict', false, 0],
      [11, 'RTC', 24, 'zeroextend', false, 0],
      [12, 'HPET', 1048, 'strict', false, 0],
      [13, 'PMTIMER', 8, 'strict', false, 0],
      [14, 'MTRR', 240, 'strict', true],
      [15, 'VIRIDIAN_DOMAIN', 32, 'zeroextend', false, 0],
      [16, 'CPU_XSAVE', XSAVE_RECORD_MIN, 'xsave', true],
      [17, 'VIRIDIAN_VCPU', 216, 'zeroextend', true],
      [18, 'VMCE_VCPU', 32, 'zeroextend', true],
      [19, 'TSC_ADJUST', 8, 'strict', true],
      [20, 'CPU_MSR', cpuMsrSize(1), 'msr', true],
    ] as const
  ).map(([code, name, length, rule, perVcpu, maxInstance]) => [code, { code, name, length, rule, perVcpu, maxInstance }]),
);

/** HVM_FILE_VERSION: the only header version `arch_hvm_load` takes. */
export const HVM_FILE_VERSION = 1;
/** HVM_MAX_VCPUS in Xen 4.17: no per-vcpu record can name a vcpu at or above it. */
export const HVM_MAX_VCPUS = 128;

/** Offsets in struct hvm_hw_cpu that `hvm_load_cpu_ctxt` checks. */
const CPU_OFF = { cr0: 656, cr4: 680, efer: 992, tscAux: 1000, flags: 1024, pad0: 1028 } as const;
/** Bits of CR0 a guest may set (~HVM_CR0_GUEST_RESERVED_BITS): PE MP EM TS ET NE WP AM NW CD PG. */
const CR0_VALID = 0xe005003fn;
const CR0_PE = 1n;
const CR0_ET = 0x10n;
const CR0_PG = 0x80000000n;
/** EFER_KNOWN_MASK: SCE LME LMA NXE SVME LMSLE FFXSE. */
const EFER_KNOWN = 0x7d01n;
const EFER_LME = 0x100n;
const EFER_LMA = 0x400n;
const XEN_X86_FPU_INITIALISED = 1;

/** One reason Xen 4.17's `hvm_load` would refuse the blob, at an offset inside it. */
export interface HvmContextProblem {
  /** Offset of the save record's descriptor inside the blob. */
  offset: number;
  code: 'hvm-context-header' | 'hvm-context-record' | 'hvm-context-cpu' | 'hvm-context-end';
  message: string;
}

/**
 * What Xen 4.17's `hvm_load` checks of an HVM context blob, in its order: HEADER first
 * (magic, version), then each record's typecode, length rule and instance, the CPU
 * records' control registers (`hvm_load_cpu_ctxt`), until the END record (typecode 0);
 * anything after END is never read. CPU feature-dependent checks (EFER bits against the
 * policy, CR4 against the policy, CR3 against maxphysaddr) need the destination's policy
 * and are left to it.
 */
export function checkHvmContext(blob: Uint8Array): HvmContextProblem[] {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const problems: HvmContextProblem[] = [];
  const at = (offset: number, code: HvmContextProblem['code'], message: string): HvmContextProblem[] => {
    problems.push({ offset, code, message });
    return problems;
  };
  if (blob.length < 8 + 24) return at(0, 'hvm-context-header', `${blob.length} octet(s), too short for the HEADER save record (8 + 24)`);
  const t0 = view.getUint16(0, true);
  const l0 = view.getUint32(4, true);
  if (t0 !== 1 || l0 !== 24) return at(0, 'hvm-context-header', `first save record is type ${t0} length ${l0}, expected HEADER (type 1) length 24`);
  const magic = view.getUint32(8, true);
  const version = view.getUint32(12, true);
  if (magic !== HVM_FILE_MAGIC) at(0, 'hvm-context-header', `HEADER magic 0x${magic.toString(16)}, expected 0x${HVM_FILE_MAGIC.toString(16)}`);
  if (version !== HVM_FILE_VERSION) at(0, 'hvm-context-header', `HEADER version ${version}, expected ${HVM_FILE_VERSION}`);
  let off = 8 + 24;
  for (;;) {
    if (blob.length - off < 8) return at(off, 'hvm-context-end', 'the blob ends without the END save record (typecode 0)');
    const typecode = view.getUint16(off, true);
    const instance = view.getUint16(off + 2, true);
    const length = view.getUint32(off + 4, true);
    if (typecode === 0) return problems;
    const type = HVM_SAVE_TYPES.get(typecode);
    const left = blob.length - off - 8;
    if (type === undefined || typecode === 1) return at(off, 'hvm-context-record', `unknown save record typecode ${typecode}; Xen 4.17 has no loader for it`);
    const where = `${type.name} instance ${instance}`;
    if (length > left) return at(off, 'hvm-context-record', `${where}: length ${length} runs past the blob (${left} octet(s) left)`);
    const lengthProblem = checkSaveRecordLength(type, length, view, off + 8);
    if (lengthProblem) at(off, 'hvm-context-record', `${where}: ${lengthProblem}`);
    if (type.perVcpu ? instance >= HVM_MAX_VCPUS : instance > (type.maxInstance ?? 0)) {
      at(off, 'hvm-context-record', `${where}: instance out of range (expected ${type.perVcpu ? `a vcpu id below ${HVM_MAX_VCPUS}` : `at most ${type.maxInstance ?? 0}`})`);
    }
    if (typecode === 2 && !lengthProblem) for (const m of checkCpuRecord(view, off + 8, length)) at(off, 'hvm-context-cpu', `vcpu ${instance}: ${m}`);
    off += 8 + length;
  }
}

function checkSaveRecordLength(type: HvmSaveType, length: number, view: DataView, body: number): string | undefined {
  switch (type.rule) {
    case 'strict':
      return length === type.length ? undefined : `length ${length}, expected exactly ${type.length}`;
    case 'zeroextend':
      return length <= type.length ? undefined : `length ${length}, expected at most ${type.length}`;
    case 'xsave':
      return length >= type.length ? undefined : `length ${length}, expected at least ${type.length} (xsave header and legacy area)`;
    case 'msr': {
      if (length < type.length) return `length ${length}, expected at least ${type.length}`;
      const count = view.getUint32(body, true);
      return length === cpuMsrSize(count) ? undefined : `length ${length} for ${count} MSR(s), expected ${cpuMsrSize(count)}`;
    }
  }
}

function checkCpuRecord(view: DataView, body: number, length: number): string[] {
  const out: string[] = [];
  // Fields past the record's end read as zero (zero-extended); the compat layout has tsc where msr_tsc_aux is.
  const u64 = (o: number): bigint => (o + 8 <= length ? view.getBigUint64(body + o, true) : 0n);
  const u32 = (o: number): number => (o + 4 <= length ? view.getUint32(body + o, true) : 0);
  const cr0 = u64(CPU_OFF.cr0);
  if ((cr0 & ~CR0_VALID) !== 0n) out.push(`CR0 0x${cr0.toString(16)} has reserved bits set`);
  else if ((cr0 & CR0_ET) === 0n) out.push(`CR0 0x${cr0.toString(16)} lacks ET`);
  else if ((cr0 & (CR0_PE | CR0_PG)) === CR0_PG) out.push(`CR0 0x${cr0.toString(16)} has PG without PE`);
  const efer = u64(CPU_OFF.efer);
  if ((efer & ~EFER_KNOWN) !== 0n) out.push(`EFER 0x${efer.toString(16)}: unknown bits set`);
  else if ((efer & EFER_LMA) !== 0n && ((efer & EFER_LME) === 0n || (cr0 & CR0_PG) === 0n)) out.push(`EFER 0x${efer.toString(16)}: LMA/LME/CR0.PG inconsistency`);
  if (length !== HVM_HW_CPU_COMPAT_SIZE) {
    const tscAux = u64(CPU_OFF.tscAux);
    if (tscAux >> 32n !== 0n) out.push(`MSR_TSC_AUX 0x${tscAux.toString(16)} does not fit 32 bits`);
    // Any shorter record has its flags forced to FPU_INITIALISED by `_hvm_hw_fix_cpu`.
    if (length === HVM_HW_CPU_SIZE && (u32(CPU_OFF.flags) & ~XEN_X86_FPU_INITIALISED) !== 0) out.push(`flags 0x${u32(CPU_OFF.flags).toString(16)}, only FPU_INITIALISED (1) is defined`);
    if (u32(CPU_OFF.pad0) !== 0) out.push(`pad0 0x${u32(CPU_OFF.pad0).toString(16)}, expected zero`);
  }
  return out;
}
