/**
 * What xenmig knows of each Xen version's CPU policy code, as facts read from that
 * version's sources (data/xen/<major>.<minor>.json, made by scripts/xen-policy-facts.mjs;
 * data/README.md says from where): the featureset table and its attributes, the
 * feature dependencies of gen-cpuid.py, and the sizes of the tables a policy is loaded
 * into (which leaves, subleaves and MSRs Xen can hold at all).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { UsageError } from '../format/errors.js';
import { type Featureset, type RawTable, buildFeatureset } from './featureset-table.js';

export interface XenLimits {
  /** Basic leaves 0..basic-1 (CPUID_GUEST_NR_BASIC). */
  basic: number;
  /** Leaf 4 subleaves (CPUID_GUEST_NR_CACHE). */
  cache: number;
  /** Leaf 7 subleaves (CPUID_GUEST_NR_FEAT). */
  feat: number;
  /** Leaf 0xb subleaves (CPUID_GUEST_NR_TOPO). */
  topo: number;
  /** Leaf 0xd subleaves (CPUID_GUEST_NR_XSTATE). */
  xstate: number;
  /** Extended leaves 0x80000000.. (CPUID_GUEST_NR_EXTD, the larger of Intel's and AMD's). */
  extd: number;
  extdIntel: number;
  extdAmd: number;
  /** CPUID_MAX_SERIALISED_LEAVES: more entries than this and Xen refuses the lot (E2BIG). */
  serialisedLeaves: number;
  /** MSR_MAX_SERIALISED_ENTRIES. */
  msrEntries: number;
  /** Leaves 0x40000000 and 0x40000100: Xen keeps only eax, in a field this wide (uint8_t hv_limit): the rest is dropped. */
  hvLimitBits: number;
}

export interface XenMsr {
  index: number;
  name: string;
  /** Width of the field Xen keeps it in; a value that does not fit is refused (EOVERFLOW). */
  bits: number;
}

export interface XenFacts {
  /** "4.17" */
  version: string;
  major: number;
  minor: number;
  /** Where the facts were read from (repository, ref, commit, files). */
  source: { ref: string; commit: string; files: string[] };
  featureset: Featureset;
  limits: XenLimits;
  msrs: readonly XenMsr[];
  /** Leaf 1 edx bits AMD repeats in 0x80000001 edx (word 2): Xen derives them from leaf 1. */
  common1d: number;
  /**
   * gen-cpuid.py's direct dependencies: each key is a prerequisite of every feature in
   * its list (a number is a bit no feature is named for yet: word * 32 + bit).
   */
  deps: ReadonlyMap<string, ReadonlyArray<string | number>>;
  /** Per feature with dependants, every featureset bit (word * 32 + bit) that goes when it goes. */
  deepDeps: ReadonlyMap<string, readonly number[]>;
}

interface RawFacts extends Omit<RawTable, 'source' | 'attributes'> {
  xen: string;
  source: { ref: string; commit: string; files: string[] };
  limits: XenLimits;
  msrs: XenMsr[];
  common1d: number;
  deps: Record<string, Array<string | number>>;
}

const ATTRIBUTES: Readonly<Record<string, string>> = {
  '!': 'special: not a plain indication of functionality; Xen may override it',
  A: 'all guests, on by default',
  S: 'HVM guests, on by default',
  H: 'HVM HAP guests, on by default',
  'a/s/h': 'same applicability, opt-in only (not default)',
  '|': 'migration: visible if any host of the pool has it (accumulate, do not intersect); Xen 4.19 and later',
};

const dataDir = (): URL => new URL('../../../data/xen/', import.meta.url);

const compareVersions = (a: string, b: string): number => {
  const [am, an] = a.split('.').map(Number) as [number, number];
  const [bm, bn] = b.split('.').map(Number) as [number, number];
  return am - bm || an - bn;
};

let versions: string[] | undefined;

