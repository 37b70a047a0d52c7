/**
 * The guard: a relay between the two xl ends of a migration that reads the sender's
 * direction as it passes and can stop the migration before the receiver acts on
 * anything it should not.
 *
 * Hold before forward. The receiver acts on a record only once all of its octets have
 * arrived, so while a record is incomplete the guard may pass on everything it has of
 * it; the record's final octet goes only after the record was judged. The framing
 * reader parses from a PushRawSource; when the source reports that the reader is
 * starved, every item whose octets are all here has been yielded and judged, and what
 * is held beyond the last judged item belongs to one unfinished item: forwarding all of
 * it cannot complete that item. Two things are held back whole instead:
 *  - everything after the static data until the verdict on it is in (the verdict is
 *    reached while judging STATIC_DATA_END, before the reader moves on);
 *  - for a v2 stream, the record that implies the end of the static data (the first
 *    PAGE_DATA of an HVM guest, the first X86_PV_P2M_FRAMES of a PV guest): it is memory
 *    content itself. Its type is read from its header in the held bytes.
 *
 * After the outermost END the sender's bytes are the handshake (the permission to go),
 * relayed as they come. The receiver's direction is relayed raw throughout.
 *
 * Stopping ends both directions: the receiving xl sees its input end mid-stream and
 * destroys the half-made domain; the sending xl's next write fails and it resumes the
 * guest.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { REC_TYPE, guestTypeOf, type GuestType } from '../../format/constants.js';
import { StreamFormatError, TruncatedStreamError, describeLocation, type StreamLocation } from '../../format/errors.js';
import { xlConfigText } from '../../format/headers.js';
import { ByteReader } from '../../io/byte-reader.js';
import { PushRawSource } from '../../io/raw-source.js';
import type { ByteSink } from '../../io/sink.js';
import { itemLabel, type StreamItem } from '../../stream/items.js';
import { readStream } from '../../stream/reader.js';
import { StaticDataTracker, infersStaticDataEnd, type StaticDataEnd } from '../../stream/static-data.js';
import type { Diagnostic, StreamVerifier } from '../../verify/types.js';
import { describeRealCommand, type RealCommand } from './command.js';
import { HandshakeWatcher, type HandshakeEvent } from './handshake.js';
import { PassCounter, describePass } from './passes.js';
import { PREFLIGHT_REQUEST } from '../handshake.js';
import type { Verdict } from './preflight.js';

export const GUARD_STOPPED = 1;
export const GUARD_COULD_NOT_RUN = 2;

export interface GuardOptions {
  command: RealCommand;
  /** The sender's bytes (xl's pipe on the guard's stdin). */
  input: Readable;
  /** Back to the sender (xl's pipe on the guard's stdout). */
  output: Writable;
  /** Ends the two directions towards the sender for good (the CLI closes fds 0 and 1). */
  closeSenderSide: () => void;
  verifier: StreamVerifier;
  /** Called once, where the static data ends (explicit or inferred). */
  judgeStaticData: (end: StaticDataEnd) => Promise<Verdict>;
  /** Refuse libxc streams older than this. */
  minVersion?: number;
  /** Stream rule errors are reported and let through instead of stopping. */
  warnOnly?: boolean;
  /** Receives a copy of the sender's stream (committed at the end, failed or not). */
  tee?: ByteSink;
  /** One line per event. */
  log: (line: string) => void;
  /** The lines that explain a stop: always shown to the user (xl shows the guard's stderr). */
  report: (line: string) => void;
  /** How long a stopped receiver gets to clean up before it is sent SIGTERM. */
  stopGraceMs?: number;
  /** After the sender's stream ended: how long the command may take to exit before its process group gets SIGTERM (default 30 s). */
  exitGraceMs?: number;
  /** After a SIGTERM (ours or forwarded): how long before SIGKILL (default 5 s). */
  killGraceMs?: number;
}

