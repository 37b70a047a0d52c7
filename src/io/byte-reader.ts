/**
 * Buffered exact reads over any RawSource, tracking the absolute position. Small reads
 * are served from one reused buffer; large ones go to a reused scratch area that grows
 * only as bytes actually arrive, so a length field that lies cannot make us allocate
 * memory the input does not back.
 */
import { TruncatedStreamError } from '../format/errors.js';
import { ioBuffer } from './io-buffer.js';
import type { Lent, RawSource } from './raw-source.js';

export const DEFAULT_CHUNK = 256 * 1024;
/** A PAGE_DATA header and 1024 pfns (8 KiB + 8), its padding and the next record header. */
const AFTER_JUMP_FILL = 16 * 1024;
/**
 * copyOut's piece size. Measured on Linux 6.18 / ext4, file to file through the page
 * cache: 128 KiB read-then-write pieces cost ~0.6x the time of 4 MiB reads written in
 * 256 KiB pieces (the piece stays in cache between the two copies).
 */
export const COPY_PIECE = 128 * 1024;

/** Takes lent views; calls `release` once it no longer needs them (it may do so later). */
export type LentTaker = (views: Uint8Array[], length: number, release: () => void) => Promise<void> | void;

export class ByteReader {
  private buf: Uint8Array;
  /** Valid bytes in buf are [start, end); buf[start] is at absolute `position`. */
  private start = 0;
  private end = 0;
  private pos = 0;
  private sourcePos = 0;
  private scratch = new Uint8Array(0);
  private eof = false;
  /**
   * After a jump, what comes next is usually one record header and a pfn array, not a
   * chunk's worth: the next fill reads only this much (skipping PAGE_DATA contents would
   * otherwise read 256 KiB to use 8 KiB of it, record after record).
   */
  private fillLimit = Infinity;

  constructor(
    readonly source: RawSource,
    chunkSize = DEFAULT_CHUNK,
  ) {
    this.buf = ioBuffer(chunkSize);
  }

  /** Absolute offset of the next unread octet. */
  get position(): number {
    return this.pos;
  }

  get buffered(): number {
    return this.end - this.start;
  }

  /**
   * Read more from the source into buf; false at end of input. `need`: octets the caller
   * still lacks. A source that lends its bytes is read only that far, so the page
   * contents after a record's head stay in the source to be lent, not copied here.
   */
  private async fill(need: number): Promise<boolean> {
    if (this.eof) return false;
    if (this.start > 0) {
      this.buf.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
    }
    if (this.end === this.buf.length) return true;
    const limit = Math.min(this.buf.length, this.end + (this.source.lend ? need : this.fillLimit));
    this.fillLimit = Infinity;
    const n = await this.source.read(this.buf.subarray(this.end, limit), this.sourcePos);
    if (n === 0) {
      this.eof = true;
      return false;
    }
    this.end += n;
    this.sourcePos += n;
    return true;
  }

  /** Up to n octets without consuming them (fewer only at end of input). */
  async peek(n: number): Promise<Uint8Array> {
    if (n > this.buf.length) throw new RangeError('peek larger than the read buffer');
    while (this.end - this.start < n && (await this.fill(n - (this.end - this.start))));
    return this.buf.subarray(this.start, Math.min(this.end, this.start + n));
  }

  /** True when no octet is left. */
  async atEnd(): Promise<boolean> {
    return (await this.peek(1)).length === 0;
  }

  /**
   * Exactly n octets, as a view that stays valid until the next call on this reader.
   * `what` names the thing being read for the truncation message.
   */
  async read(n: number, what: string): Promise<Uint8Array> {
    if (n <= this.buf.length) {
      while (this.end - this.start < n) {
        if (!(await this.fill(n - (this.end - this.start)))) this.truncated(n, what);
      }
      const view = this.buf.subarray(this.start, this.start + n);
      this.start += n;
      this.pos += n;
      return view;
    }
    return this.readLarge(n, what);
  }

  private async readLarge(n: number, what: string): Promise<Uint8Array> {
    let got = 0;
    const startPos = this.pos;
    // Grow geometrically as bytes arrive; never to n up front.
    let target = Math.min(n, Math.max(this.buf.length * 2, this.scratch.length));
    if (this.scratch.length < target) this.scratch = ioBuffer(target);
    while (got < n) {
      if (got === this.scratch.length) {
        const bigger = ioBuffer(Math.min(n, this.scratch.length * 2));
        bigger.set(this.scratch.subarray(0, got));
        this.scratch = bigger;
      }
      const want = Math.min(n, this.scratch.length) - got;
      const k = await this.readSome(this.scratch.subarray(got, got + want));
      if (k === 0) {
        this.pos = startPos + got;
        this.truncated(n, what, got);
      }
      got += k;
    }
    target = 0;
    return this.scratch.subarray(0, n);
  }

  /** Copy up to into.length octets, from the buffer first, then straight from the source. */
  private async readSome(into: Uint8Array): Promise<number> {
    const inBuf = this.end - this.start;
    if (inBuf > 0) {
      const k = Math.min(inBuf, into.length);
      into.set(this.buf.subarray(this.start, this.start + k));
      this.start += k;
      this.pos += k;
      return k;
    }
    if (this.eof) return 0;
    const k = await this.source.read(into, this.sourcePos);
    if (k === 0) {
      this.eof = true;
      return 0;
    }
    this.sourcePos += k;
    this.pos += k;
    return k;
  }

