/** What the restore engine takes and gives back. */
import type { GuestType } from '../format/constants.js';
import type { StreamLocation } from '../format/errors.js';
import type { StaticData } from '../stream/static-data.js';
import type { CheckpointedKind } from '../stream/reader.js';
import type { LegacyOptions } from '../stream/legacy/reader.js';

/** What a `staticDataDone` callback may answer: nothing (go on) or a refusal with its reason. */
export type StaticDataAnswer = void | { refuse: string };

export interface RestoreOptions {
  /** Refuse libxc streams older than this version before anything is applied. */
  minVersion?: number;
  /**
   * The stream is checkpointed (Remus/COLO; true means Remus): CHECKPOINT records are
   * allowed and batches are buffered. In a libxl stream a checkpoint is applied at libxl's
   * CHECKPOINT_END, with the emulator records before it; COLO then sends CHECKPOINT_STATE.
   */
  checkpointed?: boolean | CheckpointedKind;
  /** Start in VERIFY mode: compare every page with the sink instead of writing it. */
  verifyMode?: boolean;
  /**
   * Called once at STATIC_DATA_END (sent or inferred), before any memory is touched, with
   * the missing mask (bit 0 no CPUID policy, bit 1 no MSR policy) and the static data.
   */
  staticDataDone?: (missing: number, data: StaticData) => StaticDataAnswer | Promise<StaticDataAnswer>;
  onProgress?: (p: RestoreProgress) => void;
  /** When the input is a path or "-": read it synchronously (see FileRawSource). */
  blockingInput?: boolean;
  /** When the input is a path or "-" holding a legacy image: what to take as given about it (detected otherwise). */
  legacy?: LegacyOptions;
  onEvent?: (e: RestoreEvent) => void;
}

export interface RestoreProgress {
  /** Offset in the outermost stream just past the last record applied. */
  offset: number;
  pages: number;
}

export interface IgnoredRecord {
  type: number;
  typeName: string;
  location: StreamLocation;
}

export interface RestoreWarning {
  message: string;
  location: StreamLocation;
}

export interface StaticDataEndInfo {
  offset: number;
  recordIndex: number;
  inferred: boolean;
  inferredAt?: string;
  missing: number;
}

export type RestoreEvent =
  | ({ kind: 'static-data-end' } & StaticDataEndInfo)
  | ({ kind: 'ignored' } & IgnoredRecord)
  | ({ kind: 'warning' } & RestoreWarning)
  | { kind: 'checkpoint'; index: number; offset: number; appliedRecords: number }
  | { kind: 'verify-mismatch'; pfn: number; location: StreamLocation }
  | { kind: 'failover'; reason: string; checkpoints: number };

/** Ignored records of one type kept one by one in the result; the rest are counted. */
export const IGNORED_SHOWN = 10;
/** Warnings kept in the result; the rest are counted (a hostile stream can draw one per record). */
export const WARNINGS_KEPT = 100;

export interface RestoreResult {
  guestType: GuestType;
  streamVersion: number;
  xenMajor: number;
  xenMinor: number;
  /** Layers met, outermost first: "xl", "libxl", "libxc". */
  layers: string[];
  /** libxc records read (END included), and libxl records. */
  records: number;
  libxlRecords: number;
  pageRecords: number;
  /** Pages whose contents were written. */
  pagesWritten: number;
  /** Distinct pfns allocated. */
  pfnsPopulated: number;
  staticDataEnd?: StaticDataEndInfo;
  /** The first ignored records of each type (at most IGNORED_SHOWN); `ignoredCounts` counts them all. */
  ignored: IgnoredRecord[];
  /** Per ignored record type: how many were ignored in all. */
  ignoredCounts: { type: number; typeName: string; count: number }[];
  /** The first warnings (at most WARNINGS_KEPT); `warningsDropped` counts the rest. */
  warnings: RestoreWarning[];
  warningsDropped: number;
  /** Present when VERIFY mode was entered: pages compared and every pfn that differed. */
  verify?: { pagesChecked: number; mismatches: number[] };
  /** Complete checkpoints applied (at CHECKPOINT, or at CHECKPOINT_END in a libxl stream). */
  checkpoints: number;
  /** The stream broke after a complete checkpoint: the domain is that checkpoint. */
  failover?: { reason: string; discardedRecords: number };
  /**
   * Pages zeroed as libxc's restorer zeroes them when it reads HVM_PARAMS (the xenstore
   * and console rings, the legacy ioreq pages): the image differs from the stream there.
   */
  clearedPages: { pfn: number; param: string }[];
  /** Offset just past the last item read. */
  bytes: number;
  config?: string;
}
