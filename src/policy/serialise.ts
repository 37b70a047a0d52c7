/**
 * A policy as Xen holds it, and back to records. Xen keeps a policy in fixed tables
 * (basic leaves, leaf 4/7/0xb/0xd subleaves, extended leaves, the two hypervisor-leaf
 * limits, two MSRs), sized per version (data/xen). Loading a record's entries fills
 * those tables in any order (a later duplicate wins) and refuses any entry that has no
 * place in them; writing a policy out walks the tables in one fixed order and writes
 * every entry that is in range, zero or not (x86_cpuid_copy_to_buffer /
 * x86_msr_copy_to_buffer, which libxc's write_x86_cpu_policy_records sends). This module
 * reproduces both from those facts, so that what xenmig writes is byte for byte what
 * Xen writes for the same policy, and what Xen would refuse is named before a migration
 * starts.
 */
import type { CpuidEntry, MsrEntry } from '../format/records.js';
import type { CpuPolicyData } from '../domain/types.js';
import { NO_SUBLEAF, hex32 } from './featureset.js';
import { CpuPolicy, type Regs } from './policy.js';
import { type XenFacts, xenFacts } from './xen-versions.js';

const HV_LEAF = 0x40000000;
const HV2_LEAF = 0x40000100;
const EXTD = 0x80000000;

/** Why Xen could not load a policy; each kind is one check of Xen's deserialiser. */
export type LoadProblemKind =
  | 'too-many-leaves'
  | 'leaf-out-of-range'
  | 'too-many-msrs'
  | 'msr-flags'
  | 'unknown-msr'
  | 'msr-too-wide';

export interface LoadProblem {
  kind: LoadProblemKind;
  /** "Xen 4.17 cannot load the policy: ..." */
  text: string;
  leaf?: number;
  subleaf?: number;
  msr?: number;
}

const zero = (): Regs => ({ eax: 0, ebx: 0, ecx: 0, edx: 0 });
const table = (n: number): Regs[] => Array.from({ length: n }, zero);

/** Xen's struct cpu_policy, reduced to what its (de)serialiser touches. */
export class XenPolicyTables {
  readonly basic: Regs[];
  readonly cache: Regs[];
  readonly feat: Regs[];
  readonly topo: Regs[];
  readonly xstate: Regs[];
  readonly extd: Regs[];
  hvLimit = 0;
  hv2Limit = 0;
  platformInfo = 0;
  archCaps = 0n;

  constructor(readonly facts: XenFacts) {
    const l = facts.limits;
    this.basic = table(l.basic);
    this.cache = table(l.cache);
    this.feat = table(l.feat);
    this.topo = table(l.topo);
    this.xstate = table(l.xstate);
    this.extd = table(l.extd);
  }

  get maxLeaf(): number {
    return this.basic[0]!.eax >>> 0;
  }

  get featMaxSubleaf(): number {
    return this.feat[0]!.eax >>> 0;
  }

  get extdMaxLeaf(): number {
    return this.extd[0]!.eax >>> 0;
  }

  /** XCR0 | XSS: every state component the policy names (cpu_policy_xstates). */
  get xstates(): bigint {
    const d0 = this.xstate[0]!;
    const d1 = this.xstate[1]!;
    const xcr0 = (BigInt(d0.edx >>> 0) << 32n) | BigInt(d0.eax >>> 0);
    const xss = (BigInt(d1.edx >>> 0) << 32n) | BigInt(d1.ecx >>> 0);
    return xcr0 | xss;
  }

  /** Where an entry goes, or undefined when Xen has no place for it. */
  slot(leaf: number, subleaf: number): Regs | undefined {
    const l = this.facts.limits;
    leaf >>>= 0;
    subleaf >>>= 0;
    if (leaf < l.basic) {
      const sub = (t: Regs[]): Regs | undefined => (subleaf < t.length ? t[subleaf] : undefined);
      switch (leaf) {
        case 0x4: return sub(this.cache);
        case 0x7: return sub(this.feat);
        case 0xb: return sub(this.topo);
        case 0xd: return sub(this.xstate);
        default: return subleaf === NO_SUBLEAF ? this.basic[leaf] : undefined;
      }
    }
    if (leaf >= EXTD && leaf < EXTD + l.extd) return subleaf === NO_SUBLEAF ? this.extd[leaf - EXTD] : undefined;
    return undefined;
  }

