/**
 * Exit codes, and the one place where an error becomes a line on stderr and a code:
 * every command prints one line and exits 1 (non-conforming stream, refusal) or 2
 * (usage, I/O). Command modules import from here, never from main.ts, which imports them.
 */
import { CommanderError } from 'commander';
import { IoError, RefusedError, StreamFormatError, UsageError } from '../format/errors.js';

export const EXIT_OK = 0;
export const EXIT_NONCONFORMING = 1;
export const EXIT_USAGE = 2;

/** A command's action may throw this to end with a given code after printing its own output. */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** The one place where an error becomes a line on stderr and an exit code. */
export function exitCodeFor(err: unknown): { code: number; message?: string } {
  if (err instanceof ExitCode) return { code: err.code };
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
      return { code: EXIT_OK };
    }
    // commander has already printed its message.
    return { code: EXIT_USAGE };
  }
  if (err instanceof UsageError) return { code: EXIT_USAGE, message: `xenmig: ${err.message}` };
  if (err instanceof IoError) return { code: EXIT_USAGE, message: `xenmig: ${err.message}` };
  if (err instanceof StreamFormatError) return { code: EXIT_NONCONFORMING, message: `xenmig: ${err.message}` };
  if (err instanceof RefusedError) {
    const lines = [`xenmig: ${err.message}`, ...err.reasons.map((r) => `  - ${r}`)];
    return { code: EXIT_NONCONFORMING, message: lines.join('\n') };
  }
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && typeof e.syscall === 'string') {
    return { code: EXIT_USAGE, message: `xenmig: ${e.syscall}${e.path ? ` ${e.path}` : ''}: ${e.message}` };
  }
  // A bug of ours, not a user's mistake: keep the stack so it can be reported.
  return { code: 70, message: `xenmig: internal error: ${(err as Error)?.stack ?? String(err)}` };
}
