/**
 * Two DomainStates compared, section by section: headers and versions, the static data
 * (CPU policy features gained and lost by name, MSRs, PV info), HVM params by name, HVM
 * context save records per (type, instance) and PV vcpu records per (vcpu, kind) field by
 * field, shared info, emulator records, the xl config, and memory pfn by pfn.
 */
import { pageTypeName, PAGE_TYPE } from '../format/constants.js';
import { HVM_SAVE_TYPES, HVM_SAVE_TYPE_END } from '../format/hvm-context.js';
import { hvmParamName } from '../format/hvm-params.js';
import { parseXenstoreData } from '../format/libxl/xenstore-data.js';
import type { VcpuRegisters } from '../format/vcpu-registers.js';
import { pageTypeIsPopulated } from '../domain/image/domain-json.js';
import { SparsePfnBytes } from '../domain/image/pfn-map.js';
import { hvmVcpuRegisters, pvVcpuRegisters } from '../domain/image/vcpu-state.js';
import { msrName } from '../policy/compat.js';
import { featureset } from '../policy/featureset.js';
import { decodePolicy } from '../policy/policy.js';
import type { DiffInputState } from './state.js';

/** One thing that differs: `a` absent means only B has it, `b` absent only A. */
export interface Change {
  what: string;
  a?: string;
  b?: string;
}

/** One save record or vcpu record that differs. */
export interface RecordChange {
  /** "CPU instance 0", "vcpu 1 basic". */
  record: string;
  only?: 'a' | 'b';
  /** Field-level differences (registers by name), then octet ranges where no field says it. */
  changes: Change[];
}

/** Pfns of one kind of difference, in ranges. */
export interface PfnRanges {
  count: number;
  /** [first, last] pfn of each range; at most `rangeLimit` unless every pfn was asked for. */
  ranges: [number, number][];
  /** How many ranges there are in all (ranges may list fewer). */
  rangeCount: number;
  /** Every pfn, only with `allPages`. */
  pfns?: number[];
}

export interface TypeRange {
  first: number;
  last: number;
  a: string;
  b: string;
}

export interface MemoryDiff {
  /** Pfns holding memory on each side. */
  populatedA: number;
  populatedB: number;
  onlyInA: PfnRanges;
  onlyInB: PfnRanges;
  /** Pfns holding memory on both sides whose contents differ. */
  differ: PfnRanges;
  /** Pfns whose page type differs (both sides holding memory, or neither). */
  types: { count: number; ranges: TypeRange[]; rangeCount: number };
}

export interface InputSummary {
  input: string;
  kind: 'stream' | 'image';
  layers: string[];
  guestType: string;
  streamVersion: number;
  xen: string;
  checkpoints?: number;
  notes: string[];
}

export interface DiffResult {
  a: InputSummary;
  b: InputSummary;
  equal: boolean;
  headers: Change[];
  policy: { gained: string[]; lost: string[]; changes: Change[] };
  domain: Change[];
  hvmParams: Change[];
  hvmContext: RecordChange[];
  vcpus: RecordChange[];
  devices: Change[];
  memory: MemoryDiff;
}

export interface CompareOptions {
  /** List every differing pfn (`pfns`) and every range. */
  allPages?: boolean;
  /** Ranges listed per kind otherwise (default 32). */
  rangeLimit?: number;
}

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

function summary(s: DiffInputState): InputSummary {
  const d = s.description;
  const out: InputSummary = {
    input: s.input,
    kind: s.kind,
    layers: s.kind === 'image' ? ['memory image'] : s.headers.layers,
    guestType: d.guestType,
    streamVersion: d.streamVersion,
    xen: `${d.xenMajor}.${d.xenMinor}`,
    notes: s.notes,
  };
  if (s.checkpoints !== undefined) out.checkpoints = s.checkpoints;
  return out;
}

function change(out: Change[], what: string, a: string | undefined, b: string | undefined): void {
  if (a === b) return;
  const c: Change = { what };
  if (a !== undefined) c.a = a;
  if (b !== undefined) c.b = b;
  out.push(c);
}

