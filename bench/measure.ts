/** Timing a shell command: wall time and peak RSS of the whole pipeline (via /usr/bin/time). */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Measurement {
  label: string;
  seconds: number;
  /** Peak RSS in KiB of the largest process (undefined without /usr/bin/time). */
  maxRssKiB?: number;
  exitCode: number;
}

const HAVE_TIME = existsSync('/usr/bin/time');

/** Runs `command` under bash `runs` times and keeps the fastest run (the least disturbed). */
export function measure(label: string, command: string, runs = 3): Measurement {
  let best: Measurement | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'xenmig-bench-time-'));
  try {
    for (let i = 0; i < runs; i++) {
      const rssFile = join(dir, `rss${i}`);
      // Each stage of a pipeline gets its own /usr/bin/time so the peak is per process.
      const timed = HAVE_TIME ? command.split(' | ').map((stage) => `/usr/bin/time -a -o ${rssFile} -f %M ${stage}`).join(' | ') : command;
      const start = process.hrtime.bigint();
      const r = spawnSync('bash', ['-c', timed], { stdio: ['ignore', 'ignore', 'pipe'] });
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      let maxRssKiB: number | undefined;
      if (HAVE_TIME && existsSync(rssFile)) {
        const values = readFileSync(rssFile, 'utf8').split('\n').map(Number).filter((n) => n > 0);
        maxRssKiB = Math.max(...values);
      }
      const m: Measurement = { label, seconds, exitCode: r.status ?? -1 };
      if (maxRssKiB !== undefined) m.maxRssKiB = maxRssKiB;
      if (!best || m.seconds < best.seconds) best = m;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return best!;
}

export function table(rows: Measurement[], baseline: Measurement, notes: Record<string, string> = {}): string {
  const lines = [`${'command'.padEnd(44)} ${'wall s'.padStart(8)} ${'x base'.padStart(7)} ${'peak RSS'.padStart(10)}  exit  note`];
  for (const r of rows) {
    const ratio = (r.seconds / baseline.seconds).toFixed(2);
    const rss = r.maxRssKiB !== undefined ? `${(r.maxRssKiB / 1024).toFixed(1)} MiB` : 'n/a';
    lines.push(`${r.label.padEnd(44)} ${r.seconds.toFixed(3).padStart(8)} ${ratio.padStart(7)} ${rss.padStart(10)}  ${String(r.exitCode).padStart(4)}  ${notes[r.label] ?? ''}`);
  }
  return lines.join('\n');
}
