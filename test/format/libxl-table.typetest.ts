/**
 * Compile-time proof that the libxl record table cannot miss a LIBXL_REC_TYPE, as
 * record-table.typetest.ts proves it of the libxc table: each table below lacks one
 * module, or holds one under another type's name, and must fail to type check.
 */
import { LIBXL_RECORDS, type LibxlRecordTable } from '../../src/format/libxl/table.js';

const { CHECKPOINT_STATE: _missing, ...withoutCheckpointState } = LIBXL_RECORDS;

// @ts-expect-error CHECKPOINT_STATE has no module
export const missingOne = withoutCheckpointState satisfies LibxlRecordTable;

// @ts-expect-error END's slot holds the EMULATOR_CONTEXT module (type 3, not 0)
export const wrongType = { ...LIBXL_RECORDS, END: LIBXL_RECORDS.EMULATOR_CONTEXT } satisfies LibxlRecordTable;

// @ts-expect-error LIBXC_CONTEXT's slot holds END (both empty, but type 0, not 1)
export const sameShapeWrongType = { ...LIBXL_RECORDS, LIBXC_CONTEXT: LIBXL_RECORDS.END } satisfies LibxlRecordTable;

export const whole = LIBXL_RECORDS satisfies LibxlRecordTable;
