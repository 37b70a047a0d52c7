/**
 * One byte per pfn over a sparse pfn space. Pfns reach 2^52, so a dense array cannot
 * cover them; memory here grows with the pfns actually touched, in 4 Ki-pfn chunks: a
 * chunk costs what one guest page does, so a stream scattering its pages costs at most
 * the guest's own size here (64 Ki-pfn chunks made it 16 times that).
 */
const CHUNK_SHIFT = 12;
const CHUNK = 1 << CHUNK_SHIFT;

export class SparsePfnBytes {
  private readonly chunks_ = new Map<number, Uint8Array>();
  private highest = -1;

  get(pfn: number): number {
    const c = this.chunks_.get(Math.floor(pfn / CHUNK));
    return c === undefined ? 0 : c[pfn % CHUNK]!;
  }

  set(pfn: number, value: number): void {
    const key = Math.floor(pfn / CHUNK);
    let c = this.chunks_.get(key);
    if (c === undefined) {
      if (value === 0) return;
      c = new Uint8Array(CHUNK);
      this.chunks_.set(key, c);
    }
    c[pfn % CHUNK] = value;
    if (value !== 0 && pfn > this.highest) this.highest = pfn;
  }

  /** Whether the chunk holding `pfn` exists (some pfn near it was given a value). */
  hasChunk(pfn: number): boolean {
    return this.chunks_.has(Math.floor(pfn / CHUNK));
  }

  /** How many chunks exist (CHUNK_PFNS octets each). */
  get chunkCount(): number {
    return this.chunks_.size;
  }

  /** Pfns per chunk: `chunks()` and `setChunk` deal in these. */
  static readonly CHUNK_PFNS = CHUNK;

  /** The chunks ascending: [first pfn / CHUNK_PFNS, one value per pfn]. */
  chunks(): [number, Uint8Array][] {
    return [...this.chunks_.entries()].sort((a, b) => a[0] - b[0]);
  }

  /** A whole chunk at once (as read back from `chunks()`). */
  setChunk(key: number, values: Uint8Array): void {
    if (values.length !== CHUNK) throw new RangeError(`a chunk holds ${CHUNK} values, not ${values.length}`);
    this.chunks_.set(key, values);
    for (let i = CHUNK - 1; i >= 0; i--) {
      if (values[i] !== 0) {
        this.highest = Math.max(this.highest, key * CHUNK + i);
        break;
      }
    }
  }

  /** How many runs `runs()` yields, without yielding them. */
  countRuns(): number {
    let n = 0;
    for (const _ of this.runs()) n++;
    return n;
  }

  /** Highest pfn ever given a non-zero value, or -1. */
  get maxPfn(): number {
    return this.highest;
  }

  /** Runs of equal non-zero values, ascending: [startPfn, count, value]. */
  *runs(): Generator<[number, number, number]> {
    const keys = [...this.chunks_.keys()].sort((a, b) => a - b);
    let start = -1;
    let count = 0;
    let value = 0;
    for (const key of keys) {
      const c = this.chunks_.get(key)!;
      // Four pfns at a time while a run goes on: this runs once per image, cold, over
      // every pfn (a 1 GiB guest: 16 ms one by one in the interpreter, 4 ms so).
      const words = new Uint32Array(c.buffer, c.byteOffset, CHUNK / 4);
      const base = key * CHUNK;
      for (let i = 0; i < CHUNK; i++) {
        if ((i & 3) === 0 && value !== 0 && base + i === start + count) {
          const same = value * 0x01010101;
          while (i < CHUNK && words[i >> 2] === same) {
            count += 4;
            i += 4;
          }
          if (i === CHUNK) break;
        }
        const v = c[i]!;
        const pfn = base + i;
        if (v !== 0 && v === value && pfn === start + count) {
          count++;
          continue;
        }
        if (value !== 0) yield [start, count, value];
        value = v;
        start = pfn;
        count = v === 0 ? 0 : 1;
      }
    }
    if (value !== 0 && count > 0) yield [start, count, value];
  }
}
