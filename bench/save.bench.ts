/**
 * Issue 15's measure: `xenmig save --memory N` to tmpfs, its wall and system time beside
 * the "saved in" time it prints itself (the save engine's own clock), so what is left
 * (starting node, making the sample domain, exiting) shows. Median of several runs and
 * their spread (min-max). Size: XENMIG_BENCH_SAVE_MIB (default 1024); runs:
 * XENMIG_BENCH_RUNS (default 7). XENMIG_BENCH_BEFORE=/path/to/other/bin/xenmig measures
 * another build in the same run, alternating, for a before/after. `--memory 1` is the
 * fixed cost (node and the command line) the difference is judged against.
 * Also: peak RSS of `save --memory 65536 --format libxc - | verify -` (XENMIG_BENCH_BIG_MIB,
 * 0 to skip). Prints figures; never judges them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const XENMIG = fileURLToPath(new URL('../../bin/xenmig', import.meta.url));

interface Run {
  wall: number;
  sys: number;
  user: number;
  rssMiB: number;
  savedMs: number;
}

function base(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

function once(bin: string, mib: number, dir: string): Run {
  const out = join(dir, 'bench.stream');
  const timeFile = join(dir, 'time');
  const r = spawnSync('/usr/bin/time', ['-o', timeFile, '-f', '%e %S %U %M', bin, 'save', '--memory', String(mib), out], { encoding: 'utf8' });
  rmSync(out, { force: true });
  if (r.status !== 0) throw new Error(`${bin} save --memory ${mib} failed: ${r.stderr}`);
  const [wall, sys, user, rss] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  const saved = /in (\d+) ms/.exec(r.stdout + r.stderr);
  return { wall: wall!, sys: sys!, user: user!, rssMiB: rss! / 1024, savedMs: saved ? Number(saved[1]) : NaN };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function fmt(xs: number[], digits = 2): string {
  return `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;
}

function report(label: string, runs: Run[], fixed: Run[]): void {
  const rest = runs.map((r) => r.wall - r.savedMs / 1000);
  const fixedRest = median(fixed.map((r) => r.wall - r.savedMs / 1000));
  const making = median(rest) - fixedRest;
  const saved = median(runs.map((r) => r.savedMs / 1000));
  process.stdout.write(
    `${label}\n` +
      `  wall s          ${fmt(runs.map((r) => r.wall))}\n` +
      `  system s        ${fmt(runs.map((r) => r.sys))}\n` +
      `  saved in s      ${fmt(runs.map((r) => r.savedMs / 1000))}\n` +
      `  wall - saved s  ${fmt(rest)}  (--memory 1: ${fixedRest.toFixed(2)})\n` +
      `  peak RSS MiB    ${fmt(runs.map((r) => r.rssMiB), 0)}\n` +
      `  making the domain ~ ${making.toFixed(2)} s = ${((100 * making) / saved).toFixed(0)}% of saving it\n`,
  );
}

function bigPipeline(bin: string, mib: number, dir: string): string {
  const rssFile = join(dir, 'rss-big');
  const cmd = `/usr/bin/time -a -o ${rssFile} -f 'save %e s %M KiB' ${bin} save --memory ${mib} --format libxc - 2>/dev/null | /usr/bin/time -a -o ${rssFile} -f 'verify %e s %M KiB' ${bin} verify - >/dev/null 2>&1; echo "exit \${PIPESTATUS[*]}" >> ${rssFile}`;
  spawnSync('bash', ['-c', cmd], { stdio: 'ignore' });
  return readFileSync(rssFile, 'utf8').trim().split('\n').join('; ');
}

export async function run(): Promise<void> {
  const mib = Number(process.env.XENMIG_BENCH_SAVE_MIB ?? 1024);
  const n = Number(process.env.XENMIG_BENCH_RUNS ?? 7);
  const before = process.env.XENMIG_BENCH_BEFORE;
  const dir = mkdtempSync(join(base(), 'xenmig-bench-save-'));
  try {
    const builds: [string, string][] = before ? [['before', before], ['this build', XENMIG]] : [['this build', XENMIG]];
    const runs = new Map<string, Run[]>(builds.map(([l]) => [l, []]));
    const fixed = new Map<string, Run[]>(builds.map(([l]) => [l, []]));
    for (let i = 0; i < n; i++) {
      for (const [label, bin] of builds) {
        runs.get(label)!.push(once(bin, mib, dir));
        fixed.get(label)!.push(once(bin, 1, dir));
      }
    }
    process.stdout.write(`save --memory ${mib} to ${base()}, ${n} runs each: median (min-max)\n`);
    for (const [label, bin] of builds) report(`${label} (${bin})`, runs.get(label)!, fixed.get(label)!);
    const big = Number(process.env.XENMIG_BENCH_BIG_MIB ?? 65536);
    if (big > 0) process.stdout.write(`save --memory ${big} --format libxc - | verify - (this build): ${bigPipeline(XENMIG, big, dir)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
