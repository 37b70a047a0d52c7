/**
 * The shape of Xen's featureset and how it is built from a version's table; the tables
 * themselves are read by xen-versions.ts (which featureset.ts asks for a version's set:
 * both import this file, neither the other's builder, so the imports have no circle).
 */
/** Xen's "no subleaf" marker (XEN_CPUID_NO_SUBLEAF). */
export const NO_SUBLEAF = 0xffffffff;

export type Register = 'eax' | 'ebx' | 'ecx' | 'edx';
export const REGISTERS: readonly Register[] = ['eax', 'ebx', 'ecx', 'edx'];

export type WordSource =
  | { word: number; kind: 'cpuid'; leaf: number; subleaf: number; reg: Register }
  | { word: number; kind: 'msr'; msr: number; half: 'lo' | 'hi' };

/** Who may see a feature by default or on request (Xen's 'A', 'S', 'H' and lower case). */
export type Applicability = 'all' | 'hvm' | 'hap' | 'none';

export interface FeatureInfo {
  name: string;
  word: number;
  bit: number;
  description: string;
  /** The attribute characters as Xen's header writes them, e.g. "!A|". */
  flags: string;
  applicability: Applicability;
  /** Upper case applicability letter: offered unless the toolstack says otherwise. */
  byDefault: boolean;
  /** '!': not a plain indication of functionality; Xen may override it. */
  special: boolean;
  /** '|': visible if any host of a pool has it, so it accumulates when levelling. */
  accumulate: boolean;
}

export interface Featureset {
  words: WordSource[];
  features: FeatureInfo[];
  byName: ReadonlyMap<string, FeatureInfo>;
  /** Key `word * 32 + bit`. */
  byPosition: ReadonlyMap<number, FeatureInfo>;
  /** Per word: the bits whose features accumulate ('|'). */
  accumulateMask: readonly number[];
  attributes: Readonly<Record<string, string>>;
  source: string;
}

export interface RawTable {
  source: string;
  attributes: Record<string, string>;
  words: Array<{ word: number; source: string; leaf?: number; subleaf?: number | null; reg?: string; msr?: number; half?: string }>;
  features: Array<{ name: string; word: number; bit: number; flags: string; description: string }>;
}

function applicabilityOf(flags: string): { applicability: Applicability; byDefault: boolean } {
  for (const ch of flags) {
    switch (ch) {
      case 'A': return { applicability: 'all', byDefault: true };
      case 'a': return { applicability: 'all', byDefault: false };
      case 'S': return { applicability: 'hvm', byDefault: true };
      case 's': return { applicability: 'hvm', byDefault: false };
      case 'H': return { applicability: 'hap', byDefault: true };
      case 'h': return { applicability: 'hap', byDefault: false };
    }
  }
  return { applicability: 'none', byDefault: false };
}

/** Builds the lookup tables from the JSON table's shape; exported for tests with small tables. */
export function buildFeatureset(raw: RawTable): Featureset {
  const words: WordSource[] = raw.words.map((w) => {
    if (w.source === 'msr') {
      const half = w.half === 'edx' || w.half === 'hi' ? 'hi' : 'lo';
      return { word: w.word, kind: 'msr', msr: w.msr ?? 0, half };
    }
    const reg = (w.reg ?? 'eax') as Register;
    if (!REGISTERS.includes(reg)) throw new Error(`cpufeatureset: word ${w.word} has register ${w.reg}`);
    return { word: w.word, kind: 'cpuid', leaf: w.leaf ?? 0, subleaf: w.subleaf ?? NO_SUBLEAF, reg };
  });
  const accumulateMask = new Array<number>(words.length).fill(0);
  const features: FeatureInfo[] = raw.features.map((f) => {
    // Xen numbers bits of a 64-bit MSR across its two words (16*32+62 is word 17, bit 30).
    const abs = f.word * 32 + f.bit;
    const word = Math.floor(abs / 32);
    const bit = abs % 32;
    const info: FeatureInfo = {
      name: f.name,
      word,
      bit,
      description: f.description,
      flags: f.flags,
      ...applicabilityOf(f.flags),
      special: f.flags.includes('!'),
      accumulate: f.flags.includes('|'),
    };
    if (info.accumulate && word < accumulateMask.length) accumulateMask[word] = (accumulateMask[word]! | (1 << bit)) >>> 0;
    return info;
  });
  return {
    words,
    features,
    byName: new Map(features.map((f) => [f.name, f])),
    byPosition: new Map(features.map((f) => [f.word * 32 + f.bit, f])),
    accumulateMask,
    attributes: raw.attributes,
    source: raw.source,
  };
}
