/**
 * Decoded fields of each header and record for `dump`: one object per item (for JSON
 * Lines) and its one-line text. HVM params by name, policy leaves, vcpu ids, TSC,
 * xenstore pairs; PAGE_DATA as counts by page type and a pfn range.
 */
import {
  LIBXL_REC_TYPE,
  PAGE_TYPE_SHIFT_HI,
  PFN_HI_MASK,
  PFN_RESERVED_MASK_HI,
  REC_TYPE,
  emulatorName,
  pageTypeHasData,
  pageTypeName,
} from '../format/constants.js';
import { StreamFormatError } from '../format/errors.js';
import { xlConfigText } from '../format/headers.js';
import { hvmParamName } from '../format/hvm-params.js';
import { decodeLibxlRecord, parseXenstoreData } from '../format/libxl-records.js';
import { decodeRecord, isKnownRecord } from '../format/records.js';
import { itemLabel, type RecordItem, type StreamItem } from '../stream/items.js';
import { describeHvmContext } from '../format/hvm/context.js';
import { describePvVcpuRecord, describeSharedInfoPage, type PvGuestWidth } from '../format/pv/index.js';

/** What describing a record needs from earlier ones: the PV guest width once X86_PV_INFO said it. */
export interface DescribeState {
  pvGuestWidth?: PvGuestWidth;
}

export type Fields = Record<string, unknown>;

const hex = (v: number | bigint, width = 0): string => `0x${v.toString(16).padStart(width, '0')}`;

/** Pfn entries of a PAGE_DATA body (only the pfn array is needed). */
export interface PageDataStats {
  count: number;
  byType: Record<string, number>;
  withData: number;
  minPfn: number;
  maxPfn: number;
  pfns?: { pfn: number; type: string }[];
}

export function pageDataStats(item: RecordItem, listPfns: boolean): PageDataStats {
  const view = new DataView(item.body.buffer, item.body.byteOffset, item.body.byteLength);
  const le = item.littleEndian;
  const count = item.body.length >= 8 ? view.getUint32(0, le) : 0;
  const n = Math.min(count, Math.floor((item.body.length - 8) / 8));
  const stats: PageDataStats = { count, byType: {}, withData: 0, minPfn: Infinity, maxPfn: -1 };
  if (listPfns) stats.pfns = [];
  for (let i = 0, off = 8; i < n; i++, off += 8) {
    const hi = view.getUint32(off + (le ? 4 : 0), le);
    const lo = view.getUint32(off + (le ? 0 : 4), le);
    const type = hi >>> PAGE_TYPE_SHIFT_HI;
    const pfn = (hi & PFN_HI_MASK) * 2 ** 32 + lo;
    const name = pageTypeName(type);
    stats.byType[name] = (stats.byType[name] ?? 0) + 1;
    if (pageTypeHasData(type)) stats.withData++;
    if (pfn < stats.minPfn) stats.minPfn = pfn;
    if (pfn > stats.maxPfn) stats.maxPfn = pfn;
    if (stats.pfns) stats.pfns.push({ pfn, type: (hi & PFN_RESERVED_MASK_HI) !== 0 ? `${name}+reserved-bits` : name });
  }
  return stats;
}

export function mergeStats(into: PageDataStats, s: PageDataStats): void {
  into.count += s.count;
  into.withData += s.withData;
  into.minPfn = Math.min(into.minPfn, s.minPfn);
  into.maxPfn = Math.max(into.maxPfn, s.maxPfn);
  for (const [k, v] of Object.entries(s.byType)) into.byType[k] = (into.byType[k] ?? 0) + v;
}

export function pageStatsText(s: PageDataStats): string {
  const types = Object.entries(s.byType)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const range = s.maxPfn >= 0 ? `, pfn ${hex(s.minPfn)}-${hex(s.maxPfn)}` : '';
  return `${s.count} pfn(s) [${types}]${range}, ${s.withData} page(s) of data`;
}

