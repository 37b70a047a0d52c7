/**
 * The xenmig command line: one file per command under src/cli, registered here.
 * The mapping from typed errors to exit codes is exit-codes.ts: every command prints
 * one line and exits 1 (non-conforming stream, refusal) or 2 (usage, I/O).
 */
import { writeSync } from 'node:fs';
import { onTempFileNotice, removeLiveTempsSync, whenTempsExist } from '../io/temp-files.js';
import { Command } from 'commander';
import { registerCommands } from './commands.js';
import { EXIT_OK, exitCodeFor } from './exit-codes.js';

export { printsOnly } from './commands.js';
export { EXIT_NONCONFORMING, EXIT_OK, EXIT_USAGE, ExitCode, exitCodeFor } from './exit-codes.js';

/** `args` are the words after the program name; they decide which commands are loaded. */
export async function buildProgram(args: readonly string[] = []): Promise<Command> {
  const program = new Command();
  program
    .name('xenmig')
    .description('Xen migration streams: verify, dump, restore, save, convert and migrate (libxc v2/v3, libxl, xl)')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  await registerCommands(program, args);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/**
 * bin/xenmig starts node without NODE_EXTRA_CA_CERTS (it costs start-up time, and xenmig
 * makes no TLS connection) and passes it on under another name: put it back, so that
 * the commands xenmig runs (ssh, xl, another node) see the user's environment.
 */
export function restoreLauncherEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  const saved = env.XENMIG_NODE_EXTRA_CA_CERTS;
  if (saved === undefined) return;
  delete env.XENMIG_NODE_EXTRA_CA_CERTS;
  if (env.NODE_EXTRA_CA_CERTS === undefined) env.NODE_EXTRA_CA_CERTS = saved;
}

/**
 * Ctrl-C or a kill while a command writes: remove its temporary outputs (the files and
 * image directories being built beside their targets), say so, and die of the same
 * signal (the handler is dropped and the signal raised again, so the parent sees it, a
 * shell reports 130 for SIGINT, and no exit path waits on a read of stdin still pending
 * in the thread pool, which would hang `process.exit`). Leftovers of a run killed outright
 * are removed, and named, the next time their target is written.
 */
export function cleanUpOnSignals(): void {
  onTempFileNotice((m) => process.stderr.write(`xenmig: ${m}\n`));
  whenTempsExist(() => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => {
        const removed = removeLiveTempsSync();
        const what = removed.length > 0 ? `; removed ${removed.length} temporary output(s): ${removed.join(', ')}` : '';
        writeSync(2, `xenmig: interrupted by ${signal}${what}\n`);
        process.removeAllListeners(signal);
        process.kill(process.pid, signal);
      });
    }
  });
}

export async function main(argv: string[]): Promise<number> {
  restoreLauncherEnvironment();
  cleanUpOnSignals();
  // A reader that went away (`xenmig dump f | head`) is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? EXIT_OK);
  });
  const program = await buildProgram(argv.slice(2));
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (err) {
    const { code, message } = exitCodeFor(err);
    if (message) process.stderr.write(message + '\n');
    return code;
  }
}