function compareHeaders(a: DiffInputState, b: DiffInputState): Change[] {
  const out: Change[] = [];
  const da = a.description;
  const db = b.description;
  change(out, 'guest type', da.guestType, db.guestType);
  change(out, 'libxc stream version', String(da.streamVersion), String(db.streamVersion));
  change(out, 'Xen version', `${da.xenMajor}.${da.xenMinor}`, `${db.xenMajor}.${db.xenMinor}`);
  change(out, 'page shift', String(da.pageShift), String(db.pageShift));
  // A memory image keeps no stream headers: layers and byte orders compare between streams only.
  if (a.kind === 'stream' && b.kind === 'stream') {
    const ha = a.headers;
    const hb = b.headers;
    change(out, 'layers', ha.layers.join(' > '), hb.layers.join(' > '));
    const order = (le: boolean | undefined): string | undefined => (le === undefined ? undefined : le ? 'little-endian' : 'big-endian');
    change(out, 'xl header byte order', order(ha.xl?.littleEndian), order(hb.xl?.littleEndian));
    change(out, 'xl mandatory flags', ha.xl && hex(ha.xl.mandatoryFlags), hb.xl && hex(hb.xl.mandatoryFlags));
    change(out, 'xl optional flags', ha.xl && hex(ha.xl.optionalFlags), hb.xl && hex(hb.xl.optionalFlags));
    change(out, 'libxl version', ha.libxl && String(ha.libxl.version), hb.libxl && String(hb.libxl.version));
    change(out, 'libxl byte order', order(ha.libxl?.littleEndian), order(hb.libxl?.littleEndian));
    change(out, 'libxc byte order', order(ha.libxc?.littleEndian), order(hb.libxc?.littleEndian));
  }
  return out;
}

/** Names of the featureset bits a policy sets (unnamed bits as word:bit). */
function featureNames(words: readonly number[]): Set<string> {
  const fs = featureset();
  const out = new Set<string>();
  words.forEach((value, word) => {
    for (let bit = 0; bit < 32; bit++) {
      if ((value & (1 << bit)) === 0) continue;
      out.add(fs.byPosition.get(word * 32 + bit)?.name ?? `<word ${word} bit ${bit}>`);
    }
  });
  return out;
}

function comparePolicy(a: DiffInputState, b: DiffInputState): DiffResult['policy'] {
  const out: DiffResult['policy'] = { gained: [], lost: [], changes: [] };
  const ca = a.cpuPolicy.cpuid;
  const cb = b.cpuPolicy.cpuid;
  change(out.changes, 'CPUID policy', ca ? `${ca.length} leaves` : 'absent', cb ? `${cb.length} leaves` : 'absent');
  if (ca && cb) {
    const pa = decodePolicy({ cpuid: ca });
    const pb = decodePolicy({ cpuid: cb });
    const fa = featureNames(pa.words);
    const fb = featureNames(pb.words);
    out.gained = [...fb].filter((f) => !fa.has(f));
    out.lost = [...fa].filter((f) => !fb.has(f));
    change(out.changes, 'vendor', pa.vendorId, pb.vendorId);
    // Every leaf register that differs, feature bits or not (signature, limits, XSAVE sizes).
    const key = (e: { leaf: number; subleaf: number }): string => `${hex(e.leaf)}:${hex(e.subleaf)}`;
    const ma = new Map(ca.map((e) => [key(e), e]));
    const mb = new Map(cb.map((e) => [key(e), e]));
    for (const k of [...new Set([...ma.keys(), ...mb.keys()])].sort()) {
      const ea = ma.get(k);
      const eb = mb.get(k);
      for (const r of ['eax', 'ebx', 'ecx', 'edx'] as const) {
        change(out.changes, `CPUID ${k} ${r}`, ea && hex(ea[r]), eb && hex(eb[r]));
      }
    }
  }
  const msa = a.cpuPolicy.msrs;
  const msb = b.cpuPolicy.msrs;
  change(out.changes, 'MSR policy', msa ? `${msa.length} MSRs` : 'absent', msb ? `${msb.length} MSRs` : 'absent');
  const idx = new Set([...(msa ?? []), ...(msb ?? [])].map((m) => m.index));
  for (const i of [...idx].sort((x, y) => x - y)) {
    const va = msa?.find((m) => m.index === i);
    const vb = msb?.find((m) => m.index === i);
    change(out.changes, `${msrName(i)} (${hex(i)})`, va && hex(va.value), vb && hex(vb.value));
  }
  return out;
}

