/**
 * What several libxc record modules share: the opaque blob and the
 * PV vcpu records (vcpu_id, reserved, then the context libxc hands to Xen as it is).
 */
import { ByteCursor, ByteWriter } from '../bytes.js';
import { StreamFormatError } from '../errors.js';
import { struct } from '../layout.js';
import type { PvContextDescriber } from '../pv/describe.js';
import { defineRecord, type LengthRule, type RecordFlags, type RecordModule, type BodyCheckContext } from '../record-module.js';

export const hex = (v: number | bigint, width = 0): string => `0x${v.toString(16).padStart(width, '0')}`;

/** A body xenmig keeps as octets (SHARED_INFO, HVM_CONTEXT, TOOLSTACK). */
export interface BlobRecord<T extends number> {
  type: T;
  data: Uint8Array;
}

export function blobRecord<T extends number>(
  type: T,
  name: string,
  flags: RecordFlags,
  length: LengthRule,
  check?: (ctx: BodyCheckContext<BlobRecord<T>>) => void,
): RecordModule<T, BlobRecord<T>> {
  return defineRecord<BlobRecord<T>>({
    type,
    name,
    flags,
    length,
    decode: (body) => ({ type, data: body }),
    encode: (r) => r.data,
    describe: (r) => ({ fields: { bytes: r.data.length }, text: `${r.data.length} octet(s)` }),
    ...(check ? { check } : {}),
  });
}

/** The head of every PV vcpu record; the context follows. */
export const VCPU_HEADER_LAYOUT = struct('x86_pv_vcpu_hdr', { vcpuId: 'u32', reserved: 'u32' });

export interface VcpuRecord<T extends number = number> {
  type: T;
  vcpuId: number;
  reserved: number;
  context: Uint8Array;
}

/**
 * One PV vcpu record type. `contextRule` is the context size libxc's restorer refuses
 * (BASIC's depends on the guest's ABI, so it has none here). `describeContext` reads the
 * context for dump; a context it cannot read shows as its size.
 */
export function vcpuRecord<T extends number>(
  type: T,
  name: string,
  contextRule: { ok: (n: number) => boolean; expected: string } | undefined,
  describeContext: PvContextDescriber,
): RecordModule<T, VcpuRecord<T>> {
  const H = VCPU_HEADER_LAYOUT;
  return defineRecord<VcpuRecord<T>>({
    type,
    name,
    flags: { dynamic: true, guest: 'pv', vcpu: true },
    length: { kind: 'min', length: H.size },
    decode(body, le) {
      const c = new ByteCursor(body, le);
      return { type, vcpuId: c.u32('vcpu_id'), reserved: c.u32('reserved'), context: c.rest() };
    },
    encode: (r, le) => new ByteWriter(le, H.size + r.context.length).u32(r.vcpuId).u32(r.reserved).bytes(r.context).finish(),
    describe(r, ctx) {
      const base = { vcpuId: r.vcpuId, contextBytes: r.context.length };
      if (r.context.length > 0) {
        try {
          const d = describeContext(r.vcpuId, r.context, ctx);
          if (d !== undefined) return { fields: { ...base, ...d.fields }, text: d.text };
        } catch (err) {
          if (!(err instanceof StreamFormatError)) throw err;
        }
      }
      return { fields: base, text: `vcpu ${r.vcpuId}, ${r.context.length} octet(s) of context` };
    },
    check(ctx) {
      const reserved = H.get(ctx.body, 'reserved', ctx.littleEndian);
      if (reserved !== 0) ctx.report('reserved-nonzero', `${ctx.typeName} reserved field ${hex(reserved, 8)}, expected zero`);
      const context = ctx.length - H.size;
      if (context === 0) {
        ctx.report('errata-empty-vcpu', `${ctx.typeName} for vcpu ${H.get(ctx.body, 'vcpuId', ctx.littleEndian)} has no context (tolerated erratum)`);
        return;
      }
      if (contextRule && !contextRule.ok(context)) ctx.report('vcpu-context-size', `${ctx.typeName} context of ${context} octets, expected ${contextRule.expected}`);
    },
  });
}
