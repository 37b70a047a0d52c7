/**
 * The libxc record table: every REC_TYPE name to its module. Its type demands a module
 * for each name with that name's type number (test/format/record-table.typetest.ts proves
 * a missing one fails to compile), and everything else derives from it: names, the type
 * sets the sequence rules use, the record union, decode and encode by type.
 */
import { REC_TYPE, type RecTypeName } from '../constants.js';
import type { RecordFlags, RecordModule, RecordOf } from '../record-module.js';
import { decodeByType, encodeByType, indexModules, type UnknownRecord } from '../record-table.js';
import { checkpoint } from './checkpoint.js';
import type { VcpuRecord } from './common.js';
import { checkpointDirtyPfnList } from './checkpoint-dirty-pfn-list.js';
import { end } from './end.js';
import { hvmContext } from './hvm-context.js';
import { hvmParams } from './hvm-params.js';
import { pageData } from './page-data.js';
import { sharedInfo } from './shared-info.js';
import { staticDataEnd } from './static-data-end.js';
import { toolstack } from './toolstack.js';
import { verify } from './verify.js';
import { x86CpuidPolicy } from './x86-cpuid-policy.js';
import { x86MsrPolicy } from './x86-msr-policy.js';
import { x86PvInfo } from './x86-pv-info.js';
import { x86PvP2mFrames } from './x86-pv-p2m-frames.js';
import { x86PvVcpuBasic } from './x86-pv-vcpu-basic.js';
import { x86PvVcpuExtended } from './x86-pv-vcpu-extended.js';
import { x86PvVcpuMsrs } from './x86-pv-vcpu-msrs.js';
import { x86PvVcpuXsave } from './x86-pv-vcpu-xsave.js';
import { x86TscInfo } from './x86-tsc-info.js';

/** What the table must hold: for each REC_TYPE name, a module of that type number. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LibxcRecordTable = { readonly [K in RecTypeName]: RecordModule<(typeof REC_TYPE)[K], any> };

export const LIBXC_RECORDS = {
  END: end,
  PAGE_DATA: pageData,
  X86_PV_INFO: x86PvInfo,
  X86_PV_P2M_FRAMES: x86PvP2mFrames,
  X86_PV_VCPU_BASIC: x86PvVcpuBasic,
  X86_PV_VCPU_EXTENDED: x86PvVcpuExtended,
  X86_PV_VCPU_XSAVE: x86PvVcpuXsave,
  SHARED_INFO: sharedInfo,
  X86_TSC_INFO: x86TscInfo,
  HVM_CONTEXT: hvmContext,
  HVM_PARAMS: hvmParams,
  TOOLSTACK: toolstack,
  X86_PV_VCPU_MSRS: x86PvVcpuMsrs,
  VERIFY: verify,
  CHECKPOINT: checkpoint,
  CHECKPOINT_DIRTY_PFN_LIST: checkpointDirtyPfnList,
  STATIC_DATA_END: staticDataEnd,
  X86_CPUID_POLICY: x86CpuidPolicy,
  X86_MSR_POLICY: x86MsrPolicy,
} as const satisfies LibxcRecordTable;

/** The PV vcpu records share one shape; as before the modules, one member of the union covers all four. */
export type PvVcpuRecordType =
  | typeof REC_TYPE.X86_PV_VCPU_BASIC
  | typeof REC_TYPE.X86_PV_VCPU_EXTENDED
  | typeof REC_TYPE.X86_PV_VCPU_XSAVE
  | typeof REC_TYPE.X86_PV_VCPU_MSRS;

type OneVcpuShape<R> = R extends VcpuRecord ? VcpuRecord<PvVcpuRecordType> : R;

/** Every known libxc record, as its module decodes it. */
export type KnownLibxcRecord = OneVcpuShape<RecordOf<(typeof LIBXC_RECORDS)[RecTypeName]>>;

export type { UnknownRecord };

export type LibxcRecord = KnownLibxcRecord | UnknownRecord;

export function isKnownRecord(r: LibxcRecord): r is KnownLibxcRecord {
  return !('unknown' in r);
}

export type AnyLibxcModule = RecordModule<number, KnownLibxcRecord>;

const INDEX = indexModules<AnyLibxcModule>(LIBXC_RECORDS);

/** The modules in type order. */
export const LIBXC_MODULES: readonly AnyLibxcModule[] = INDEX.modules;

/** Record type -> module. */
export const LIBXC_MODULE_BY_TYPE: ReadonlyMap<number, AnyLibxcModule> = INDEX.byType;

function typesWhere(pick: (f: RecordFlags) => boolean): ReadonlySet<number> {
  return new Set(LIBXC_MODULES.filter((m) => pick(m.flags)).map((m) => m.type));
}

/** Records that only a v3 stream may carry. */
export const V3_ONLY_RECORDS = typesWhere((f) => f.v3Only === true);
/** Static records: invariant of guest execution, all before STATIC_DATA_END. */
export const STATIC_RECORDS = typesWhere((f) => f.static === true);
/** Memory and register content: none may come before STATIC_DATA_END in v3. */
export const DYNAMIC_RECORDS = typesWhere((f) => f.dynamic === true);
export const PV_ONLY_RECORDS = typesWhere((f) => f.guest === 'pv');
export const HVM_ONLY_RECORDS = typesWhere((f) => f.guest === 'hvm');
export const VCPU_RECORDS = typesWhere((f) => f.vcpu === true);

/**
 * Decode a body by its type. Unknown types come back as UnknownRecord; a body that does
 * not fit its type's layout throws StreamFormatError (the caller adds the location).
 */
export function decodeRecord(type: number, body: Uint8Array, littleEndian: boolean): LibxcRecord {
  return decodeByType(LIBXC_MODULE_BY_TYPE, type, body, littleEndian, true);
}

export function encodeRecordBody(rec: LibxcRecord, littleEndian: boolean): Uint8Array {
  return encodeByType(LIBXC_MODULE_BY_TYPE, rec, littleEndian);
}
