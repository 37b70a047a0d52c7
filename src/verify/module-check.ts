/**
 * A record module's length rule and body check run for the verifier, for either layer's
 * table: the module sees the stream as StreamFacts and reports through the verifier's codes.
 */
import { checkLength, type LengthRule, type RecordModule, type StreamFacts } from '../format/record-module.js';
import type { RecordItem } from '../stream/items.js';
import { DIAGNOSTIC_CODES, type DiagnosticCode } from './codes.js';
import type { Reporter } from './report.js';

/** A code a record module reported, as the table knows it; a code missing there is a bug of ours. */
function knownCode(code: string, typeName: string): DiagnosticCode {
  if (!Object.hasOwn(DIAGNOSTIC_CODES, code)) throw new Error(`${typeName} module reported ${code}, which src/verify/codes.ts does not define`);
  return code as DiagnosticCode;
}

/** What a module's check needs of the verifier: either layer's rule context gives it. */
export interface ModuleCheckContext {
  item: RecordItem;
  /** The stream as the modules see it (each layer's state implements it). */
  state: StreamFacts;
  r: Reporter;
}

export type ModuleCheck = (ctx: ModuleCheckContext) => void;

/** One module's body check with this stream's facts. */
export function moduleCheck<R extends { type: number }>(m: RecordModule<number, R>): ModuleCheck {
  const check = m.check!;
  return ({ item, state, r }) => {
    let decoded: R | undefined;
    check({
      body: item.body,
      length: item.length,
      littleEndian: item.littleEndian,
      typeName: item.typeName,
      facts: state,
      record: () => (decoded ??= m.decode(item.body, item.littleEndian)),
      report: (code, message) => r.report(knownCode(code, m.name), message),
    });
  };
}

/** Type -> body check, for the modules of one table that have one. */
export function bodyChecks<R extends { type: number }>(modules: readonly RecordModule<number, R>[]): ReadonlyMap<number, ModuleCheck> {
  return new Map(modules.filter((m) => m.check !== undefined).map((m) => [m.type, moduleCheck(m)] as const));
}

/** The length rule, then (only when it holds) the body check. */
export function checkWithModule<C extends ModuleCheckContext>(m: { name: string; length: LengthRule }, checks: ReadonlyMap<number, (ctx: C) => void>, ctx: C): void {
  const bad = checkLength(m.length, ctx.item.length);
  if (bad !== undefined) {
    ctx.r.report('length-invalid', `${m.name} ${bad}`);
    return;
  }
  checks.get(ctx.item.type)?.(ctx);
}
