/**
 * Progress on stderr for long reads: only when stderr is a terminal and not --quiet,
 * so pipes and logs stay clean. Updates are throttled; the bar is cleared at the end.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(position: number, size: number | undefined): void;
  stop(): void;
}

const NONE: Progress = { update() {}, stop() {} };

export function startProgress(label: string, opts: { quiet?: boolean }): Progress {
  if (opts.quiet || !process.stderr.isTTY) return NONE;
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
