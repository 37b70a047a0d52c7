/**
 * Feature dependencies as Xen applies them to every guest policy it is given
 * (recalculate_cpuid_policy -> sanitise_featureset): bits Xen does not know are
 * dropped, XSAVE goes when the maximum basic leaf is below 0xd, and when a feature is
 * absent every feature that depends on it, directly or not, is hidden too (the deep
 * dependencies gen-cpuid.py derives from its `deps` table, kept in data/xen).
 */
import { type Featureset } from './featureset.js';
import { type XenFacts, xenFacts } from './xen-versions.js';

export interface HiddenFeature {
  /** The feature's name, or "word W bit B" for a bit the version does not name. */
  feature: string;
  word: number;
  bit: number;
  /** Why Xen hides it, e.g. "its dependency XSAVE is absent". */
  because: string;
  /** The absent prerequisite, when that is the reason. */
  dependency?: string;
}

const XSTATE_LEAF = 0xd;

function nameOf(fs: Featureset, word: number, bit: number): string {
  return fs.byPosition.get(word * 32 + bit)?.name ?? `word ${word} bit ${bit}`;
}

/**
 * The featureset Xen would leave of `words` for a policy whose maximum basic leaf is
 * `maxBasicLeaf`, and what it removed, in featureset order.
 */
export function sanitiseFeatureset(
  words: readonly number[],
  maxBasicLeaf: number,
  version?: string,
): { words: number[]; hidden: HiddenFeature[] } {
  const facts: XenFacts = xenFacts(version);
  const fs = facts.featureset;
  const out = fs.words.map((_, i) => (words[i] ?? 0) >>> 0);
  const hidden: HiddenFeature[] = [];
  const clear = (word: number, bit: number, because: string, dependency?: string): void => {
    if (((out[word]! >>> bit) & 1) === 0) return;
    out[word] = (out[word]! & ~(1 << bit)) >>> 0;
    const h: HiddenFeature = { feature: nameOf(fs, word, bit), word, bit, because };
    if (dependency !== undefined) h.dependency = dependency;
    hidden.push(h);
  };
  const e1d = fs.words.findIndex((w) => w.kind === 'cpuid' && w.leaf === 0x80000001 && w.reg === 'edx');
  for (let w = 0; w < out.length; w++) {
    for (let b = 0; b < 32; b++) {
      // AMD's copies of leaf 1 features in 0x80000001 edx are unnamed there, but Xen puts them back from leaf 1.
      if (w === e1d && ((facts.common1d >>> b) & 1) !== 0) continue;
      if (((out[w]! >>> b) & 1) !== 0 && !fs.byPosition.has(w * 32 + b)) clear(w, b, `not a feature Xen ${facts.version} knows`);
    }
  }
  const xsave = fs.byName.get('XSAVE');
  if (xsave !== undefined && maxBasicLeaf >>> 0 < XSTATE_LEAF) {
    clear(xsave.word, xsave.bit, `the maximum basic leaf 0x${(maxBasicLeaf >>> 0).toString(16)} is below 0xd`);
  }
  // Absent features with dependants, in featureset order, as sanitise_featureset walks them.
  const roots = [...facts.deepDeps.keys()]
    .map((n) => fs.byName.get(n)!)
    .filter((f) => f !== undefined)
    .sort((a, b) => a.word * 32 + a.bit - (b.word * 32 + b.bit));
  for (const root of roots) {
    if (((out[root.word]! >>> root.bit) & 1) !== 0) continue;
    for (const dep of facts.deepDeps.get(root.name) ?? []) {
      if (dep >> 5 < out.length) clear(dep >> 5, dep & 31, `its dependency ${root.name} is absent`, root.name);
    }
  }
  hidden.sort((a, b) => a.word * 32 + a.bit - (b.word * 32 + b.bit));
  return { words: out, hidden };
}

/** "AVX: its dependency XSAVE is absent; Xen will hide it" */
export function describeHidden(h: HiddenFeature, version?: string): string {
  return `${h.feature}: ${h.because}; Xen${version ? ` ${version}` : ''} will hide it`;
}
