/**
 * Temporary outputs: every file or directory a command writes is built under a hidden
 * name beside its target (`.NAME.PID.RANDOM.tmp`) and renamed into place when complete.
 * This module remembers which ones this process has open, so that an interrupted
 * command (SIGINT, SIGTERM) removes them before it exits, and it finds the ones a
 * killed run (SIGKILL, a crash, a power cut) left: the PID in the name says whose they
 * were, and a leftover whose process is gone is removed the next time its target is
 * written.
 */
import { rmSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

const live = new Set<string>();

/** Who hears about leftovers removed (the CLI prints a line; a library user may listen). */
let notify: (message: string) => void = () => {};

export function onTempFileNotice(listener: (message: string) => void): void {
  notify = listener;
}

/**
 * Called once, when the first temporary is made: the CLI installs its signal handlers
 * then, not before, so that a command that writes nothing keeps the default Ctrl-C (a
 * handler cannot run while a read of a stalled pipe blocks the thread).
 */
let firstTemp: (() => void) | undefined;

export function whenTempsExist(fn: () => void): void {
  firstTemp = fn;
}

/** The hidden name a target is built under, beside it; remembered until released. */
export function tempPathFor(target: string): string {
  const path = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  live.add(path);
  const hook = firstTemp;
  firstTemp = undefined;
  hook?.();
  return path;
}

/** The temporary is renamed into place or removed: no longer this process's to clean up. */
export function releaseTemp(path: string): void {
  live.delete(path);
}

/**
 * Removes every temporary this process still holds, synchronously (for a signal
 * handler, which must finish before the process exits); returns what it removed.
 */
export function removeLiveTempsSync(): string[] {
  const removed: string[] = [];
  for (const path of live) {
    try {
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // Nothing more can be done on the way out; the next run's sweep finds it.
    }
  }
  live.clear();
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Leftovers of `target` from runs whose process is gone: [path, pid]. */
function staleFor(target: string, names: readonly string[]): [string, number][] {
  // Not `.tmp.old`: that is a replaced image set aside during a commit, which a run
  // killed at the wrong moment may have left as the only copy.
  const pattern = new RegExp(`^\\.${escapeRegExp(basename(target))}\\.(\\d+)\\.[0-9a-f]{8}\\.tmp$`);
  const out: [string, number][] = [];
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && !processAlive(pid)) out.push([join(dirname(target), name), pid]);
  }
  return out;
}

/**
 * Removes what killed runs left of `target` (their process no longer exists) and says so
 * through the notice listener; returns what it removed. A leftover whose PID is alive
 * again (reused) is left alone: it might be another run's work in progress.
 */
export async function sweepStaleTemps(target: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dirname(target));
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const [path, pid] of staleFor(target, names)) {
    await rm(path, { recursive: true, force: true });
    removed.push(path);
    notify(`removed ${path}, left by an interrupted run (pid ${pid})`);
  }
  return removed;
}
