/**
 * Recognises the xl handshake messages in the bytes the guard relays, for the log only:
 * the relay forwards them untouched whatever they are. Order (tools/xl/xl_migrate.c):
 *
 *   receiver -> sender: banner (no NUL), ... "domain received, ready to unpause" (NUL),
 *                       "my copy unpause results are as follows" (NUL), one status byte
 *                       (0 = running; otherwise minus libxl's error code), and after a
 *                       non-zero status "domain is yours, you are cleared to unpause"
 *                       (NUL), handing the domain back to the sender.
 *   sender -> receiver: xl header and stream, then "domain is yours, you are cleared to
 *                       unpause" (NUL) once the receiver said it is ready.
 *
 * A xenmig sender may ask its preflight question first (src/migrate/handshake.ts); the
 * receiver's verdict then precedes "ready".
 */
import {
  XL_MIGRATE_PERMISSION,
  XL_MIGRATE_RECEIVER_BANNER,
  XL_MIGRATE_RECEIVER_READY,
  XL_MIGRATE_REPORT,
} from '../../format/constants.js';
import { PREFLIGHT_VERDICT } from '../handshake.js';

const enc = new TextEncoder();

export interface HandshakeEvent {
  /** 'message' when one arrived whole; 'status' for the report's byte; 'unexpected' when the bytes are none of these. */
  kind: 'message' | 'status' | 'unexpected';
  name: string;
  /** Offset of its first octet in this direction's bytes. */
  offset: number;
  status?: number;
}

interface Expect {
  name: string;
  /** undefined: one status byte. */
  bytes: Uint8Array | undefined;
  /** After the bytes: xenmig's preflight verdict tail (verdict u8, length u32 big-endian, reasons). */
  verdictTail?: boolean;
}

const msg = (name: string, text: string): Expect => ({ name, bytes: enc.encode(text) });

export const RECEIVER_BANNER = msg('receiver banner', XL_MIGRATE_RECEIVER_BANNER);
export const RECEIVER_READY = msg('receiver ready ("domain received, ready to unpause")', XL_MIGRATE_RECEIVER_READY);
export const PERMISSION_TO_GO = msg('permission to go ("domain is yours, you are cleared to unpause")', XL_MIGRATE_PERMISSION);
export const REPORT = msg('report ("my copy unpause results are as follows")', XL_MIGRATE_REPORT);
const STATUS: Expect = { name: 'status byte', bytes: undefined };
const PERMISSION_BACK = msg('permission back to the sender ("domain is yours, you are cleared to unpause")', XL_MIGRATE_PERMISSION);
const PREFLIGHT_VERDICT_STEP: Expect = { name: 'xenmig preflight verdict', bytes: PREFLIGHT_VERDICT, verdictTail: true };

/** Matches an expected sequence of messages across chunk boundaries. */
export class HandshakeWatcher {
  private readonly queue: Expect[];
  private matched = 0;
  private offset = 0;
  private lost = false;
  /** Collecting a preflight verdict's tail: its 5 fixed octets, then `skip` octets of reasons. */
  private tail: number[] | undefined;
  private skip = 0;
  /** The receiver's status byte, once seen. */
  status: number | undefined;

  constructor(
    expected: readonly Expect[],
    private readonly onEvent: (e: HandshakeEvent) => void,
  ) {
    this.queue = [...expected];
  }

  /** The receiver's direction: banner, ready, report, status (and permission back on failure). */
  static receiverSide(onEvent: (e: HandshakeEvent) => void): HandshakeWatcher {
    return new HandshakeWatcher([RECEIVER_BANNER, RECEIVER_READY, REPORT, STATUS], onEvent);
  }

  /** The sender's direction after its stream: the permission to go. */
  static senderSide(onEvent: (e: HandshakeEvent) => void): HandshakeWatcher {
    return new HandshakeWatcher([PERMISSION_TO_GO], onEvent);
  }

  /**
   * The sender asked xenmig's preflight question (src/migrate/handshake.ts): the
   * receiver's verdict comes next, before "ready".
   */
  expectPreflightVerdict(): void {
    this.queue.unshift(PREFLIGHT_VERDICT_STEP);
  }

  /** Bytes that arrived in this direction (the relay has forwarded or will forward them as they are). */
  feed(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length && !this.lost && (this.queue.length > 0 || this.tail || this.skip > 0)) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      if (this.tail) {
        this.tail.push(chunk[i++]!);
        if (this.tail.length === 5) {
          const [verdict, a, b, c, d] = this.tail as [number, number, number, number, number];
          this.tail = undefined;
          this.skip = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
          this.onEvent({ kind: 'status', name: 'preflight verdict', offset: this.offset + i - 5, status: verdict });
        }
        continue;
      }
      const want = this.queue[0]!;
      if (want.bytes === undefined) {
        const status = chunk[i]!;
        this.status = status;
        this.onEvent({ kind: 'status', name: want.name, offset: this.offset + i, status });
        this.queue.shift();
        if (status !== 0) this.queue.push(PERMISSION_BACK);
        i++;
        continue;
      }
      const n = Math.min(want.bytes.length - this.matched, chunk.length - i);
      for (let k = 0; k < n; k++) {
        if (chunk[i + k] !== want.bytes[this.matched + k]) {
          this.lost = true;
          this.onEvent({ kind: 'unexpected', name: `bytes other than the ${want.name}`, offset: this.offset + i + k - this.matched });
          return;
        }
      }
      this.matched += n;
      i += n;
      if (this.matched === want.bytes.length) {
        if (!want.verdictTail) this.onEvent({ kind: 'message', name: want.name, offset: this.offset + i - this.matched });
        else this.tail = [];
        this.matched = 0;
        this.queue.shift();
      }
    }
    this.offset += chunk.length;
  }
}
