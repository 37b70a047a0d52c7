/**
 * A CPU policy as Xen serialises it (the X86_CPUID_POLICY and X86_MSR_POLICY entries),
 * with the views the rest of xenmig needs: vendor, family/model/stepping, the maximum
 * leaves, every featureset word, the XSAVE state components and the MSRs. The entries
 * are kept exactly as they came, so a policy read from a stream is written back byte for
 * byte; every view is computed from them.
 */
import type { CpuidEntry, MsrEntry } from '../format/records.js';
import type { CpuPolicyData } from '../domain/types.js';
import { NO_SUBLEAF, type WordSource, featureset } from './featureset.js';

export const MSR_INTEL_PLATFORM_INFO = 0xce;
export const MSR_ARCH_CAPABILITIES = 0x10a;
/** MSR_INTEL_PLATFORM_INFO bit 31: CPUID faulting, the only bit Xen's policies model. */
export const PLATFORM_INFO_BITS: ReadonlyMap<number, string> = new Map([[31, 'CPUID_FAULTING']]);

export const LEAF_EXTENDED_BASE = 0x80000000;

export interface Regs {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

const ZERO: Regs = Object.freeze({ eax: 0, ebx: 0, ecx: 0, edx: 0 });

/** XSAVE state components by XCR0/XSS bit (Intel SDM vol. 1, 13.1). */
export const XSTATE_NAMES: readonly string[] = [
  'x87', 'SSE', 'AVX', 'BNDREGS', 'BNDCSR', 'OPMASK', 'ZMM_Hi256', 'Hi16_ZMM', 'PT', 'PKRU',
  'PASID', 'CET_U', 'CET_S', 'HDC', 'UINTR', 'LBR', 'HWP', 'TILECFG', 'TILEDATA', 'APX',
];

export function xstateName(i: number): string {
  return XSTATE_NAMES[i] ?? `component ${i}`;
}

/** CPU vendors by their 12-character CPUID leaf 0 string. */
const VENDORS: ReadonlyMap<string, string> = new Map([
  ['GenuineIntel', 'Intel'],
  ['AuthenticAMD', 'AMD'],
  ['HygonGenuine', 'Hygon'],
  ['CentaurHauls', 'Centaur'],
  ['  Shanghai  ', 'Shanghai'],
]);

export interface XsaveComponent {
  index: number;
  name: string;
  size: number;
  offset: number;
  /** ECX bit 0: managed through XSS (XSAVES only), not XCR0. */
  supervisor: boolean;
  /** ECX bit 1: 64-byte aligned in the compacted format. */
  align64: boolean;
}

export interface XsaveInfo {
  /** Components the guest may enable in XCR0 (leaf 0xD:0 edx:eax). */
  xcr0: bigint;
  /** Components managed through MSR_XSS (leaf 0xD:1 edx:ecx). */
  xss: bigint;
  /** Leaf 0xD:0 ecx: the XSAVE area size for every XCR0 component. */
  maxSize: number;
  /** Components 2 and up with their size and offset (leaf 0xD:n). */
  components: XsaveComponent[];
}

function key(leaf: number, subleaf: number): string {
  return `${leaf >>> 0}:${subleaf >>> 0}`;
}

function bitsOf(mask: bigint): number[] {
  const out: number[] = [];
  for (let i = 0; mask > 0n; i++, mask >>= 1n) if (mask & 1n) out.push(i);
  return out;
}

/** One CPU policy: the serialised entries plus decoded views over them. */
export class CpuPolicy {
  readonly cpuid: readonly CpuidEntry[];
  readonly msrs: readonly MsrEntry[];
  private readonly index = new Map<string, CpuidEntry>();
  private wordsCache?: number[];

  constructor(cpuid: readonly CpuidEntry[], msrs: readonly MsrEntry[]) {
    this.cpuid = cpuid.map((e) => ({ ...e }));
    this.msrs = msrs.map((e) => ({ ...e }));
    for (const e of this.cpuid) this.index.set(key(e.leaf, e.subleaf), e);
  }

  static from(data: CpuPolicyData | CpuPolicy): CpuPolicy {
    if (data instanceof CpuPolicy) return data;
    return new CpuPolicy(data.cpuid ?? [], data.msrs ?? []);
  }

  /** The entries as the stream records carry them. */
  toData(): CpuPolicyData {
    return { cpuid: this.cpuid.map((e) => ({ ...e })), msrs: this.msrs.map((e) => ({ ...e })) };
  }

  get isEmpty(): boolean {
    return this.cpuid.length === 0 && this.msrs.length === 0;
  }

  /**
   * A leaf's registers; absent leaves read as zero (xen-cpuid omits empty leaves).
   * Hand-written policies may give subleaf 0 where Xen writes "no subleaf", and back.
   */
  leaf(leaf: number, subleaf = NO_SUBLEAF): Regs {
    const e =
      this.index.get(key(leaf, subleaf)) ??
      (subleaf === NO_SUBLEAF ? this.index.get(key(leaf, 0)) : subleaf === 0 ? this.index.get(key(leaf, NO_SUBLEAF)) : undefined);
    return e ?? ZERO;
  }

