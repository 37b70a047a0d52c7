/**
 * Can a guest whose policy is `guest` run on a host offering `host`? Xen's own check
 * (x86_cpu_policies_are_compatible) compares the maximum leaves and PLATFORM_INFO and
 * leaves the rest for later ("TODO: audit more"). This one also compares the vendor,
 * every featureset word bit by bit, the XSAVE components and sizes, and the MSR bits,
 * first asks whether the destination's Xen could load the guest's policy at all, and
 * returns every reason, not just the first, with warnings for the features Xen would
 * hide from the guest (deep dependencies).
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
import { describeHidden, sanitiseFeatureset } from './deps.js';
import { XenPolicyTables, xenTables } from './serialise.js';
import { xenFacts } from './xen-versions.js';

/**
 * 'xen-cannot-load': the destination's Xen would refuse the policy outright (a leaf,
 * subleaf or MSR it has no place for, a value wider than it keeps, too many entries).
 * 'max-leaf' is Xen's own check (x86_cpu_policies_are_compatible), as is a missing
 * PLATFORM_INFO bit ('msr-bit'); every other kind is xenmig being stricter than Xen.
 * 'hidden-by-xen' appears only among the warnings.
 */
export type ReasonKind =
  | 'xen-cannot-load'
  | 'vendor'
  | 'max-leaf'
  | 'feature'
  | 'xsave-component'
  | 'xsave-size'
  | 'msr-bit'
  | 'hidden-by-xen';

/** The kinds by which xenmig refuses guests Xen's own compatibility check would let through. */
export const STRICTER_THAN_XEN: readonly ReasonKind[] = ['vendor', 'feature', 'xsave-component', 'xsave-size', 'msr-bit'];

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
  /** What Xen would silently change in the guest's view (features it would hide); never blocking. */
  warnings: Reason[];
  /** The Xen version whose tables, attributes and limits were used. */
  xen: string;
}

export interface CompatibilityOptions {
  /** The destination's Xen version (default: the newest xenmig knows). */
  xen?: string;
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
function toleratedMasks(version: string): number[] {
  const fs = featureset(version);
  const masks = [...fs.accumulateMask];
  for (const name of DYNAMIC_FEATURES) {
    const f = fs.byName.get(name);
    if (f !== undefined) masks[f.word] = (masks[f.word]! | (1 << f.bit)) >>> 0;
  }
  return masks;
}

const tolerated = new Map<string, number[]>();

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

/** Xen's own check, on the values as Xen holds them (leaf 7:0 eax even when leaf 7 is out of range). */
function maxLeafReasons(g: XenPolicyTables, h: XenPolicyTables): Reason[] {
  const checks: Array<[string, number, number, number, number]> = [
    ['max basic leaf (CPUID 0x00000000.eax)', g.maxLeaf, h.maxLeaf, 0, 0xffffffff],
    ['max structured feature subleaf (CPUID 0x00000007:0.eax)', g.featMaxSubleaf, h.featMaxSubleaf, 7, 0],
    ['max extended leaf (CPUID 0x80000000.eax)', g.extdMaxLeaf, h.extdMaxLeaf, LEAF_EXTENDED_BASE, 0xffffffff],
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

function platformInfoReasons(g: XenPolicyTables, h: XenPolicyTables): Reason[] {
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
export function checkCompatibility(
  guest: CpuPolicy | CpuPolicyData,
  host: CpuPolicy | CpuPolicyData,
  opts: CompatibilityOptions = {},
): CompatibilityResult {
  const xen = xenFacts(opts.xen).version;
  const g = CpuPolicy.from(guest);
  const h = CpuPolicy.from(host);
  const fs = featureset(xen);
  let tol = tolerated.get(xen);
  if (tol === undefined) tolerated.set(xen, (tol = toleratedMasks(xen)));
  const reasons: Reason[] = [];
  const gx = new XenPolicyTables(xenFacts(xen));
  for (const p of gx.load(g.cpuid, g.msrs)) {
    const r: Reason = { kind: 'xen-cannot-load', text: p.text };
    if (p.leaf !== undefined) r.leaf = p.leaf;
    if (p.subleaf !== undefined) r.subleaf = p.subleaf;
    if (p.msr !== undefined) r.msr = p.msr;
    reasons.push(r);
  }
  const hx = xenTables(h, xen);
  if (g.vendorId !== h.vendorId) {
    reasons.push({
      kind: 'vendor',
      text: `vendor differs: the guest's is ${g.vendor}, the host's is ${h.vendor}`,
      leaf: 0,
      guest: g.vendor,
      host: h.vendor,
    });
  }
  reasons.push(...maxLeafReasons(gx, hx));
  const gw = g.words;
  const hw = h.words;
  const msrBits: Reason[] = [];
  for (const src of fs.words) {
    const missing = (gw[src.word]! & ~hw[src.word]! & ~tol[src.word]!) >>> 0;
    for (let bit = 0; missing !== 0 && bit < 32; bit++) {
      if ((missing & (1 << bit)) === 0) continue;
      const r = featureReason(src, bit, fs.byPosition.get(src.word * 32 + bit));
      (r.kind === 'msr-bit' ? msrBits : reasons).push(r);
    }
  }
  reasons.push(...xsaveReasons(g, h), ...platformInfoReasons(gx, hx), ...msrBits);
  const warnings: Reason[] = sanitiseFeatureset(gw, gx.maxLeaf, xen).hidden.map((hf) => {
    const w: Reason = { kind: 'hidden-by-xen', text: describeHidden(hf, xen), word: hf.word, bit: hf.bit };
    if (fs.byPosition.has(hf.word * 32 + hf.bit)) w.feature = hf.feature;
    return w;
  });
  return { compatible: reasons.length === 0, reasons, warnings, xen };
}