export const DEFAULT_EXIT_GRACE_MS = 30_000;
export const DEFAULT_KILL_GRACE_MS = 5_000;

export interface GuardStop {
  /** Where the held record starts in the sender's stream. */
  location: StreamLocation;
  what: string;
  reasons: string[];
}

export interface GuardResult {
  exitCode: number;
  stop: GuardStop | undefined;
  /** Octets relayed each way, and the length of the sender's stream when it reached its END. */
  senderBytes: number;
  receiverBytes: number;
  streamLength: number | undefined;
  status: number | undefined;
}

type Outer = 'libxl' | 'libxc';

export class Guard {
  private readonly source: PushRawSource;
  private readonly reader: ByteReader;
  private readonly tracker = new StaticDataTracker();
  private readonly passes = new PassCounter();
  private child: ChildProcess | undefined;

  /** Received from the sender but not yet forwarded: [forwarded, received). */
  private pending: Buffer[] = [];
  private received = 0;
  private forwarded = 0;
  private receiverBytes = 0;
  /**
   * Where the stream (the xl header) starts in the sender's bytes: after a xenmig
   * preflight request, which is relayed as it is (its receiver judges it). Undefined
   * until the first octets tell. Item offsets are stream offsets, as in the tee copy;
   * the fields below are offsets in the sender's bytes.
   */
  private base: number | undefined;
  /** End of the last item judged and accepted. */
  private judgedEnd = 0;
  private outer: Outer | undefined;
  /** The next item is a libxc record (not a header, not a libxl record). */
  private inLibxcRecords = false;
  private guestType: GuestType | undefined;
  private littleEndian = true;
  private records = 0;

  private parserDone = false;
  private inputEnded = false;
  private streamEnd: number | undefined;
  private idleWaiter: (() => void) | undefined;
  private stopInfo: GuardStop | undefined;
  private couldNotRun: string | undefined;
  private childGone = false;
  private teeChain: Promise<void> = Promise.resolve();
  private teeFailed: string | undefined;
  private readonly senderWatcher: HandshakeWatcher;
  private readonly receiverWatcher: HandshakeWatcher;
  private readonly started = Date.now();
  private readonly timers: NodeJS.Timeout[] = [];
  private killArmed = false;

  constructor(private readonly opts: GuardOptions) {
    this.source = new PushRawSource('sender', () => this.signalIdle());
    this.reader = new ByteReader(this.source);
    const onHandshake = (side: string) => (e: HandshakeEvent) => {
      if (e.kind === 'message') opts.log(`${side}: ${e.name}`);
      else if (e.kind === 'status' && e.name === 'preflight verdict') opts.log(`${side}: xenmig preflight verdict: ${e.status === 0 ? 'accept' : 'refuse'}`);
      else if (e.kind === 'status') opts.log(`${side}: status byte ${e.status}${e.status === 0 ? ' (domain running at the destination)' : ' (startup failed at the destination)'}`);
      else opts.log(`${side}: ${e.name} at offset ${e.offset}; relaying without recognising them`);
    };
    this.senderWatcher = HandshakeWatcher.senderSide(onHandshake('sender'));
    this.receiverWatcher = HandshakeWatcher.receiverSide(onHandshake('receiver'));
  }

