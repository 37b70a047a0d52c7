/**
 * --tee: a byte-exact copy of the sender's stream, from its first octet (after a xenmig
 * preflight request, which is not part of it) to its END (not the handshake after it).
 * Committed at the end whether the migration went through or not; a copy that could not
 * be written is dropped with a line in the log, never ending the migration.
 */
import type { ByteSink } from '../../io/sink.js';
import type { GuardLog } from './log.js';
import { streamPart } from './hold.js';

export class GuardTee {
  private chain: Promise<void> = Promise.resolve();
  private failed: string | undefined;
  /** The sender's octets before this are copied (or not needed): no longer referenced. */
  done = 0;

  /** `onDone`: called when `done` moved. */
  constructor(
    private readonly sink: ByteSink,
    private readonly out: GuardLog,
    private readonly onDone: () => void = () => undefined,
  ) {}

  /**
   * Copies a batch that starts at `start` in the sender's bytes; called once it was
   * parsed. `base`: where the stream starts; `end`: where it ended, once known.
   */
  async write(batch: readonly Buffer[], start: number, base: number, end: number): Promise<void> {
    let batchEnd = start;
    for (const c of batch) batchEnd += c.length;
    const parts: Buffer[] = [];
    if (!this.failed) {
      for (const { bytes, at } of streamPart(batch, start, base)) {
        if (at >= end) break;
        parts.push(at + bytes.length <= end ? bytes : bytes.subarray(0, end - at));
      }
    }
    if (parts.length === 0) {
      this.chain = this.chain.then(() => this.copied(batchEnd));
      return;
    }
    // One write in flight: the next batch waits for the previous one, not for its own.
    await this.chain;
    this.chain = this.sink.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts)).then(
      () => this.copied(batchEnd),
      (err: Error) => {
        this.failed = err.message;
        this.out.log(`tee: ${err.message}; no copy will be kept`);
        this.copied(Infinity);
      },
    );
  }

  private copied(upTo: number): void {
    if (upTo > this.done) this.done = upTo;
    this.onDone();
  }

  /** Commits the copy (or drops a failed one) and says what it holds. `whyIncomplete`: undefined when the stream went through whole. */
  async finish(whyIncomplete: string | undefined): Promise<void> {
    const tee = this.sink;
    await this.chain;
    if (this.failed) {
      await tee.abort();
      return;
    }
    await tee.commit();
    if (whyIncomplete === undefined) {
      this.out.log(`tee: ${tee.name}: the sender's stream, ${tee.written} octet(s)`);
    } else {
      this.out.report(`xenmig guard: note: ${tee.name} kept although ${whyIncomplete}: it holds the ${tee.written} octet(s) the sender sent`);
    }
  }
}