/** Every Xen version xenmig has facts for, oldest first. */
export function knownXenVersions(): readonly string[] {
  versions ??= readdirSync(dataDir())
    .map((n) => /^(\d+\.\d+)\.json$/.exec(n)?.[1])
    .filter((v): v is string => v !== undefined)
    .sort(compareVersions);
  return versions;
}

export function newestXenVersion(): string {
  const all = knownXenVersions();
  const v = all[all.length - 1];
  if (v === undefined) throw new Error('data/xen holds no Xen version');
  return v;
}

function closure(deps: ReadonlyMap<string, ReadonlyArray<string | number>>, fs: Featureset): Map<string, number[]> {
  const pos = (f: string | number): number => {
    if (typeof f === 'number') return f;
    const info = fs.byName.get(f);
    if (info === undefined) throw new Error(`data/xen: dependency on unknown feature ${f}`);
    return info.word * 32 + info.bit;
  };
  const out = new Map<string, number[]>();
  for (const root of deps.keys()) {
    const seen = new Set<number>();
    const todo = [...(deps.get(root) ?? [])];
    while (todo.length > 0) {
      const f = todo.shift()!;
      if (seen.has(pos(f))) continue;
      seen.add(pos(f));
      if (typeof f === 'string') todo.push(...(deps.get(f) ?? []));
    }
    out.set(root, [...seen].sort((a, b) => a - b));
  }
  return out;
}

const cache = new Map<string, XenFacts>();

/** The facts of one Xen version ("4.17"); without one, the newest known. */
export function xenFacts(version?: string): XenFacts {
  const v = version ?? newestXenVersion();
  let facts = cache.get(v);
  if (facts !== undefined) return facts;
  if (!knownXenVersions().includes(v)) {
    throw new UsageError(`Xen ${v}: unknown version (xenmig knows ${knownXenVersions().join(', ')})`);
  }
  const raw = JSON.parse(readFileSync(new URL(`${v}.json`, dataDir()), 'utf8')) as RawFacts;
  const featureset = buildFeatureset({
    source: `Xen ${raw.xen} (${raw.source.ref}, ${raw.source.commit.slice(0, 12)}): ${raw.source.files.join(', ')}`,
    attributes: ATTRIBUTES,
    words: raw.words,
    features: raw.features,
  });
  const deps = new Map(Object.entries(raw.deps));
  const [major, minor] = raw.xen.split('.').map(Number) as [number, number];
  facts = {
    version: raw.xen,
    major,
    minor,
    source: raw.source,
    featureset,
    limits: raw.limits,
    msrs: raw.msrs,
    common1d: raw.common1d,
    deps,
    deepDeps: closure(deps, featureset),
  };
  cache.set(v, facts);
  return facts;
}

/** A --xen value ("4.17", "4.17.7", "xen-4.17") to a known version, or a usage error naming them. */
export function parseXenVersion(value: string): string {
  const m = /^(?:xen-?)?(\d+)\.(\d+)(?:\.\d+)?\s*$/i.exec(value.trim());
  const v = m ? `${Number(m[1])}.${Number(m[2])}` : value;
  if (!knownXenVersions().includes(v)) {
    throw new UsageError(`--xen: unknown Xen version ${JSON.stringify(value)} (xenmig knows ${knownXenVersions().join(', ')})`);
  }
  return v;
}

/**
 * The facts to read a stream written by Xen major.minor with: that version if known,
 * else the newest known one older than it, else the oldest known (and a note saying so).
 */
export function xenVersionForStream(major: number, minor: number): { version: string; note?: string } {
  const want = `${major}.${minor}`;
  const all = knownXenVersions();
  if (all.includes(want)) return { version: want };
  const older = all.filter((v) => compareVersions(v, want) < 0);
  const version = older.length > 0 ? older[older.length - 1]! : all[0]!;
  return { version, note: `the stream is from Xen ${want}, which xenmig has no tables for; using Xen ${version}'s` };
}