  async run(): Promise<GuardResult> {
    const { opts } = this;
    opts.log(describeRealCommand(opts.command));
    const [program, ...args] = opts.command.argv;
    // Its own process group: a signal or a time-out reaches the command and everything it started (ssh, its children).
    const child = spawn(program!, args, { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    this.child = child;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('error', (err) => {
        this.couldNotRun = `cannot run ${program}: ${err.message}`;
        resolve({ code: null, signal: null });
      });
      child.on('close', (code, signal) => resolve({ code, signal }));
    });
    // A receiver that is gone must not take the guard down with EPIPE.
    child.stdin!.on('error', () => undefined);
    opts.output.on('error', () => undefined);

    const parsing = this.consume();
    const sending = this.relaySender();
    const receiving = this.relayReceiver();
    const { code, signal } = await exited;
    this.childGone = true;
    for (const t of this.timers) clearTimeout(t);
    if (this.couldNotRun !== undefined) {
      opts.report(`xenmig guard: ${this.couldNotRun}`);
      this.endSenderSide();
    }
    // Whatever the sender still writes has nowhere to go.
    this.signalIdle();
    opts.input.destroy();
    await Promise.allSettled([sending, receiving]);
    this.source.end();
    await parsing;
    await this.finishTee();

    const status = this.receiverWatcher.status;
    const last = this.passes.close();
    if (last && this.streamEnd === undefined) opts.log(describePass(last));
    const secs = (Date.now() - this.started) / 1000;
    opts.log(
      `totals: ${this.received} octet(s) from the sender (${this.records} record(s), ${this.passes.totalPages} page(s) in ${this.passes.done.length} round(s)), ${this.receiverBytes} from the receiver, ${secs.toFixed(3)} s` +
        (status !== undefined ? `, receiver status ${status}` : ''),
    );
    let exitCode: number;
    if (this.couldNotRun !== undefined) exitCode = GUARD_COULD_NOT_RUN;
    else if (this.stopInfo !== undefined) exitCode = GUARD_STOPPED;
    else exitCode = code ?? 128 + signalNumber(signal);
    opts.log(
      this.couldNotRun !== undefined
        ? `exit ${exitCode}: the command could not run`
        : `exit ${exitCode}: the command ${signal ? `was killed by ${signal}` : `exited with status ${code}`}${this.stopInfo ? ' after the guard stopped the migration' : ''}`,
    );
    const streamLength = this.streamEnd === undefined ? undefined : this.streamEnd - this.base!;
    return { exitCode, stop: this.stopInfo, senderBytes: this.received, receiverBytes: this.receiverBytes, streamLength, status };
  }

  // ---- the sender's direction --------------------------------------------------------

  private async relaySender(): Promise<void> {
    const childIn = this.child!.stdin!;
    const batches = new Batches(this.opts.input);
    for (;;) {
      const batch = await batches.next(() => this.stopInfo !== undefined || this.childGone);
      if (batch === null || this.stopInfo || this.childGone) break;
      const batchStart = this.received;
      for (const c of batch) this.pending.push(c);
      this.received += batches.lastLength;
      if (this.base === undefined && !this.findStreamStart(false)) continue;
      const base = this.base!;
      if (this.parserDone) {
        for (const c of batch) this.afterStream(c);
        this.forwardUpTo(this.received);
      } else if (this.received <= base) {
        this.forwardUpTo(this.received);
      } else {
        const idle = this.waitIdle();
        for (const piece of streamPart(batch, batchStart, base)) void this.source.push(piece.bytes);
        await idle;
        if (this.stopInfo) {
          await this.teeWrite(batch, batchStart);
          break;
        }
        if (this.parserDone && this.streamEnd !== undefined) {
          this.afterStream(this.bytesFrom(this.streamEnd));
          this.forwardUpTo(this.received);
        } else if (!this.parserDone) {
          this.forwardUpTo(this.holdLimit());
        } else {
          // The framing broke and --warn-only lets it through: relay the rest raw.
          this.forwardUpTo(this.received);
        }
      }
      await this.teeWrite(batch, batchStart);
      if (childIn.writableNeedDrain) await drained(childIn);
    }
    batches.close();
    this.inputEnded = true;
    if (this.stopInfo || this.childGone) return;
    if (this.base === undefined) this.findStreamStart(true);
    // The sender finished: let the parser see the end, then pass on what is held.
    const idle = this.waitIdle();
    this.source.end();
    if (!this.parserDone) await idle;
    if (this.stopInfo) return;
    this.forwardUpTo(this.received);
    childIn.end();
    this.armExitTimers();
  }

