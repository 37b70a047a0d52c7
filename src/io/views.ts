/**
 * A list of views read as one run of octets (what a vectored write takes): lent page
 * contents arrive as views of whatever buffers carried them, split anywhere.
 */
export class ViewCursor {
  private index = 0;
  private offset = 0;

  constructor(private readonly views: readonly Uint8Array[]) {}

  /** The next n octets (fewer only when the views run out), as views of the same buffers. */
  take(n: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    while (n > 0 && this.index < this.views.length) {
      const v = this.views[this.index]!;
      const k = Math.min(n, v.length - this.offset);
      out.push(this.offset === 0 && k === v.length ? v : v.subarray(this.offset, this.offset + k));
      n -= k;
      this.offset += k;
      if (this.offset === v.length) {
        this.index++;
        this.offset = 0;
      }
    }
    return out;
  }
}
