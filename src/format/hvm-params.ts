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

/** HVM_NR_PARAMS in Xen 4.17 (xen/include/public/hvm/params.h): `hvmop_set_param` refuses any index at or above it. */
export const HVM_NR_PARAMS = 39;

/**
 * The params libxc's saver sends, in its order (`write_hvm_params` in
 * tools/libs/guest/xg_sr_save_x86_hvm.c, every release since 4.6); each only when non-zero.
 */
export const LIBXC_SAVED_HVM_PARAMS: readonly number[] = [1, 5, 6, 27, 28, 29, 37, 17, 19, 9, 12, 34, 32, 33, 36, 38];

/**
 * Params whose page libxc's restorer zeroes before setting the param (`handle_hvm_params`
 * in xg_sr_restore_x86_hvm.c calls `xc_clear_domain_page`): the xenstore and console
 * rings and the legacy ioreq pages start empty on the new host.
 */
export const HVM_PARAMS_CLEARED_ON_RESTORE: ReadonlyMap<number, string> = new Map([
  [1, 'STORE_PFN'],
  [17, 'CONSOLE_PFN'],
  [5, 'IOREQ_PFN'],
  [6, 'BUFIOREQ_PFN'],
]);

/** PAE_ENABLED: libxc's restorer drops it from old streams instead of setting it. */
export const HVM_PARAM_PAE_ENABLED = 4;

const SHUTDOWN_MAX = 5n; // public/sched.h
const HVMPTM_ONE_MISSED_TICK_PENDING = 3n; // public/hvm/params.h
const XEN_ALTP2M_LIMITED = 3n; // public/hvm/params.h
const HVMPV_BASE_FREQ = 1n;
const HVMPV_FEATURE_MASK = 0x1fffn; // HVMPV_base_freq .. HVMPV_cpu_hotplug (bits 0-12) in 4.17
const SIZEOF_TSS32 = 104n;
/** Deprecated params `hvm_allow_set_param` refuses with EINVAL. */
const DEPRECATED_HVM_PARAMS: ReadonlySet<number> = new Set([4, 13, 20, 21, 22, 23, 24, 25, 26, 30]);

/**
 * Why Xen 4.17 refuses `HVMOP_set_param(index, value)` from the toolstack during a restore,
 * or undefined when it accepts it: `hvmop_set_param`, `hvm_allow_set_param` and
 * `hvm_set_param` in xen/arch/x86/hvm/hvm.c. libxc's restorer fails the restore on the
 * first refusal ("set HVM param N = V (22 = Invalid argument)"). PAE_ENABLED never
 * reaches Xen (libxc drops it), so it is not refused here.
 */
export function hvmParamRefusal(index: bigint, value: bigint): string | undefined {
  if (index >= BigInt(HVM_NR_PARAMS)) return `index ${index} is not below HVM_NR_PARAMS (${HVM_NR_PARAMS}); Xen says EINVAL`;
  const i = Number(index);
  if (i === HVM_PARAM_PAE_ENABLED) return undefined;
  if (DEPRECATED_HVM_PARAMS.has(i)) return `${hvmParamName(i)} is deprecated; Xen says EINVAL`;
  const range = (ok: boolean, expected: string): string | undefined => (ok ? undefined : `${hvmParamName(i)} = 0x${value.toString(16)}, Xen accepts ${expected} (EINVAL)`);
  switch (i) {
    case 10:
      return range(value <= HVMPTM_ONE_MISSED_TICK_PENDING, `0-${HVMPTM_ONE_MISSED_TICK_PENDING}`);
    case 9:
      return range((value & ~HVMPV_FEATURE_MASK) === 0n && (value & HVMPV_BASE_FREQ) !== 0n, 'HVMPV_* feature bits (0-12) with base_freq set');
    case 14:
      return range(value === 0n || value === 3n, '0 or 3');
    case 19:
      return range(value <= 1n, '0 or 1 (pmtimer_change_ioport)');
    case 35:
      return range(value < XEN_ALTP2M_LIMITED + 1n, `0-${XEN_ALTP2M_LIMITED}`);
    case 31:
      return range(value <= SHUTDOWN_MAX, `0-${SHUTDOWN_MAX} (SHUTDOWN_MAX)`);
    case 33:
      return range(value >= 1n && value <= 64n, '1-64 pages');
    case 36:
      return range(value === 0n || value === 4n || value === 8n, '0, 4 or 8');
    case 15:
      return range(value <= 0xffffffffn, 'a 32-bit address');
    case 37:
      return range(value >> 32n >= SIZEOF_TSS32, `a size (bits 63-32) of at least ${SIZEOF_TSS32} octets (struct tss32)`);
    default:
      return undefined;
  }
}

/** The pfns libxc's restorer zeroes for these params (when the domain has them), with the param's name. */
export function pagesZeroedOnRestore(params: readonly { index: bigint; value: bigint }[]): { pfn: number; param: string }[] {
  const out: { pfn: number; param: string }[] = [];
  for (const p of params) {
    const param = HVM_PARAMS_CLEARED_ON_RESTORE.get(Number(p.index));
    if (param !== undefined && p.value <= BigInt(Number.MAX_SAFE_INTEGER)) out.push({ pfn: Number(p.value), param });
  }
  return out;
}