  /** The sender is done: a command that does not follow within the grace period is ended. */
  private armExitTimers(): void {
    if (this.childGone) return;
    const grace = this.opts.exitGraceMs ?? DEFAULT_EXIT_GRACE_MS;
    this.later(grace, () => {
      this.opts.report(`xenmig guard: the command has not exited ${secs(grace)} after the sender's stream ended: sending SIGTERM to its process group`);
      this.signalGroup('SIGTERM');
    });
  }

  /**
   * Pass a signal the guard got (SIGINT, SIGTERM, SIGHUP) to the command's whole process
   * group; the guard then waits for it to exit (SIGKILL after the kill grace period).
   */
  forwardSignal(signal: NodeJS.Signals): void {
    if (this.childGone || !this.child) return;
    this.opts.report(`xenmig guard: got ${signal}: passing it to the command's process group`);
    this.signalGroup(signal);
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (this.childGone || pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is gone already.
      return;
    }
    if (signal !== 'SIGKILL' && !this.killArmed) {
      this.killArmed = true;
      const grace = this.opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
      this.later(grace, () => {
        this.opts.report(`xenmig guard: the command has not exited ${secs(grace)} after ${signal}: sending SIGKILL to its process group`);
        this.signalGroup('SIGKILL');
      });
    }
  }

  private later(ms: number, f: () => void): void {
    const t = setTimeout(f, ms);
    this.timers.push(t);
  }

  /**
   * Sets `base` once the first octets tell whether a xenmig preflight request comes
   * first; false while they cannot tell yet (and the input goes on).
   */
  private findStreamStart(atEnd: boolean): boolean {
    const have = Math.min(this.received, PREFLIGHT_REQUEST.length + 4);
    const head = this.bytesRange(0, have);
    for (let i = 0; i < Math.min(have, PREFLIGHT_REQUEST.length); i++) {
      if (head[i] !== PREFLIGHT_REQUEST[i]) {
        this.base = 0;
        return true;
      }
    }
    if (have < PREFLIGHT_REQUEST.length + 4) {
      if (atEnd) this.base = 0;
      return atEnd;
    }
    const n = new DataView(head.buffer, head.byteOffset + PREFLIGHT_REQUEST.length, 4).getUint32(0, false);
    this.base = this.judgedEnd = PREFLIGHT_REQUEST.length + 4 + n;
    this.opts.log(`sender: xenmig preflight request, ${n} octet(s) of static data (relayed as is: the xenmig receiver judges it)`);
    this.receiverWatcher.expectPreflightVerdict();
    return true;
  }

  /** How far the sender's bytes may go now (the parser is idle and not done). */
  private holdLimit(): number {
    if (!this.inLibxcRecords || this.tracker.done || (this.tracker.version ?? 3) >= 3) return this.received;
    // A v2 stream before its static data ends: the next record may be the one that implies the end.
    if (this.received < this.judgedEnd + 8) return this.judgedEnd;
    const type = this.u32At(this.judgedEnd);
    return infersStaticDataEnd(this.guestType, type) ? this.judgedEnd : this.received;
  }

  private u32At(offset: number): number {
    const b = Buffer.from(this.bytesRange(offset, offset + 4));
    return this.littleEndian ? b.readUInt32LE(0) : b.readUInt32BE(0);
  }

