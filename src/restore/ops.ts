/**
 * Per guest type operations, in the shape of libxc's restore_ops: the engine handles
 * framing, page data, VERIFY, CHECKPOINT and STATIC_DATA_END; everything specific to
 * HVM or PV goes through this table.
 */
import { StreamFormatError, type StreamLocation } from '../format/errors.js';
import { REC_TYPE } from '../format/constants.js';
import type { KnownLibxcRecord } from '../format/records.js';
import type { DomainSink } from '../domain/types.js';
import type { StaticData } from '../stream/static-data.js';

export interface RestoreContext {
  readonly sink: DomainSink;
  /** STATIC_DATA_END was sent or inferred. */
  readonly staticDataEnded: boolean;
  warn(message: string, location: StreamLocation): void;
  /** A page the restorer zeroed on its own (as libxc does), for the result. */
  pageCleared(pfn: number, param: string): void;
}

export interface GuestOps {
  /**
   * Apply one record meant for this guest type. False: the record has no meaning for
   * this guest type (the engine then fails on it, or ignores it when optional).
   */
  processRecord(ctx: RestoreContext, rec: KnownLibxcRecord, loc: StreamLocation): Promise<boolean>;
  /** Why a pfn cannot be in this domain, or undefined when it can. */
  pfnProblem(pfn: number): string | undefined;
  /** Complete the static state (apply the CPU policy, PV info); returns the missing mask. */
  staticDataComplete(ctx: RestoreContext, data: StaticData, loc: StreamLocation): Promise<number>;
  /** END (or failover to the last checkpoint): hand the deferred state to the sink. */
  streamComplete(ctx: RestoreContext, loc: StreamLocation): Promise<void>;
}

/** Records every x86 guest takes the same way (libxc's common x86 code). */
export async function processX86Common(ctx: RestoreContext, rec: KnownLibxcRecord, loc: StreamLocation): Promise<boolean> {
  switch (rec.type) {
    case REC_TYPE.X86_TSC_INFO:
      await ctx.sink.setTscInfo({ mode: rec.mode, khz: rec.khz, nsec: rec.nsec, incarnation: rec.incarnation });
      return true;
    case REC_TYPE.X86_CPUID_POLICY:
    case REC_TYPE.X86_MSR_POLICY:
      // Collected by the StaticDataTracker and applied at STATIC_DATA_END.
      if (ctx.staticDataEnded) {
        throw new StreamFormatError('static record after STATIC_DATA_END: the CPU policy is already applied', loc);
      }
      return true;
    default:
      return false;
  }
}

export async function applyCpuPolicy(ctx: RestoreContext, data: StaticData): Promise<void> {
  if (data.cpuid || data.msrs) {
    const policy: { cpuid?: typeof data.cpuid; msrs?: typeof data.msrs } = {};
    if (data.cpuid) policy.cpuid = data.cpuid;
    if (data.msrs) policy.msrs = data.msrs;
    await ctx.sink.setCpuPolicy(policy);
  }
}
