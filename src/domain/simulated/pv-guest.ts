/**
 * The sample PV guest laid out as a 64-bit Linux guest is when Xen saves it, so that
 * Xen's own restorer (libxc's xg_sr_restore_x86_pv.c, then Xen's pinning and
 * `arch_set_info_guest`) takes it:
 * - real 4-level page tables: the L4 (pinned), one L3, one L2 and four L1s map the first
 *   8 MiB at the kernel's address (0xffffffff80000000); every present entry names a pfn
 *   the guest has, page-table pages are mapped read-only (Xen refuses writable mappings
 *   of its guests' page tables), data pages read-write;
 * - a start info page whose pfn vcpu 0 holds in rdx (the suspend record's convention),
 *   naming the xenstore and console rings by pfn;
 * - the guest's P2M (pfn -> machine frame, 8 octets each) in its last frames, with
 *   this host's frames equal to the pfns;
 * - vcpu contexts: struct vcpu_guest_context (x86_64, 5168 octets) in long mode on the
 *   flat kernel selectors with cr3 at the L4; the extended context as 4.17 returns it
 *   (64 octets, struct xen_domctl_ext_vcpucontext); an XSAVE blob (xcr0, xcr0_accum,
 *   then an x87/SSE/AVX save area); no MSRs record (libxc skips it when Xen has none);
 * - the shared info page (struct shared_info, x86_64) with arch.max_pfn set.
 * Offsets come from Debian's libxen-dev 4.17 headers (xen/foreign/x86_64.h, domctl.h).
 */
import { PAGE_SIZE, PAGE_TYPE } from '../../format/constants.js';
import type { P2mFrames, VcpuContext } from '../types.js';

/** The pfns the layout uses. */
export const PV_L4_PFN = 1;
const PV_L3_PFN = 2;
const PV_L2_PFN = 3;
const PV_L1_PFNS = [4, 5, 6, 7];
export const PV_START_INFO_PFN = 8;
export const PV_XENSTORE_PFN = 9;
export const PV_CONSOLE_PFN = 10;

export const PV_PAGE_TABLES: readonly [number, number][] = [
  [PV_L4_PFN, PAGE_TYPE.L4TAB_PINNED],
  [PV_L3_PFN, PAGE_TYPE.L3TAB],
  [PV_L2_PFN, PAGE_TYPE.L2TAB],
  ...PV_L1_PFNS.map((pfn): [number, number] => [pfn, PAGE_TYPE.L1TAB]),
];

/** PTE flags: present, writable, user (64-bit PV kernels run in ring 3), accessed, dirty. */
const PTE_P = 0x1n;
const PTE_RW = 0x2n;
const PTE_US = 0x4n;
const PTE_A = 0x20n;
const PTE_D = 0x40n;
const TABLE_FLAGS = PTE_P | PTE_RW | PTE_US | PTE_A;
const KERNEL_VA = 0xffffffff80000000n;
const DIRECT_MAP_VA = 0xffff888000000000n;

/** FLAT_KERNEL_CS / FLAT_KERNEL_SS of a 64-bit PV guest (public/arch-x86/xen-x86_64.h). */
const FLAT_KERNEL_CS = 0xe033;
const FLAT_KERNEL_SS = 0xe02b;
const VGCF_I387_VALID = 1;
const VGCF_IN_KERNEL = 4;
const VGCF_ONLINE = 32;
const VMASST_WRITABLE_PAGETABLES = 1n << 2n;

/** struct vcpu_guest_context (x86_64) offsets. */
const VGC = {
  size: 5168,
  flags: 512,
  rdx: 616,
  rsi: 624,
  rip: 648,
  cs: 656,
  rflags: 664,
  rsp: 672,
  ss: 680,
  kernelSs: 4968,
  kernelSp: 4976,
  ctrlreg: 4984,
  debugreg: 5048,
  eventCallback: 5112,
  failsafeCallback: 5120,
  syscallCallback: 5128,
  vmAssist: 5136,
  fsBase: 5144,
  gsBaseKernel: 5152,
} as const;

/** sizeof(struct xen_domctl_ext_vcpucontext) in Xen 4.17. */
export const PV_EXTENDED_SIZE = 64;
/** xcr0 and xcr0_accum, then a non-compacted save area for x87, SSE and AVX (512 + 64 + 256). */
const XSAVE_XCR0 = 0x7n;
const XSAVE_AREA = 512 + 64 + 256;

