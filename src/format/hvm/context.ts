/**
 * Xen's HVM context blob (the body of HVM_CONTEXT): save records, each behind a
 * descriptor `typecode u16 | instance u16 | length u32` in the host's (little-endian)
 * order, HEADER first, ending with typecode 0. Decoding, encoding and what Xen 4.17's
 * `hvm_load` refuses, each record through its module (./table.ts).
 */
import type { VcpuRegisters } from '../vcpu-registers.js';
import { hvmCpuRegisters, type HvmCpuRecord } from './cpu.js';
import { hvmCpuMsrSize } from './cpu-msr.js';
import { HVM_FILE_MAGIC, HVM_SAVE_HEADER_LAYOUT } from './header.js';
import type { Described } from '../record-module.js';
import { vcpuRegistersText } from '../vcpu-text.js';
import { hex, type HvmSaveRecordModule } from './save-record.js';
import { HVM_SAVE_RECORD_BY_CODE, hvmSaveTypeName } from './table.js';

export const HVM_SAVE_TYPE_END = 0;
export const HVM_SAVE_TYPE_HEADER = 1;
export const HVM_SAVE_TYPE_CPU = 2;
export const HVM_SAVE_DESCRIPTOR_SIZE = 8;
/** HVM_MAX_VCPUS in Xen 4.17: no per-vcpu record can name a vcpu at or above it. */
export const HVM_MAX_VCPUS = 128;

/** One save record of a blob: its descriptor and body. */
export interface HvmSaveRecord {
  typecode: number;
  instance: number;
  body: Uint8Array;
}

/** A save record decoded: where it is, what it is, its named fields and one line of text. */
export interface DecodedHvmSaveRecord {
  typecode: number;
  instance: number;
  name: string;
  /** Offset of the descriptor inside the blob. */
  offset: number;
  length: number;
  /** Named fields, as `dump --json` shows them; absent for an unknown type. */
  fields?: Record<string, unknown>;
  text: string;
  /** The module's decoded value (for callers that want typed fields). */
  record?: unknown;
  /** Why the body could not be decoded (length against its rule), if so. */
  error?: string;
}

/** The save records in blob order, up to END or the first descriptor that runs past the blob. */
export function hvmSaveRecords(blob: Uint8Array): (HvmSaveRecord & { offset: number })[] {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const out: (HvmSaveRecord & { offset: number })[] = [];
  for (let off = 0; off + HVM_SAVE_DESCRIPTOR_SIZE <= blob.length; ) {
    const typecode = view.getUint16(off, true);
    const instance = view.getUint16(off + 2, true);
    const length = view.getUint32(off + 4, true);
    if (typecode === HVM_SAVE_TYPE_END) break;
    const start = off + HVM_SAVE_DESCRIPTOR_SIZE;
    if (length > blob.length - start) break;
    out.push({ typecode, instance, body: blob.subarray(start, start + length), offset: off });
    off = start + length;
  }
  return out;
}

/** Why a body's length breaks its type's rule in Xen 4.17, or undefined. */
export function hvmLengthProblem(m: HvmSaveRecordModule, body: Uint8Array): string | undefined {
  const length = body.length;
  const older = m.history.find((h) => h.size === length);
  switch (m.rule) {
    case 'strict':
      return length === m.length ? undefined : `length ${length}, expected exactly ${m.length}`;
    case 'zeroextend':
      if (length <= m.length) return undefined;
      return `length ${length}, expected at most ${m.length}${older ? ` (the layout of Xen ${older.xen}, which 4.17 cannot load)` : ''}`;
    case 'xsave':
      return length >= m.length ? undefined : `length ${length}, expected at least ${m.length} (xsave header and legacy area)`;
    case 'msr': {
      if (length < m.length) return `length ${length}, expected at least ${m.length}`;
      const count = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0, true);
      return length === hvmCpuMsrSize(count) ? undefined : `length ${length} for ${count} MSR(s), expected ${hvmCpuMsrSize(count)}`;
    }
  }
}