/** Fields of a header item or of a non-PAGE_DATA record. */
export function describeItem(item: StreamItem, state: DescribeState = {}): { fields: Fields; text: string } {
  switch (item.kind) {
    case 'xl-header': {
      const h = item.header;
      const fields: Fields = {
        byteOrder: h.littleEndian ? 'little' : 'big',
        mandatoryFlags: h.mandatoryFlags,
        optionalFlags: h.optionalFlags,
        configFormat: h.mandatoryFlags & 1 ? 'json' : 'text',
        configBytes: h.config?.length ?? 0,
      };
      if (h.config) fields.config = xlConfigText(h.config);
      return {
        fields,
        text: `${fields.byteOrder}-endian, mandatory flags ${hex(h.mandatoryFlags)}, optional flags ${hex(h.optionalFlags)}, config ${fields.configBytes} octet(s) (${fields.configFormat})`,
      };
    }
    case 'libxl-header': {
      const h = item.header;
      const fields = { version: h.version, options: h.options, byteOrder: item.littleEndian ? 'little' : 'big', legacy: (h.options & 2) !== 0 };
      return { fields, text: `version ${h.version}, ${fields.byteOrder}-endian${fields.legacy ? ', converted from legacy' : ''}` };
    }
    case 'libxc-header': {
      const { image, domain } = item;
      const guest = domain.type === 1 ? 'x86 PV' : domain.type === 2 ? 'x86 HVM' : `type ${domain.type}`;
      const xen = domain.xenMajor === 0 ? `converted from legacy (converter ${domain.xenMinor})` : `Xen ${domain.xenMajor}.${domain.xenMinor}`;
      const fields = {
        version: image.version,
        byteOrder: item.littleEndian ? 'little' : 'big',
        domainType: domain.type,
        pageShift: domain.pageShift,
        xenMajor: domain.xenMajor,
        xenMinor: domain.xenMinor,
      };
      return { fields, text: `v${image.version}, ${fields.byteOrder}-endian, ${guest}, page_shift ${domain.pageShift}, ${xen}` };
    }
    case 'trailing':
      return { fields: { length: item.length }, text: `${item.length} octet(s) after the outermost END` };
    case 'record':
      try {
        return item.layer === 'libxc' ? describeLibxc(item, state) : describeLibxl(item);
      } catch (err) {
        if (!(err instanceof StreamFormatError)) throw err;
        return { fields: { undecodable: err.detail }, text: `undecodable: ${err.detail}` };
      }
  }
}

function describeLibxc(item: RecordItem, state: DescribeState): { fields: Fields; text: string } {
  if (item.type === REC_TYPE.PAGE_DATA) {
    const s = pageDataStats(item, false);
    return { fields: { ...s }, text: pageStatsText(s) };
  }
  const rec = decodeRecord(item.type, item.body, item.littleEndian);
  if (!isKnownRecord(rec)) return { fields: { optional: (item.type & 0x80000000) !== 0 }, text: 'unknown record' };
  switch (rec.type) {
    case REC_TYPE.X86_PV_INFO:
      if (rec.guestWidth === 4 || rec.guestWidth === 8) state.pvGuestWidth = rec.guestWidth;
      return { fields: { guestWidth: rec.guestWidth, ptLevels: rec.ptLevels }, text: `guest width ${rec.guestWidth}, ${rec.ptLevels} page table levels` };
    case REC_TYPE.X86_PV_P2M_FRAMES:
      return {
        fields: { startPfn: rec.startPfn, endPfn: rec.endPfn, frames: rec.p2mPfns },
        text: `pfns ${hex(rec.startPfn)}-${hex(rec.endPfn)} in ${rec.p2mPfns.length} frame(s)`,
      };
    case REC_TYPE.X86_PV_VCPU_BASIC:
    case REC_TYPE.X86_PV_VCPU_EXTENDED:
    case REC_TYPE.X86_PV_VCPU_XSAVE:
    case REC_TYPE.X86_PV_VCPU_MSRS:
      return describePvVcpuRecord(rec.type, rec.vcpuId, rec.context, item.littleEndian, state.pvGuestWidth);
    case REC_TYPE.X86_TSC_INFO:
      return {
        fields: { mode: rec.mode, khz: rec.khz, nsec: rec.nsec, incarnation: rec.incarnation },
        text: `mode ${rec.mode}, ${rec.khz} kHz, ${rec.nsec} ns, incarnation ${rec.incarnation}`,
      };
    case REC_TYPE.HVM_PARAMS: {
      const params = rec.params.map((p) => ({ name: hvmParamName(p.index), index: p.index, value: p.value }));
      return { fields: { params }, text: `${params.length} param(s): ${params.map((p) => `${p.name}=${hex(p.value)}`).join(' ')}` };
    }
    case REC_TYPE.HVM_CONTEXT:
      return describeHvmContext(rec.data, item.littleEndian);
    case REC_TYPE.SHARED_INFO:
      return describeSharedInfoPage(rec.data, state.pvGuestWidth, item.littleEndian);
    case REC_TYPE.TOOLSTACK:
      return { fields: { bytes: rec.data.length }, text: `${rec.data.length} octet(s)` };
    case REC_TYPE.CHECKPOINT_DIRTY_PFN_LIST:
      return { fields: { pfns: rec.pfns }, text: `${rec.pfns.length} pfn(s)` };
    case REC_TYPE.X86_CPUID_POLICY:
      return {
        fields: { leaves: rec.entries },
        text:
          `${rec.entries.length} leaf/leaves: ` +
          rec.entries.map((e) => `${hex(e.leaf, 8)}:${hex(e.subleaf, 8)} -> ${[e.eax, e.ebx, e.ecx, e.edx].map((v) => hex(v, 8)).join(':')}`).join('; '),
      };
    case REC_TYPE.X86_MSR_POLICY:
      return {
        fields: { msrs: rec.entries },
        text: `${rec.entries.length} MSR(s): ` + rec.entries.map((e) => `${hex(e.index, 8)} -> ${hex(e.value, 16)}`).join('; '),
      };
    default:
      return { fields: {}, text: '' };
  }
}