  /** Held octets [from, to) (copies only when they span chunks). */
  private bytesRange(from: number, to: number): Uint8Array {
    const parts: Buffer[] = [];
    let at = this.forwarded;
    for (const c of this.pending) {
      const s = Math.max(from, at);
      const e = Math.min(to, at + c.length);
      if (s < e) parts.push(c.subarray(s - at, e - at));
      at += c.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  private bytesFrom(from: number): Uint8Array {
    return this.bytesRange(Math.max(from, this.forwarded), this.received);
  }

  private forwardUpTo(limit: number): void {
    const childIn = this.child!.stdin!;
    if (this.forwarded >= limit) return;
    // One writev for the whole batch: a write per 64 KiB pipe read costs more than the copy.
    childIn.cork();
    while (this.forwarded < limit && this.pending.length > 0) {
      const head = this.pending[0]!;
      const n = Math.min(head.length, limit - this.forwarded);
      if (n === head.length) {
        this.pending.shift();
        childIn.write(head);
      } else {
        childIn.write(head.subarray(0, n));
        this.pending[0] = head.subarray(n);
      }
      this.forwarded += n;
    }
    childIn.uncork();
  }

  /** Sender bytes past the outermost END: the handshake. */
  private afterStream(bytes: Uint8Array): void {
    if (bytes.length > 0) this.senderWatcher.feed(bytes);
  }

  /** Copies a batch that starts at `start` in the sender's bytes; called once it was parsed. */
  private async teeWrite(batch: Buffer[], start: number): Promise<void> {
    const tee = this.opts.tee;
    if (!tee || this.teeFailed) return;
    // The copy holds the stream only: not a preflight request before it, nor the handshake after it.
    const end = this.streamEnd ?? Infinity;
    const parts: Buffer[] = [];
    for (const { bytes, at } of streamPart(batch, start, this.base ?? 0)) {
      if (at >= end) break;
      parts.push(at + bytes.length <= end ? bytes : bytes.subarray(0, end - at));
    }
    if (parts.length === 0) return;
    // One write in flight: the next batch waits for the previous one, not for its own.
    await this.teeChain;
    this.teeChain = tee.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts)).catch((err: Error) => {
      this.teeFailed = err.message;
      this.opts.log(`tee: ${err.message}; no copy will be kept`);
    });
  }

  private async finishTee(): Promise<void> {
    const tee = this.opts.tee;
    if (!tee) return;
    await this.teeChain;
    if (this.teeFailed) {
      await tee.abort();
      return;
    }
    await tee.commit();
    if (this.streamEnd !== undefined && this.stopInfo === undefined) {
      this.opts.log(`tee: ${tee.name}: the sender's stream, ${tee.written} octet(s)`);
    } else {
      const why = this.stopInfo ? 'the guard stopped the migration' : 'the stream did not reach its END';
      this.opts.report(`xenmig guard: note: ${tee.name} kept although ${why}: it holds the ${tee.written} octet(s) the sender sent`);
    }
  }

  // ---- the receiver's direction ------------------------------------------------------

  private async relayReceiver(): Promise<void> {
    const out = this.opts.output;
    try {
      for await (const chunk of this.child!.stdout! as AsyncIterable<Buffer>) {
        if (this.stopInfo) break;
        this.receiverBytes += chunk.length;
        this.receiverWatcher.feed(chunk);
        if (!out.write(chunk)) await drained(out);
      }
    } catch {
      // Our side towards the sender closed: nothing more can be told.
    }
    if (!this.stopInfo) out.end();
  }

  // ---- the parser --------------------------------------------------------------------

  private waitIdle(): Promise<void> {
    return new Promise((resolve) => (this.idleWaiter = resolve));
  }

  private signalIdle(): void {
    const w = this.idleWaiter;
    this.idleWaiter = undefined;
    w?.();
  }

