/**
 * Levelling: the policy a guest may be given so that it can move freely between all of
 * a set of hosts. Every register is combined by an operation that is commutative,
 * associative and idempotent, so the order of the hosts never matters and levelling a
 * levelled policy again changes nothing:
 * - featureset words: AND, except Xen's '|' features, which accumulate (OR);
 * - XCR0 and XSS component masks, MSR bits: AND (ARCH_CAPABILITIES' '|' bits: OR);
 * - everything else (maximum leaves, sizes, family/model, cache and topology data): the
 *   smallest value, so no limit exceeds any host's;
 * - the brand string: whole, from the host whose brand sorts first.
 * A leaf missing from a host counts as zero, as xen-cpuid prints it.
 */
import { RefusedError } from '../format/errors.js';
import type { CpuidEntry, MsrEntry } from '../format/records.js';
import { NO_SUBLEAF, REGISTERS, type Register, featureset } from './featureset.js';
import { CpuPolicy, LEAF_EXTENDED_BASE, MSR_ARCH_CAPABILITIES } from './policy.js';
import { type HiddenFeature, sanitiseFeatureset } from './deps.js';
import { XenPolicyTables } from './serialise.js';
import { xenFacts } from './xen-versions.js';

/** Leaves whose subleaf matters in Xen's policy; every other leaf has no subleaf. */
const SUBLEAF_LEAVES = new Set([0x4, 0x7, 0xb, 0xd]);
/** XSAVE area: the legacy region and the header come before any component. */
const XSAVE_LEGACY_AND_HEADER = 512 + 64;

type Combine = 'and' | 'min' | { andOr: number };

function canonicalKey(leaf: number, subleaf: number): [number, number] {
  if (SUBLEAF_LEAVES.has(leaf)) return [leaf, subleaf === NO_SUBLEAF ? 0 : subleaf];
  return [leaf, NO_SUBLEAF];
}

function combineRule(leaf: number, subleaf: number, reg: Register, version: string): Combine {
  const fs = featureset(version);
  for (const src of fs.words) {
    if (src.kind !== 'cpuid' || src.leaf !== leaf || src.reg !== reg) continue;
    const [, s] = canonicalKey(src.leaf, src.subleaf);
    if (s === subleaf) return { andOr: fs.accumulateMask[src.word] ?? 0 };
  }
  if (leaf === 0xd && subleaf === 0 && (reg === 'eax' || reg === 'edx')) return 'and';
  if (leaf === 0xd && subleaf === 1 && (reg === 'ecx' || reg === 'edx')) return 'and';
  return 'min';
}

function combine(rule: Combine, values: number[]): number {
  if (rule === 'min') return Math.min(...values.map((v) => v >>> 0));
  const and = values.reduce((a, v) => a & v, 0xffffffff) >>> 0;
  if (rule === 'and') return and;
  const or = values.reduce((a, v) => a | v, 0) >>> 0;
  return ((and & ~rule.andOr) | (or & rule.andOr)) >>> 0;
}

function combineMsr(index: number, values: bigint[], version: string): bigint {
  const and = values.reduce((a, v) => a & v, 0xffffffffffffffffn);
  if (index !== MSR_ARCH_CAPABILITIES) return and;
  const fs = featureset(version);
  let acc = 0n;
  for (const src of fs.words) {
    if (src.kind === 'msr' && src.msr === index) acc |= BigInt(fs.accumulateMask[src.word] ?? 0) << (src.half === 'hi' ? 32n : 0n);
  }
  const or = values.reduce((a, v) => a | v, 0n);
  return (and & ~acc) | (or & acc);
}

const BRAND_FIRST = LEAF_EXTENDED_BASE + 2;
const BRAND_LAST = LEAF_EXTENDED_BASE + 4;

/**
 * The brand string spans three leaves and reads as one; mixing hosts' registers would
 * garble it, so it comes whole from the host whose brand leaves sort first.
 */
function brandSource(hosts: readonly CpuPolicy[]): CpuPolicy {
  const tuple = (h: CpuPolicy): number[] =>
    [BRAND_FIRST, BRAND_FIRST + 1, BRAND_LAST].flatMap((l) => REGISTERS.map((r) => h.leaf(l)[r] >>> 0));
  const cmp = (a: number[], b: number[]): number => {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return 0;
  };
  return hosts.reduce((best, h) => (cmp(tuple(h), tuple(best)) < 0 ? h : best));
}

