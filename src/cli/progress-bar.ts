/**
 * Progress on stderr for long commands: a bar only when stderr is a terminal and the
 * user did not ask for quiet, so pipes and scripts see nothing extra.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number): void;
  stop(): void;
}

const NONE: Progress = { update() {}, stop() {} };

export function progressBar(label: string, total: number | undefined, quiet: boolean): Progress {
  if (quiet || !process.stderr.isTTY || total === undefined || total <= 0) return NONE;
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} MiB | ETA {eta}s`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  const mib = (n: number): number => Math.round(n / 2 ** 20);
  bar.start(mib(total), 0);
  let last = 0;
  return {
    update(done) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      bar.update(mib(done));
    },
    stop() {
      bar.update(mib(total));
      bar.stop();
    },
  };
}
