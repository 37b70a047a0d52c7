/**
 * The HVM context blob (the body of HVM_CONTEXT). The save records, their table, the
 * blob decoder and Xen 4.17's load checks live in ./hvm/ (one module per save record
 * type); this file keeps the names other modules import.
 */
import { HVM_SAVE_RECORDS, type HvmSaveTypeName } from './hvm/table.js';
import type { HvmLengthRule } from './hvm/save-record.js';

export {
  HVM_SAVE_TYPE_END,
  HVM_SAVE_TYPE_HEADER,
  HVM_SAVE_TYPE_CPU,
  HVM_MAX_VCPUS,
  hvmContextVcpus,
  hvmContextRegisters,
  decodeHvmContext,
  encodeHvmContext,
  checkHvmContext,
  type HvmSaveHeader,
  type HvmSaveRecord,
  type HvmContextProblem,
  type DecodedHvmSaveRecord,
} from './hvm/context.js';
export { HVM_FILE_MAGIC, HVM_FILE_VERSION } from './hvm/header.js';
export { encodeHvmCpuRecord, HVM_HW_CPU_SIZE, HVM_HW_CPU_COMPAT_SIZE, type HvmCpuRegisters } from './hvm/cpu.js';

/** A save record type as the load checks see it (derived from its module). */
export interface HvmSaveType {
  code: number;
  name: HvmSaveTypeName;
  length: number;
  rule: HvmLengthRule;
  perVcpu: boolean;
  /** Highest instance a per-domain record may carry (PIC: master and slave). */
  maxInstance?: number;
}

/** Xen 4.17's save record types (public/arch-x86/hvm/save.h), by typecode. */
export const HVM_SAVE_TYPES: ReadonlyMap<number, HvmSaveType> = new Map(
  Object.values(HVM_SAVE_RECORDS).map((m) => [
    m.typecode,
    { code: m.typecode, name: m.name, length: m.length, rule: m.rule, perVcpu: m.perVcpu, ...(m.perVcpu ? {} : { maxInstance: m.maxInstance }) },
  ]),
);