/** Which Xen versions' layout a body length matches, where it is not 4.17's. */
function layoutNote(m: HvmSaveRecordModule, length: number): string | undefined {
  if (m.rule !== 'zeroextend' || length === m.length) return undefined;
  const h = m.history.find((x) => x.size === length);
  return h ? `layout of Xen ${h.xen}` : undefined;
}

/** Every save record of a blob, decoded through its module. */
export function decodeHvmContext(blob: Uint8Array): DecodedHvmSaveRecord[] {
  return hvmSaveRecords(blob).map(({ typecode, instance, body, offset }) => {
    const base = { typecode, instance, name: hvmSaveTypeName(typecode), offset, length: body.length };
    const m = HVM_SAVE_RECORD_BY_CODE.get(typecode);
    if (!m) return { ...base, text: `unknown save record type, ${body.length} octet(s)` };
    const problem = hvmLengthProblem(m, body);
    // Decode what can be: a zero-extended record up to the newest layout; refuse what is too short for its fixed part.
    const tooShort = (m.rule === 'strict' && body.length < m.length) || ((m.rule === 'xsave' || m.rule === 'msr') && body.length < m.length) || body.length > Math.max(m.layout.size, m.length) && m.rule === 'zeroextend';
    if (tooShort) return { ...base, error: problem, text: `undecodable: ${problem}` };
    const record = m.decode(m.rule === 'strict' ? body.subarray(0, m.length) : body);
    const d = m.describe(record);
    const note = layoutNote(m, body.length);
    const fields = note ? { ...d.fields, layout: note } : d.fields;
    return { ...base, fields, text: `${d.text}${note ? ` [${note}]` : ''}${problem ? ` [${problem}]` : ''}`, record };
  });
}

/**
 * The shared register shape of every vcpu, by vcpu id: from its CPU record, or, for a
 * vcpu with other per-vcpu records but no CPU record, a down one (`hvm_save_cpu_ctxt`
 * saves nothing for a vcpu that is down, and the restore leaves it down).
 */
export function hvmContextRegisters(blob: Uint8Array): VcpuRegisters[] {
  return vcpuStates(decodeHvmContext(blob));
}

function vcpuStates(records: readonly DecodedHvmSaveRecord[]): VcpuRegisters[] {
  const out = new Map<number, VcpuRegisters>();
  for (const r of records) if (r.typecode === HVM_SAVE_TYPE_CPU && r.record !== undefined) out.set(r.instance, hvmCpuRegisters(r.instance, r.record as HvmCpuRecord));
  for (const r of records) {
    if (!HVM_SAVE_RECORD_BY_CODE.get(r.typecode)?.perVcpu || out.has(r.instance)) continue;
    out.set(r.instance, downVcpu(r.instance));
  }
  return [...out.values()].sort((a, b) => a.vcpu - b.vcpu);
}

/** A vcpu without a CPU record: down, its registers unknown (zero). */
function downVcpu(vcpu: number): VcpuRegisters {
  const seg = { selector: 0, base: 0n, limit: 0, attributes: 0 };
  return {
    vcpu, online: false, mode: 'real',
    rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n, rsi: 0n, rdi: 0n, rbp: 0n, rsp: 0n,
    r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n,
    rip: 0n, rflags: 0n, cr0: 0n, cr2: 0n, cr3: 0n, cr4: 0n, efer: 0n,
    cs: seg, ds: seg, es: seg, fs: seg, gs: seg, ss: seg,
    kernelGsBase: 0n, gdtr: { base: 0n, limit: 0 }, idtr: { base: 0n, limit: 0 },
    notes: ['no CPU save record: Xen saves none for a vcpu that is down'],
  };
}

/** The vcpu ids of the CPU records in an HVM context blob. */
export function hvmContextVcpus(blob: Uint8Array): number[] {
  return hvmSaveRecords(blob)
    .filter((r) => r.typecode === HVM_SAVE_TYPE_CPU)
    .map((r) => r.instance);
}

