/**
 * CPU_XSAVE (typecode 16): struct hvm_hw_cpu_xsave, variable length: xfeature_mask, xcr0,
 * xcr0_accum, then an uncompacted XSAVE area (legacy FXSAVE region, 64-octet header,
 * extended components) as long as xcr0_accum needs.
 */
import { struct, type StructValue } from '../layout.js';
import { defineHvmSaveRecord, hex, isZero, namedFields } from './save-record.js';

/**
 * The start of an uncompacted XSAVE area as Xen hands it out (HVM's save_area, PV's
 * XSAVE context after xcr0/xcr0_accum): the FXSAVE legacy region, then the 64-octet
 * XSAVE header.
 */
export const XSAVE_AREA_HEAD = {
  fpu_sse: { bytes: 512 },
  xstate_bv: 'u64',
  xcomp_bv: 'u64',
  reserved: { bytes: 48 },
} as const;

const XSAVE_SPEC = {
  xfeature_mask: 'u64',
  xcr0: 'u64',
  xcr0_accum: 'u64',
  ...XSAVE_AREA_HEAD,
} as const;

export const HVM_HW_CPU_XSAVE_LAYOUT = struct('hvm_hw_cpu_xsave', XSAVE_SPEC);

/** offsetof(struct hvm_hw_cpu_xsave, save_area) + XSTATE_AREA_MIN_SIZE (legacy region and header). */
export const HVM_CPU_XSAVE_MIN = HVM_HW_CPU_XSAVE_LAYOUT.size;

/** The fixed part as named fields; `extended` the components after the 64-octet header. */
export type HvmCpuXsaveRecord = StructValue<typeof XSAVE_SPEC> & { extended: Uint8Array };

const XSTATE_NAMES = ['x87', 'SSE', 'AVX', 'BNDREGS', 'BNDCSR', 'OPMASK', 'ZMM_Hi256', 'Hi16_ZMM', 'PT', 'PKRU', 'PASID', 'CET_U', 'CET_S', 'HDC', 'UINTR', 'LBR', 'HWP', 'TILECFG', 'TILEDATA'];

/** Names of the XSAVE state components in a mask (XCR0, XSTATE_BV). */
export function xstateNames(mask: bigint): string[] {
  const out: string[] = [];
  for (let i = 0; i < 64; i++) if ((mask >> BigInt(i)) & 1n) out.push(XSTATE_NAMES[i] ?? `bit${i}`);
  return out;
}

/** What `valid_xcr0` refuses, architecturally: x87 clear, AVX without SSE, MPX halves apart, AVX-512 parts apart or without AVX. */
export function xcr0Problem(xcr0: bigint): string | undefined {
  if ((xcr0 & 1n) === 0n) return 'x87 (bit 0) clear';
  if ((xcr0 & 4n) !== 0n && (xcr0 & 2n) === 0n) return 'AVX without SSE';
  if (((xcr0 >> 3n) & 1n) !== ((xcr0 >> 4n) & 1n)) return 'BNDREGS and BNDCSR differ';
  const avx512 = xcr0 & 0xe0n;
  if (avx512 !== 0n && (avx512 !== 0xe0n || (xcr0 & 4n) === 0n)) return 'AVX-512 state partly set or without AVX';
  return undefined;
}

export const hvmCpuXsave = defineHvmSaveRecord<'CPU_XSAVE', HvmCpuXsaveRecord>({
  typecode: 16,
  name: 'CPU_XSAVE',
  perVcpu: true,
  maxInstance: 0,
  rule: 'xsave',
  length: HVM_CPU_XSAVE_MIN,
  history: [],
  layout: HVM_HW_CPU_XSAVE_LAYOUT,
  c: { type: 'struct hvm_hw_cpu_xsave', size: HVM_CPU_XSAVE_MIN, members: { fpu_sse: 'save_area.fpu_sse', xstate_bv: 'save_area.xsave_hdr.xstate_bv', xcomp_bv: 'save_area.xsave_hdr.xcomp_bv', reserved: 'save_area.xsave_hdr.reserved' } },
  decode: (body) => ({ ...HVM_HW_CPU_XSAVE_LAYOUT.read(body, true), extended: body.subarray(HVM_CPU_XSAVE_MIN) }),
  encode: ({ extended, ...fixed }) => {
    const out = new Uint8Array(HVM_CPU_XSAVE_MIN + extended.length);
    HVM_HW_CPU_XSAVE_LAYOUT.write(out, fixed, true);
    out.set(extended, HVM_CPU_XSAVE_MIN);
    return out;
  },
  describe: (r) => ({
    fields: { ...namedFields(HVM_HW_CPU_XSAVE_LAYOUT, r), xcr0Components: xstateNames(r.xcr0), xstateBvComponents: xstateNames(r.xstate_bv), extendedBytes: r.extended.length },
    text: `xcr0 ${hex(r.xcr0)} [${xstateNames(r.xcr0).join(' ')}], accum ${hex(r.xcr0_accum)}, xstate_bv ${hex(r.xstate_bv)}, ${r.extended.length} octet(s) of extended state`,
  }),
  check(ctx) {
    // validate_xstate, without the policy's xcr0_max.
    const r = ctx.record;
    const where = `vcpu ${ctx.instance}`;
    const report = (m: string): void => ctx.report('hvm-context-xsave', `${where}: ${m}`);
    if ((r.xstate_bv & ~r.xcr0_accum) !== 0n) report(`xstate_bv ${hex(r.xstate_bv)} has components outside xcr0_accum ${hex(r.xcr0_accum)}`);
    if ((r.xcr0 & ~r.xcr0_accum) !== 0n) report(`xcr0 ${hex(r.xcr0)} has components outside xcr0_accum ${hex(r.xcr0_accum)}`);
    const p0 = xcr0Problem(r.xcr0);
    if (p0) report(`xcr0 ${hex(r.xcr0)} invalid: ${p0}`);
    const pa = xcr0Problem(r.xcr0_accum);
    if (pa) report(`xcr0_accum ${hex(r.xcr0_accum)} invalid: ${pa}`);
    if (r.xcomp_bv !== 0n) report(`xcomp_bv ${hex(r.xcomp_bv)}: compacted state is refused`);
    if (!isZero(r.reserved)) report('XSAVE header reserved octets are not zero');
  },
});
