/**
 * Progress on stderr for long reads: only when stderr is a terminal and not --quiet,
 * so pipes and logs stay clean. Updates are throttled; the bar is cleared at the end.
 * Command modules load their heavy dependencies inside the action (dynamic import), so
 * `xenmig verify` does not pay for loading every other command.
 */

export interface Progress {
  update(position: number, size: number | undefined): void;
  stop(): void;
}

const NONE: Progress = { update() {}, stop() {} };

/** cli-progress is loaded only when a bar will show: startup time matters for short runs. */
export async function startProgress(label: string, opts: { quiet?: boolean }): Promise<Progress> {
  if (opts.quiet || !process.stderr.isTTY) return NONE;
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} MiB | {duration_formatted}`,
      clearOnComplete: true,
      hideCursor: true,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let last = 0;
  return {
    update(position, size) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      const mib = Math.floor(position / 1048576);
      const total = Math.max(mib, Math.ceil((size ?? position) / 1048576));
      if (!started) {
        bar.start(total, mib);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(mib);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