/** What Xen's HEADER save record carries (struct hvm_save_header). */
export interface HvmSaveHeader {
  version: number;
  changeset: bigint;
  /** CPUID leaf 1 eax of the host that saved. */
  cpuid: number;
  /** Guest TSC frequency in kHz. */
  gtscKhz: number;
}

/** An HVM context blob as `hvm_save` lays it out: HEADER, the records in the order given, END. */
export function encodeHvmContext(header: HvmSaveHeader, records: readonly HvmSaveRecord[]): Uint8Array {
  const all: HvmSaveRecord[] = [
    {
      typecode: HVM_SAVE_TYPE_HEADER,
      instance: 0,
      body: HVM_SAVE_HEADER_LAYOUT.encode({ magic: HVM_FILE_MAGIC, version: header.version, changeset: header.changeset, cpuid: header.cpuid, gtsc_khz: header.gtscKhz }, true),
    },
    ...records,
  ];
  return encodeHvmSaveRecords(all);
}

/** Save records behind their descriptors, then END: a blob byte for byte. */
export function encodeHvmSaveRecords(records: readonly HvmSaveRecord[]): Uint8Array {
  const size = records.reduce((n, r) => n + HVM_SAVE_DESCRIPTOR_SIZE + r.body.length, 0) + HVM_SAVE_DESCRIPTOR_SIZE;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let off = 0;
  for (const r of records) {
    view.setUint16(off, r.typecode, true);
    view.setUint16(off + 2, r.instance, true);
    view.setUint32(off + 4, r.body.length, true);
    out.set(r.body, off + HVM_SAVE_DESCRIPTOR_SIZE);
    off += HVM_SAVE_DESCRIPTOR_SIZE + r.body.length;
  }
  return out; // the END descriptor is the zeroed tail
}

/** Codes of HVM context refusals (src/verify/codes.ts). */
export type HvmContextCode =
  | 'hvm-context-header'
  | 'hvm-context-record'
  | 'hvm-context-cpu'
  | 'hvm-context-end'
  | 'hvm-context-cr4'
  | 'hvm-context-cr3'
  | 'hvm-context-lapic'
  | 'hvm-context-mtrr'
  | 'hvm-context-viridian'
  | 'hvm-context-xsave'
  | 'hvm-context-msr'
  | 'hvm-context-duplicate';

/** One reason Xen 4.17's `hvm_load` would refuse the blob (or a warning), at an offset inside it. */
export interface HvmContextProblem {
  /** Offset of the save record's descriptor inside the blob. */
  offset: number;
  code: HvmContextCode;
  message: string;
}

/**
 * What Xen 4.17's `hvm_load` checks of an HVM context blob, in its order: HEADER first
 * (magic, version), then each record's typecode, length rule and instance, and each
 * type's loader refusals (CPU control registers, LAPIC mode, MTRR count, XSAVE header,
 * MSRs, Viridian padding), until the END record; anything after END is never read.
 * Checks needing the destination's CPU policy (EFER and CR4 bits against its features,
 * CR3 against its maxphysaddr, the XSAVE size) use the architectural limits instead.
 */