function compareDomain(a: DiffInputState, b: DiffInputState): Change[] {
  const out: Change[] = [];
  const pv = (s: DiffInputState): string | undefined => s.pvInfo && `guest width ${s.pvInfo.guestWidth}, ${s.pvInfo.ptLevels} levels`;
  change(out, 'PV info', pv(a), pv(b));
  const p2m = (s: DiffInputState): string | undefined => s.p2mFrames && `pfns ${hex(s.p2mFrames.startPfn)}-${hex(s.p2mFrames.endPfn)}, frames ${s.p2mFrames.p2mPfns.map(hex).join(' ')}`;
  change(out, 'P2M frames', p2m(a), p2m(b));
  const tsc = (s: DiffInputState): string | undefined => s.tsc && `mode ${s.tsc.mode}, ${s.tsc.khz} kHz, ${s.tsc.nsec} ns, incarnation ${s.tsc.incarnation}`;
  change(out, 'TSC', tsc(a), tsc(b));
  return out;
}

function compareParams(a: DiffInputState, b: DiffInputState): Change[] {
  const out: Change[] = [];
  const ma = new Map(a.hvmParams.map((p) => [p.index, p.value]));
  const mb = new Map(b.hvmParams.map((p) => [p.index, p.value]));
  for (const i of [...new Set([...ma.keys(), ...mb.keys()])].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))) {
    const va = ma.get(i);
    const vb = mb.get(i);
    change(out, hvmParamName(i), va === undefined ? undefined : hex(va), vb === undefined ? undefined : hex(vb));
  }
  return out;
}

/** Field by field, recursively: numbers and bigints in hex, byte arrays by their differing octets. */
export function compareFields(a: unknown, b: unknown, path: string, out: Change[]): void {
  if (typeof a === 'bigint' || typeof a === 'number') {
    if (typeof b !== typeof a || a !== b) change(out, path, hex(a), typeof b === 'bigint' || typeof b === 'number' ? hex(b) : String(b));
    return;
  }
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    for (const c of octetChanges(a, b)) out.push({ ...c, what: `${path} ${c.what}` });
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) compareFields(a[i], b[i], `${path}[${i}]`, out);
    return;
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) compareFields((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k, out);
    return;
  }
  if (a === undefined && b === undefined) return;
  if (typeof a === 'string' || typeof a === 'boolean' || a === undefined || b === undefined) {
    change(out, path, a === undefined ? undefined : String(a), b === undefined ? undefined : String(b));
  }
}

/** Octet ranges that differ (runs closer than 8 octets merged), with both sides' octets for short ones. */
export function octetChanges(a: Uint8Array, b: Uint8Array, limit = 16): Change[] {
  const out: Change[] = [];
  if (a.length !== b.length) out.push({ what: 'length', a: `${a.length} octets`, b: `${b.length} octets` });
  const runs: [number, number][] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] === b[i]) continue;
    const last = runs.at(-1);
    if (last && i - last[1] <= 8) last[1] = i;
    else runs.push([i, i]);
  }
  const shown = (x: Uint8Array, s: number, e: number): string => Buffer.from(x.subarray(s, e + 1)).toString('hex');
  for (const [s, e] of runs.slice(0, limit)) {
    const what = s === e ? `octet ${s} (${hex(s)})` : `octets ${s}-${e} (${hex(s)}-${hex(e)})`;
    out.push(e - s < 16 ? { what, a: shown(a, s, e), b: shown(b, s, e) } : { what, a: `${e - s + 1} octets`, b: 'differ' });
  }
  if (runs.length > limit) out.push({ what: `${runs.length - limit} more differing range(s) of octets` });
  return out;
}

function registerFields(r: VcpuRegisters): Record<string, unknown> {
  const { vcpu: _vcpu, notes: _notes, ...fields } = r;
  return fields;
}

/** The save records of an HVM context blob by "TYPE instance N", in blob order. */
function saveRecords(blob: Uint8Array | undefined): Map<string, { typecode: number; instance: number; body: Uint8Array }> {
  const out = new Map<string, { typecode: number; instance: number; body: Uint8Array }>();
  if (!blob) return out;
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  for (let off = 0; off + 8 <= blob.length; ) {
    const typecode = view.getUint16(off, true);
    const instance = view.getUint16(off + 2, true);
    const length = Math.min(view.getUint32(off + 4, true), blob.length - off - 8);
    if (typecode === HVM_SAVE_TYPE_END) break;
    const name = HVM_SAVE_TYPES.get(typecode)?.name ?? `type ${typecode}`;
    out.set(`${name} instance ${instance}`, { typecode, instance, body: blob.subarray(off + 8, off + 8 + length) });
    off += 8 + length;
  }
  return out;
}

