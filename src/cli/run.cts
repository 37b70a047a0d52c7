/** The process entry of the xenmig command: loads the command line (launch.cts) and runs it. */
import type { Writable } from 'node:stream';
import { loadCli } from './launch.cjs';

function flushed(stream: Writable): Promise<void> {
  return stream.writableLength === 0 ? Promise.resolve() : new Promise((resolve) => stream.once('drain', () => resolve()));
}

void loadCli().then(async ({ main, printsOnly }) => {
  const code = await main(process.argv);
  process.exitCode = code;
  // Nothing is left of a print-only command but its output: exit once it is out.
  if (printsOnly(process.argv.slice(2))) {
    await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
    process.exit(code);
  }
});