  private async consume(): Promise<void> {
    try {
      // xl's -r / --colo on the receiving side says the libxl stream interleaves checkpoints.
      const checkpointed = this.opts.command.receiver?.checkpointed;
      for await (const item of readStream(this.reader, { pageContents: 'skip', expectEndOfInput: false, ...(checkpointed ? { checkpointed } : {}) })) {
        const stop = await this.judge(item);
        if (stop) {
          this.stop(stop);
          return;
        }
        if (item.kind !== 'trailing') this.judgedEnd = this.base! + item.end;
      }
      this.streamEnd = this.judgedEnd;
      this.opts.log(`sender: stream complete, ${this.streamEnd - this.base!} octet(s); handshake follows`);
    } catch (err) {
      if (this.stopInfo || this.childGone) return;
      if (err instanceof TruncatedStreamError || (this.inputEnded && this.received <= this.base!)) {
        this.opts.log(`sender: input ended inside the stream: ${(err as Error).message}`);
      } else if (err instanceof StreamFormatError) {
        const stop: GuardStop = { location: err.location, what: 'the stream cannot be framed', reasons: [err.detail] };
        if (this.opts.warnOnly) this.opts.report(`xenmig guard: warning (--warn-only, relaying the rest unread): ${describeStop(stop)}`);
        else this.stop(stop);
      } else {
        throw err;
      }
    } finally {
      this.parserDone = true;
      this.signalIdle();
    }
  }

  /** Judges one item before its last octet may go; returns why to stop, if so. */
  private async judge(item: StreamItem): Promise<GuardStop | undefined> {
    const { opts } = this;
    this.noteItem(item);
    const diags = opts.verifier.push(item);
    const isOuterEnd = item.kind === 'record' && item.type === REC_TYPE.END && item.layer === this.outer;
    if (isOuterEnd) diags.push(...opts.verifier.finish());
    const errors: Diagnostic[] = [];
    for (const d of diags) {
      if (d.severity === 'error') errors.push(d);
      else opts.log(`${d.severity}: ${describeLocation(d.location)}: ${d.message} [${d.code}]`);
    }
    if (errors.length > 0) {
      const stop: GuardStop = {
        location: { offset: item.offset, ...errors[0]!.location },
        what: `${itemLabel(item)} breaks the stream rules`,
        reasons: errors.map((d) => `${d.message} [${d.code}]`),
      };
      if (!opts.warnOnly) return stop;
      opts.report(`xenmig guard: warning (--warn-only, let through): ${describeStop(stop)}`);
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
      for (const n of verdict.notes) opts.log(`static data: ${n}`);
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
      if (closed) opts.log(describePass(closed));
      if (item.type === REC_TYPE.END) {
        const last = this.passes.close();
        if (last) opts.log(describePass(last));
      }
    }
    return undefined;
  }

  /** Keeps what holdLimit needs to know about the next item, and logs the headers. */
  private noteItem(item: StreamItem): void {
    const log = this.opts.log;
    this.outer ??= item.kind === 'libxc-header' ? 'libxc' : 'libxl';
    switch (item.kind) {
      case 'xl-header': {
        const cfg = item.header.config;
        log(`sender: xl header, ${item.end - item.offset} octet(s), config ${cfg ? `${cfg.length} octet(s)${configName(cfg)}` : 'absent'}`);
        break;
      }
      case 'libxl-header':
        log(`sender: libxl stream v${item.header.version}${item.littleEndian ? '' : ', big-endian'}`);
        break;
      case 'libxc-header': {
        this.inLibxcRecords = true;
        this.guestType = guestTypeOf(item.domain.type);
        this.littleEndian = item.littleEndian;
        const d = item.domain;
        log(
          `sender: libxc stream v${item.image.version}, ${this.guestType?.toUpperCase() ?? `domain type ${d.type}`} guest, ` +
            `from Xen ${d.xenMajor}.${d.xenMinor}${item.littleEndian ? '' : ', big-endian'}`,
        );
        break;
      }
      case 'record':
        this.records++;
        if (item.layer === 'libxc' && item.type === REC_TYPE.END) this.inLibxcRecords = false;
        break;
      case 'trailing':
        break;
    }
  }

  // ---- stopping ----------------------------------------------------------------------

