/**
 * A few decoded fields of a header or record, for the report's hover cards: short
 * strings only (a CPUID policy is its leaf count, not its leaves), so a mark costs the
 * page tens of octets. PAGE_DATA is summed up by the timeline itself.
 */
import { LIBXL_REC_TYPE, REC_TYPE, emulatorName } from '../format/constants.js';
import { StreamFormatError } from '../format/errors.js';
import { hvmParamName } from '../format/hvm-params.js';
import { hvmContextVcpus } from '../format/hvm-context.js';
import { decodeLibxlRecord } from '../format/libxl/table.js';
import { decodeRecord, isKnownRecord } from '../format/records.js';
import type { RecordItem, StreamItem } from '../stream/items.js';

export type MarkFields = Record<string, string | number>;

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;
const MAX_TEXT = 160;
const cut = (s: string): string => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT - 3)}...` : s);

export function itemFields(item: StreamItem): MarkFields {
  switch (item.kind) {
    case 'xl-header': {
      const h = item.header;
      return {
        byteOrder: h.littleEndian ? 'little' : 'big',
        mandatoryFlags: hex(h.mandatoryFlags),
        optionalFlags: hex(h.optionalFlags),
        configBytes: h.config?.length ?? 0,
      };
    }
    case 'libxl-header':
      return { version: item.header.version, byteOrder: item.littleEndian ? 'little' : 'big', options: hex(item.header.options) };
    case 'libxc-header':
      return {
        version: item.image.version,
        byteOrder: item.littleEndian ? 'little' : 'big',
        domainType: item.domain.type === 1 ? 'x86 PV' : item.domain.type === 2 ? 'x86 HVM' : String(item.domain.type),
        pageShift: item.domain.pageShift,
        xen: `${item.domain.xenMajor}.${item.domain.xenMinor}`,
      };
    case 'trailing':
      return { octets: item.length };
    case 'record':
      try {
        return item.layer === 'libxc' ? libxcFields(item) : libxlFields(item);
      } catch (err) {
        if (!(err instanceof StreamFormatError)) throw err;
        return { undecodable: cut(err.detail) };
      }
  }
}

function libxcFields(item: RecordItem): MarkFields {
  if (item.type === REC_TYPE.PAGE_DATA || !item.bodyComplete) return {};
  const rec = decodeRecord(item.type, item.body, item.littleEndian);
  if (!isKnownRecord(rec)) return { optional: (item.type & 0x80000000) !== 0 ? 'yes' : 'no' };
  switch (rec.type) {
    case REC_TYPE.X86_PV_INFO:
      return { guestWidth: rec.guestWidth, ptLevels: rec.ptLevels };
    case REC_TYPE.X86_PV_P2M_FRAMES:
      return { pfns: `${hex(rec.startPfn)}-${hex(rec.endPfn)}`, frames: rec.p2mPfns.length };
    case REC_TYPE.X86_PV_VCPU_BASIC:
    case REC_TYPE.X86_PV_VCPU_EXTENDED:
    case REC_TYPE.X86_PV_VCPU_XSAVE:
    case REC_TYPE.X86_PV_VCPU_MSRS:
      return { vcpu: rec.vcpuId, contextBytes: rec.context.length };
    case REC_TYPE.X86_TSC_INFO:
      return { mode: rec.mode, khz: rec.khz, nsec: rec.nsec.toString(), incarnation: rec.incarnation };
    case REC_TYPE.HVM_PARAMS:
      return { params: cut(rec.params.map((p) => `${hvmParamName(p.index)}=${hex(p.value)}`).join(' ')) };
    case REC_TYPE.HVM_CONTEXT:
      return { bytes: rec.data.length, vcpus: hvmContextVcpus(rec.data).join(', ') };
    case REC_TYPE.SHARED_INFO:
    case REC_TYPE.TOOLSTACK:
      return { bytes: rec.data.length };
    case REC_TYPE.CHECKPOINT_DIRTY_PFN_LIST:
      return { pfns: rec.pfns.length };
    case REC_TYPE.X86_CPUID_POLICY:
      return { leaves: rec.entries.length };
    case REC_TYPE.X86_MSR_POLICY:
      return { msrs: cut(rec.entries.map((e) => `${hex(e.index)}=${hex(e.value)}`).join(' ')) };
    default:
      return {};
  }
}

function libxlFields(item: RecordItem): MarkFields {
  if (!item.bodyComplete) {
    if (item.type === LIBXL_REC_TYPE.EMULATOR_CONTEXT && item.body.length >= 8) {
      const v = new DataView(item.body.buffer, item.body.byteOffset, 8);
      return { emulator: emulatorName(v.getUint32(0, item.littleEndian)), index: v.getUint32(4, item.littleEndian), bytes: item.length - 8 };
    }
    return {};
  }
  const rec = decodeLibxlRecord(item.type, item.body, item.littleEndian);
  if ('unknown' in rec) return { optional: (item.type & 0x80000000) !== 0 ? 'yes' : 'no' };
  if ('emulatorId' in rec) return { emulator: emulatorName(rec.emulatorId), index: rec.index, bytes: rec.data.length };
  if ('controlId' in rec) return { controlId: rec.controlId };
  return {};
}
