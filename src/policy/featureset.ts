/**
 * Xen's featureset: which CPUID register (or MSR half) each 32-bit word comes from, and
 * every named feature bit with its attributes, per Xen version. The tables are
 * data/xen/<version>.json, read once from the package so that a new Xen feature is a data
 * change, not a code one.
 */
import { NO_SUBLEAF, type FeatureInfo, type Featureset, type WordSource } from './featureset-table.js';
import { xenFacts } from './xen-versions.js';

export * from './featureset-table.js';

/**
 * The featureset of one Xen version (data/xen/<version>.json); without a version, the
 * newest Xen xenmig knows.
 */
export function featureset(version?: string): Featureset {
  return xenFacts(version).featureset;
}

export function featureByName(name: string, version?: string): FeatureInfo | undefined {
  return featureset(version).byName.get(name.toUpperCase());
}

/** "CPUID 0x00000007:0.ebx" or "MSR 0x0000010a[31:0]": where a word's bits live. */
export function describeWordSource(src: WordSource): string {
  if (src.kind === 'msr') return `MSR ${hex32(src.msr)}${src.half === 'lo' ? '[31:0]' : '[63:32]'}`;
  const sub = src.subleaf === NO_SUBLEAF ? '' : `:${src.subleaf.toString(16)}`;
  return `CPUID ${hex32(src.leaf)}${sub}.${src.reg}`;
}

export function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}
