/**
 * What the sample domain carries besides memory: a CPU policy shaped like a recent
 * Intel host's default HVM/PV policy, an HVM save blob laid out the way Xen lays out
 * its own (descriptor + header, per-vcpu CPU records, END), the HVM params libxc saves,
 * PV vcpu contexts, and the xl JSON config. Contents are deterministic from a seed.
 */
import type { GuestType } from '../../format/constants.js';
import { encodeHvmContext, encodeHvmCpuRecord, HVM_FILE_VERSION, HVM_SAVE_TYPE_CPU } from '../../format/hvm-context.js';
import type { CpuidEntry, HvmParam, MsrEntry } from '../../format/records.js';
import type { CpuPolicyData, EmulatorData, P2mFrames, PvInfo, TscInfo, VcpuContext } from '../types.js';
import { Prng } from './prng.js';

const NO_SUBLEAF = 0xffffffff;

/** "GenuineIntel" in ebx, edx, ecx order, as CPUID leaf 0 returns it. */
const GENUINE_INTEL = { ebx: 0x756e6547, edx: 0x49656e69, ecx: 0x6c65746e };

export function sampleCpuid(guest: GuestType): CpuidEntry[] {
  const e = (leaf: number, subleaf: number, eax: number, ebx: number, ecx: number, edx: number): CpuidEntry => ({
    leaf,
    subleaf,
    eax: eax >>> 0,
    ebx: ebx >>> 0,
    ecx: ecx >>> 0,
    edx: edx >>> 0,
  });
  // Leaf 1 ecx: SSE3 PCLMULQDQ SSSE3 FMA CX16 SSE4.1 SSE4.2 MOVBE POPCNT AES XSAVE AVX F16C RDRAND, HYPERVISOR.
  const l1ecx = 0x1 | 0x2 | 0x200 | 0x1000 | 0x2000 | 0x80000 | 0x100000 | 0x400000 | 0x800000 | 0x2000000 | 0x4000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x80000000;
  // Leaf 1 edx: FPU..SSE2 as every x86-64 host has them (HTT off: one socket per vcpu).
  const l1edx = 0x078bfbff;
  // Leaf 7.0 ebx: FSGSBASE BMI1 AVX2 SMEP BMI2 ERMS INVPCID RDSEED ADX SMAP CLFLUSHOPT.
  const l7ebx = 0x1 | 0x8 | 0x20 | 0x80 | 0x100 | 0x200 | 0x400 | 0x40000 | 0x80000 | 0x100000 | 0x800000;
  const entries = [
    e(0x0, NO_SUBLEAF, 0xd, GENUINE_INTEL.ebx, GENUINE_INTEL.ecx, GENUINE_INTEL.edx),
    e(0x1, NO_SUBLEAF, 0x000906ea, 0x00010800, l1ecx, l1edx),
    e(0x7, 0x0, 0x0, l7ebx, 0x0, 0x0),
    e(0xd, 0x0, 0x7, 0x340, 0x340, 0x0),
    e(0xd, 0x1, 0x1, 0x0, 0x0, 0x0),
    e(0xd, 0x2, 0x100, 0x240, 0x0, 0x0),
    e(0x80000000, NO_SUBLEAF, 0x80000008, 0x0, 0x0, 0x0),
    e(0x80000001, NO_SUBLEAF, 0x0, 0x0, 0x121, guest === 'hvm' ? 0x2c100800 : 0x28100800),
    e(0x80000007, NO_SUBLEAF, 0x0, 0x0, 0x0, 0x100),
    e(0x80000008, NO_SUBLEAF, 0x3027, 0x0, 0x0, 0x0),
  ];
  return entries;
}

export function sampleMsrs(): MsrEntry[] {
  return [
    // MSR_INTEL_PLATFORM_INFO: bit 31 CPUID faulting available.
    { index: 0xce, flags: 0, value: 0x80000000n },
    // MSR_ARCH_CAPABILITIES: RDCL_NO IBRS_ALL SKIP_L1DFL MDS_NO.
    { index: 0x10a, flags: 0, value: 0x2bn },
  ];
}

export function sampleCpuPolicy(guest: GuestType): CpuPolicyData {
  return { cpuid: sampleCpuid(guest), msrs: sampleMsrs() };
}

function bytesFrom(prng: Prng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const v = prng.next();
    out[i] = v & 0xff;
    if (i + 1 < n) out[i + 1] = (v >>> 8) & 0xff;
    if (i + 2 < n) out[i + 2] = (v >>> 16) & 0xff;
    if (i + 3 < n) out[i + 3] = v >>> 24;
  }
  return out;
}

