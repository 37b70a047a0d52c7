/**
 * The real command the guard stands in front of (ssh to the receiving xl, usually): spawned
 * in a process group of its own so that a signal or a time-out reaches it and everything
 * it started, and ended in steps when it outstays its welcome: SIGTERM to the group after
 * a grace period, SIGKILL after another.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { describeRealCommand, type RealCommand } from './command.js';
import { secs, type GuardLog } from './log.js';

export const DEFAULT_EXIT_GRACE_MS = 30_000;
export const DEFAULT_KILL_GRACE_MS = 5_000;
export const DEFAULT_STOP_GRACE_MS = 5_000;

export interface Graces {
  /** How long a stopped receiver gets to clean up before it is sent SIGTERM. */
  stopGraceMs?: number;
  /** After the sender's stream ended: how long the command may take to exit before its process group gets SIGTERM. */
  exitGraceMs?: number;
  /** After a SIGTERM (ours or forwarded): how long before SIGKILL. */
  killGraceMs?: number;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ChildRelay {
  private readonly child: ChildProcess;
  /** Resolves when the command has exited (or could not start). */
  readonly exited: Promise<ChildExit>;
  /** Why the command could not be started, when it could not. */
  couldNotRun: string | undefined;
  private goneFlag = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private killArmed = false;

  constructor(
    command: RealCommand,
    private readonly out: GuardLog,
    private readonly graces: Graces,
  ) {
    out.log(describeRealCommand(command));
    const [program, ...args] = command.argv;
    // Its own process group: a signal or a time-out reaches the command and everything it started (ssh, its children).
    const child = spawn(program!, args, { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.on('error', (err) => {
        this.couldNotRun = `cannot run ${program}: ${err.message}`;
        resolve({ code: null, signal: null });
      });
      child.on('close', (code, signal) => resolve({ code, signal }));
    });
    // A receiver that is gone must not take the guard down with EPIPE.
    child.stdin!.on('error', () => undefined);
  }

  /** The receiver's input: the sender's bytes go here. */
  get stdin(): Writable {
    return this.child.stdin!;
  }

  /** The receiver's output: back to the sender. */
  get stdout(): Readable {
    return this.child.stdout!;
  }

  get gone(): boolean {
    return this.goneFlag;
  }

  /** The command has exited: no timer may fire any more. */
  settle(): void {
    this.goneFlag = true;
    for (const t of this.timers) clearTimeout(t);
  }

  /** The sender is done: a command that does not follow within the grace period is ended. */
  armExitTimers(): void {
    if (this.goneFlag) return;
    const grace = this.graces.exitGraceMs ?? DEFAULT_EXIT_GRACE_MS;
    this.later(grace, () => {
      this.out.report(`xenmig guard: the command has not exited ${secs(grace)} after the sender's stream ended: sending SIGTERM to its process group`);
      this.signalGroup('SIGTERM');
    });
  }

  /**
   * The guard stopped the migration: the receiver's input ends and it cleans up; one that
   * lingers is told to go.
   */
  stop(): void {
    this.child.stdin?.end();
    this.child.stdout?.destroy();
    this.later(this.graces.stopGraceMs ?? DEFAULT_STOP_GRACE_MS, () => this.signalGroup('SIGTERM'));
  }

  /**
   * Pass a signal the guard got (SIGINT, SIGTERM, SIGHUP) to the command's whole process
   * group; the guard then waits for it to exit (SIGKILL after the kill grace period).
   */
  forwardSignal(signal: NodeJS.Signals): void {
    if (this.goneFlag) return;
    this.out.report(`xenmig guard: got ${signal}: passing it to the command's process group`);
    this.signalGroup(signal);
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (this.goneFlag || pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is gone already.
      return;
    }
    if (signal !== 'SIGKILL' && !this.killArmed) {
      this.killArmed = true;
      const grace = this.graces.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
      this.later(grace, () => {
        this.out.report(`xenmig guard: the command has not exited ${secs(grace)} after ${signal}: sending SIGKILL to its process group`);
        this.signalGroup('SIGKILL');
      });
    }
  }

  private later(ms: number, f: () => void): void {
    this.timers.push(setTimeout(f, ms));
  }
}

/** The exit status a shell would give: the command's, or 128 + the signal that killed it. */
export function exitStatus(e: ChildExit): number {
  return e.code ?? 128 + (e.signal === null ? 0 : (constants.signals[e.signal] ?? 0));
}
