export * from './constants.js';
export * from './errors.js';
export * from './bytes.js';
export * from './headers.js';
export * from './records.js';
export {
  LIBXL_RECORDS,
  LIBXL_MODULES,
  LIBXL_MODULE_BY_TYPE,
  libxlRecordTypeName,
  isKnownLibxlRecordType,
  decodeLibxlRecord,
  encodeLibxlRecordBody,
  type AnyLibxlModule,
  type KnownLibxlRecord,
  type LibxlRecord,
  type LibxlRecordTable,
  type UnknownLibxlRecord,
} from './libxl/table.js';
export { EMULATOR_HEADER_LAYOUT, type EmulatorRecord, type EmulatorRecordOf } from './libxl/emulator.js';
export { CHECKPOINT_STATE_LAYOUT, type CheckpointStateRecord } from './libxl/checkpoint-state.js';
export { parseXenstoreData, scanXenstoreData, encodeXenstoreData } from './libxl/xenstore-data.js';
export * from './hvm-params.js';
export * from './hvm-context.js';
export { HVM_SAVE_RECORDS, HVM_SAVE_RECORD_BY_CODE, hvmSaveTypeName, type HvmSaveTypeName } from './hvm/table.js';
export type { HvmSaveRecordModule, HvmLengthRule } from './hvm/save-record.js';
export { hvmCpuRegisters, cpuMode, type HvmCpuRecord } from './hvm/cpu.js';
export * from './pv/index.js';
export * from './vcpu-registers.js';
export * from './vcpu-text.js';
