/**
 * Decoded fields of each header and record for `dump` (and any library user): one object
 * per item (for JSON Lines) and its one-line text. A record reads as its module's
 * describe() says, given the stream's byte order and the PV guest width seen so far;
 * PAGE_DATA as counts by page type and a pfn range, from its pfn array alone (dump jumps
 * over page contents).
 */
import { DHDR_TYPE_X86_HVM, DHDR_TYPE_X86_PV, REC_TYPE, isOptionalRecordType } from '../format/constants.js';
import { StreamFormatError } from '../format/errors.js';
import { xlConfigText } from '../format/headers.js';
import { LIBXL_MODULE_BY_TYPE, decodeLibxlRecord } from '../format/libxl/table.js';
import { LIBXC_MODULE_BY_TYPE, PV_INFO_LAYOUT, decodeRecord, pageStatsText, pfnEntryStats, type PageDataStats } from '../format/records.js';
import { itemLabel, type RecordItem, type StreamItem } from '../stream/items.js';
import type { PvGuestWidth } from '../format/pv/index.js';
import type { DescribeContext, RecordModule } from '../format/record-module.js';

/** What describing a record needs from earlier ones: the PV guest width once X86_PV_INFO said it. */
export interface DescribeState {
  pvGuestWidth?: PvGuestWidth;
}

export type Fields = Record<string, unknown>;
export type { PageDataStats };

const hex = (v: number | bigint, width = 0): string => `0x${v.toString(16).padStart(width, '0')}`;

/** Pfn entries of a PAGE_DATA record (only the pfn array is needed). */
export function pageDataStats(item: RecordItem, listPfns: boolean): PageDataStats {
  return pfnEntryStats(item.body, item.littleEndian, listPfns);
}

export function mergeStats(into: PageDataStats, s: PageDataStats): void {
  into.count += s.count;
  into.withData += s.withData;
  into.minPfn = Math.min(into.minPfn, s.minPfn);
  into.maxPfn = Math.max(into.maxPfn, s.maxPfn);
  for (const [k, v] of Object.entries(s.byType)) into.byType[k] = (into.byType[k] ?? 0) + v;
}

export { pageStatsText };

/** The domain header's type as people name it; undefined for a type libxc does not write. */
export function domainTypeLabel(type: number): string | undefined {
  return type === DHDR_TYPE_X86_PV ? 'x86 PV' : type === DHDR_TYPE_X86_HVM ? 'x86 HVM' : undefined;
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
      const guest = domainTypeLabel(domain.type) ?? `type ${domain.type}`;
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
        return item.layer === 'libxc' ? describeLibxc(item, state) : byModule(item, LIBXL_MODULE_BY_TYPE, decodeLibxlRecord, { littleEndian: item.littleEndian });
      } catch (err) {
        if (!(err instanceof StreamFormatError)) throw err;
        return { fields: { undecodable: err.detail }, text: `undecodable: ${err.detail}` };
      }
  }
}

function describeLibxc(item: RecordItem, state: DescribeState): { fields: Fields; text: string } {
  // PAGE_DATA stays here: dump reads it without its page contents (a body the module's
  // length rule and decoder refuse), and what dump shows of it is the pfn array's
  // statistics, which runs of records merge (mergeStats); a module describes one record.
  if (item.type === REC_TYPE.PAGE_DATA) {
    const s = pageDataStats(item, false);
    return { fields: { ...s }, text: pageStatsText(s) };
  }
  // Dump's memory of the stream: the guest width later PV records are laid out in.
  if (item.type === REC_TYPE.X86_PV_INFO && PV_INFO_LAYOUT.has(item.body, 'guestWidth')) {
    const width = PV_INFO_LAYOUT.get(item.body, 'guestWidth', item.littleEndian);
    if (width === 4 || width === 8) state.pvGuestWidth = width;
  }
  return byModule(item, LIBXC_MODULE_BY_TYPE, decodeRecord, { littleEndian: item.littleEndian, pvGuestWidth: state.pvGuestWidth });
}

/** A record as its layer's table describes it: decoded by type (length rule included), then its module's describe. */
function byModule<R extends { type: number }>(
  item: RecordItem,
  modules: ReadonlyMap<number, RecordModule<number, R>>,
  decode: (type: number, body: Uint8Array, littleEndian: boolean) => R | { unknown: true },
  ctx: DescribeContext,
): { fields: Fields; text: string } {
  const m = modules.get(item.type);
  if (m === undefined) return { fields: { optional: isOptionalRecordType(item.type) }, text: 'unknown record' };
  return m.describe(decode(item.type, item.body, item.littleEndian) as R, ctx);
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
