/**
 * The sender's bytes as they arrive on the guard's input.
 */
import type { Readable } from 'node:stream';

/**
 * A Readable as batches: every chunk that arrived since the last call, so the relay
 * parses and forwards once per burst rather than once per 64 KiB pipe read. Reading
 * pauses while too much waits (the sender then blocks: backpressure).
 */
export class Batches {
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
