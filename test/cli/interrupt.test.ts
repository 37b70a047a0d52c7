/**
 * Ctrl-C and kill while a command writes: SIGINT/SIGTERM remove the temporary outputs and
 * say so; what a SIGKILLed run left is removed (and named) by the next run that writes
 * the same target. Each command is fed half a stream through a pipe and interrupted
 * once its temporary output exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sampleBytes } from '../support/sample.js';
import { withTmp } from '../support/tmp.js';

const BIN = resolve(fileURLToPath(import.meta.url), '../../../../bin/xenmig');

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs xenmig with half the stream on stdin (the pipe left open), until `ready` sees its temporary output. */
async function startHalfway(args: string[], bytes: Uint8Array, dir: string): Promise<{ child: ChildProcessWithoutNullStreams; ended: Promise<Ended> }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  child.stdout.resume();
  const ended = new Promise<Ended>((r) => child.on('close', (code, signal) => r({ code, signal, stderr })));
  child.stdin.on('error', () => {});
  child.stdin.write(bytes.subarray(0, bytes.length >> 1));
  const deadline = Date.now() + 10_000;
  while (!(await readdir(dir)).some((n) => n.endsWith('.tmp'))) {
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      assert.fail(`no temporary output appeared in ${dir}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, ended };
}

const commands: [string, (d: string) => string[]][] = [
  ['restore', (d) => ['restore', '-', '--into', join(d, 'img'), '--quiet']],
  ['extract', (d) => ['extract', '-', '--raw', join(d, 'mem.raw'), '--elf', join(d, 'mem.core'), '--quiet']],
  ['convert', (d) => ['convert', '--to', '2', '-', join(d, 'out.v2'), '--quiet']],
  // save reads no stdin; a guest this size keeps it writing long enough to be caught.
  ['save', (d) => ['save', '--memory', '1024', '--format', 'xl', join(d, 'vm.xl')]],
];

for (const [name, args] of commands) {
  test(`${name}: SIGINT and SIGTERM remove the temporary output and say so; a SIGKILLed run's leftover goes with the next run`, { timeout: 90_000 }, async () => {
    const bytes = await sampleBytes({ memoryMiB: 8, layer: 'xl' });
    await withTmp(async (d) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        const { child, ended } = await startHalfway(args(d), bytes, d);
        child.kill(signal);
        // A command that ignored the signal would hang the suite: give it 10 s.
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        const e = await ended;
        clearTimeout(timer);
        // It dies of the signal itself (a shell shows 130 / 143).
        assert.equal(e.signal, signal, e.stderr);
        assert.match(e.stderr, new RegExp(`xenmig: interrupted by ${signal}; removed \\d temporary output\\(s\\): .*\\.tmp`));
        assert.deepEqual(await readdir(d), [], `${signal} left files behind`);
      }
      const { child, ended } = await startHalfway(args(d), bytes, d);
      child.kill('SIGKILL');
      await ended;
      const left = await readdir(d);
      assert.ok(left.length > 0 && left.every((n) => /^\..*\.\d+\.[0-9a-f]{8}\.tmp$/.test(n)), `a SIGKILLed run leaves its temporaries: ${left.join(', ')}`);
      // The next run of the same command, given the whole stream, removes them and names them.
      const next = spawn(process.execPath, [BIN, ...args(d)], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      next.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      next.stdout.resume();
      next.stdin.on('error', () => {});
      next.stdin.end(bytes);
      const code = await new Promise<number | null>((r) => next.on('close', r));
      assert.equal(code, 0, stderr);
      for (const n of left) assert.match(stderr, new RegExp(`removed .*${n.replace(/\./g, '\\.')}, left by an interrupted run \\(pid \\d+\\)`));
      assert.ok((await readdir(d)).every((n) => !n.endsWith('.tmp')), 'no temporaries left after the next run');
    });
  });
}
