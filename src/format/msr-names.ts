/** Names of the MSRs Xen's save records carry (HVM CPU_MSR, PV X86_PV_VCPU_MSRS, policies). */
const MSR_NAMES: ReadonlyMap<number, string> = new Map([
  [0x10, 'TSC'],
  [0x3a, 'IA32_FEATURE_CONTROL'],
  [0x3b, 'TSC_ADJUST'],
  [0x48, 'SPEC_CTRL'],
  [0x140, 'INTEL_MISC_FEATURES_ENABLES'],
  [0x174, 'SYSENTER_CS'],
  [0x175, 'SYSENTER_ESP'],
  [0x176, 'SYSENTER_EIP'],
  [0x277, 'PAT'],
  [0x6e0, 'TSC_DEADLINE'],
  [0xd90, 'BNDCFGS'],
  [0xda0, 'XSS'],
  [0xc0000080, 'EFER'],
  [0xc0000081, 'STAR'],
  [0xc0000082, 'LSTAR'],
  [0xc0000083, 'CSTAR'],
  [0xc0000084, 'SYSCALL_MASK'],
  [0xc0000100, 'FS_BASE'],
  [0xc0000101, 'GS_BASE'],
  [0xc0000102, 'SHADOW_GS_BASE'],
  [0xc0000103, 'TSC_AUX'],
  [0xc001011f, 'VIRT_SPEC_CTRL'],
  [0xc0011019, 'AMD64_DR1_ADDRESS_MASK'],
  [0xc001101a, 'AMD64_DR2_ADDRESS_MASK'],
  [0xc001101b, 'AMD64_DR3_ADDRESS_MASK'],
  [0xc0011027, 'AMD64_DR0_ADDRESS_MASK'],
]);

/** An MSR's name, or its index in hex. */
export function msrName(index: number): string {
  return MSR_NAMES.get(index) ?? `0x${index.toString(16).padStart(8, '0')}`;
}