function describeLibxl(item: RecordItem): { fields: Fields; text: string } {
  const rec = decodeLibxlRecord(item.type, item.body, item.littleEndian);
  if ('unknown' in rec) return { fields: { optional: (item.type & 0x80000000) !== 0 }, text: 'unknown record' };
  if ('emulatorId' in rec) {
    const base = { emulator: emulatorName(rec.emulatorId), emulatorId: rec.emulatorId, index: rec.index };
    if (rec.type === LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA) {
      const parsed = parseXenstoreData(rec.data);
      if ('error' in parsed) return { fields: { ...base, error: parsed.error }, text: `${base.emulator} #${rec.index}: ${parsed.error}` };
      return {
        fields: { ...base, pairs: Object.fromEntries(parsed.pairs) },
        text: `${base.emulator} #${rec.index}: ${parsed.pairs.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}`,
      };
    }
    return { fields: { ...base, bytes: rec.data.length }, text: `${base.emulator} #${rec.index}, ${rec.data.length} octet(s) of device model state` };
  }
  if ('controlId' in rec) return { fields: { controlId: rec.controlId }, text: `control id ${rec.controlId}` };
  return { fields: {}, text: '' };
}

const off = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/** Consecutive PAGE_DATA records folded into one line. */
export interface PageRun {
  first: RecordItem;
  lastIndex: number;
  records: number;
  bytes: number;
  stats: PageDataStats;
}

export function itemJson(item: StreamItem, listPfns: boolean, state: DescribeState = {}): Record<string, unknown> {
  if (item.kind === 'record') {
    const fields = item.layer === 'libxc' && item.type === REC_TYPE.PAGE_DATA ? { ...pageDataStats(item, listPfns) } : describeItem(item, state).fields;
    return { offset: item.offset, layer: item.layer, index: item.index, type: item.type, typeName: item.typeName, length: item.length, fields };
  }
  return { offset: item.offset, kind: item.kind, fields: describeItem(item).fields };
}

export function itemText(item: StreamItem, state: DescribeState = {}): string {
  const { text } = describeItem(item, state);
  if (item.kind === 'record') return `${off(item.offset)}  ${item.layer} #${item.index} ${item.typeName}  len ${item.length}${text ? `  ${text}` : ''}`;
  return `${off(item.offset)}  ${itemLabel(item)}  ${text}`;
}

export function runText(run: PageRun): string {
  const r = run.first;
  const idx = run.records > 1 ? `#${r.index}-#${run.lastIndex}` : `#${r.index}`;
  const times = run.records > 1 ? ` x${run.records}` : '';
  return `${off(r.offset)}  ${r.layer} ${idx} PAGE_DATA${times}  len ${run.bytes}  ${pageStatsText(run.stats)}`;
}
