/**
 * Names of HVM params (xen/include/public/hvm/params.h, HVM_PARAM_*) for dumps and memory
 * images. 3, 7 and 8 are unused upstream; HVM_NR_PARAMS is 39.
 */
export const HVM_PARAM_NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'CALLBACK_IRQ'],
  [1, 'STORE_PFN'],
  [2, 'STORE_EVTCHN'],
  [4, 'PAE_ENABLED'],
  [5, 'IOREQ_PFN'],
  [6, 'BUFIOREQ_PFN'],
  [9, 'VIRIDIAN'],
  [10, 'TIMER_MODE'],
  [11, 'HPET_ENABLED'],
  [12, 'IDENT_PT'],
  [13, 'DM_DOMAIN'],
  [14, 'ACPI_S_STATE'],
  [15, 'VM86_TSS'],
  [16, 'VPT_ALIGN'],
  [17, 'CONSOLE_PFN'],
  [18, 'CONSOLE_EVTCHN'],
  [19, 'ACPI_IOPORTS_LOCATION'],
  [20, 'MEMORY_EVENT_CR0'],
  [21, 'MEMORY_EVENT_CR3'],
  [22, 'MEMORY_EVENT_CR4'],
  [23, 'MEMORY_EVENT_INT3'],
  [24, 'NESTEDHVM'],
  [25, 'MEMORY_EVENT_SINGLE_STEP'],
  [26, 'BUFIOREQ_EVTCHN'],
  [27, 'PAGING_RING_PFN'],
  [28, 'MONITOR_RING_PFN'],
  [29, 'SHARING_RING_PFN'],
  [30, 'MEMORY_EVENT_MSR'],
  [31, 'TRIPLE_FAULT_REASON'],
  [32, 'IOREQ_SERVER_PFN'],
  [33, 'NR_IOREQ_SERVER_PAGES'],
  [34, 'VM_GENERATION_ID_ADDR'],
  [35, 'ALTP2M'],
  [36, 'X87_FIP_WIDTH'],
  [37, 'VM86_TSS_SIZED'],
  [38, 'MCA_CAP'],
]);

export function hvmParamName(index: bigint | number): string {
  const n = Number(index);
  return HVM_PARAM_NAMES.get(n) ?? `PARAM_${index.toString()}`;
}

export function hvmParamIndexByName(name: string): bigint | undefined {
  for (const [k, v] of HVM_PARAM_NAMES) if (v === name) return BigInt(k);
  const m = /^PARAM_(\d+)$/.exec(name);
  return m ? BigInt(m[1]!) : undefined;
}
