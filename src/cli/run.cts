/** The process entry of the xenmig command: loads the command line (launch.cts) and runs it. */
import type { Writable } from 'node:stream';
import { loadCli } from './launch.cjs';

/**
 * Commands that only read their input and print. When one is done, nothing is left but
 * its output: the process exits as soon as that is flushed. Left to itself, node first
 * waits for V8's background compile jobs, 10-25 ms of every `xenmig verify` here.
 */
const PRINT_ONLY = new Set(['verify', 'dump', 'info', 'policy', 'compat']);

function flushed(stream: Writable): Promise<void> {
  return stream.writableLength === 0 ? Promise.resolve() : new Promise((resolve) => stream.once('drain', () => resolve()));
}

void loadCli().then(async ({ main }) => {
  const code = await main(process.argv);
  process.exitCode = code;
  const command = process.argv.slice(2).find((a) => !a.startsWith('-'));
  if (command !== undefined && PRINT_ONLY.has(command)) {
    await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
    process.exit(code);
  }
});
