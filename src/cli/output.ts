/**
 * Line output to stdout for commands that print a lot (dump): batched writes that wait
 * for 'drain', and a reader that went away (`| head`) ends the command quietly.
 */
export class LineOutput {
  private lines: string[] = [];
  private closed = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stdout) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') this.closed = true;
    });
  }

  /** False once nobody reads any more: the caller can stop. */
  get open(): boolean {
    return !this.closed;
  }

  async line(text: string): Promise<void> {
    this.lines.push(text);
    if (this.lines.length >= 256) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.lines.length === 0 || this.closed) {
      this.lines = [];
      return;
    }
    const text = this.lines.join('\n') + '\n';
    this.lines = [];
    if (!this.stream.write(text)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.stream.off('drain', done);
          this.stream.off('error', done);
          this.stream.off('close', done);
          resolve();
        };
        this.stream.on('drain', done);
        this.stream.on('error', done);
        this.stream.on('close', done);
      });
    }
  }
}