  private stop(stop: GuardStop): void {
    if (this.stopInfo) return;
    this.stopInfo = stop;
    this.opts.report(`xenmig guard: stopped the migration: ${describeStop(stop)}`);
    for (const r of stop.reasons) this.opts.report(`xenmig guard:   - ${r}`);
    this.endSenderSide();
    const child = this.child;
    if (child && !this.childGone) {
      // Everything accepted goes, so the receiver fails where the guard stopped, not earlier.
      this.forwardUpTo(this.judgedEnd);
      child.stdin?.end();
      child.stdout?.destroy();
      // The receiver sees its input end and cleans up; one that lingers is told to go.
      const grace = this.opts.stopGraceMs ?? 5000;
      this.later(grace, () => this.signalGroup('SIGTERM'));
      this.opts.log(`held from stream offset ${this.judgedEnd - this.base!}: the receiver got ${this.forwarded} of the ${this.received} octet(s) received`);
    }
    this.signalIdle();
  }

  private endSenderSide(): void {
    this.opts.input.destroy();
    this.opts.output.destroy();
    this.opts.closeSenderSide();
  }
}

export function describeStop(stop: GuardStop): string {
  const where = describeLocation(stop.location);
  return `${stop.what}${where ? ` (${where})` : ''}`;
}

function configName(cfg: Uint8Array): string {
  const m = /"name"\s*:\s*"([^"]*)"|^\s*name\s*=\s*["']([^"']*)["']/m.exec(xlConfigText(cfg));
  return m ? `, domain "${m[1] ?? m[2]}"` : '';
}

function drained(w: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      w.off('drain', done);
      w.off('close', done);
      w.off('error', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
    w.on('error', done);
  });
}

function secs(ms: number): string {
  return `${+(ms / 1000).toFixed(3)} s`;
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === null ? 0 : (constants.signals[signal] ?? 0);
}

/** The pieces of a batch (starting at `start` in the sender's bytes) from `from` on, with where each starts. */
function streamPart(batch: Buffer[], start: number, from: number): { bytes: Buffer; at: number }[] {
  const out: { bytes: Buffer; at: number }[] = [];
  let at = start;
  for (const c of batch) {
    if (at + c.length > from) {
      const skip = Math.max(0, from - at);
      out.push({ bytes: skip === 0 ? c : c.subarray(skip), at: at + skip });
    }
    at += c.length;
  }
  return out;
}

/**
 * A Readable as batches: every chunk that arrived since the last call, so the relay
 * parses and forwards once per burst rather than once per 64 KiB pipe read. Reading
 * pauses while too much waits (the sender then blocks: backpressure).
 */
class Batches {
  private queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private wake: (() => void) | undefined;
  lastLength = 0;

  constructor(
    private readonly input: Readable,
    private readonly gather = 1 << 20,
    private readonly limit = 8 << 20,
  ) {
    input.on('data', (c: Buffer) => {
      this.queue.push(c);
      this.queued += c.length;
      if (this.queued >= this.limit) input.pause();
      this.notify();
    });
    const end = (): void => {
      this.ended = true;
      this.notify();
    };
    input.on('end', end);
    input.on('close', end);
    input.on('error', end);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** The next batch, or null at the end of input or when `quit()` says so. */
  async next(quit: () => boolean): Promise<Buffer[] | null> {
    while (this.queue.length === 0 && !this.ended && !quit()) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    // While bytes keep coming, gather up to `gather` of them: one parse and one write per
    // burst instead of per 64 KiB pipe read. A few turns of the event loop without new
    // bytes (microseconds) mean the sender paused (the handshake waits for an answer): go.
    for (let quiet = 0; quiet < 3 && this.queued < this.gather && !this.ended && !quit(); ) {
      const before = this.queued;
      await new Promise<void>((resolve) => setImmediate(resolve));
      quiet = this.queued === before ? quiet + 1 : 0;
    }
    if (this.queue.length === 0 || quit()) return null;
    const batch = this.queue;
    this.lastLength = this.queued;
    this.queue = [];
    this.queued = 0;
    if (this.input.isPaused()) this.input.resume();
    return batch;
  }

  close(): void {
    this.input.pause();
  }
}