function compareRecords<T>(
  ma: Map<string, T>,
  mb: Map<string, T>,
  bytes: (x: T) => Uint8Array,
  decode: (x: T) => Record<string, unknown> | undefined,
): RecordChange[] {
  const out: RecordChange[] = [];
  for (const k of new Set([...ma.keys(), ...mb.keys()])) {
    const ra = ma.get(k);
    const rb = mb.get(k);
    if (ra === undefined || rb === undefined) {
      out.push({ record: k, only: ra === undefined ? 'b' : 'a', changes: [] });
      continue;
    }
    const ba = bytes(ra);
    const bb = bytes(rb);
    if (Buffer.from(ba.buffer, ba.byteOffset, ba.length).equals(bb)) continue;
    const changes: Change[] = [];
    const fa = decode(ra);
    const fb = decode(rb);
    if (fa && fb) compareFields(fa, fb, '', changes);
    // Where the decoded fields say nothing (octets they do not read), the octets say it.
    if (changes.length === 0) changes.push(...octetChanges(ba, bb));
    out.push({ record: k, changes });
  }
  return out;
}

function compareHvmContext(a: DiffInputState, b: DiffInputState): RecordChange[] {
  const cpu = (r: { typecode: number; instance: number; body: Uint8Array }): Record<string, unknown> | undefined => {
    if (r.typecode !== 2) return undefined;
    // Registers through the stopgap reader (src/domain/image/vcpu-state.ts) until the state branch's decoders land.
    const regs = hvmVcpuRegisters(wrapCpuRecord(r.instance, r.body))[0];
    return regs && registerFields(regs);
  };
  return compareRecords(saveRecords(a.hvmContext), saveRecords(b.hvmContext), (r) => r.body, cpu);
}

/** One CPU save record as a blob of its own, for the blob reader. */
function wrapCpuRecord(instance: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.length + 8);
  const v = new DataView(out.buffer);
  v.setUint16(0, 2, true);
  v.setUint16(2, instance, true);
  v.setUint32(4, body.length, true);
  out.set(body, 8);
  return out;
}

function compareVcpus(a: DiffInputState, b: DiffInputState): RecordChange[] {
  const by = (s: DiffInputState): Map<string, { vcpuId: number; kind: string; data: Uint8Array; width: number }> =>
    new Map(
      [...s.vcpus]
        .sort((x, y) => x.vcpuId - y.vcpuId)
        .map((v) => [`vcpu ${v.vcpuId} ${v.kind}`, { ...v, width: s.pvInfo?.guestWidth ?? 8 }]),
    );
  return compareRecords(by(a), by(b), (v) => v.data, (v) => {
    if (v.kind !== 'basic') return undefined;
    const regs = pvVcpuRegisters([{ vcpuId: v.vcpuId, kind: 'basic', data: v.data }], v.width)[0];
    return regs && { ...registerFields(regs), online: regs.online };
  });
}

function compareDevices(a: DiffInputState, b: DiffInputState): Change[] {
  const out: Change[] = [];
  if (a.sharedInfo && b.sharedInfo) for (const c of octetChanges(a.sharedInfo, b.sharedInfo)) out.push({ ...c, what: `shared info ${c.what}` });
  else change(out, 'shared info', a.sharedInfo && 'present', b.sharedInfo && 'present');
  const key = (e: DiffInputState['emulator'][number]): string => `emulator ${e.kind} (id ${e.emulatorId}, index ${e.index})`;
  const ma = new Map(a.emulator.map((e) => [key(e), e]));
  const mb = new Map(b.emulator.map((e) => [key(e), e]));
  for (const k of new Set([...ma.keys(), ...mb.keys()])) {
    const ea = ma.get(k);
    const eb = mb.get(k);
    if (ea && eb && ea.digest === eb.digest) continue;
    if (ea?.xenstore && eb?.xenstore) {
      const pa = parseXenstoreData(ea.xenstore);
      const pb = parseXenstoreData(eb.xenstore);
      if ('pairs' in pa && 'pairs' in pb) {
        const xa = new Map(pa.pairs);
        const xb = new Map(pb.pairs);
        for (const name of new Set([...xa.keys(), ...xb.keys()])) change(out, `${k} ${name}`, xa.get(name), xb.get(name));
        continue;
      }
    }
    change(out, k, ea && `${ea.length} octets, sha256 ${ea.digest.slice(0, 16)}`, eb && `${eb.length} octets, sha256 ${eb.digest.slice(0, 16)}`);
  }
  if (a.config !== b.config) {
    if (a.config === undefined || b.config === undefined) change(out, 'xl config', a.config && `${a.config.length} characters`, b.config && `${b.config.length} characters`);
    else {
      const la = a.config.split('\n');
      const lb = b.config.split('\n');
      const i = la.findIndex((l, n) => l !== lb[n]);
      const at = i < 0 ? la.length : i;
      change(out, `xl config line ${at + 1}`, la[at] ?? '(none)', lb[at] ?? '(none)');
    }
  }
  return out;
}

