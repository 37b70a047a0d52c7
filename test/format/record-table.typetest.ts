/**
 * Compile-time proof that the libxc record table cannot miss a REC_TYPE: each table below
 * lacks one module, or holds a module under another type's name, and must fail to type
 * check. If one of them ever compiles, `@ts-expect-error` itself becomes the error and
 * `tsc` (the first step of `npm test`) fails.
 */
import { LIBXC_RECORDS, type LibxcRecordTable } from '../../src/format/libxc/table.js';

const { X86_TSC_INFO: _missing, ...withoutTscInfo } = LIBXC_RECORDS;

// @ts-expect-error X86_TSC_INFO has no module
export const missingOne = withoutTscInfo satisfies LibxcRecordTable;

// @ts-expect-error END's slot holds the X86_TSC_INFO module (type 8, not 0)
export const wrongType = { ...LIBXC_RECORDS, END: LIBXC_RECORDS.X86_TSC_INFO } satisfies LibxcRecordTable;

export const whole = LIBXC_RECORDS satisfies LibxcRecordTable;