  /**
   * Load entries as x86_cpuid_copy_from_buffer / x86_msr_copy_from_buffer do, into
   * these tables. Returns every entry Xen would refuse (Xen stops at the first).
   */
  load(cpuid: readonly CpuidEntry[], msrs: readonly MsrEntry[]): LoadProblem[] {
    const f = this.facts;
    const cannot = `Xen ${f.version} cannot load the policy`;
    const problems: LoadProblem[] = [];
    if (cpuid.length > f.limits.serialisedLeaves) {
      problems.push({
        kind: 'too-many-leaves',
        text: `${cannot}: ${cpuid.length} CPUID entries, more than the ${f.limits.serialisedLeaves} it can hold`,
      });
    } else {
      for (const e of cpuid) {
        const leaf = e.leaf >>> 0;
        const subleaf = e.subleaf >>> 0;
        const regs = { eax: e.eax >>> 0, ebx: e.ebx >>> 0, ecx: e.ecx >>> 0, edx: e.edx >>> 0 };
        if ((leaf === HV_LEAF || leaf === HV2_LEAF) && subleaf === NO_SUBLEAF) {
          // Only the limit (eax) is kept, truncated to its field (uint8_t in 4.17 to master:
          // 0x40000005 comes back as 0x00000005); Xen builds the rest of its leaves itself.
          const limit = Number(BigInt(regs.eax) & ((1n << BigInt(f.limits.hvLimitBits)) - 1n));
          if (leaf === HV_LEAF) this.hvLimit = limit;
          else this.hv2Limit = limit;
          continue;
        }
        const slot = this.slot(leaf, subleaf);
        if (slot === undefined) {
          problems.push({ kind: 'leaf-out-of-range', text: `${cannot}: ${describeOutOfRange(leaf, subleaf, f)}`, leaf, subleaf });
          continue;
        }
        Object.assign(slot, regs);
      }
    }
    if (msrs.length > f.limits.msrEntries) {
      problems.push({ kind: 'too-many-msrs', text: `${cannot}: ${msrs.length} MSR entries, more than the ${f.limits.msrEntries} it can hold` });
      return problems;
    }
    for (const m of msrs) {
      const known = f.msrs.find((k) => k.index === m.index >>> 0);
      const name = known?.name ?? `MSR ${hex32(m.index)}`;
      if (m.flags !== 0) {
        problems.push({ kind: 'msr-flags', text: `${cannot}: ${name} has flags ${hex32(m.flags)}, which must be zero`, msr: m.index >>> 0 });
      } else if (known === undefined) {
        problems.push({ kind: 'unknown-msr', text: `${cannot}: ${name} is not an MSR its policy holds (it holds ${f.msrs.map((k) => k.name).join(', ')})`, msr: m.index >>> 0 });
      } else if (known.bits < 64 && m.value >> BigInt(known.bits) !== 0n) {
        problems.push({
          kind: 'msr-too-wide',
          text: `${cannot}: ${name} value 0x${m.value.toString(16)} does not fit the ${known.bits} bits Xen keeps`,
          msr: m.index >>> 0,
        });
      } else if (known.index === 0xce) {
        this.platformInfo = Number(m.value);
      } else {
        this.archCaps = m.value;
      }
    }
    return problems;
  }

  /**
   * Zero what lies beyond the maximum leaves and subleaves, and beyond the cache and
   * topology terminators (themselves included), as x86_cpu_policy_clear_out_of_range_leaves
   * does before Xen accepts a toolstack's policy. Leaf 0xd goes whole when the policy
   * names no state component, subleaves 0 and 1 included.
   */
  clearOutOfRange(): void {
    const zeroFrom = (t: Regs[], from: number): void => {
      for (let i = Math.max(0, from); i < t.length; i++) t[i] = zero();
    };
    const max = this.maxLeaf;
    zeroFrom(this.basic, max + 1);
    const terminator = (t: Regs[], type: (r: Regs) => number): number => {
      let i = 0;
      while (i < t.length && type(t[i]!) !== 0) i++;
      return i;
    };
    zeroFrom(this.cache, max < 4 ? 0 : terminator(this.cache, (r) => r.eax & 0x1f));
    zeroFrom(this.feat, max < 7 ? 0 : this.featMaxSubleaf + 1);
    zeroFrom(this.topo, max < 0xb ? 0 : terminator(this.topo, (r) => (r.ecx >>> 8) & 0xff));
    const x = this.xstates;
    zeroFrom(this.xstate, max < 0xd || x === 0n ? 0 : Math.max(2, x.toString(2).length));
    zeroFrom(this.extd, (this.extdMaxLeaf & 0xffff) + 1);
  }

