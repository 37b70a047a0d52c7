/**
 * ELF64 core files of guest memory, as memory forensics tools and gdb read them: one
 * PT_LOAD per run of consecutive pfns, p_paddr (and p_vaddr) = guest physical address.
 * Page data sits at a fixed place, file offset ELF_DATA_BASE + pfn*4096, so pages can
 * be written as they arrive in any order (holes stay sparse).
 *
 * The vcpus' registers go in notes, as QEMU's `dump-guest-memory` writes them
 * (target/i386/arch_dump.c): one NT_PRSTATUS note ("CORE") per vcpu, then one "QEMU"
 * note (QEMUCPUState: control registers, segment bases, descriptor tables) per vcpu,
 * behind a PT_NOTE program header that comes first.
 *
 * Where the tables go: the vcpu contexts arrive at the end of a stream, after the pages,
 * so the data cannot move to make room. The data starts at 1 MiB (ELF_DATA_BASE), and
 * when the ELF header, the program headers and the notes fit before it, they go there, in
 * QEMU's order (header, PT_NOTE, PT_LOADs, notes): 816 octets of notes per vcpu and 56 per
 * run, so Xen's most vcpus an HVM guest can have (128) with 16,857 runs fit. Tools that
 * expect the program headers right after the ELF header (crash) need that. Otherwise (a
 * bigger PV guest, memory in more pieces), and always for a core without notes, they go
 * after the data, where e_phoff points (gdb, readelf and Volatility 3 follow e_phoff).
 * The megabyte before the data is a hole: a sparse file spends no disk on it.
 */
import { PAGE_SIZE } from '../../format/constants.js';
import type { SegmentRegister, VcpuRegisters } from '../../format/vcpu-registers.js';

/** Where page data starts: room before it for the tables of up to 128 vcpus (see above). */
export const ELF_DATA_BASE = 1 << 20;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const ET_CORE = 4;
const EM_X86_64 = 62;
const PT_LOAD = 1;
const PT_NOTE = 4;
const PF_RWX = 7;
/** e_phnum value meaning "the count is in section header 0's sh_info". */
const PN_XNUM = 0xffff;

const NT_PRSTATUS = 1;
/** QEMU's own note type for QEMUCPUState. */
const NT_QEMU = 0;
/** sizeof(struct elf_prstatus) on x86_64 (QEMU's x86_64_elf_prstatus). */
export const PRSTATUS_SIZE = 336;
/** Offsets in it: pr_pid, then pr_reg (user_regs_struct, 27 u64). */
const PRSTATUS_PID = 32;
const PRSTATUS_REG = 112;
/** QEMUCPUSTATE_VERSION and sizeof(QEMUCPUState) with kernel_gs_base. */
const QEMU_CPU_STATE_VERSION = 1;
export const QEMU_CPU_STATE_SIZE = 440;

export interface PfnRun {
  start: number;
  count: number;
}

const align4 = (n: number): number => (n + 3) & ~3;

/** One ELF note: Elf64_Nhdr, the name with its NUL padded to 4, the descriptor padded to 4. */
function note(name: string, type: number, desc: Uint8Array): Uint8Array {
  const nameBytes = new TextEncoder().encode(name + '\0');
  const out = new Uint8Array(12 + align4(nameBytes.length) + align4(desc.length));
  const v = new DataView(out.buffer);
  v.setUint32(0, nameBytes.length, true);
  v.setUint32(4, desc.length, true);
  v.setUint32(8, type, true);
  out.set(nameBytes, 12);
  out.set(desc, 12 + align4(nameBytes.length));
  return out;
}

/** user_regs_struct order, as gdb and the kernel's NT_PRSTATUS have it. */
function userRegs(r: VcpuRegisters): bigint[] {
  const sel = (s: SegmentRegister): bigint => BigInt(s.selector);
  return [
    r.r15, r.r14, r.r13, r.r12, r.rbp, r.rbx, r.r11, r.r10, r.r9, r.r8, r.rax, r.rcx, r.rdx, r.rsi, r.rdi,
    0n, // orig_rax (QEMU writes 0 too)
    r.rip, sel(r.cs), r.rflags, r.rsp, sel(r.ss), r.fs.base, r.gs.base, sel(r.ds), sel(r.es), sel(r.fs), sel(r.gs),
  ];
}

/** NT_PRSTATUS descriptor of one vcpu: pr_pid = vcpu + 1 (QEMU's cpu_index + 1), pr_reg. */
export function prstatus(r: VcpuRegisters): Uint8Array {
  const out = new Uint8Array(PRSTATUS_SIZE);
  const v = new DataView(out.buffer);
  v.setUint32(PRSTATUS_PID, r.vcpu + 1, true);
  userRegs(r).forEach((x, i) => v.setBigUint64(PRSTATUS_REG + 8 * i, BigInt.asUintN(64, x), true));
  return out;
}

/**
 * Xen's segment attributes (arbytes: type 0-3, S 4, DPL 5-6, P 7, AVL 8, L 9, D/B 10, G 11)
 * as QEMU's SegmentCache flags keep them (the descriptor's high word: type at 8 .. G at 23).
 */
export function qemuSegmentFlags(attributes: number): number {
  return (((attributes & 0xff) << 8) | (((attributes >> 8) & 0xf) << 20)) >>> 0;
}