export function checkHvmContext(blob: Uint8Array): HvmContextProblem[] {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const problems: HvmContextProblem[] = [];
  const at = (offset: number, code: HvmContextCode, message: string): HvmContextProblem[] => {
    problems.push({ offset, code, message });
    return problems;
  };
  const header = HVM_SAVE_RECORD_BY_CODE.get(HVM_SAVE_TYPE_HEADER)!;
  if (blob.length < HVM_SAVE_DESCRIPTOR_SIZE + header.length) return at(0, 'hvm-context-header', `${blob.length} octet(s), too short for the HEADER save record (8 + 24)`);
  const t0 = view.getUint16(0, true);
  const l0 = view.getUint32(4, true);
  if (t0 !== HVM_SAVE_TYPE_HEADER || l0 !== header.length) return at(0, 'hvm-context-header', `first save record is type ${t0} length ${l0}, expected HEADER (type 1) length 24`);
  runChecks(header, blob.subarray(8, 8 + 24), 0, (code, message) => at(0, code, message));
  const seen = new Set<string>();
  let off = HVM_SAVE_DESCRIPTOR_SIZE + header.length;
  for (;;) {
    if (blob.length - off < HVM_SAVE_DESCRIPTOR_SIZE) return at(off, 'hvm-context-end', 'the blob ends without the END save record (typecode 0)');
    const typecode = view.getUint16(off, true);
    const instance = view.getUint16(off + 2, true);
    const length = view.getUint32(off + 4, true);
    if (typecode === HVM_SAVE_TYPE_END) return problems;
    const m = HVM_SAVE_RECORD_BY_CODE.get(typecode);
    const left = blob.length - off - HVM_SAVE_DESCRIPTOR_SIZE;
    if (m === undefined || typecode === HVM_SAVE_TYPE_HEADER) return at(off, 'hvm-context-record', `unknown save record typecode ${typecode}; Xen 4.17 has no loader for it`);
    const where = `${m.name} instance ${instance}`;
    if (length > left) return at(off, 'hvm-context-record', `${where}: length ${length} runs past the blob (${left} octet(s) left)`);
    const body = blob.subarray(off + HVM_SAVE_DESCRIPTOR_SIZE, off + HVM_SAVE_DESCRIPTOR_SIZE + length);
    const lengthProblem = hvmLengthProblem(m, body);
    if (lengthProblem) at(off, 'hvm-context-record', `${where}: ${lengthProblem}`);
    if (m.perVcpu ? instance >= HVM_MAX_VCPUS : instance > m.maxInstance) {
      at(off, 'hvm-context-record', `${where}: instance out of range (expected ${m.perVcpu ? `a vcpu id below ${HVM_MAX_VCPUS}` : `at most ${m.maxInstance}`})`);
    }
    const key = `${typecode}/${instance}`;
    if (seen.has(key)) at(off, 'hvm-context-duplicate', `${where} appears again; the loader takes the later one over the earlier`);
    seen.add(key);
    if (!lengthProblem) runChecks(m, body, instance, (code, message) => at(off, code, message));
    off += HVM_SAVE_DESCRIPTOR_SIZE + length;
  }
}

function runChecks(m: HvmSaveRecordModule, body: Uint8Array, instance: number, report: (code: HvmContextCode, message: string) => void): void {
  if (!m.check) return;
  const record = m.decode(body);
  m.check({ body, instance, record, report: (code, message) => report(code as HvmContextCode, message) });
}

/**
 * HVM_CONTEXT for `dump`: one line for the blob, then one indented line per save record
 * (a CPU record as its vcpu's mode and registers); the fields carry every record's.
 */
export function describeHvmContext(blob: Uint8Array, littleEndian = true): Described {
  // Save records are in the saving host's order; Xen on x86 writes little-endian.
  if (!littleEndian) return { fields: { bytes: blob.length }, text: `${blob.length} octet(s)` };
  const records = decodeHvmContext(blob);
  const vcpus = vcpuStates(records);
  const down = vcpus.filter((v) => !v.online);
  const downLines = down.map((v) => `\n    ${vcpuRegistersText(v)}`);
  const lines = records.map((r) => {
    if (r.typecode === HVM_SAVE_TYPE_CPU && r.record !== undefined) {
      return `\n    ${hex(r.offset, 4)}  ${vcpuRegistersText(hvmCpuRegisters(r.instance, r.record as HvmCpuRecord))}`;
    }
    const m = HVM_SAVE_RECORD_BY_CODE.get(r.typecode);
    const instance = m?.perVcpu ? ` vcpu ${r.instance}` : r.instance || m?.maxInstance ? ` #${r.instance}` : '';
    return `\n    ${hex(r.offset, 4)}  ${r.name}${instance}: ${r.text}`;
  });
  return {
    fields: { bytes: blob.length, records: records.map(({ record: _r, text: _t, ...rest }) => rest), vcpus },
    text: `${blob.length} octet(s), ${records.length} save record(s), ${vcpus.length} vcpu(s)${down.length ? ` (${down.length} down)` : ''}${lines.join('')}${downLines.join('')}`,
  };
}
