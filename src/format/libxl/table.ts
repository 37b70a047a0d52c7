/**
 * The libxl record table: every LIBXL_REC_TYPE name to its module, typed so that a missing
 * or misplaced module fails to compile (test/format/libxl-table.typetest.ts), as the libxc
 * table is. Names, the known-type check, the record union and decode/encode by type derive
 * from it.
 */
import { LIBXL_REC_TYPE, recordNamer, type LibxlRecTypeName } from '../constants.js';
import type { RecordModule, RecordOf } from '../record-module.js';
import { decodeByType, encodeByType, indexModules, type UnknownRecord } from '../record-table.js';
import { checkpointEnd } from './checkpoint-end.js';
import { checkpointState } from './checkpoint-state.js';
import type { EmulatorRecord, EmulatorRecordOf } from './emulator.js';
import { emulatorContext } from './emulator-context.js';
import { emulatorXenstoreData } from './emulator-xenstore-data.js';
import { end } from './end.js';
import { libxcContext } from './libxc-context.js';

/** What the table must hold: for each LIBXL_REC_TYPE name, a module of that type number. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LibxlRecordTable = { readonly [K in LibxlRecTypeName]: RecordModule<(typeof LIBXL_REC_TYPE)[K], any> };

export const LIBXL_RECORDS = {
  END: end,
  LIBXC_CONTEXT: libxcContext,
  EMULATOR_XENSTORE_DATA: emulatorXenstoreData,
  EMULATOR_CONTEXT: emulatorContext,
  CHECKPOINT_END: checkpointEnd,
  CHECKPOINT_STATE: checkpointState,
} as const satisfies LibxlRecordTable;

/** The emulator records share one shape; as before the modules, one member of the union covers both. */
type OneEmulatorShape<R> = R extends EmulatorRecordOf<number> ? EmulatorRecord : R;

/** Every known libxl record, as its module decodes it. */
export type KnownLibxlRecord = OneEmulatorShape<RecordOf<(typeof LIBXL_RECORDS)[LibxlRecTypeName]>>;

/** A libxl record of a type this table does not know: the body as it came. */
export type UnknownLibxlRecord = UnknownRecord;

export type LibxlRecord = KnownLibxlRecord | UnknownLibxlRecord;

export type AnyLibxlModule = RecordModule<number, KnownLibxlRecord>;

const INDEX = indexModules<AnyLibxlModule>(LIBXL_RECORDS);

/** The modules in type order. */
export const LIBXL_MODULES: readonly AnyLibxlModule[] = INDEX.modules;

/** Record type -> module. */
export const LIBXL_MODULE_BY_TYPE: ReadonlyMap<number, AnyLibxlModule> = INDEX.byType;

const NAMES = recordNamer(Object.fromEntries(LIBXL_MODULES.map((m) => [m.name, m.type])));

/** The name of a libxl record type, with unknown types shown in hex (and optional ones marked). */
export const libxlRecordTypeName = NAMES.name;

export const isKnownLibxlRecordType = NAMES.known;

/**
 * Decode a body by its type; unknown types come back as they came. A body its type's
 * length rule refuses throws StreamFormatError without the record's name: every caller
 * adds a location that names it (and dump has always shown it so).
 */
export function decodeLibxlRecord(type: number, body: Uint8Array, littleEndian: boolean): LibxlRecord {
  return decodeByType(LIBXL_MODULE_BY_TYPE, type, body, littleEndian, false);
}

export function encodeLibxlRecordBody(rec: LibxlRecord, littleEndian: boolean): Uint8Array {
  return encodeByType(LIBXL_MODULE_BY_TYPE, rec, littleEndian);
}