  /** Fill `into` exactly (for page data the caller keeps). */
  async readInto(into: Uint8Array, what: string): Promise<void> {
    let got = 0;
    while (got < into.length) {
      const k = await this.readSome(into.subarray(got));
      if (k === 0) this.truncated(into.length, what, got);
      got += k;
    }
  }

  /**
   * Hand exactly n octets to `write`, at most `piece` at a time, through the read
   * buffer: a big body goes from the source to its destination without being gathered
   * anywhere, and each piece is still in the CPU cache when it is written. Every piece
   * but the last is a multiple of `align` octets (whole pages, say). Each piece is valid
   * only until `write` returns.
   */
  async copyOut(
    n: number,
    what: string,
    write: (piece: Uint8Array) => Promise<void> | void,
    opts: { piece?: number; align?: number } = {},
  ): Promise<void> {
    const align = opts.align ?? 1;
    const size = Math.max(align, Math.min(opts.piece ?? COPY_PIECE, this.buf.length));
    if (align > this.buf.length) throw new RangeError('alignment larger than the read buffer');
    let left = n;
    while (left > 0) {
      const unit = Math.min(align, left);
      if (this.end === this.start) {
        this.start = this.end = 0;
        if (this.eof) this.truncated(n, what, n - left);
        const k = await this.source.read(this.buf.subarray(0, Math.min(size, left)), this.sourcePos);
        if (k === 0) {
          this.eof = true;
          this.truncated(n, what, n - left);
        }
        this.end = k;
        this.sourcePos += k;
      }
      while (this.end - this.start < unit) {
        if (!(await this.fill(unit - (this.end - this.start)))) this.truncated(n, what, n - left + this.end - this.start);
      }
      let k = Math.min(left, size, this.end - this.start);
      if (k < left) k -= k % unit;
      const view = this.buf.subarray(this.start, this.start + k);
      this.start += k;
      this.pos += k;
      left -= k;
      await write(view);
    }
  }

  /** True when `lendOut` hands out the source's own buffers (see RawSource.lend). */
  get canLend(): boolean {
    return this.source.lend !== undefined;
  }

  /**
   * Hand exactly n octets to `take` as lists of views, `piece` octets per call (the last
   * may be less), without copying them: the views are the source's own buffers, valid
   * until `take` calls `release` (it may keep them until then: a writer that finishes
   * later). Octets the read buffer already holds are handed over as a copy. Only for
   * sources that lend (`canLend`). Pieces are multiples of `align` and shrink to what
   * the source can lend at once (holding more than its buffers would stall it).
   */
  async lendOut(n: number, what: string, take: LentTaker, opts: { piece: number; align?: number }): Promise<void> {
    const lend = this.source.lend?.bind(this.source);
    if (!lend) throw new Error(`${this.source.name} cannot lend its bytes`);
    const align = opts.align ?? 1;
    const piece = Math.max(align, Math.floor(Math.min(opts.piece, this.source.lendable ?? Infinity) / align) * align);
    let left = n;
    while (left > 0) {
      const want = Math.min(piece, left);
      const views: Uint8Array[] = [];
      const loans: Lent[] = [];
      const release = (): void => {
        for (const l of loans.splice(0)) l.release();
      };
      let got = Math.min(want, this.end - this.start);
      if (got > 0) {
        views.push(this.buf.slice(this.start, this.start + got));
        this.start += got;
        this.pos += got;
      }
      try {
        while (got < want) {
          const lent = this.eof ? undefined : await lend(want - got);
          if (lent) loans.push(lent);
          if (!lent || lent.views.length === 0) {
            this.eof = true;
            this.truncated(n, what, n - left + got);
          }
          for (const v of lent.views) {
            views.push(v);
            got += v.length;
            this.sourcePos += v.length;
            this.pos += v.length;
          }
        }
      } catch (err) {
        release();
        throw err;
      }
      left -= want;
      await take(views, want, release);
    }
  }

  /**
   * Pass over n octets. A seekable source jumps; others read and discard through the
   * read buffer, so memory stays constant.
   */
  async skip(n: number, what: string): Promise<void> {
    const inBuf = this.end - this.start;
    if (n <= inBuf) {
      this.start += n;
      this.pos += n;
      return;
    }
    let left = n - inBuf;
    this.pos += inBuf;
    this.start = this.end = 0;
    if (this.source.canSeek) {
      const size = this.source.size;
      if (size !== undefined && this.sourcePos + left > size) {
        const have = size - this.sourcePos;
        this.pos += have;
        this.sourcePos = size;
        this.truncated(n, what, n - left + have);
      }
      this.sourcePos += left;
      this.pos += left;
      this.fillLimit = AFTER_JUMP_FILL;
      return;
    }
    while (left > 0) {
      const k = this.source.discard
        ? await this.source.discard(left)
        : await this.source.read(this.buf.subarray(0, Math.min(left, this.buf.length)), this.sourcePos);
      if (k === 0) {
        this.eof = true;
        this.truncated(n, what, n - left);
      }
      this.sourcePos += k;
      this.pos += k;
      left -= k;
    }
  }

  private truncated(n: number, what: string, got = this.end - this.start): never {
    throw new TruncatedStreamError(`stream truncated: ${what} needs ${n} octet(s), only ${got} left`, {
      offset: this.pos,
    });
  }

  async close(): Promise<void> {
    await this.source.close();
  }
}
