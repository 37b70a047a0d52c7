/**
 * verify against `cat`: generates a v3 HVM stream of BENCH_SIZE_MIB (default 2048) in a
 * temp folder, then times cat, cat | cat, verify (pages jumped over), verify --read-all
 * and cat | verify -, each beside the cat baselines of the same run.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AtomicFileSink } from '../src/io/sink.js';
import { saveSampleStream } from '../src/save/sample.js';
import { verifyStream } from '../src/verify/index.js';
import { measure, table } from './measure.js';

/** The verifier's own work, without process start-up: best of three in this process. */
async function inProcess(file: string, readAll: boolean): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = process.hrtime.bigint();
    const res = await verifyStream(file, { readAll });
    if (!res.conforming) throw new Error('the generated stream should conform');
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return best;
}

/** Xen's verify-stream-v2 on a 2 GiB v3 HVM file, as issue 2 measured it on this machine. */
const XEN_VERIFY_SECONDS_2GIB = 0.58;

/**
 * Xen's own verifier, run in this same run when XEN_TOOLS_PYTHON names a checkout's
 * tools/python folder (it holds scripts/verify-stream-v2 and the xen.migration package).
 * Xen's code is never part of xenmig: the bench only runs it from where the user has it.
 */
function xenVerifyCommand(file: string): string | undefined {
  const dir = process.env.XEN_TOOLS_PYTHON;
  if (!dir) return undefined;
  const script = join(dir, 'scripts', 'verify-stream-v2');
  if (!existsSync(script)) throw new Error(`XEN_TOOLS_PYTHON=${dir}: no scripts/verify-stream-v2 there`);
  return `env PYTHONPATH=${dir} python3 ${script} -q -i ${file}`;
}

export async function run(): Promise<void> {
  const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 2048);
  const dir = await mkdtemp(join(tmpdir(), 'xenmig-bench-'));
  const file = join(dir, 'hvm-v3.libxc');
  const xenmig = resolve('bin/xenmig');
  try {
    const t0 = process.hrtime.bigint();
    const sink = await AtomicFileSink.create(file);
    // The sample domain saved (src/save/sample.ts). Since the one-sample change its VGA
    // hole goes as 32 XTAB pfns and each page holds a 64-octet seeded stamp then zeros (a
    // pattern throughout before): 128 KiB fewer octets (the hole's pages), framed alike, and
    // verify jumps over page contents anyway.
    await saveSampleStream(sink, { memoryMiB: sizeMiB, layer: 'libxc' });
    await sink.commit();
    const genSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    process.stdout.write(`stream: ${sizeMiB} MiB v3 HVM libxc stream, ${sink.written} octets, generated in ${genSeconds.toFixed(2)} s\n`);
    measure('warm the page cache', `cat ${file} > /dev/null`, 1);

    const cat = measure('cat file > /dev/null', `cat ${file} > /dev/null`);
    const catPipe = measure('cat file | cat > /dev/null', `cat ${file} | cat > /dev/null`);
    // Runs of a tenth of a second are the most disturbed by anything else: take the best of more.
    const verify = measure('xenmig verify file', `${xenmig} verify --quiet ${file} > /dev/null`, 9);
    const readAll = measure('xenmig verify --read-all file', `${xenmig} verify --quiet --read-all ${file} > /dev/null`, 5);
    const pipe = measure('cat file | xenmig verify -', `cat ${file} | ${xenmig} verify --quiet - > /dev/null`);
    const node = measure('node startup (node -e 0)', 'node -e 0', 9);
    const xenCommand = xenVerifyCommand(file);
    const xen = xenCommand ? measure("Xen's verify-stream-v2", `${xenCommand} > /dev/null`, 5) : undefined;
    if (xen && xen.exitCode !== 0) throw new Error(`Xen's verify-stream-v2 exited with ${xen.exitCode} on the generated stream`);

    const xenScaled = xen ? xen.seconds : (XEN_VERIFY_SECONDS_2GIB * sizeMiB) / 2048;
    const xenSource = xen ? 'measured in this run' : `the issue's ${XEN_VERIFY_SECONDS_2GIB} s per 2 GiB (set XEN_TOOLS_PYTHON to run it here)`;
    const rows = [cat, catPipe, verify, readAll, pipe, node, ...(xen ? [xen] : [])];
    process.stdout.write(table(rows, cat, {
      'xenmig verify file': `target <= 0.2x Xen's script (${(0.2 * xenScaled).toFixed(3)} s for this size): ${(verify.seconds / xenScaled).toFixed(2)}x Xen`,
      'xenmig verify --read-all file': `target <= 1.5x cat: ${(readAll.seconds / cat.seconds).toFixed(2)}x`,
      'cat file | xenmig verify -': `target <= 1.2x cat|cat: ${(pipe.seconds / catPipe.seconds).toFixed(2)}x`,
    }) + '\n');
    const skipIn = await inProcess(file, false);
    const allIn = await inProcess(file, true);
    process.stdout.write(
      `in process (no start-up): verify ${skipIn.toFixed(3)} s (${(skipIn / xenScaled).toFixed(3)}x Xen's script), ` +
        `verify --read-all ${allIn.toFixed(3)} s (${(allIn / cat.seconds).toFixed(2)}x cat)\n`,
    );
    process.stdout.write(`(x base = ratio to "cat file > /dev/null"; Xen's verify-stream-v2: ${xenScaled.toFixed(3)} s, ${xenSource})\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
