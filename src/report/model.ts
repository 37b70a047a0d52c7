/**
 * What the report page shows, gathered in one pass over the stream's items (the same
 * items verify reads, page contents skipped): the verifier's findings, the summary,
 * the timeline, the memory map, the vcpus, the CPU policy and the rounds. Every part is
 * bounded (see each file), so a 2 GiB stream costs what verify costs.
 */
import { REC_TYPE } from '../format/constants.js';
import { StreamFormatError } from '../format/errors.js';
import type { CpuidEntry, MsrEntry } from '../format/records.js';
import { ByteReader } from '../io/byte-reader.js';
import { openRawSource } from '../io/raw-source.js';
import type { StreamItem } from '../stream/items.js';
import { readStream, type CheckpointedKind } from '../stream/reader.js';
import type { StreamLayer } from '../stream/detect.js';
import { SummaryBuilder, type StreamSummary } from '../verify/summary.js';
import { Verifier, framingDiagnostic } from '../verify/verifier.js';
import type { Diagnostic } from '../verify/types.js';
import { cpuSection, type CpuOptions, type CpuSection } from './cpu.js';
import { MemoryMap, type MemoryMapData } from './memory-map.js';
import type { PrecopySection } from './precopy.js';
import { StreamRounds, type StreamRound } from './rounds.js';
import { Timeline, type Mark } from './timeline.js';
import { VcpuCollector, type VcpuView } from './vcpus.js';

export const REPORT_MODEL_FORMAT = 'xenmig-report';
/** Findings kept one by one; the rest are counted by code. */
export const MAX_FINDINGS = 500;

export interface Finding {
  severity: Diagnostic['severity'];
  code: string;
  message: string;
  offset?: number;
  layer?: string;
  recordIndex?: number;
  recordType?: string;
}

export interface ReportModel {
  format: typeof REPORT_MODEL_FORMAT;
  version: 1;
  /** The input's name as given, and its size when known. */
  input: { name: string; size?: number };
  summary: StreamSummary;
  /** Headers and records read (every layer), records alone. */
  items: number;
  records: number;
  conforming: boolean;
  errors: number;
  warnings: number;
  findings: Finding[];
  /** Findings not kept, by code. */
  findingsDropped: Record<string, number>;
  /** The stream could not be framed past this point (truncated, garbled). */
  framingError?: Finding;
  timeline: {
    bytes: number;
    marks: Mark[];
    overflowRecords: number;
    staticDataEnd?: { offset: number; recordIndex: number; inferred: boolean; inferredAt?: string };
  };
  memory: MemoryMapData;
  /** Rounds seen in the stream itself. */
  streamRounds: { count: number; rounds: StreamRound[] };
  cpu: CpuSection;
  vcpus: VcpuView[];
  /** From the migration log when one was given, else from the stream's rounds. */
  precopy: PrecopySection;
}

export interface ReportModelOptions extends CpuOptions {
  format?: StreamLayer | 'auto';
  checkpointed?: CheckpointedKind;
  /** The migration's log (parseMigrationLog): the pre-copy section then shows it. */
  migration?: PrecopySection;
  /** Called after each record with the position reached and the size when known. */
  onProgress?: (position: number, size: number | undefined) => void;
  /** How to name the input on the page (default: the path). */
  name?: string;
}

function finding(d: Diagnostic): Finding {
  const f: Finding = { severity: d.severity, code: d.code, message: d.message };
  const l = d.location;
  if (l.offset !== undefined) f.offset = l.offset;
  if (l.layer !== undefined) f.layer = l.layer;
  if (l.recordIndex !== undefined) f.recordIndex = l.recordIndex;
  if (l.recordType !== undefined) f.recordType = l.recordType;
  return f;
}

/** Push-based: fed every item in order (by a reader or by a migration's tap), then finished. */
export class ReportBuilder {
  private readonly verifier: Verifier;
  private readonly summary = new SummaryBuilder();
  private readonly timeline = new Timeline();
  private readonly memory = new MemoryMap();
  private readonly rounds = new StreamRounds();
  private readonly vcpus = new VcpuCollector();
  private readonly findings: Finding[] = [];
  private readonly dropped: Record<string, number> = {};
  private errors = 0;
  private warnings = 0;
  private items = 0;
  private records = 0;
  private position = 0;
  private framingError: Finding | undefined;
  private guest: { cpuid: CpuidEntry[]; msrs: MsrEntry[] } = { cpuid: [], msrs: [] };
  private xen = { major: 0, minor: 0 };

  constructor(private readonly opts: ReportModelOptions = {}) {
    this.verifier = new Verifier(opts.checkpointed ? { checkpointed: opts.checkpointed } : {});
  }