/** struct start_info (x86_64) offsets. */
const SI = { magic: 0, nrPages: 32, sharedInfo: 40, storeMfn: 56, storeEvtchn: 64, consoleMfn: 72, consoleEvtchn: 80, ptBase: 88, nrPtFrames: 96, mfnList: 104, firstP2mPfn: 1152, nrP2mFrames: 1160 } as const;
/** struct shared_info (x86_64): arch.max_pfn. */
const SHINFO_MAX_PFN = 3088;

/** The guest's P2M frames: enough for one 8-octet entry per pfn, at the top of memory. */
export function pvP2mFrames(pages: number): P2mFrames {
  const frames = Math.ceil((pages * 8) / PAGE_SIZE);
  const p2mPfns: bigint[] = [];
  for (let i = 0; i < frames; i++) p2mPfns.push(BigInt(pages - frames + i));
  return { startPfn: 0, endPfn: pages - 1, p2mPfns };
}

/**
 * Writes the page tables, start info and P2M into `memory` (pfn N at N*4096) of a guest
 * with `pages` pages; `memory` holds the seeded stamps before, which these pages replace.
 */
export function layOutPvGuest(memory: Buffer, pages: number): P2mFrames {
  return layOutPvGuestPages((pfn) => memory.subarray(pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE), pages);
}

/**
 * The same, through `page(pfn)`: a writable 4096-octet view of that page holding what it
 * held before (a domain that stores only the pages written to it hands these out).
 */
export function layOutPvGuestPages(page: (pfn: number) => Buffer, pages: number): P2mFrames {
  const p2m = pvP2mFrames(pages);
  const tables = new Set(PV_PAGE_TABLES.map(([pfn]) => pfn));
  for (const pfn of [...tables, PV_START_INFO_PFN]) page(pfn).fill(0);
  const pte = (pfn: number, flags: bigint): bigint => (BigInt(pfn) << 12n) | flags;
  const set = (pfn: number, slot: number, value: bigint): void => void page(pfn).writeBigUInt64LE(value, slot * 8);
  const slot = (shift: bigint): number => Number((KERNEL_VA >> shift) & 0x1ffn);
  set(PV_L4_PFN, slot(39n), pte(PV_L3_PFN, TABLE_FLAGS));
  set(PV_L3_PFN, slot(30n), pte(PV_L2_PFN, TABLE_FLAGS));
  PV_L1_PFNS.forEach((l1, i) => set(PV_L2_PFN, slot(21n) + i, pte(l1, TABLE_FLAGS)));
  PV_L1_PFNS.forEach((l1, i) => {
    for (let j = 0; j < 512; j++) {
      const pfn = i * 512 + j;
      if (pfn >= pages) return;
      set(l1, j, pte(pfn, tables.has(pfn) ? PTE_P | PTE_US | PTE_A : PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D));
    }
  });
  const si = page(PV_START_INFO_PFN);
  si.write('xen-3.0-x86_64', SI.magic, 'latin1');
  si.writeBigUInt64LE(BigInt(pages), SI.nrPages);
  si.writeBigUInt64LE(BigInt(PV_XENSTORE_PFN), SI.storeMfn);
  si.writeUInt32LE(1, SI.storeEvtchn);
  si.writeBigUInt64LE(BigInt(PV_CONSOLE_PFN), SI.consoleMfn);
  si.writeUInt32LE(2, SI.consoleEvtchn);
  si.writeBigUInt64LE(KERNEL_VA + (BigInt(PV_L4_PFN) << 12n), SI.ptBase);
  si.writeBigUInt64LE(BigInt(tables.size), SI.nrPtFrames);
  // The P2M's virtual address in the kernel's direct map (Linux's __PAGE_OFFSET for 4
  // levels): any pfn fits there, where the 2 GiB kernel image mapping would overflow.
  si.writeBigUInt64LE(DIRECT_MAP_VA + (p2m.p2mPfns[0]! << 12n), SI.mfnList);
  // This host's machine frames are the pfns: the P2M is the identity (8 octets, little-endian, per pfn).
  const perFrame = PAGE_SIZE / 8;
  const firstFrame = Number(p2m.p2mPfns[0]!);
  for (let f = 0; f * perFrame < pages; f++) {
    const frame = page(firstFrame + f);
    const end = Math.min(pages, (f + 1) * perFrame);
    for (let pfn = f * perFrame; pfn < end; pfn++) {
      const at = (pfn - f * perFrame) * 8;
      frame.writeUInt32LE(pfn % 0x100000000, at);
      frame.writeUInt32LE(Math.floor(pfn / 0x100000000), at + 4);
    }
  }
  return p2m;
}