  /** The entries Xen writes for these tables, in its order (x86_cpuid_copy_to_buffer, x86_msr_copy_to_buffer). */
  serialise(): { cpuid: CpuidEntry[]; msrs: MsrEntry[] } {
    const out: CpuidEntry[] = [];
    const put = (leaf: number, subleaf: number, r: Regs): void => {
      out.push({ leaf, subleaf, eax: r.eax >>> 0, ebx: r.ebx >>> 0, ecx: r.ecx >>> 0, edx: r.edx >>> 0 });
    };
    const lastBasic = Math.min(this.maxLeaf, this.basic.length - 1);
    for (let leaf = 0; leaf <= lastBasic; leaf++) {
      switch (leaf) {
        case 0x4:
          // Up to and including the first subleaf of cache type 0 (eax[4:0]).
          for (let s = 0; s < this.cache.length; s++) {
            put(leaf, s, this.cache[s]!);
            if ((this.cache[s]!.eax & 0x1f) === 0) break;
          }
          break;
        case 0x7:
          for (let s = 0; s <= Math.min(this.featMaxSubleaf, this.feat.length - 1); s++) put(leaf, s, this.feat[s]!);
          break;
        case 0xb:
          // Up to and including the first subleaf of level type 0 (ecx[15:8]).
          for (let s = 0; s < this.topo.length; s++) {
            put(leaf, s, this.topo[s]!);
            if (((this.topo[s]!.ecx >>> 8) & 0xff) === 0) break;
          }
          break;
        case 0xd: {
          put(leaf, 0, this.xstate[0]!);
          put(leaf, 1, this.xstate[1]!);
          // Every subleaf from 2 up to the highest component named, named or not.
          let x = this.xstates >> 2n;
          for (let s = 2; x !== 0n && s < this.xstate.length; x >>= 1n, s++) put(leaf, s, this.xstate[s]!);
          break;
        }
        default:
          put(leaf, NO_SUBLEAF, this.basic[leaf]!);
      }
    }
    put(HV_LEAF, NO_SUBLEAF, { eax: this.hvLimit, ebx: 0, ecx: 0, edx: 0 });
    put(HV2_LEAF, NO_SUBLEAF, { eax: this.hv2Limit, ebx: 0, ecx: 0, edx: 0 });
    const lastExtd = Math.min(this.extdMaxLeaf & 0xffff, this.extd.length - 1);
    for (let i = 0; i <= lastExtd; i++) put((EXTD | i) >>> 0, NO_SUBLEAF, this.extd[i]!);
    const msrs: MsrEntry[] = [
      { index: 0xce, flags: 0, value: BigInt(this.platformInfo >>> 0) },
      { index: 0x10a, flags: 0, value: this.archCaps },
    ];
    return { cpuid: out, msrs };
  }
}

function describeOutOfRange(leaf: number, subleaf: number, f: XenFacts): string {
  const l = f.limits;
  const where = `CPUID leaf ${hex32(leaf)}${subleaf === NO_SUBLEAF ? '' : ` subleaf ${subleaf}`}`;
  const subTables: Record<number, [string, number]> = { 0x4: ['cache', l.cache], 0x7: ['feature', l.feat], 0xb: ['topology', l.topo], 0xd: ['XSAVE', l.xstate] };
  if (leaf < l.basic) {
    const t = subTables[leaf];
    if (t !== undefined) {
      return subleaf === NO_SUBLEAF
        ? `${where} has no subleaf; Xen keeps leaf ${hex32(leaf)} by subleaf (0-${t[1] - 1})`
        : `${where} is beyond the ${t[1]} ${t[0]} subleaves Xen keeps`;
    }
    return `${where}: Xen keeps leaf ${hex32(leaf)} without a subleaf`;
  }
  if (leaf >= EXTD && leaf < EXTD + l.extd) return `${where}: Xen keeps leaf ${hex32(leaf)} without a subleaf`;
  if (leaf === HV_LEAF || leaf === HV2_LEAF) return `${where}: Xen keeps leaf ${hex32(leaf)} without a subleaf`;
  if (leaf >= EXTD) return `${where} is beyond its extended leaves (up to ${hex32(EXTD + l.extd - 1)})`;
  if (leaf >= 0x40000000) return `${where} is a hypervisor leaf Xen does not keep (only the limits in ${hex32(HV_LEAF)} and ${hex32(HV2_LEAF)})`;
  return `${where} is beyond its basic leaves (up to ${hex32(l.basic - 1)})`;
}

/** Every reason Xen (of the given version, default the newest known) could not load this policy. */
export function loadProblems(policy: CpuPolicy | CpuPolicyData, version?: string): LoadProblem[] {
  const p = CpuPolicy.from(policy);
  return new XenPolicyTables(xenFacts(version)).load(p.cpuid, p.msrs);
}

/** Xen's tables for a policy, loaded as Xen loads it (entries Xen would refuse are left out). */
export function xenTables(policy: CpuPolicy | CpuPolicyData, version?: string): XenPolicyTables {
  const p = CpuPolicy.from(policy);
  const t = new XenPolicyTables(xenFacts(version));
  t.load(p.cpuid, p.msrs);
  return t;
}

/**
 * The X86_CPUID_POLICY and X86_MSR_POLICY entries libxc writes for this policy: every
 * in-range leaf in Xen's order (zero ones too), 0xce then 0x10a. A policy Xen could not
 * load is refused with the first reason.
 */
export function serialisePolicy(policy: CpuPolicy | CpuPolicyData, version?: string): { cpuid: CpuidEntry[]; msrs: MsrEntry[] } {
  const p = CpuPolicy.from(policy);
  const t = new XenPolicyTables(xenFacts(version));
  const problems = t.load(p.cpuid, p.msrs);
  if (problems.length > 0) throw new Error(problems[0]!.text);
  return t.serialise();
}
