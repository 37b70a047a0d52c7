/**
 * Where the static data of a libxc stream ends, and what it held. A v3 stream says so
 * with STATIC_DATA_END; for a v2 stream a v3 receiver infers the place: the first
 * X86_PV_P2M_FRAMES record (PV) or the first PAGE_DATA record (HVM). The restorer,
 * the verifier, the migration preflight and the guard all need this one answer.
 */
import { REC_TYPE, guestTypeOf, type GuestType } from '../format/constants.js';
import { decodeRecord, isKnownRecord, type CpuidEntry, type MsrEntry } from '../format/records.js';
import type { LibxcHeaderItem, RecordItem, StreamItem } from './items.js';

export interface StaticData {
  streamVersion: number;
  guestType: GuestType | undefined;
  xenMajor: number;
  xenMinor: number;
  cpuid?: CpuidEntry[];
  msrs?: MsrEntry[];
  pvInfo?: { guestWidth: number; ptLevels: number };
  /** Bit 0: no CPUID policy, bit 1: no MSR policy (the toolstack callback's mask). */
  missing: number;
}

export interface StaticDataEnd {
  /** Offset and index of the STATIC_DATA_END record, or of the record it was inferred at. */
  offset: number;
  recordIndex: number;
  inferred: boolean;
  /** For an inferred end, the record that implied it. */
  inferredAt?: string;
  data: StaticData;
}

export const MISSING_CPUID = 1;
export const MISSING_MSR = 2;

/** Does this record end the static data of a v2 stream (before it is applied)? */
export function infersStaticDataEnd(guestType: GuestType | undefined, type: number): boolean {
  if (guestType === 'pv') return type === REC_TYPE.X86_PV_P2M_FRAMES;
  if (guestType === 'hvm') return type === REC_TYPE.PAGE_DATA;
  return type === REC_TYPE.PAGE_DATA || type === REC_TYPE.X86_PV_P2M_FRAMES;
}

/**
 * Fed every item of one libxc stream in order. `push` returns the StaticDataEnd when
 * this item completes the static data: for STATIC_DATA_END after it, for an inferring
 * record *before* that record is applied (the caller must act on the end first).
 */
export class StaticDataTracker {
  private header: LibxcHeaderItem | undefined;
  private cpuid: CpuidEntry[] | undefined;
  private msrs: MsrEntry[] | undefined;
  private pvInfo: StaticData['pvInfo'];
  private endSeen: StaticDataEnd | undefined;

  get done(): StaticDataEnd | undefined {
    return this.endSeen;
  }

  get version(): number | undefined {
    return this.header?.image.version;
  }

  push(item: StreamItem): StaticDataEnd | undefined {
    if (item.kind === 'libxc-header') {
      this.header = item;
      this.cpuid = this.msrs = this.pvInfo = this.endSeen = undefined;
      return undefined;
    }
    if (item.kind !== 'record' || item.layer !== 'libxc' || this.endSeen || !this.header) return undefined;
    if (item.type === REC_TYPE.STATIC_DATA_END) return this.finish(item, false);
    if (this.header.image.version < 3 && infersStaticDataEnd(guestTypeOf(this.header.domain.type), item.type)) {
      return this.finish(item, true);
    }
    this.collect(item);
    return undefined;
  }

  private collect(item: RecordItem): void {
    try {
      if (item.type === REC_TYPE.X86_CPUID_POLICY || item.type === REC_TYPE.X86_MSR_POLICY || item.type === REC_TYPE.X86_PV_INFO) {
        const r = decodeRecord(item.type, item.body, item.littleEndian);
        if (!isKnownRecord(r)) return;
        if (r.type === REC_TYPE.X86_CPUID_POLICY) this.cpuid = [...(this.cpuid ?? []), ...r.entries];
        else if (r.type === REC_TYPE.X86_MSR_POLICY) this.msrs = [...(this.msrs ?? []), ...r.entries];
        else if (r.type === REC_TYPE.X86_PV_INFO) this.pvInfo = { guestWidth: r.guestWidth, ptLevels: r.ptLevels };
      }
    } catch {
      // A malformed static record is the verifier's to report; it carries no data here.
    }
  }

  private finish(item: RecordItem, inferred: boolean): StaticDataEnd {
    const h = this.header!;
    const data: StaticData = {
      streamVersion: h.image.version,
      guestType: guestTypeOf(h.domain.type),
      xenMajor: h.domain.xenMajor,
      xenMinor: h.domain.xenMinor,
      missing: (this.cpuid ? 0 : MISSING_CPUID) | (this.msrs ? 0 : MISSING_MSR),
    };
    if (this.cpuid) data.cpuid = this.cpuid;
    if (this.msrs) data.msrs = this.msrs;
    if (this.pvInfo) data.pvInfo = this.pvInfo;
    this.endSeen = { offset: item.offset, recordIndex: item.index, inferred, data };
    if (inferred) this.endSeen.inferredAt = item.typeName;
    return this.endSeen;
  }
}
