/**
 * What each layer's record table (libxc/table.ts, libxl/table.ts) derives alike from its
 * modules: the modules in type order, the lookup by type number, and decode/encode of a
 * body by its type.
 */
import { StreamFormatError } from './errors.js';
import { checkLength, type RecordModule } from './record-module.js';

/** A type the table does not know: the body is kept as it came. */
export interface UnknownRecord {
  type: number;
  unknown: true;
  body: Uint8Array;
}

export interface ModuleIndex<M> {
  /** The modules in type order. */
  readonly modules: readonly M[];
  readonly byType: ReadonlyMap<number, M>;
}

export function indexModules<M extends { type: number }>(table: Readonly<Record<string, unknown>>): ModuleIndex<M> {
  const modules = (Object.values(table) as M[]).sort((a, b) => a.type - b.type);
  return { modules, byType: new Map(modules.map((m) => [m.type, m])) };
}

/**
 * A body decoded by its type's module; an unknown type comes back as it came. A body the
 * type's length rule refuses throws StreamFormatError saying so, after the record's name
 * when `named` (the libxl layer's callers name the record in the error's location).
 */
export function decodeByType<R extends { type: number }>(
  byType: ReadonlyMap<number, RecordModule<number, R>>,
  type: number,
  body: Uint8Array,
  littleEndian: boolean,
  named: boolean,
): R | UnknownRecord {
  const m = byType.get(type);
  if (m === undefined) return { type, unknown: true, body };
  const bad = checkLength(m.length, body.length);
  if (bad !== undefined) throw new StreamFormatError(named ? `${m.name}: ${bad}` : bad);
  return m.decode(body, littleEndian);
}

export function encodeByType<R extends { type: number }>(byType: ReadonlyMap<number, RecordModule<number, R>>, rec: R | UnknownRecord, littleEndian: boolean): Uint8Array {
  if ('unknown' in rec) return rec.body;
  const m = byType.get(rec.type);
  if (m === undefined) throw new Error(`no codec for record type ${rec.type}`);
  return m.encode(rec, littleEndian);
}
