/**
 * What a policy says, decoded for people (`policy show`) and for scripts (`--json`):
 * vendor and signature, maximum leaves, every featureset word with its features by
 * name, the XSAVE components, and the MSRs bit by bit.
 */
import { describeWordSource, featureset, hex32 } from './featureset.js';
import { CpuPolicy, LEAF_EXTENDED_BASE, MSR_ARCH_CAPABILITIES, MSR_INTEL_PLATFORM_INFO, PLATFORM_INFO_BITS, type XsaveComponent, xstateName } from './policy.js';
import { msrName } from './compat.js';

export interface WordSummary {
  word: number;
  source: string;
  value: string;
  features: string[];
  /** Set bits the featureset does not name. */
  unnamedBits: number[];
}

export interface MsrSummary {
  index: string;
  name: string;
  value: string;
  bits: string[];
}

export interface PolicySummary {
  vendor: string;
  vendorId: string;
  family: number;
  model: number;
  stepping: number;
  signature: string;
  brand?: string;
  maxBasicLeaf: string;
  maxFeatureSubleaf: number;
  maxExtendedLeaf: string;
  featureCount: number;
  words: WordSummary[];
  xsave: { xcr0: string; xss: string; components: string[]; maxSize: number; sizes: XsaveComponent[] };
  msrs: MsrSummary[];
}

function brandString(p: CpuPolicy): string | undefined {
  if (p.maxExtendedLeaf < LEAF_EXTENDED_BASE + 4) return undefined;
  const buf = Buffer.alloc(48);
  for (let i = 0; i < 3; i++) {
    const l = p.leaf(LEAF_EXTENDED_BASE + 2 + i);
    [l.eax, l.ebx, l.ecx, l.edx].forEach((v, r) => buf.writeUInt32LE(v >>> 0, i * 16 + r * 4));
  }
  const s = buf.toString('latin1').replace(/\0+$/, '').trim();
  return s === '' ? undefined : s;
}

function bitsOf64(value: bigint): number[] {
  const out: number[] = [];
  for (let i = 0; i < 64; i++) if ((value >> BigInt(i)) & 1n) out.push(i);
  return out;
}

function msrBitNames(index: number, value: bigint): string[] {
  const fs = featureset();
  return bitsOf64(value).map((bit) => {
    if (index === MSR_INTEL_PLATFORM_INFO) return PLATFORM_INFO_BITS.get(bit) ?? `<${bit}>`;
    for (const src of fs.words) {
      if (src.kind !== 'msr' || src.msr !== index) continue;
      const local = bit - (src.half === 'hi' ? 32 : 0);
      if (local < 0 || local > 31) continue;
      const f = fs.byPosition.get(src.word * 32 + local);
      if (f !== undefined) return f.name;
    }
    return `<${bit}>`;
  });
}

export function summarizePolicy(policy: CpuPolicy): PolicySummary {
  const fs = featureset();
  const { family, model, stepping } = policy.signature;
  const words: WordSummary[] = fs.words.map((src) => {
    const value = policy.words[src.word] ?? 0;
    const features: string[] = [];
    const unnamedBits: number[] = [];
    for (let bit = 0; bit < 32; bit++) {
      if ((value & (1 << bit)) === 0) continue;
      const f = fs.byPosition.get(src.word * 32 + bit);
      if (f !== undefined) features.push(f.name);
      else unnamedBits.push(bit);
    }
    return { word: src.word, source: describeWordSource(src), value: hex32(value), features, unnamedBits };
  });
  const x = policy.xsave;
  const components: string[] = [];
  for (let i = 0; i < 64; i++) if (((x.xcr0 | x.xss) >> BigInt(i)) & 1n) components.push(xstateName(i));
  const summary: PolicySummary = {
    vendor: policy.vendor,
    vendorId: policy.vendorId,
    family,
    model,
    stepping,
    signature: hex32(policy.leaf(1).eax),
    maxBasicLeaf: hex32(policy.maxBasicLeaf),
    maxFeatureSubleaf: policy.maxFeatureSubleaf,
    maxExtendedLeaf: hex32(policy.maxExtendedLeaf),
    featureCount: words.reduce((n, w) => n + w.features.length, 0),
    words,
    xsave: { xcr0: `0x${x.xcr0.toString(16)}`, xss: `0x${x.xss.toString(16)}`, components, maxSize: x.maxSize, sizes: x.components },
    msrs: policy.msrs.map((m) => ({
      index: hex32(m.index),
      name: msrName(m.index),
      value: `0x${m.value.toString(16).padStart(16, '0')}`,
      bits: m.index === MSR_INTEL_PLATFORM_INFO || m.index === MSR_ARCH_CAPABILITIES ? msrBitNames(m.index, m.value) : [],
    })),
  };
  const brand = brandString(policy);
  if (brand !== undefined) summary.brand = brand;
  return summary;
}

/** `policy show` text for one policy. */
export function formatPolicySummary(name: string, s: PolicySummary): string {
  const lines: string[] = [];
  lines.push(`${name} policy: ${s.vendor} (${s.vendorId.trim() || 'no vendor'}), family ${s.family} (0x${s.family.toString(16)}) model ${s.model} (0x${s.model.toString(16)}) stepping ${s.stepping}`);
  if (s.brand) lines.push(`  brand: ${s.brand}`);
  lines.push(`  max leaves: basic ${s.maxBasicLeaf}, structured features subleaf ${s.maxFeatureSubleaf}, extended ${s.maxExtendedLeaf}`);
  lines.push(`  features (${s.featureCount}):`);
  const width = Math.max(...s.words.map((w) => w.source.length));
  for (const w of s.words) {
    const names = [...w.features, ...w.unnamedBits.map((b) => `<${b}>`)];
    lines.push(`    [${String(w.word).padStart(2, '0')}] ${w.source.padEnd(width)}  ${w.value}  ${names.join(' ') || '-'}`);
  }
  lines.push(`  XSAVE: XCR0 ${s.xsave.xcr0}, XSS ${s.xsave.xss}, area ${s.xsave.maxSize} bytes${s.xsave.components.length ? `: ${s.xsave.components.join(' ')}` : ''}`);
  for (const c of s.xsave.sizes) {
    lines.push(`    component ${String(c.index).padStart(2)} ${c.name.padEnd(10)} ${String(c.size).padStart(5)} bytes at offset ${c.offset}${c.supervisor ? ' (XSS)' : ''}${c.align64 ? ' (64-byte aligned)' : ''}`);
  }
  lines.push(`  MSRs:${s.msrs.length === 0 ? ' none' : ''}`);
  for (const m of s.msrs) lines.push(`    ${m.name} (${m.index}) = ${m.value}${m.bits.length ? `: ${m.bits.join(' ')}` : ''}`);
  return lines.join('\n') + '\n';
}
