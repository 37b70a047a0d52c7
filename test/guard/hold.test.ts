/**
 * Hold before forward, octet by octet: the guard runs in this process with the sender's
 * stream cut into arbitrary chunks, and `cat > file` as the receiver, so the file holds
 * exactly what was forwarded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import fc from 'fast-check';
import { planRealCommand } from '../../src/migrate/guard/command.js';
import { Guard, type GuardResult } from '../../src/migrate/guard/guard.js';
import type { Verdict } from '../../src/migrate/guard/preflight.js';
import type { StaticDataEnd } from '../../src/stream/static-data.js';
import { createVerifier } from '../../src/verify/index.js';
import { assertHeldAt, spanOf, testStream, type TestStreamOptions } from './streams.js';
import { withTmp } from '../support/tmp.js';

function cut(bytes: Uint8Array, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = sizes.length > 0 ? sizes[i % sizes.length]! : bytes.length;
    chunks.push(Buffer.from(bytes.subarray(at, at + n)));
    at += n;
  }
  return chunks;
}

interface Run {
  result: GuardResult;
  forwarded: Uint8Array;
  boundaries: StaticDataEnd[];
  log: string[];
}

// Each property run gets its own directory, gone once `cat` has exited and the file is read.
function runGuard(stream: Uint8Array, sizes: number[], verdict: Verdict, opts: { warnOnly?: boolean } = {}): Promise<Run> {
  return withTmp(async (dir) => {
    const file = join(dir, 'forwarded');
    const boundaries: StaticDataEnd[] = [];
    const log: string[] = [];
    const guard = new Guard({
      command: planRealCommand(['sh', '-c', 'exec cat > "$0"', file]),
      input: Readable.from(cut(stream, sizes)),
      output: new PassThrough(),
      closeSenderSide: () => undefined,
      verifier: createVerifier(),
      judgeStaticData: async (end) => {
        boundaries.push(end);
        return verdict;
      },
      warnOnly: opts.warnOnly ?? false,
      log: (l) => log.push(l),
      report: (l) => log.push(l),
    });
    const result = await guard.run();
    return { result, forwarded: new Uint8Array(readFileSync(file)), boundaries, log };
  }, 'xenmig-hold-');
}

const GO: Verdict = { go: true, reasons: [], notes: [] };
const STOP: Verdict = { go: false, reasons: ['the test says no'], notes: [] };
const chunkSizes = fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 6 });

test('whatever the chunking, a compatible stream is forwarded whole and judged once at STATIC_DATA_END', async () => {
  const stream = await testStream({ rounds: [40, 3] });
  await fc.assert(
    fc.asyncProperty(chunkSizes, async (sizes) => {
      const run = await runGuard(stream, sizes, GO);
      assert.equal(run.result.exitCode, 0);
      assert.equal(run.result.streamLength, stream.length);
      assert.deepEqual(run.forwarded, stream);
      assert.equal(run.boundaries.length, 1);
      assert.equal(run.boundaries[0]!.inferred, false);
    }),
    { numRuns: 8 },
  );
});

const HELD: { name: string; stream: TestStreamOptions; label: string; verdict: Verdict }[] = [
  { name: 'a v3 stop at STATIC_DATA_END forwards everything before it and never its last octet', stream: {}, label: 'libxc:STATIC_DATA_END', verdict: STOP },
  { name: 'a corrupt record is held back by its last octet, whatever the chunking', stream: { badTscInfo: true }, label: 'libxc:X86_TSC_INFO', verdict: GO },
];

for (const c of HELD) {
  test(c.name, async () => {
    const stream = await testStream(c.stream);
    await fc.assert(
      fc.asyncProperty(chunkSizes, async (sizes) => {
        const run = await runGuard(stream, sizes, c.verdict);
        assert.equal(run.result.exitCode, 1);
        assert.equal(`libxc:${run.result.stop?.location.recordType}`, c.label);
        await assertHeldAt(run.forwarded, stream, c.label);
      }),
      { numRuns: 10 },
    );
  });
}

test('a v2 stop at the inferred end holds the first PAGE_DATA whole: not one of its octets goes', async () => {
  const stream = await testStream({ version: 2 });
  const page = await spanOf(stream, 'libxc:PAGE_DATA');
  await fc.assert(
    fc.asyncProperty(chunkSizes, async (sizes) => {
      const run = await runGuard(stream, sizes, STOP);
      assert.equal(run.result.exitCode, 1);
      assert.equal(run.boundaries[0]!.inferred, true);
      assert.deepEqual(run.forwarded, stream.subarray(0, page.offset));
    }),
    { numRuns: 10 },
  );
});

test('octets after the stream (the permission to go) are relayed and recognised; the tee would stop at END', async () => {
  const stream = await testStream();
  const permission = new TextEncoder().encode('domain is yours, you are cleared to unpause\0');
  const all = new Uint8Array([...stream, ...permission]);
  const run = await runGuard(all, [stream.length - 3, 100], GO);
  assert.equal(run.result.exitCode, 0);
  assert.equal(run.result.streamLength, stream.length);
  assert.deepEqual(run.forwarded, all);
  assert.ok(run.log.some((l) => l.startsWith('sender: permission to go')), run.log.join('\n'));
});
