/**
 * The guard's judgement of each item of the sender's stream, before its last octet may
 * go: the verifier's rules (an error stops, or with --warn-only is reported), the
 * stream version (--min-version), and at the end of the static data the verdict on the
 * guest's CPU policy. It also keeps what the hold needs to know about the next record,
 * and narrates the stream (headers, rounds) in the log.
 */
import { REC_TYPE, guestTypeOf, type GuestType } from '../../format/constants.js';
import { describeLocation } from '../../format/errors.js';
import { itemLabel, type StreamItem } from '../../stream/items.js';
import { StaticDataTracker, infersStaticDataEnd, type StaticDataEnd } from '../../stream/static-data.js';
import type { Diagnostic, StreamVerifier } from '../../verify/types.js';
import type { NextRecord } from './hold.js';
import { describeStop, headerLine, type GuardLog, type GuardStop } from './log.js';
import { PassCounter, describePass, type Pass } from './passes.js';

/** Rounds the guard logs one by one. */
export const LOGGED_ROUNDS = 1000;
import type { Verdict } from './preflight.js';

export interface JudgeOptions {
  verifier: StreamVerifier;
  /** Called once, where the static data ends (explicit or inferred). */
  judgeStaticData: (end: StaticDataEnd) => Promise<Verdict>;
  /** Refuse libxc streams older than this. */
  minVersion?: number;
  /** Stream rule errors are reported and let through instead of stopping. */
  warnOnly?: boolean;
}

type Outer = 'libxl' | 'libxc';

export class Judge implements NextRecord {
  private readonly tracker = new StaticDataTracker();
  readonly passes = new PassCounter();
  private outer: Outer | undefined;
  /** The next item is a libxc record (not a header, not a libxl record). */
  private inLibxcRecords = false;
  private guestType: GuestType | undefined;
  littleEndian = true;
  /** Records judged (all layers). */
  records = 0;

  constructor(
    private readonly opts: JudgeOptions,
    private readonly out: GuardLog,
  ) {}

  get mayImplyStaticDataEnd(): boolean {
    return this.inLibxcRecords && !this.tracker.done && (this.tracker.version ?? 3) < 3;
  }

  impliesStaticDataEnd(type: number): boolean {
    return infersStaticDataEnd(this.guestType, type);
  }

  /** Judges one item before its last octet may go; returns why to stop, if so. */
  async judge(item: StreamItem): Promise<GuardStop | undefined> {
    const { opts, out } = this;
    this.noteItem(item);
    const diags = opts.verifier.push(item);
    const isOuterEnd = item.kind === 'record' && item.type === REC_TYPE.END && item.layer === this.outer;
    if (isOuterEnd) diags.push(...opts.verifier.finish());
    const errors: Diagnostic[] = [];
    for (const d of diags) {
      if (d.severity === 'error') errors.push(d);
      else out.log(`${d.severity}: ${describeLocation(d.location)}: ${d.message} [${d.code}]`);
    }
    if (errors.length > 0) {
      const stop: GuardStop = {
        location: { offset: item.offset, ...errors[0]!.location },
        what: `${itemLabel(item)} breaks the stream rules`,
        reasons: errors.map((d) => `${d.message} [${d.code}]`),
      };
      if (!opts.warnOnly) return stop;
      out.report(`xenmig guard: warning (--warn-only, let through): ${describeStop(stop)}`);
    }
    if (item.kind === 'libxc-header' && opts.minVersion !== undefined && item.image.version < opts.minVersion) {
      return {
        location: { offset: item.offset, layer: 'libxc', recordType: 'image header' },
        what: `the sender writes a libxc v${item.image.version} stream`,
        reasons: [`stream version ${item.image.version} is older than --min-version ${opts.minVersion}`],
      };
    }
    const end = this.tracker.push(item);
    if (end) {
      const verdict = await opts.judgeStaticData(end);
      for (const n of verdict.notes) out.log(`static data: ${n}`);
      if (!verdict.go) {
        return {
          location: { offset: item.offset, layer: 'libxc', recordIndex: end.recordIndex, recordType: itemLabel(item) },
          what: 'the destination cannot run this guest',
          reasons: verdict.reasons,
        };
      }
    }
    if (item.kind === 'record' && item.layer === 'libxc') {
      const closed = this.passes.push(item);
      if (closed) this.logPass(closed);
      if (item.type === REC_TYPE.END) {
        const last = this.passes.close();
        if (last) this.logPass(last);
      }
    }
    return undefined;
  }

  /**
   * One line per round, up to LOGGED_ROUNDS: xl's pre-copy makes a handful, but a stream
   * of descending pfns makes one per 24-octet record, and the log must not grow with it.
   */
  logPass(p: Pass): void {
    if (p.number <= LOGGED_ROUNDS) this.out.log(describePass(p));
    else if (p.number === LOGGED_ROUNDS + 1) this.out.log(`round ${p.number} and later: not listed one by one (more than ${LOGGED_ROUNDS} rounds); the totals count them`);
  }

  /** Keeps what the hold needs to know about the next item, and logs the headers. */
  private noteItem(item: StreamItem): void {
    this.outer ??= item.kind === 'libxc-header' ? 'libxc' : 'libxl';
    if (item.kind === 'libxc-header') {
      this.inLibxcRecords = true;
      this.guestType = guestTypeOf(item.domain.type);
      this.littleEndian = item.littleEndian;
    } else if (item.kind === 'record') {
      this.records++;
      if (item.layer === 'libxc' && item.type === REC_TYPE.END) this.inLibxcRecords = false;
    }
    const line = headerLine(item, this.guestType?.toUpperCase());
    if (line !== undefined) this.out.log(line);
  }
}
