/** Builders for minimal pairs of CPU policies: one change at a time to a known policy. */
import type { CpuidEntry, MsrEntry } from '../../src/format/records.js';
import { CpuPolicy, NO_SUBLEAF, type WordSource, featureByName, featureset } from '../../src/policy/index.js';

type RegName = 'eax' | 'ebx' | 'ecx' | 'edx';

/** A copy of `p` with one leaf's registers changed (the leaf is added if absent). */
export function withLeaf(p: CpuPolicy, leaf: number, subleaf: number, regs: Partial<Record<RegName, number>>): CpuPolicy {
  const entries: CpuidEntry[] = p.cpuid.map((e) => ({ ...e }));
  let e = entries.find((x) => x.leaf === leaf && x.subleaf === subleaf);
  if (e === undefined) {
    e = { leaf, subleaf, eax: 0, ebx: 0, ecx: 0, edx: 0 };
    entries.push(e);
  }
  Object.assign(e, regs);
  return new CpuPolicy(entries, p.msrs);
}

/** A copy of `p` with one MSR's value changed (added if absent). */
export function withMsr(p: CpuPolicy, index: number, value: bigint): CpuPolicy {
  const msrs: MsrEntry[] = p.msrs.map((m) => ({ ...m }));
  const m = msrs.find((x) => x.index === index);
  if (m === undefined) msrs.push({ index, flags: 0, value });
  else m.value = value;
  return new CpuPolicy(p.cpuid, msrs);
}

/** A copy of `p` with a named feature set or cleared, wherever its word lives. */
export function withFeature(p: CpuPolicy, name: string, on: boolean): CpuPolicy {
  const f = featureByName(name);
  if (f === undefined) throw new Error(`no feature ${name}`);
  const src = wordSource(f.word);
  if (src.kind === 'msr') {
    const shift = BigInt(f.bit + (src.half === 'hi' ? 32 : 0));
    const v = p.msr(src.msr);
    return withMsr(p, src.msr, on ? v | (1n << shift) : v & ~(1n << shift));
  }
  const cur = p.leaf(src.leaf, src.subleaf)[src.reg];
  const next = (on ? cur | (1 << f.bit) : cur & ~(1 << f.bit)) >>> 0;
  const subleaf = p.hasLeaf(src.leaf, src.subleaf) || src.subleaf !== NO_SUBLEAF ? src.subleaf : 0;
  return withLeaf(p, src.leaf, subleaf, { [src.reg]: next });
}

function wordSource(word: number): WordSource {
  const src = featureset().words[word];
  if (src === undefined) throw new Error(`no word ${word}`);
  return src;
}

/** The smallest policy that names a vendor: leaf 0 only. */
export function vendorOnly(vendor: 'Intel' | 'AMD', maxLeaf = 0xd): CpuPolicy {
  const v = vendor === 'Intel' ? [0x756e6547, 0x6c65746e, 0x49656e69] : [0x68747541, 0x444d4163, 0x69746e65];
  return new CpuPolicy(
    [
      { leaf: 0, subleaf: NO_SUBLEAF, eax: maxLeaf, ebx: v[0]!, ecx: v[1]!, edx: v[2]! },
      { leaf: 0x80000000, subleaf: NO_SUBLEAF, eax: 0x80000008, ebx: v[0]!, ecx: v[1]!, edx: v[2]! },
    ],
    [],
  );
}