/** Pages the guest's own workload must not scribble over: its start info and P2M. */
export function pvReservedPfns(p2m: P2mFrames): number[] {
  return [PV_START_INFO_PFN, ...p2m.p2mPfns.map(Number)];
}

/** Basic, extended and XSAVE contexts for each vcpu, long mode on the L4. */
export function pvVcpuContexts(vcpus: number, seed: number): VcpuContext[] {
  const out: VcpuContext[] = [];
  for (let id = 0; id < vcpus; id++) {
    const basic = Buffer.alloc(VGC.size);
    basic.writeUInt16LE(0x37f, 0); // FCW after FNINIT
    basic.writeUInt32LE(0x1f80, 24); // MXCSR
    basic.writeBigUInt64LE(BigInt(VGCF_I387_VALID | VGCF_IN_KERNEL | VGCF_ONLINE), VGC.flags);
    // Vcpu 0 suspended in the suspend hypercall: rdx holds the start info frame.
    if (id === 0) basic.writeBigUInt64LE(BigInt(PV_START_INFO_PFN), VGC.rdx);
    basic.writeBigUInt64LE(KERNEL_VA + 0x1000000n + BigInt((seed % 4096) * 16 + id * 0x40), VGC.rip);
    basic.writeUInt16LE(FLAT_KERNEL_CS, VGC.cs);
    basic.writeBigUInt64LE(0x246n, VGC.rflags);
    const stack = KERNEL_VA + 0x800000n - BigInt(id) * 0x4000n;
    basic.writeBigUInt64LE(stack, VGC.rsp);
    basic.writeUInt16LE(FLAT_KERNEL_SS, VGC.ss);
    basic.writeBigUInt64LE(BigInt(FLAT_KERNEL_SS), VGC.kernelSs);
    basic.writeBigUInt64LE(stack, VGC.kernelSp);
    basic.writeBigUInt64LE(0x80050033n, VGC.ctrlreg); // cr0
    basic.writeBigUInt64LE(BigInt(PV_L4_PFN) << 12n, VGC.ctrlreg + 3 * 8); // cr3: the L4
    basic.writeBigUInt64LE(0xffff0ff0n, VGC.debugreg + 6 * 8);
    basic.writeBigUInt64LE(0x400n, VGC.debugreg + 7 * 8);
    basic.writeBigUInt64LE(KERNEL_VA + 0x1001000n, VGC.eventCallback);
    basic.writeBigUInt64LE(KERNEL_VA + 0x1002000n, VGC.failsafeCallback);
    basic.writeBigUInt64LE(KERNEL_VA + 0x1003000n, VGC.syscallCallback);
    basic.writeBigUInt64LE(VMASST_WRITABLE_PAGETABLES, VGC.vmAssist);
    basic.writeBigUInt64LE(DIRECT_MAP_VA + BigInt(id) * 0x200000n, VGC.gsBaseKernel);
    out.push({ vcpuId: id, kind: 'basic', data: new Uint8Array(basic) });

    const extended = Buffer.alloc(PV_EXTENDED_SIZE);
    extended.writeUInt32LE(id, 0);
    extended.writeUInt32LE(PV_EXTENDED_SIZE, 4);
    out.push({ vcpuId: id, kind: 'extended', data: new Uint8Array(extended) });

    const xsave = Buffer.alloc(16 + XSAVE_AREA);
    xsave.writeBigUInt64LE(XSAVE_XCR0, 0);
    xsave.writeBigUInt64LE(XSAVE_XCR0, 8);
    xsave.writeUInt16LE(0x37f, 16);
    xsave.writeUInt32LE(0x1f80, 16 + 24);
    xsave.writeBigUInt64LE(0x3n, 16 + 512); // xstate_bv: x87 and SSE state saved
    out.push({ vcpuId: id, kind: 'xsave', data: new Uint8Array(xsave) });
  }
  return out;
}

/** The shared info page the guest had: everything zero but arch.max_pfn. */
export function pvSharedInfo(pages: number): Uint8Array {
  const page = Buffer.alloc(PAGE_SIZE);
  page.writeBigUInt64LE(BigInt(pages), SHINFO_MAX_PFN);
  return new Uint8Array(page);
}
