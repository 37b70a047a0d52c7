/**
 * The guard: a relay between the two xl ends of a migration that reads the sender's
 * direction as it passes and can stop the migration before the receiver acts on
 * anything it should not.
 *
 * This file runs the relay; each of its parts is a file of its own:
 *   child.ts  the real command (spawned in its own process group, grace periods, signals)
 *   input.ts  the sender's bytes as they arrive (a pipe read into reused buffers)
 *   hold.ts   hold before forward: what was received and how far it may go
 *   judge.ts  each item judged (stream rules, version, the static-data verdict)
 *   tee.ts    the copy of the sender's stream
 *   log.ts    where the lines go, and the lines themselves
 *
 * The framing reader parses from a PushRawSource; when the source reports that the
 * reader is starved, every item whose octets are all here has been yielded and judged,
 * and what is held beyond the last judged item belongs to one unfinished item:
 * forwarding all of it cannot complete that item (hold.ts says what is held whole). The
 * verdict on the static data is reached while judging STATIC_DATA_END, before the reader
 * moves on, so nothing after it goes before the verdict is in.
 *
 * After the outermost END the sender's bytes are the handshake (the permission to go),
 * relayed as they come. The receiver's direction is relayed raw throughout.
 *
 * Stopping ends both directions: the receiving xl sees its input end mid-stream and
 * destroys the half-made domain; the sending xl's next write fails and it resumes the
 * guest.
 */
import type { Readable, Writable } from 'node:stream';
import { StreamFormatError, TruncatedStreamError } from '../../format/errors.js';
import { ByteReader } from '../../io/byte-reader.js';
import { PushRawSource } from '../../io/raw-source.js';
import type { ByteSink } from '../../io/sink.js';
import { readStream } from '../../stream/reader.js';
import { PREFLIGHT_REQUEST } from '../handshake.js';
import { ChildRelay, exitStatus, type Graces } from './child.js';
import type { RealCommand } from './command.js';
import { HandshakeWatcher } from './handshake.js';
import { HoldBuffer, streamPart } from './hold.js';
import { senderInputFor, type SenderInput } from './input.js';
import { Judge, type JudgeOptions } from './judge.js';
import { describeStop, exitLine, handshakeLine, reportStop, totalsLine, type GuardLog, type GuardStop } from './log.js';
import { GuardTee } from './tee.js';

export { DEFAULT_EXIT_GRACE_MS, DEFAULT_KILL_GRACE_MS } from './child.js';
export { describeStop, type GuardStop } from './log.js';

export const GUARD_STOPPED = 1;
export const GUARD_COULD_NOT_RUN = 2;

export interface GuardOptions extends JudgeOptions, GuardLog, Graces {
  command: RealCommand;
  /**
   * The sender's bytes (xl's pipe on the guard's stdin): a Readable, or the descriptor of
   * a pipe, socket or regular file, which the guard reads into its own reused buffers
   * (input.ts).
   */
  input: Readable | number;
  /** Back to the sender (xl's pipe on the guard's stdout). */
  output: Writable;
  /** Ends the two directions towards the sender for good (the CLI closes fds 0 and 1). */
  closeSenderSide: () => void;
  /** Receives a copy of the sender's stream (committed at the end, failed or not). */
  tee?: ByteSink;
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

export class Guard {
  private readonly source: PushRawSource;
  private readonly reader: ByteReader;
  private readonly judge: Judge;
  private readonly hold = new HoldBuffer(() => this.releaseInput());
  private input: SenderInput | undefined;
  private readonly tee: GuardTee | undefined;
  private child: ChildRelay | undefined;
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

  private parserDone = false;
  private inputEnded = false;
  private streamEnd: number | undefined;
  private idleWaiter: (() => void) | undefined;
  private stopInfo: GuardStop | undefined;
  private childGone = false;
  private readonly senderWatcher: HandshakeWatcher;
  private readonly receiverWatcher: HandshakeWatcher;
  private readonly started = Date.now();

  constructor(private readonly opts: GuardOptions) {
    this.source = new PushRawSource('sender', () => this.signalIdle());
    this.reader = new ByteReader(this.source);
    this.judge = new Judge(opts, opts);
    this.tee = opts.tee ? new GuardTee(opts.tee, opts, () => this.releaseInput()) : undefined;
    this.senderWatcher = HandshakeWatcher.senderSide((e) => opts.log(handshakeLine('sender', e)));
    this.receiverWatcher = HandshakeWatcher.receiverSide((e) => opts.log(handshakeLine('receiver', e)));
  }

  async run(): Promise<GuardResult> {
    const { opts } = this;
    const child = new ChildRelay(opts.command, opts, opts);
    this.child = child;
    opts.output.on('error', () => undefined);

    const parsing = this.consume();
    const sending = this.relaySender(child);
    const receiving = this.relayReceiver(child);
    const { code, signal } = await child.exited;
    this.childGone = true;
    child.settle();
    if (child.couldNotRun !== undefined) {
      opts.report(`xenmig guard: ${child.couldNotRun}`);
      this.endSenderSide();
    }
    // Whatever the sender still writes has nowhere to go.
    this.signalIdle();
    this.destroyInput();
    await Promise.allSettled([sending, receiving]);
    this.source.end();
    await parsing;
    if (this.tee) {
      const why = this.streamEnd !== undefined && this.stopInfo === undefined ? undefined : this.stopInfo ? 'the guard stopped the migration' : 'the stream did not reach its END';
      await this.tee.finish(why);
    }

    const status = this.receiverWatcher.status;
    const passes = this.judge.passes;
    const last = passes.close();
    if (last && this.streamEnd === undefined) this.judge.logPass(last);
    opts.log(
      totalsLine({
        senderBytes: this.hold.received,
        records: this.judge.records,
        pages: passes.totalPages,
        rounds: passes.closed,
        receiverBytes: this.receiverBytes,
        seconds: (Date.now() - this.started) / 1000,
        status,
      }),
    );
    const couldNotRun = child.couldNotRun !== undefined;
    let exitCode: number;
    if (couldNotRun) exitCode = GUARD_COULD_NOT_RUN;
    else if (this.stopInfo !== undefined) exitCode = GUARD_STOPPED;
    else exitCode = exitStatus({ code, signal });
    opts.log(exitLine(exitCode, { couldNotRun, code, signal, stopped: this.stopInfo !== undefined }));
    const streamLength = this.streamEnd === undefined ? undefined : this.streamEnd - this.base!;
    return { exitCode, stop: this.stopInfo, senderBytes: this.hold.received, receiverBytes: this.receiverBytes, streamLength, status };
  }

