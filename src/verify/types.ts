/**
 * The verifier's contract, shared by `xenmig verify`, `info`, the restore path and the
 * guard (which feeds it items as the bytes of a live migration pass through it).
 */
import type { StreamLocation } from '../format/errors.js';
import type { StreamItem } from '../stream/items.js';
import type { CheckpointedKind } from '../stream/reader.js';
import type { StaticDataEnd } from '../stream/static-data.js';

export type Severity = 'error' | 'warning' | 'info';

export interface Diagnostic {
  severity: Severity;
  /** Stable machine-readable code, e.g. "padding-nonzero", "v3-missing-static-data-end". */
  code: string;
  /** One line: what was found and what was expected (without the location). */
  message: string;
  location: StreamLocation;
}

export interface VerifyOptions {
  /**
   * CHECKPOINT records are allowed (Remus/COLO streams); true means Remus. A libxl stream
   * is then read with libxl's records after each CHECKPOINT (COLO: and CHECKPOINT_STATE).
   */
  checkpointed?: boolean | CheckpointedKind;
}

export interface StreamVerifier {
  /** Feed each item in stream order; returns the diagnostics this item raised. */
  push(item: StreamItem): Diagnostic[];
  /** The input ended (cleanly or not): end-of-stream rules (missing END, completeness). */
  finish(): Diagnostic[];
  /** Where STATIC_DATA_END is (explicit or inferred) once seen. */
  readonly staticDataEnd: StaticDataEnd | undefined;
}
