/**
 * Can a guest whose policy is `guest` run on a host offering `host`? Xen's own check
 * (x86_cpu_policies_are_compatible) compares the maximum leaves and PLATFORM_INFO and
 * leaves the rest for later ("TODO: audit more"). This one also compares the vendor,
 * every featureset word bit by bit, the XSAVE components and sizes, and the MSR bits,
 * and returns every reason, not just the first.
 */
import type { CpuPolicyData } from '../domain/types.js';
import { type FeatureInfo, type WordSource, describeWordSource, featureset, hex32 } from './featureset.js';
import {
  CpuPolicy,
  LEAF_EXTENDED_BASE,
  MSR_ARCH_CAPABILITIES,
  MSR_INTEL_PLATFORM_INFO,
  PLATFORM_INFO_BITS,
  xstateName,
} from './policy.js';

export type ReasonKind = 'vendor' | 'max-leaf' | 'feature' | 'xsave-component' | 'xsave-size' | 'msr-bit';

export interface Reason {
  kind: ReasonKind;
  /** One line naming what blocks the move. */
  text: string;
  feature?: string;
  word?: number;
  bit?: number;
  leaf?: number;
  subleaf?: number;
  msr?: number;
  /** XSAVE component number. */
  component?: number;
  guest?: number | string;
  host?: number | string;
}

export interface CompatibilityResult {
  compatible: boolean;
  reasons: Reason[];
}

/**
 * Bits that mirror the guest's own control registers (CR4.OSXSAVE, CR4.PKE): Xen clears
 * them from every policy and fills them in at run time, so they say nothing about a host.
 */
const DYNAMIC_FEATURES = ['OSXSAVE', 'OSPKE'];

const MSR_NAMES: ReadonlyMap<number, string> = new Map([
  [MSR_INTEL_PLATFORM_INFO, 'MSR_INTEL_PLATFORM_INFO'],
  [MSR_ARCH_CAPABILITIES, 'MSR_ARCH_CAPABILITIES'],
]);

export function msrName(index: number): string {
  return MSR_NAMES.get(index) ?? `MSR ${hex32(index)}`;
}

/** Per word, the bits a guest may see without the host having them. */
function toleratedMasks(): number[] {
  const fs = featureset();
  const masks = [...fs.accumulateMask];
  for (const name of DYNAMIC_FEATURES) {
    const f = fs.byName.get(name);
    if (f !== undefined) masks[f.word] = (masks[f.word]! | (1 << f.bit)) >>> 0;
  }
  return masks;
}

let tolerated: number[] | undefined;

function featureReason(src: WordSource, bit: number, f: FeatureInfo | undefined): Reason {
  const name = f?.name ?? `bit ${bit} of word ${src.word}`;
  if (src.kind === 'msr') {
    const msrBit = bit + (src.half === 'hi' ? 32 : 0);
    return {
      kind: 'msr-bit',
      text: `${msrName(src.msr)} bit ${msrBit}${f ? ` ${f.name}` : ''} (featureset word ${src.word} bit ${bit}): the guest sees it, the host lacks it`,
      feature: f?.name,
      word: src.word,
      bit,
      msr: src.msr,
    };
  }
  return {
    kind: 'feature',
    text: `feature ${name} (word ${src.word} bit ${bit}, ${describeWordSource(src)}): the guest sees it, the host cannot offer it`,
    feature: f?.name,
    word: src.word,
    bit,
    leaf: src.leaf,
    subleaf: src.subleaf,
  };
}

function maxLeafReasons(g: CpuPolicy, h: CpuPolicy): Reason[] {
  const checks: Array<[string, number, number, number, number]> = [
    ['max basic leaf (CPUID 0x00000000.eax)', g.maxBasicLeaf, h.maxBasicLeaf, 0, 0xffffffff],
    ['max structured feature subleaf (CPUID 0x00000007:0.eax)', g.maxFeatureSubleaf, h.maxFeatureSubleaf, 7, 0],
    ['max extended leaf (CPUID 0x80000000.eax)', g.maxExtendedLeaf, h.maxExtendedLeaf, LEAF_EXTENDED_BASE, 0xffffffff],
  ];
  return checks
    .filter(([, gv, hv]) => gv > hv)
    .map(([what, gv, hv, leaf, subleaf]) => ({
      kind: 'max-leaf' as const,
      text: `${what}: the guest's ${hex32(gv)} is higher than the host's ${hex32(hv)}`,
      leaf,
      subleaf,
      guest: gv,
      host: hv,
    }));
}