  /**
   * Pass a signal the guard got (SIGINT, SIGTERM, SIGHUP) to the command's whole process
   * group; the guard then waits for it to exit (SIGKILL after the kill grace period).
   */
  forwardSignal(signal: NodeJS.Signals): void {
    if (this.childGone) return;
    this.child?.forwardSignal(signal);
  }

  // ---- the sender's direction --------------------------------------------------------

  private async relaySender(child: ChildRelay): Promise<void> {
    const childIn = child.stdin;
    const hold = this.hold;
    const input = (this.input = senderInputFor(this.opts.input));
    for (;;) {
      const batch = await input.next(() => this.stopInfo !== undefined || this.childGone);
      if (batch === null || this.stopInfo || this.childGone) break;
      const batchStart = hold.received;
      hold.add(batch, input.lastLength);
      if (this.base === undefined && !this.findStreamStart(false)) continue;
      const base = this.base!;
      if (this.parserDone) {
        for (const c of batch) this.afterStream(c);
        hold.forwardUpTo(hold.received, childIn);
      } else if (hold.received <= base) {
        hold.forwardUpTo(hold.received, childIn);
      } else {
        const idle = this.waitIdle();
        for (const piece of streamPart(batch, batchStart, base)) void this.source.push(piece.bytes);
        await idle;
        if (this.stopInfo) {
          await this.teeWrite(batch, batchStart);
          break;
        }
        if (this.parserDone && this.streamEnd !== undefined) {
          this.afterStream(hold.bytesFrom(this.streamEnd));
          hold.forwardUpTo(hold.received, childIn);
        } else if (!this.parserDone) {
          hold.forwardUpTo(hold.limit(this.judgedEnd, this.judge), childIn);
        } else {
          // The framing broke and --warn-only lets it through: relay the rest raw.
          hold.forwardUpTo(hold.received, childIn);
        }
      }
      await this.teeWrite(batch, batchStart);
      if (childIn.writableNeedDrain) await drained(childIn);
    }
    input.close();
    this.inputEnded = true;
    if (this.stopInfo || this.childGone) return;
    if (this.base === undefined) this.findStreamStart(true);
    // The sender finished: let the parser see the end, then pass on what is held.
    const idle = this.waitIdle();
    this.source.end();
    if (!this.parserDone) await idle;
    if (this.stopInfo) return;
    hold.forwardUpTo(hold.received, childIn);
    childIn.end();
    child.armExitTimers();
  }

  /**
   * Sets `base` once the first octets tell whether a xenmig preflight request comes
   * first; false while they cannot tell yet (and the input goes on).
   */
  private findStreamStart(atEnd: boolean): boolean {
    const have = Math.min(this.hold.received, PREFLIGHT_REQUEST.length + 4);
    const head = this.hold.bytesRange(0, have);
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

  /** Sender bytes past the outermost END: the handshake. */
  private afterStream(bytes: Uint8Array): void {
    if (bytes.length > 0) this.senderWatcher.feed(bytes);
  }

  private async teeWrite(batch: Buffer[], start: number): Promise<void> {
    await this.tee?.write(batch, start, this.base ?? 0, this.streamEnd ?? Infinity);
  }

  // ---- the receiver's direction ------------------------------------------------------

  private async relayReceiver(child: ChildRelay): Promise<void> {
    const out = this.opts.output;
    try {
      for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
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
        const stop = await this.judge.judge(item);
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
      if (err instanceof TruncatedStreamError || (this.inputEnded && this.hold.received <= this.base!)) {
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

  // ---- stopping ----------------------------------------------------------------------

  private stop(stop: GuardStop): void {
    if (this.stopInfo) return;
    this.stopInfo = stop;
    reportStop(this.opts, stop);
    this.endSenderSide();
    const child = this.child;
    if (child && !this.childGone) {
      // Everything accepted goes, so the receiver fails where the guard stopped, not earlier.
      this.hold.forwardUpTo(this.judgedEnd, child.stdin);
      child.stop();
      this.opts.log(`held from stream offset ${this.judgedEnd - this.base!}: the receiver got ${this.hold.forwarded} of the ${this.hold.received} octet(s) received`);
    }
    this.signalIdle();
  }

  /** Octets forwarded and copied to the tee are no longer needed: the input may reuse their buffers. */
  private releaseInput(): void {
    this.input?.release(Math.min(this.hold.written, this.tee ? this.tee.done : Infinity));
  }

  private destroyInput(): void {
    if (this.input) this.input.destroy();
    else if (typeof this.opts.input !== 'number') this.opts.input.destroy();
  }

  private endSenderSide(): void {
    this.destroyInput();
    this.opts.output.destroy();
    this.opts.closeSenderSide();
  }
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