  hasLeaf(leaf: number, subleaf = NO_SUBLEAF): boolean {
    return this.index.has(key(leaf, subleaf));
  }

  msr(index: number): bigint {
    return this.msrs.find((m) => m.index === index)?.value ?? 0n;
  }

  hasMsr(index: number): boolean {
    return this.msrs.some((m) => m.index === index);
  }

  get vendorId(): string {
    const l = this.leaf(0);
    const buf = Buffer.alloc(12);
    buf.writeUInt32LE(l.ebx, 0);
    buf.writeUInt32LE(l.edx, 4);
    buf.writeUInt32LE(l.ecx, 8);
    return buf.toString('latin1');
  }

  get vendor(): string {
    const id = this.vendorId;
    return VENDORS.get(id) ?? (this.leaf(0).ebx === 0 ? 'Unknown' : `Unknown (${JSON.stringify(id)})`);
  }

  /** Family, model and stepping with the extended fields folded in as the vendors' manuals say. */
  get signature(): { family: number; model: number; stepping: number } {
    const eax = this.leaf(1).eax;
    const baseFamily = (eax >>> 8) & 0xf;
    const family = baseFamily === 0xf ? baseFamily + ((eax >>> 20) & 0xff) : baseFamily;
    const baseModel = (eax >>> 4) & 0xf;
    const model = baseFamily === 0x6 || baseFamily === 0xf ? baseModel + (((eax >>> 16) & 0xf) << 4) : baseModel;
    return { family, model, stepping: eax & 0xf };
  }

  get maxBasicLeaf(): number {
    return this.leaf(0).eax >>> 0;
  }

  get maxExtendedLeaf(): number {
    return this.leaf(LEAF_EXTENDED_BASE).eax >>> 0;
  }

  /** Leaf 7 subleaf 0 eax: the highest structured-feature subleaf. */
  get maxFeatureSubleaf(): number {
    return this.maxBasicLeaf >= 7 ? this.leaf(7, 0).eax >>> 0 : 0;
  }

  /** Whether a leaf lies within the range the policy's maximum leaves announce. */
  inRange(leaf: number): boolean {
    if (leaf >= LEAF_EXTENDED_BASE) return leaf <= this.maxExtendedLeaf;
    if (leaf >= 0x40000000) return true;
    return leaf <= this.maxBasicLeaf;
  }

  /** Every featureset word, in Xen's word order; words out of range read as zero. */
  get words(): readonly number[] {
    if (this.wordsCache === undefined) this.wordsCache = featureset().words.map((src) => this.wordValue(src));
    return this.wordsCache;
  }

  wordValue(src: WordSource): number {
    if (src.kind === 'msr') {
      const v = this.msr(src.msr);
      return Number(src.half === 'lo' ? v & 0xffffffffn : (v >> 32n) & 0xffffffffn);
    }
    if (!this.inRange(src.leaf)) return 0;
    if (src.leaf === 7 && src.subleaf !== NO_SUBLEAF && src.subleaf > this.maxFeatureSubleaf) return 0;
    return this.leaf(src.leaf, src.subleaf)[src.reg] >>> 0;
  }

  hasFeature(name: string): boolean {
    const f = featureset().byName.get(name);
    if (f === undefined) throw new Error(`unknown feature ${name}`);
    return ((this.words[f.word] ?? 0) & (1 << f.bit)) !== 0;
  }

  /** Named features that are set, in word and bit order. */
  featureNames(): string[] {
    const fs = featureset();
    const out: string[] = [];
    this.words.forEach((value, word) => {
      for (let bit = 0; bit < 32; bit++) {
        if ((value & (1 << bit)) === 0) continue;
        const f = fs.byPosition.get(word * 32 + bit);
        if (f !== undefined) out.push(f.name);
      }
    });
    return out;
  }

  get xsave(): XsaveInfo {
    if (this.maxBasicLeaf < 0xd) return { xcr0: 0n, xss: 0n, maxSize: 0, components: [] };
    const d0 = this.leaf(0xd, 0);
    const d1 = this.leaf(0xd, 1);
    const xcr0 = (BigInt(d0.edx >>> 0) << 32n) | BigInt(d0.eax >>> 0);
    const xss = (BigInt(d1.edx >>> 0) << 32n) | BigInt(d1.ecx >>> 0);
    const components = bitsOf(xcr0 | xss)
      .filter((i) => i >= 2)
      .map((i) => {
        const l = this.leaf(0xd, i);
        return {
          index: i,
          name: xstateName(i),
          size: l.eax >>> 0,
          offset: l.ebx >>> 0,
          supervisor: (l.ecx & 1) !== 0,
          align64: (l.ecx & 2) !== 0,
        };
      });
    return { xcr0, xss, maxSize: d0.ecx >>> 0, components };
  }

  get platformInfo(): number {
    return Number(this.msr(MSR_INTEL_PLATFORM_INFO) & 0xffffffffn);
  }

  get archCapabilities(): bigint {
    return this.msr(MSR_ARCH_CAPABILITIES);
  }
}

/** Build the policy object from what the stream records carry. */
export function decodePolicy(data: CpuPolicyData | CpuPolicy): CpuPolicy {
  return CpuPolicy.from(data);
}