/** QEMUCPUState of one vcpu (version 1, 440 octets with kernel_gs_base). LDT and TR are not kept by VcpuRegisters: zero. */
export function qemuCpuState(r: VcpuRegisters): Uint8Array {
  const out = new Uint8Array(QEMU_CPU_STATE_SIZE);
  const v = new DataView(out.buffer);
  const u64 = (o: number, x: bigint): void => v.setBigUint64(o, BigInt.asUintN(64, x), true);
  v.setUint32(0, QEMU_CPU_STATE_VERSION, true);
  v.setUint32(4, QEMU_CPU_STATE_SIZE, true);
  [r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rsp, r.rbp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rip, r.rflags].forEach((x, i) =>
    u64(8 + 8 * i, x),
  );
  // QEMUCPUSegment {selector u32, limit u32, flags u32, pad u32, base u64}: cs ds es fs gs ss ldt tr gdt idt.
  const segment = (i: number, s: { selector: number; limit: number; flags: number; base: bigint }): void => {
    const o = 152 + 24 * i;
    v.setUint32(o, s.selector, true);
    v.setUint32(o + 4, s.limit >>> 0, true);
    v.setUint32(o + 8, s.flags, true);
    u64(o + 16, s.base);
  };
  [r.cs, r.ds, r.es, r.fs, r.gs, r.ss].forEach((s, i) => segment(i, { selector: s.selector, limit: s.limit, flags: qemuSegmentFlags(s.attributes), base: s.base }));
  segment(8, { selector: 0, limit: r.gdtr.limit, flags: 0, base: r.gdtr.base });
  segment(9, { selector: 0, limit: r.idtr.limit, flags: 0, base: r.idtr.base });
  [r.cr0, 0n, r.cr2, r.cr3, r.cr4].forEach((x, i) => u64(392 + 8 * i, x));
  u64(432, r.kernelGsBase);
  return out;
}

/** The PT_NOTE segment for these vcpus: every NT_PRSTATUS, then every QEMU note, as QEMU orders them. */
export function vcpuNotes(vcpus: readonly VcpuRegisters[]): Uint8Array {
  const parts = [...vcpus.map((r) => note('CORE', NT_PRSTATUS, prstatus(r))), ...vcpus.map((r) => note('QEMU', NT_QEMU, qemuCpuState(r)))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The ELF header and the tables (program headers, then the notes), with where the tables
 * go: `tablesAt` is EHDR_SIZE when they fit before the data (see above), else just past
 * the data, (maxPfn + 1) pages after ELF_DATA_BASE. `end` is the file's size.
 */
export function elfCoreTables(
  runs: readonly PfnRun[],
  maxPfn: number,
  notes: Uint8Array = new Uint8Array(0),
): { header: Uint8Array; tables: Uint8Array; tablesAt: number; end: number } {
  const dataEnd = ELF_DATA_BASE + (maxPfn + 1) * PAGE_SIZE;
  const phnum = runs.length + (notes.length > 0 ? 1 : 0);
  const extended = phnum >= PN_XNUM;
  const phSize = phnum * PHDR_SIZE;
  const inFront = notes.length > 0 && !extended && EHDR_SIZE + phSize + notes.length <= ELF_DATA_BASE;
  const tablesAt = inFront ? EHDR_SIZE : dataEnd;
  const tables = new Uint8Array(phSize + (extended ? SHDR_SIZE : 0) + notes.length);
  const notesAt = phSize + (extended ? SHDR_SIZE : 0);
  const t = new DataView(tables.buffer);
  let o = 0;
  if (notes.length > 0) {
    t.setUint32(o, PT_NOTE, true);
    t.setBigUint64(o + 8, BigInt(tablesAt + notesAt), true);
    t.setBigUint64(o + 32, BigInt(notes.length), true);
    t.setBigUint64(o + 40, BigInt(notes.length), true);
    o += PHDR_SIZE;
  }
  for (const r of runs) {
    const addr = BigInt(r.start) * BigInt(PAGE_SIZE);
    const size = BigInt(r.count) * BigInt(PAGE_SIZE);
    t.setUint32(o, PT_LOAD, true);
    t.setUint32(o + 4, PF_RWX, true);
    t.setBigUint64(o + 8, BigInt(ELF_DATA_BASE) + addr, true);
    t.setBigUint64(o + 16, addr, true);
    t.setBigUint64(o + 24, addr, true);
    t.setBigUint64(o + 32, size, true);
    t.setBigUint64(o + 40, size, true);
    t.setBigUint64(o + 48, BigInt(PAGE_SIZE), true);
    o += PHDR_SIZE;
  }
  if (extended) t.setUint32(phSize + 44, phnum, true); // sh_info of section 0
  tables.set(notes, notesAt);

  const header = new Uint8Array(EHDR_SIZE);
  const h = new DataView(header.buffer);
  header.set([0x7f, 0x45, 0x4c, 0x46, 2 /* 64-bit */, 1 /* little-endian */, 1 /* version */, 0 /* System V */]);
  h.setUint16(16, ET_CORE, true);
  h.setUint16(18, EM_X86_64, true);
  h.setUint32(20, 1, true);
  h.setBigUint64(32, BigInt(tablesAt), true); // e_phoff
  h.setBigUint64(40, extended ? BigInt(tablesAt + phSize) : 0n, true); // e_shoff
  h.setUint16(52, EHDR_SIZE, true);
  h.setUint16(54, PHDR_SIZE, true);
  h.setUint16(56, extended ? PN_XNUM : phnum, true);
  h.setUint16(58, extended ? SHDR_SIZE : 0, true);
  h.setUint16(60, extended ? 1 : 0, true);
  return { header, tables, tablesAt, end: inFront ? dataEnd : dataEnd + tables.length };
}