const isZero = (e: CpuidEntry): boolean => e.eax === 0 && e.ebx === 0 && e.ecx === 0 && e.edx === 0;

export interface LevelOptions {
  /** The Xen version of the pool (feature table, attributes, dependencies, limits); default the newest known. */
  xen?: string;
}

export interface LevelResult {
  /** The levelled policy, in the form Xen serialises it (every in-range leaf, both MSRs). */
  policy: CpuPolicy;
  /** Features the hosts had in common that Xen would hide anyway, and why; the policy no longer has them. */
  removed: HiddenFeature[];
  xen: string;
}

/**
 * The levelled policy of one or more hosts of one vendor. Hosts of different vendors
 * cannot share a guest, so that is refused with the vendors named.
 */
export function levelPolicies(hosts: readonly CpuPolicy[], opts: LevelOptions = {}): CpuPolicy {
  return levelPoliciesDetailed(hosts, opts).policy;
}

/** XSAVE components and the feature each needs (Xen's recalculate_xstate). */
const XSTATE_FEATURE: ReadonlyArray<[number, string]> = [
  [2, 'AVX'], [3, 'MPX'], [4, 'MPX'], [5, 'AVX512F'], [6, 'AVX512F'], [7, 'AVX512F'], [9, 'PKU'],
];

/**
 * levelPolicies, and what it took away beyond the intersection: the result is then
 * sanitised as Xen's recalculate_cpuid_policy would sanitise it (maximum leaves clamped
 * to Xen's tables, out-of-range leaves cleared, XSAVE only with leaf 0xd, deep
 * dependencies), so that the policy Xen gives the guest is the one written.
 */
