/** Names of HVM params (xen/include/public/hvm/params.h) for dumps and memory images. */
export const HVM_PARAM_NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'CALLBACK_IRQ'],
  [1, 'STORE_PFN'],
  [2, 'STORE_EVTCHN'],
  [4, 'PAE_ENABLED'],
  [5, 'IOREQ_PFN'],
  [6, 'BUFIOREQ_PFN'],
  [7, 'PAGING_RING_PFN'],
  [8, 'MONITOR_RING_PFN'],
  [9, 'SHARING_RING_PFN'],
  [10, 'IDENT_PT'],
  [12, 'DM_DOMAIN'],
  [13, 'ACPI_S_STATE'],
  [14, 'VM86_TSS'],
  [15, 'VPT_ALIGN'],
  [16, 'CONSOLE_PFN'],
  [17, 'CONSOLE_EVTCHN'],
  [18, 'ACPI_IOPORTS_LOCATION'],
  [19, 'MEMORY_EVENT_CR0'],
  [20, 'MEMORY_EVENT_CR3'],
  [21, 'MEMORY_EVENT_CR4'],
  [22, 'MEMORY_EVENT_INT3'],
  [23, 'NESTEDHVM'],
  [24, 'MEMORY_EVENT_SINGLE_STEP'],
  [25, 'PAGING_RING_PFN_LEGACY'],
  [26, 'BUFIOREQ_EVTCHN'],
  [27, 'IOREQ_SERVER_PFN'],
  [28, 'NR_IOREQ_SERVER_PAGES'],
  [29, 'VM_GENERATION_ID_ADDR'],
  [30, 'ALTP2M'],
  [31, 'X87_FIP_WIDTH'],
  [32, 'VM86_TSS_SIZED'],
  [33, 'MCA_CAP'],
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