function xsaveReasons(g: CpuPolicy, h: CpuPolicy): Reason[] {
  const reasons: Reason[] = [];
  const gx = g.xsave;
  const hx = h.xsave;
  const hostComponents = hx.xcr0 | hx.xss;
  const guestComponents = gx.xcr0 | gx.xss;
  for (let i = 0n, m = guestComponents & ~hostComponents; m > 0n; i++, m >>= 1n) {
    if ((m & 1n) === 0n) continue;
    const n = Number(i);
    reasons.push({
      kind: 'xsave-component',
      text: `XSAVE component ${n} (${xstateName(n)}): the guest may enable it, the host cannot`,
      component: n,
      leaf: 0xd,
      subleaf: n,
    });
  }
  const hostSize = new Map(hx.components.map((c) => [c.index, c.size]));
  for (const c of gx.components) {
    const hs = hostSize.get(c.index);
    if (hs === undefined || c.size <= hs) continue;
    reasons.push({
      kind: 'xsave-size',
      text: `XSAVE component ${c.index} (${c.name}) size: the guest's ${c.size} bytes exceed the host's ${hs}`,
      component: c.index,
      leaf: 0xd,
      subleaf: c.index,
      guest: c.size,
      host: hs,
    });
  }
  if (gx.maxSize > hx.maxSize) {
    reasons.push({
      kind: 'xsave-size',
      text: `XSAVE area size (CPUID 0x0000000d:0.ecx): the guest's ${gx.maxSize} bytes exceed the host's ${hx.maxSize}`,
      leaf: 0xd,
      subleaf: 0,
      guest: gx.maxSize,
      host: hx.maxSize,
    });
  }
  return reasons;
}

function platformInfoReasons(g: CpuPolicy, h: CpuPolicy): Reason[] {
  const missing = (g.platformInfo & ~h.platformInfo) >>> 0;
  const reasons: Reason[] = [];
  for (let bit = 0; bit < 32; bit++) {
    if ((missing & (1 << bit)) === 0) continue;
    const name = PLATFORM_INFO_BITS.get(bit);
    reasons.push({
      kind: 'msr-bit',
      text: `${msrName(MSR_INTEL_PLATFORM_INFO)} bit ${bit}${name ? ` ${name}` : ''}: the guest sees it, the host lacks it`,
      feature: name,
      bit,
      msr: MSR_INTEL_PLATFORM_INFO,
    });
  }
  return reasons;
}

/**
 * Every reason the guest cannot run on the host, in a fixed order: vendor, maximum
 * leaves, feature bits (word, bit), XSAVE, MSRs. Synchronous and allocation-light so a
 * restore's static-data callback can call it before any memory moves.
 */
export function checkCompatibility(guest: CpuPolicy | CpuPolicyData, host: CpuPolicy | CpuPolicyData): CompatibilityResult {
  const g = CpuPolicy.from(guest);
  const h = CpuPolicy.from(host);
  const fs = featureset();
  tolerated ??= toleratedMasks();
  const reasons: Reason[] = [];
  if (g.vendorId !== h.vendorId) {
    reasons.push({
      kind: 'vendor',
      text: `vendor differs: the guest's is ${g.vendor}, the host's is ${h.vendor}`,
      leaf: 0,
      guest: g.vendor,
      host: h.vendor,
    });
  }
  reasons.push(...maxLeafReasons(g, h));
  const gw = g.words;
  const hw = h.words;
  const msrBits: Reason[] = [];
  for (const src of fs.words) {
    const missing = (gw[src.word]! & ~hw[src.word]! & ~tolerated[src.word]!) >>> 0;
    for (let bit = 0; missing !== 0 && bit < 32; bit++) {
      if ((missing & (1 << bit)) === 0) continue;
      const r = featureReason(src, bit, fs.byPosition.get(src.word * 32 + bit));
      (r.kind === 'msr-bit' ? msrBits : reasons).push(r);
    }
  }
  reasons.push(...xsaveReasons(g, h), ...platformInfoReasons(g, h), ...msrBits);
  return { compatible: reasons.length === 0, reasons };
}