/**
 * An HVM context blob such as Xen 4.17's `hvm_save` writes for a 64-bit guest at work:
 * HEADER, then one CPU record per vcpu in long mode (paging on, EFER.LMA, flat 64-bit
 * segments), END. The other devices' records are left out: `hvm_load` keeps a device's
 * state as the new domain has it when its record is absent. GPRs and rip vary with the
 * seed so that vcpus differ.
 */
export function sampleHvmContext(vcpus: number, seed = 0): Uint8Array {
  const flat = (sel: number, arbytes: number) => ({ sel, limit: 0xffffffff, base: 0n, arbytes });
  const records = Array.from({ length: vcpus }, (_, id) => {
    const mix = BigInt(Math.imul(seed + 1, 0x9e3779b1) >>> 0) << 8n;
    const gprs = Array.from({ length: 16 }, (_, i) => (mix ^ BigInt(i * 0x1111 + id)) & 0xffffffffffffn);
    const body = encodeHvmCpuRecord({
      gprs,
      rip: 0xffffffff81000000n + mix + BigInt(id * 0x40),
      rflags: 0x246n,
      cr0: 0x80050033n, // PG AM WP NE ET MP PE
      cr3: 0x1000n,
      cr4: 0x6f0n, // PSE PAE MCE PGE OSFXSR OSXMMEXCPT
      efer: 0xd01n, // SCE LME LMA NXE
      // cs (long mode code), ds, es, fs, gs, ss (flat data), tr (busy 64-bit TSS), ldtr (unusable).
      segments: [flat(0x10, 0xa9b), flat(0x18, 0xc93), flat(0x18, 0xc93), flat(0, 0x1c000), flat(0, 0x1c000), flat(0x18, 0xc93), { sel: 0x40, limit: 0x67, base: 0x2000n + BigInt(id * 0x80), arbytes: 0x8b }, { sel: 0, limit: 0, base: 0n, arbytes: 0x1c000 }],
      gdtr: { base: 0x3000n, limit: 0x7f },
      idtr: { base: 0x4000n, limit: 0xfff },
      tsc: 1_000_000_000n + BigInt(id),
      tscAux: id,
    });
    return { typecode: HVM_SAVE_TYPE_CPU, instance: id, body };
  });
  return encodeHvmContext({ version: HVM_FILE_VERSION, changeset: 0n, cpuid: 0x000906ea, gtscKhz: 2_400_000 }, records);
}

/**
 * The HVM params libxc's saver sends for a guest xl built (`write_hvm_params`, only the
 * non-zero ones, in its order): the special pages libxl's HVM build puts just below the
 * top of memory here (xenstore, ioreq, bufioreq, console; ioreq-server pages beside them),
 * the PM timer at its new ports, the 64-bit x87 FIP width.
 */
export function sampleHvmParams(memoryPages: number): HvmParam[] {
  const top = BigInt(memoryPages);
  return [
    { index: 1n, value: top - 2n }, // STORE_PFN
    { index: 5n, value: top - 4n }, // IOREQ_PFN
    { index: 6n, value: top - 3n }, // BUFIOREQ_PFN
    { index: 17n, value: top - 1n }, // CONSOLE_PFN
    { index: 19n, value: 1n }, // ACPI_IOPORTS_LOCATION
    { index: 32n, value: top - 8n }, // IOREQ_SERVER_PFN
    { index: 33n, value: 4n }, // NR_IOREQ_SERVER_PAGES
    { index: 36n, value: 8n }, // X87_FIP_WIDTH
  ];
}

export function sampleTscInfo(): TscInfo {
  return { mode: 0, khz: 2_400_000, nsec: 1_000_000_000n, incarnation: 0 };
}

export const SAMPLE_PV_INFO: PvInfo = { guestWidth: 8, ptLevels: 4 };

/** What libxl adds for an HVM guest after the libxc stream: the device model's xenstore keys and state. */
export function sampleEmulatorData(seed: number): EmulatorData[] {
  const enc = new TextEncoder();
  return [
    { kind: 'xenstore', emulatorId: 2, index: 0, data: enc.encode('physmap/f0000000/start_addr\x00f0000000\x00physmap/f0000000/size\x00800000\x00') },
    { kind: 'context', emulatorId: 2, index: 0, data: bytesFrom(new Prng(seed ^ 0x514d5530), 4000) },
  ];
}

export function sampleConfig(opts: { guest: GuestType; name: string; memoryMiB: number; vcpus: number }): string {
  return JSON.stringify({
    c_info: { type: opts.guest, name: opts.name },
    b_info: {
      max_vcpus: opts.vcpus,
      max_memkb: opts.memoryMiB * 1024,
      target_memkb: opts.memoryMiB * 1024,
      type: { [opts.guest]: {} },
    },
  });
}
