/**
 * Progress on stderr, the one place every command gets it from: a bar only when stderr
 * is a terminal and not --quiet, so pipes, logs and scripts stay clean. Updates are
 * throttled; byte bars are cleared at the end. cli-progress is loaded only when a bar
 * will show: command modules load their heavy dependencies inside the action, so
 * `xenmig verify` does not pay for loading every other command.
 */
import type { SingleBar } from 'cli-progress';

export interface Progress {
  update(position: number, size: number | undefined): void;
  stop(): void;
}

/** A bar whose total is known when it starts (restore, convert). */
export interface FixedProgress {
  update(done: number): void;
  stop(): void;
}

const NONE: Progress = { update() {}, stop() {} };

/** Whether a bar would show at all. */
export function showsBar(quiet: boolean | undefined): boolean {
  return !quiet && process.stderr.isTTY === true;
}

/** A terminal bar on stderr in the given cli-progress format. */
export async function terminalBar(format: string, clearOnComplete = false): Promise<SingleBar> {
  const { default: cliProgress } = await import('cli-progress');
  return new cliProgress.SingleBar({ format, clearOnComplete, hideCursor: true, stream: process.stderr }, cliProgress.Presets.shades_classic);
}

/** Progress through an input of bytes, its size learnt as it goes (verify, dump, info, report). */
export async function startProgress(label: string, opts: { quiet?: boolean }): Promise<Progress> {
  if (!showsBar(opts.quiet)) return NONE;
  const bar = await terminalBar(`${label} [{bar}] {percentage}% | {value}/{total} MiB | {duration_formatted}`, true);
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

/** Progress through an input of known size; nothing when the size is unknown (a pipe). */
export async function progressBar(label: string, total: number | undefined, quiet: boolean): Promise<FixedProgress> {
  if (total === undefined || total <= 0) return { update() {}, stop() {} };
  const p = await startProgress(label, { quiet });
  return {
    update: (done) => p.update(done, total),
    stop() {
      p.stop();
    },
  };
}
