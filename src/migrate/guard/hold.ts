/**
 * Hold before forward: the sender's octets the guard has received but not yet passed
 * on, [forwarded, received) in the sender's bytes, and how far they may go.
 *
 * The receiver acts on a record only once all of its octets have arrived, so while a
 * record is incomplete the guard may pass on everything it has of it; the record's final
 * octet goes only after the record was judged. Two things are held back whole instead:
 * everything after the static data until the verdict on it is in, and, for a v2 stream,
 * the record that implies the end of the static data (the first PAGE_DATA of an HVM
 * guest, the first X86_PV_P2M_FRAMES of a PV guest): it is memory content itself. Its
 * type is read from its header in the held bytes.
 */
import type { Writable } from 'node:stream';

/** What the judge knows about the next record, for `HoldBuffer.limit`. */
export interface NextRecord {
  /** A v2 stream's libxc records before its static data ended: the next one may imply the end. */
  readonly mayImplyStaticDataEnd: boolean;
  readonly littleEndian: boolean;
  /** Whether a record of this type, next, would imply the end of the static data. */
  impliesStaticDataEnd(type: number): boolean;
}

export class HoldBuffer {
  /** Received from the sender but not yet forwarded: [forwarded, received). */
  private pending: Buffer[] = [];
  received = 0;
  forwarded = 0;
  /** Forwarded and handed to the receiver's pipe: those octets are no longer referenced. */
  written = 0;

  /** `onWritten`: called when forwarded octets were handed over (`written` moved). */
  constructor(private readonly onWritten: () => void = () => undefined) {}

  /** Chunks that arrived, `length` octets in all. */
  add(chunks: readonly Buffer[], length: number): void {
    for (const c of chunks) this.pending.push(c);
    this.received += length;
  }

  /**
   * How far the sender's bytes may go while the parser waits for more, everything up to
   * `judgedEnd` having been judged and accepted.
   */
  limit(judgedEnd: number, next: NextRecord): number {
    if (!next.mayImplyStaticDataEnd) return this.received;
    if (this.received < judgedEnd + 8) return judgedEnd;
    const type = this.u32At(judgedEnd, next.littleEndian);
    return next.impliesStaticDataEnd(type) ? judgedEnd : this.received;
  }

  private u32At(offset: number, littleEndian: boolean): number {
    const b = Buffer.from(this.bytesRange(offset, offset + 4));
    return littleEndian ? b.readUInt32LE(0) : b.readUInt32BE(0);
  }

  /** Held octets [from, to) (copies only when they span chunks). */
  bytesRange(from: number, to: number): Uint8Array {
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

  /** Held octets from `from` (or from the first one still held) to the last received. */
  bytesFrom(from: number): Uint8Array {
    return this.bytesRange(Math.max(from, this.forwarded), this.received);
  }

  /** Passes the held octets before `limit` on to `to`, without copying them. */
  forwardUpTo(limit: number, to: Writable): void {
    if (this.forwarded >= limit) return;
    // One writev for the whole batch: a write per 64 KiB pipe read costs more than the copy.
    to.cork();
    while (this.forwarded < limit && this.pending.length > 0) {
      const head = this.pending[0]!;
      const n = Math.min(head.length, limit - this.forwarded);
      if (n === head.length) {
        this.pending.shift();
      } else {
        this.pending[0] = head.subarray(n);
      }
      this.forwarded += n;
      const end = this.forwarded;
      // Writes complete in order (an error completes them too: the bytes are not needed any more).
      to.write(n === head.length ? head : head.subarray(0, n), () => {
        if (end > this.written) this.written = end;
        this.onWritten();
      });
    }
    to.uncork();
  }
}

/** The pieces of a batch (starting at `start` in the sender's bytes) from `from` on, with where each starts. */
export function streamPart(batch: readonly Buffer[], start: number, from: number): { bytes: Buffer; at: number }[] {
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