export function levelPoliciesDetailed(hosts: readonly CpuPolicy[], opts: LevelOptions = {}): LevelResult {
  const facts = xenFacts(opts.xen);
  const version = facts.version;
  if (hosts.length === 0) throw new RefusedError('nothing to level: no host policies given');
  const vendors = [...new Set(hosts.map((h) => h.vendor))];
  if (new Set(hosts.map((h) => h.vendorId)).size > 1) {
    throw new RefusedError(`cannot level hosts of different vendors (${vendors.join(', ')})`, [
      'a guest cannot move between CPU vendors; level each vendor separately',
    ]);
  }
  const keys = new Map<string, [number, number]>();
  for (const h of hosts) {
    for (const e of h.cpuid) {
      const k = canonicalKey(e.leaf, e.subleaf);
      keys.set(`${k[0]}:${k[1]}`, k);
    }
  }
  const sorted = [...keys.values()].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const brand = brandSource(hosts);
  let entries: CpuidEntry[] = sorted.map(([leaf, subleaf]) => {
    if (leaf >= BRAND_FIRST && leaf <= BRAND_LAST) return { ...brand.leaf(leaf), leaf, subleaf };
    const regs = hosts.map((h) => h.leaf(leaf, subleaf));
    const out: CpuidEntry = { leaf, subleaf, eax: 0, ebx: 0, ecx: 0, edx: 0 };
    for (const reg of REGISTERS) out[reg] = combine(combineRule(leaf, subleaf, reg, version), regs.map((r) => r[reg]));
    return out;
  });

  const msrIndices = [...new Set(hosts.flatMap((h) => h.msrs.map((m) => m.index)))].sort((a, b) => a - b);
  const msrs: MsrEntry[] = msrIndices.map((index) => ({
    index,
    flags: 0,
    value: combineMsr(index, hosts.map((h) => h.msr(index)), version),
  }));

  // Clamp the maximum leaves to what Xen's tables hold (recalculate_cpuid_policy).
  const limits = facts.limits;
  const vendor = hosts[0]!.vendor;
  const extdLimit = vendor === 'AMD' || vendor === 'Hygon' ? limits.extdAmd : limits.extdIntel;
  for (const e of entries) {
    if (e.leaf === 0) e.eax = Math.min(e.eax >>> 0, limits.basic - 1);
    if (e.leaf === 7 && e.subleaf === 0) e.eax = Math.min(e.eax >>> 0, limits.feat - 1);
    if (e.leaf === LEAF_EXTENDED_BASE && e.eax !== 0) e.eax = (LEAF_EXTENDED_BASE | Math.min(e.eax & 0xffff, extdLimit - 1)) >>> 0;
  }
  let draft = new CpuPolicy(entries, msrs);

  // Features Xen would hide: write the sanitised featureset back where each word lives.
  const { words, hidden } = sanitiseFeatureset(draft.words, draft.maxBasicLeaf, version);
  const fs = featureset(version);
  for (const src of fs.words) {
    const value = words[src.word]!;
    if (src.kind === 'msr') {
      const m = msrs.find((x) => x.index === src.msr);
      if (m === undefined) continue;
      const shift = src.half === 'hi' ? 32n : 0n;
      m.value = (m.value & ~(0xffffffffn << shift)) | (BigInt(value) << shift);
    } else if (draft.wordValue(src) !== value) {
      const [leaf, subleaf] = canonicalKey(src.leaf, src.subleaf);
      const e = entries.find((x) => x.leaf === leaf && x.subleaf === subleaf);
      if (e !== undefined) e[src.reg] = value;
    }
  }
  // XSAVE state follows the features (recalculate_xstate): none without XSAVE, and no
  // component whose feature is gone.
  const has = (name: string): boolean => {
    const f = fs.byName.get(name);
    return f !== undefined && ((words[f.word]! >>> f.bit) & 1) !== 0;
  };
  if (!has('XSAVE')) {
    entries = entries.filter((e) => e.leaf !== 0xd);
  } else {
    for (const [component, feature] of XSTATE_FEATURE) {
      if (has(feature)) continue;
      for (const e of entries) {
        if (e.leaf === 0xd && e.subleaf === 0) e.eax = (e.eax & ~(1 << component)) >>> 0;
        if (e.leaf === 0xd && e.subleaf === 1) e.ecx = (e.ecx & ~(1 << component)) >>> 0;
      }
    }
  }
  draft = new CpuPolicy(entries, []);
  const maxBasic = draft.maxBasicLeaf;
  const maxExt = draft.maxExtendedLeaf;
  const maxSub = draft.maxFeatureSubleaf;
  const components = draft.xsave.xcr0 | draft.xsave.xss;
  let xsaveEnd = XSAVE_LEGACY_AND_HEADER;
  entries = entries.filter((e) => {
    if (e.leaf < 0x40000000 && e.leaf > maxBasic) return false;
    if (e.leaf >= LEAF_EXTENDED_BASE && e.leaf > maxExt) return false;
    if (e.leaf === 7 && e.subleaf > maxSub) return false;
    if (e.leaf === 0xd && e.subleaf >= 2) {
      if (e.subleaf >= 63 || ((components >> BigInt(e.subleaf)) & 1n) === 0n) return false;
      if (((draft.xsave.xcr0 >> BigInt(e.subleaf)) & 1n) !== 0n) xsaveEnd = Math.max(xsaveEnd, e.eax + e.ebx);
    }
    return e.leaf === 0 || !isZero(e);
  });
  // The XSAVE area need be no larger than the components left enabled.
  const d0 = entries.find((e) => e.leaf === 0xd && e.subleaf === 0);
  if (d0 !== undefined && d0.eax !== 0) d0.ecx = Math.min(d0.ecx, xsaveEnd) >>> 0;

  const levelled = new CpuPolicy(entries, msrs);
  // Written as Xen holds and writes it, with nothing left beyond the maximum leaves or the
  // terminators; a result Xen could not load is left as built.
  const tables = new XenPolicyTables(facts);
  if (tables.load(levelled.cpuid, levelled.msrs).length > 0) return { policy: levelled, removed: hidden, xen: version };
  tables.clearOutOfRange();
  return { policy: new CpuPolicy(...toPair(tables.serialise())), removed: hidden, xen: version };
}

function toPair(p: { cpuid: CpuidEntry[]; msrs: MsrEntry[] }): [CpuidEntry[], MsrEntry[]] {
  return [p.cpuid, p.msrs];
}
