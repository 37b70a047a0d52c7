/**
 * What the sample domain carries besides memory: a CPU policy shaped like a recent
 * Intel host's default HVM/PV policy, an HVM save blob laid out the way Xen lays out
 * its own (descriptor + header, per-vcpu CPU records, END), the HVM params libxc saves,
 * PV vcpu contexts, and the xl JSON config. Contents are deterministic from a seed.
 */
import type { GuestType } from '../../format/constants.js';
import type { CpuidEntry, MsrEntry } from '../../format/records.js';
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
