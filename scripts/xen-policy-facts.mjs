#!/usr/bin/env node
/**
 * Extracts facts (not code) about one Xen version's CPU policy from a Xen git repository
 * and prints them as JSON for data/xen/<major>.<minor>.json:
 * - feature names, featureset word/bit and attribute characters
 *   (xen/include/public/arch-x86/cpufeatureset.h);
 * - where each featureset word comes from (FEATURESET_* in
 *   xen/include/xen/lib/x86/cpu-policy.h);
 * - the policy table sizes (CPUID_GUEST_NR_*, MSR_MAX_SERIALISED_ENTRIES, same header);
 * - the direct feature dependencies (the `deps` table of xen/tools/gen-cpuid.py), as
 *   names: the key is a prerequisite of every name in its list (a bit with no name yet,
 *   inside a range such as ARCH_CAPS's, is given as its number, word * 32 + bit).
 *
 *   node scripts/xen-policy-facts.mjs /path/to/xen.git stable-4.17 > data/xen/4.17.json
 *
 * The MSRs Xen's policy holds and their widths (platform_info: 32 bits, arch_caps: 64)
 * are read from the same header and written by hand in the "msrs" list below; they have
 * been the same from 4.17 to master.
 */
import { execFileSync } from 'node:child_process';

const [repo, ref] = process.argv.slice(2);
if (!repo || !ref) {
  process.stderr.write('usage: xen-policy-facts.mjs XEN_GIT_DIR REF\n');
  process.exit(2);
}
const git = (...args) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
const show = (path) => git('show', `${ref}:${path}`);
const commit = git('rev-parse', `${ref}^{commit}`).trim();

const makefile = show('xen/Makefile');
const major = Number(/^export XEN_VERSION\s*=\s*(\d+)/m.exec(makefile)[1]);
const minor = Number(/^export XEN_SUBVERSION\s*=\s*(\d+)/m.exec(makefile)[1]);

const FS_H = 'xen/include/public/arch-x86/cpufeatureset.h';
const POLICY_H = 'xen/include/xen/lib/x86/cpu-policy.h';
const GEN = 'xen/tools/gen-cpuid.py';

const features = [];
for (const m of show(FS_H).matchAll(/^XEN_CPUFEATURE\(([A-Z0-9_]+),\s*(\d+)\s*\*\s*32\s*\+\s*(\d+)\s*\)\s*\/\*([A-Za-z!|]*)\s+(.*?)\s*(?:\*\/)?\s*$/gm)) {
  const abs = Number(m[2]) * 32 + Number(m[3]);
  features.push({ name: m[1], word: abs >> 5, bit: abs & 31, flags: m[4], description: m[5].replace(/\s*\*\/$/, '') });
}

const policyH = show(POLICY_H);
const words = [];
for (const m of policyH.matchAll(/^#define FEATURESET_\w+\s+(\d+)\s*\/\*\s*0x([0-9a-f]{8})(?::(\d+))?\.(e[abcd]x)\s*\*\//gm)) {
  const word = Number(m[1]);
  const n = parseInt(m[2], 16);
  if (n === 0x10a) words.push({ word, source: 'msr', msr: n, half: m[4] });
  else words.push({ word, source: 'cpuid', leaf: n, subleaf: m[3] === undefined ? null : Number(m[3]), reg: m[4] });
}
const nr = (name) => {
  const m = new RegExp(`#define ${name}\\s+\\((0x[0-9a-f]+|\\d+)u \\+ 1\\)`).exec(policyH);
  return Number(m[1]) + 1;
};
const limits = {
  basic: nr('CPUID_GUEST_NR_BASIC'),
  cache: nr('CPUID_GUEST_NR_CACHE'),
  feat: nr('CPUID_GUEST_NR_FEAT'),
  topo: nr('CPUID_GUEST_NR_TOPO'),
  xstate: nr('CPUID_GUEST_NR_XSTATE'),
  extdIntel: nr('CPUID_GUEST_NR_EXTD_INTEL'),
  extdAmd: nr('CPUID_GUEST_NR_EXTD_AMD'),
  msrEntries: Number(/#define MSR_MAX_SERIALISED_ENTRIES (\d+)/.exec(policyH)[1]),
};
limits.extd = Math.max(limits.extdIntel, limits.extdAmd);
// Leaves 0x40000000 and 0x40000100 keep only eax, in a field this wide (silently truncated).
limits.hvLimitBits = Number(/uint(\d+)_t hv_limit, hv2_limit;/.exec(policyH)[1]);
limits.serialisedLeaves = limits.basic + limits.feat - 1 + limits.cache - 1 + limits.topo - 1 + limits.xstate - 1 + limits.extd + 2;

// gen-cpuid.py's deps table: `deps = { A: [B, C], ... }`, Python names for features
// (a leading '_' for names starting with a digit), occasionally a range of bits.
const gen = show(GEN);
const body = /\n    deps = \{\n([\s\S]*?)\n    \}\n/.exec(gen)[1].replace(/#.*$/gm, '');
const byName = new Map(features.map((f) => [f.name, f]));
const byAbs = new Map(features.map((f) => [f.word * 32 + f.bit, f.name]));
const pyName = (s) => s.trim().replace(/^_(?=\d)/, '');
const deps = {};
for (const m of body.matchAll(/([A-Z0-9_]+)\s*:\s*(\[[^\]]*\]|(?:list\(range|feat_range)\([^)]*\)\)?)/g)) {
  const key = pyName(m[1]);
  if (!byName.has(key)) throw new Error(`${GEN}: unknown feature ${key}`);
  let names;
  const range = /(?:range|feat_range)\(\s*([A-Z0-9_]+)\s*,\s*([A-Z0-9_]+)\s*\+\s*(\d+)\s*\)/.exec(m[2]);
  if (range) {
    // list(range(A, A + n)) is n bits from A; feat_range(A, A + n) includes A + n.
    const start = byName.get(pyName(range[1]));
    const a = start.word * 32 + start.bit;
    const n = Number(range[3]) + (m[2].startsWith('feat_range') ? 1 : 0);
    // Bits no feature is named for yet are dependants too: they appear as numbers (word * 32 + bit).
    names = [];
    for (let i = a; i < a + n; i++) names.push(byAbs.get(i) ?? i);
  } else {
    names = m[2].slice(1, -1).split(',').map(pyName).filter((s) => s !== '');
    for (const n of names) if (!byName.has(n)) throw new Error(`${GEN}: unknown feature ${n} (in ${key})`);
  }
  deps[key] = names;
}

// Leaf 1 edx features AMD repeats in 0x80000001 edx: Xen keeps them out of that word's
// featureset (they have no names there) and copies them from leaf 1 (recalculate_misc).
const common = /common_1d = \(([^)]*)\)/.exec(gen)[1].split(',').map(pyName).filter((s) => s !== '');
const common1d = common.reduce((m, n) => (m | (1 << byName.get(n).bit)) >>> 0, 0);

const out = {
  xen: `${major}.${minor}`,
  source: {
    repository: 'https://xenbits.xen.org/git-http/xen.git',
    ref,
    commit,
    files: [FS_H, POLICY_H, GEN],
    generatedBy: 'scripts/xen-policy-facts.mjs',
  },
  limits,
  common1d,
  msrs: [
    { index: 0xce, name: 'MSR_INTEL_PLATFORM_INFO', bits: 32 },
    { index: 0x10a, name: 'MSR_ARCH_CAPABILITIES', bits: 64 },
  ],
  words,
  features,
  deps,
};
process.stdout.write(JSON.stringify(out, null, 1) + '\n');