  private keep(ds: Diagnostic[]): void {
    for (const d of ds) {
      if (d.severity === 'error') this.errors++;
      else if (d.severity === 'warning') this.warnings++;
      if (this.findings.length < MAX_FINDINGS) this.findings.push(finding(d));
      else this.dropped[d.code] = (this.dropped[d.code] ?? 0) + 1;
    }
  }

  push(item: StreamItem): void {
    this.keep(this.verifier.push(item));
    this.summary.push(item);
    this.items++;
    this.position = item.kind === 'trailing' ? item.offset + item.length : item.end;
    if (item.kind === 'libxc-header') this.xen = { major: item.domain.xenMajor, minor: item.domain.xenMinor };
    if (item.kind !== 'record') {
      this.timeline.push(item);
      return;
    }
    this.records++;
    const round = this.rounds.push(item);
    this.timeline.push(item, round);
    if (item.layer === 'libxc' && item.type === REC_TYPE.PAGE_DATA) this.memory.pageData(item.body, item.littleEndian, round);
    this.vcpus.push(item);
    const end = this.verifier.staticDataEnd;
    if (end !== undefined && this.guest.cpuid.length === 0 && this.guest.msrs.length === 0) {
      this.guest = { cpuid: end.data.cpuid ?? [], msrs: end.data.msrs ?? [] };
    }
  }

  /** The stream could not be read on (a StreamFormatError from the reader). */
  fail(err: StreamFormatError): void {
    const d = framingDiagnostic(err);
    this.framingError = finding(d);
    this.keep([d]);
  }

  finish(): ReportModel {
    if (this.framingError === undefined) this.keep(this.verifier.finish());
    this.rounds.close();
    const summary = this.summary.finish({ errors: this.errors, warnings: this.warnings });
    // A v2 stream cut before its first page has no end of static data: judge what came.
    const sde = this.verifier.staticDataEnd;
    const cpu = cpuSection(
      {
        cpuid: sde ? (sde.data.cpuid ?? []) : this.guest.cpuid,
        msrs: sde ? (sde.data.msrs ?? []) : this.guest.msrs,
        guestType: summary.libxc?.guestType,
        xenMajor: this.xen.major,
        xenMinor: this.xen.minor,
      },
      this.opts,
    );
    const memory = this.memory.finish();
    const model: ReportModel = {
      format: REPORT_MODEL_FORMAT,
      version: 1,
      input: { name: this.opts.name ?? 'stream' },
      summary,
      items: this.items,
      records: this.records,
      conforming: this.errors === 0,
      errors: this.errors,
      warnings: this.warnings,
      findings: this.findings,
      findingsDropped: this.dropped,
      timeline: { bytes: this.position, marks: this.timeline.marks, overflowRecords: this.timeline.overflowRecords },
      memory,
      streamRounds: { count: this.rounds.count, rounds: this.rounds.rounds },
      cpu,
      vcpus: this.vcpus.finish(),
      precopy: this.opts.migration ?? {
        source: 'stream',
        rounds: this.rounds.rounds
          .filter((r) => !r.verify)
          .map((r) => ({ round: r.round, phase: 'stream', pages: r.pages, dirtyAfter: -1, bytes: r.end - r.offset })),
      },
    };
    if (summary.staticDataEnd) model.timeline.staticDataEnd = summary.staticDataEnd;
    if (this.framingError) model.framingError = this.framingError;
    return model;
  }
}

/**
 * Reads a whole stream (a path, "-" or a ByteReader) into the report's model. A stream
 * that breaks is reported, never thrown: its findings say where; only I/O trouble throws.
 */
export async function buildReportModel(input: string | ByteReader, opts: ReportModelOptions = {}): Promise<ReportModel> {
  let reader: ByteReader;
  if (typeof input === 'string') {
    const raw = input === '-' ? await openRawSource(input, { blocking: true, blockingPipe: true }) : await openRawSource(input, { blocking: true });
    reader = new ByteReader(raw, raw.canSeek ? undefined : 64 * 1024);
  } else {
    reader = input;
  }
  const name = opts.name ?? (typeof input === 'string' ? (input === '-' ? 'standard input' : input) : reader.source.name);
  const builder = new ReportBuilder({ ...opts, name });
  const size = reader.source.size;
  try {
    try {
      for await (const item of readStream(reader, { format: opts.format ?? 'auto', pageContents: 'skip', headsOnly: true, ...(opts.checkpointed ? { checkpointed: opts.checkpointed } : {}) })) {
        builder.push(item);
        if (opts.onProgress && item.kind === 'record') opts.onProgress(item.end, size);
      }
    } catch (err) {
      if (!(err instanceof StreamFormatError)) throw err;
      builder.fail(err);
    }
  } finally {
    if (typeof input === 'string') await reader.close();
  }
  const model = builder.finish();
  if (size !== undefined && reader.source.canSeek) model.input.size = size;
  return model;
}
