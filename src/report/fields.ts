/**
 * A few fields of a header or record, for the report's hover cards: dump's description
 * (src/inspect/describe.ts, through the record modules) cut to short strings, so a mark
 * costs the page tens of octets (a CPUID policy is its leaf count, not its leaves).
 * PAGE_DATA is summed up by the timeline itself.
 */
import { LIBXL_REC_TYPE, REC_TYPE } from '../format/constants.js';
import { hvmContextVcpus } from '../format/hvm/context.js';
import { EMULATOR_HEADER_LAYOUT } from '../format/libxl/emulator.js';
import { describeItem, domainTypeLabel, type Fields } from '../inspect/describe.js';
import type { RecordItem, StreamItem } from '../stream/items.js';

export type MarkFields = Record<string, string | number>;

const hex = (v: unknown): string => `0x${(v as number | bigint).toString(16)}`;
const MAX_TEXT = 160;
const cut = (s: string): string => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT - 3)}...` : s);
const num = (v: unknown): number => v as number;
const list = (v: unknown): Record<string, unknown>[] => v as Record<string, unknown>[];

type Shorten = (f: Fields, item: RecordItem) => MarkFields;

const vcpu: Shorten = (f) => ({ vcpu: num(f.vcpuId), contextBytes: num(f.contextBytes) });
const bytes: Shorten = (f) => ({ bytes: num(f.bytes) });

/** Each libxc record's hover fields from its description; a type not here shows none. */
const LIBXC: ReadonlyMap<number, Shorten> = new Map<number, Shorten>([
  [REC_TYPE.X86_PV_INFO, (f) => ({ guestWidth: num(f.guestWidth), ptLevels: num(f.ptLevels) })],
  [REC_TYPE.X86_PV_P2M_FRAMES, (f) => ({ pfns: `${hex(f.startPfn)}-${hex(f.endPfn)}`, frames: (f.frames as unknown[]).length })],
  [REC_TYPE.X86_PV_VCPU_BASIC, vcpu],
  [REC_TYPE.X86_PV_VCPU_EXTENDED, vcpu],
  [REC_TYPE.X86_PV_VCPU_XSAVE, vcpu],
  [REC_TYPE.X86_PV_VCPU_MSRS, vcpu],
  [REC_TYPE.X86_TSC_INFO, (f) => ({ mode: num(f.mode), khz: num(f.khz), nsec: String(f.nsec), incarnation: num(f.incarnation) })],
  [REC_TYPE.HVM_PARAMS, (f) => ({ params: cut(list(f.params).map((p) => `${p.name}=${hex(p.value)}`).join(' ')) })],
  // The vcpus with a CPU save record, not dump's `vcpus`: those list the down vcpus too,
  // and dump reads no save records in a big-endian stream, where the hover always showed
  // them as Xen writes them (little-endian).
  [REC_TYPE.HVM_CONTEXT, (f, item) => ({ bytes: num(f.bytes), vcpus: hvmContextVcpus(item.body).join(', ') })],
  [REC_TYPE.SHARED_INFO, bytes],
  [REC_TYPE.TOOLSTACK, bytes],
  [REC_TYPE.CHECKPOINT_DIRTY_PFN_LIST, (f) => ({ pfns: (f.pfns as unknown[]).length })],
  [REC_TYPE.X86_CPUID_POLICY, (f) => ({ leaves: (f.leaves as unknown[]).length })],
  [REC_TYPE.X86_MSR_POLICY, (f) => ({ msrs: cut(list(f.msrs).map((e) => `${hex(e.index)}=${hex(e.value)}`).join(' ')) })],
]);

/** The emulator records' data size from the record's length: verify and the report read EMULATOR_CONTEXT heads-only. */
const emulator: Shorten = (f, item) => ({ emulator: String(f.emulator), index: num(f.index), bytes: item.length - EMULATOR_HEADER_LAYOUT.size });

const LIBXL: ReadonlyMap<number, Shorten> = new Map<number, Shorten>([
  [LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA, emulator],
  [LIBXL_REC_TYPE.EMULATOR_CONTEXT, emulator],
  [LIBXL_REC_TYPE.CHECKPOINT_STATE, (f) => ({ controlId: num(f.controlId) })],
]);

/**
 * Each item described on its own: no hover field depends on the PV guest width that
 * describing later records in a stream may use.
 */
export function itemFields(item: StreamItem): MarkFields {
  if (item.kind === 'record' && !describable(item)) return {};
  const f = describeItem(item).fields;
  switch (item.kind) {
    case 'xl-header':
      return { byteOrder: String(f.byteOrder), mandatoryFlags: hex(f.mandatoryFlags), optionalFlags: hex(f.optionalFlags), configBytes: num(f.configBytes) };
    case 'libxl-header':
      return { version: num(f.version), byteOrder: String(f.byteOrder), options: hex(f.options) };
    case 'libxc-header':
      return {
        version: num(f.version),
        byteOrder: String(f.byteOrder),
        domainType: domainTypeLabel(num(f.domainType)) ?? String(f.domainType),
        pageShift: num(f.pageShift),
        xen: `${num(f.xenMajor)}.${num(f.xenMinor)}`,
      };
    case 'trailing':
      return { octets: num(f.length) };
    case 'record':
      if (typeof f.undecodable === 'string') return { undecodable: cut(f.undecodable) };
      if (typeof f.optional === 'boolean') return { optional: f.optional ? 'yes' : 'no' };
      return (item.layer === 'libxc' ? LIBXC : LIBXL).get(item.type)?.(f, item) ?? {};
  }
}

/**
 * Whether the body as read can be described: not PAGE_DATA (the timeline sums those) and
 * not a body the reader kept only the head of, except an emulator record's, whose head
 * holds all the hover shows.
 */
function describable(item: RecordItem): boolean {
  if (item.layer === 'libxc') return item.type !== REC_TYPE.PAGE_DATA && item.bodyComplete;
  return item.bodyComplete || (item.type === LIBXL_REC_TYPE.EMULATOR_CONTEXT && item.body.length >= EMULATOR_HEADER_LAYOUT.size);
}
