/**
 * libxc record bodies: one module per record type in src/format/libxc/, gathered in one
 * table (libxc/table.ts). This file is the way in for the rest of xenmig: the table's
 * derived names, sets and codec, and each module's record type and helpers. Decoders keep
 * reserved fields so that encoding a decoded record gives back the same bytes; whether a
 * reserved field is zero is a rule for the verifier, not a reason to refuse to decode.
 */
export { checkLength, type LengthRule, type RecordModule, type Described, type StreamFacts, type BodyCheckContext } from './record-module.js';
export {
  LIBXC_RECORDS,
  LIBXC_MODULES,
  LIBXC_MODULE_BY_TYPE,
  V3_ONLY_RECORDS,
  STATIC_RECORDS,
  DYNAMIC_RECORDS,
  PV_ONLY_RECORDS,
  HVM_ONLY_RECORDS,
  VCPU_RECORDS,
  decodeRecord,
  encodeRecordBody,
  isKnownRecord,
  type AnyLibxcModule,
  type KnownLibxcRecord,
  type LibxcRecord,
  type LibxcRecordTable,
  type PvVcpuRecordType,
  type UnknownRecord,
} from './libxc/table.js';
export {
  PAGE_DATA_HEADER_LAYOUT,
  decodePageData,
  decodePfnEntry,
  encodePageData,
  encodePfnEntry,
  isPfnRun,
  pfnEntryStats,
  pageStatsText,
  pfnArrayWords,
  pfnEntriesOf,
  wordsPageType,
  wordsPfn,
  type PageDataRecord,
  type PageDataStats,
  type PfnEntry,
} from './libxc/page-data.js';
export { VCPU_HEADER_LAYOUT } from './libxc/common.js';
import type { VcpuRecord as VcpuRecordOf } from './libxc/common.js';
import type { PvVcpuRecordType } from './libxc/table.js';
/** Any of the four PV vcpu records. */
export type VcpuRecord = VcpuRecordOf<PvVcpuRecordType>;
export { PV_INFO_LAYOUT, type PvInfoRecord } from './libxc/x86-pv-info.js';
export { P2M_FRAMES_HEADER_LAYOUT, p2mFramesNeeded, type P2mFramesRecord } from './libxc/x86-pv-p2m-frames.js';
export { TSC_INFO_LAYOUT, type TscInfoRecord } from './libxc/x86-tsc-info.js';
export { HVM_PARAMS_HEADER_LAYOUT, HVM_PARAM_LAYOUT, type HvmParam, type HvmParamsRecord } from './libxc/hvm-params.js';
export { CPUID_LEAF_LAYOUT, type CpuidEntry, type CpuidPolicyRecord } from './libxc/x86-cpuid-policy.js';
export { MSR_ENTRY_LAYOUT, type MsrEntry, type MsrPolicyRecord } from './libxc/x86-msr-policy.js';

import { LIBXC_MODULE_BY_TYPE, VCPU_RECORDS } from './libxc/table.js';
import type { Described } from './record-module.js';
import type { PvGuestWidth } from './pv/vcpu-context.js';

/** The table by type number; the name predates the record modules. */
export const RECORD_SPECS = LIBXC_MODULE_BY_TYPE;

/** A PV vcpu record described from its parts by its module; the name predates the modules' describe. */
export function describePvVcpuRecord(type: number, vcpuId: number, context: Uint8Array, le: boolean, width?: PvGuestWidth): Described {
  const m = VCPU_RECORDS.has(type) ? LIBXC_MODULE_BY_TYPE.get(type) : undefined;
  if (m === undefined) throw new Error(`record type ${type} is not a PV vcpu record`);
  return m.describe({ type, vcpuId, reserved: 0, context } as VcpuRecord, { littleEndian: le, pvGuestWidth: width });
}