function sameDigest(x: Uint8Array, y: Uint8Array): boolean {
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

class Ranges {
  readonly r: PfnRanges = { count: 0, ranges: [], rangeCount: 0 };
  constructor(
    private readonly limit: number,
    all: boolean,
  ) {
    if (all) this.r.pfns = [];
  }
  private open: [number, number] | undefined;

  add(pfn: number): void {
    this.r.count++;
    this.r.pfns?.push(pfn);
    if (this.open && this.open[1] + 1 === pfn) {
      this.open[1] = pfn;
      return;
    }
    this.r.rangeCount++;
    this.open = [pfn, pfn];
    if (this.r.ranges.length < this.limit) this.r.ranges.push(this.open);
  }
}

function compareMemory(a: DiffInputState, b: DiffInputState, opts: CompareOptions): MemoryDiff {
  const all = opts.allPages ?? false;
  const limit = all ? Infinity : (opts.rangeLimit ?? 32);
  const onlyA = new Ranges(limit, all);
  const onlyB = new Ranges(limit, all);
  const differ = new Ranges(limit, all);
  const types: MemoryDiff['types'] = { count: 0, ranges: [], rangeCount: 0 };
  let openType: TypeRange | undefined;
  let populatedA = 0;
  let populatedB = 0;
  const CHUNK = SparsePfnBytes.CHUNK_PFNS;
  const ka = new Map(a.types.chunks());
  const kb = new Map(b.types.chunks());
  const keys = [...new Set([...ka.keys(), ...kb.keys()])].sort((x, y) => x - y);
  const never = new Uint8Array(CHUNK);
  for (const key of keys) {
    const ca = ka.get(key) ?? never;
    const cb = kb.get(key) ?? never;
    for (let i = 0; i < CHUNK; i++) {
      const va = ca[i]!;
      const vb = cb[i]!;
      if (va === 0 && vb === 0) continue;
      const pfn = key * CHUNK + i;
      // Never sent reads as XTAB, as in a memory image.
      const ta = va === 0 ? PAGE_TYPE.XTAB : va - 1;
      const tb = vb === 0 ? PAGE_TYPE.XTAB : vb - 1;
      const pa = pageTypeIsPopulated(ta);
      const pb = pageTypeIsPopulated(tb);
      if (pa) populatedA++;
      if (pb) populatedB++;
      if (pa && !pb) onlyA.add(pfn);
      else if (pb && !pa) onlyB.add(pfn);
      else {
        if (ta !== tb) {
          types.count++;
          const na = pageTypeName(ta);
          const nb = pageTypeName(tb);
          if (openType && openType.last + 1 === pfn && openType.a === na && openType.b === nb) openType.last = pfn;
          else {
            types.rangeCount++;
            openType = { first: pfn, last: pfn, a: na, b: nb };
            if (types.ranges.length < limit) types.ranges.push(openType);
          }
        }
        if (pa && !sameDigest(a.pages.get(pfn), b.pages.get(pfn))) differ.add(pfn);
      }
    }
  }
  return { populatedA, populatedB, onlyInA: onlyA.r, onlyInB: onlyB.r, differ: differ.r, types };
}

export function compareStates(a: DiffInputState, b: DiffInputState, opts: CompareOptions = {}): DiffResult {
  const r: DiffResult = {
    a: summary(a),
    b: summary(b),
    equal: false,
    headers: compareHeaders(a, b),
    policy: comparePolicy(a, b),
    domain: compareDomain(a, b),
    hvmParams: compareParams(a, b),
    hvmContext: compareHvmContext(a, b),
    vcpus: compareVcpus(a, b),
    devices: compareDevices(a, b),
    memory: compareMemory(a, b, opts),
  };
  const m = r.memory;
  r.equal =
    r.headers.length + r.policy.gained.length + r.policy.lost.length + r.policy.changes.length + r.domain.length + r.hvmParams.length +
      r.hvmContext.length + r.vcpus.length + r.devices.length === 0 &&
    m.onlyInA.count + m.onlyInB.count + m.differ.count + m.types.count === 0;
  return r;
}
