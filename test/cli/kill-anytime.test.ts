/**
 * Every writing command killed (SIGINT or SIGTERM) at seeded random moments, from start-up
 * to after its output is complete: what is left is either nothing or the whole output,
 * and never a temporary. `receive` is killed while a `migrate` sends to it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { rng } from '../support/rng.js';
import { tmpDirFor } from '../support/tmp.js';
import { sampleFile } from '../support/sample.js';

const BIN = resolve(fileURLToPath(import.meta.url), '../../../../bin/xenmig');
const ROUNDS = 4;

function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.tmp') || n.endsWith('.tmp.old'));
}

function killAfter(args: string[], ms: number, signal: NodeJS.Signals): Promise<number | null> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'ignore'] });
  const timer = setTimeout(() => child.kill(signal), ms);
  const hard = setTimeout(() => child.kill('SIGKILL'), ms + 15_000);
  return new Promise((r) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      clearTimeout(hard);
      r(code);
    }),
  );
}

const verifies = (file: string): boolean => spawnSync(process.execPath, [BIN, 'verify', file]).status === 0;

test('restore, extract, convert and save killed at random moments leave nothing or the whole output, never a temporary', { timeout: 120_000 }, async (t) => {
  const dir = tmpDirFor(t);
  const input = join(dir, 'in.xl');
  await sampleFile(input, { memoryMiB: 32, layer: 'xl' });
  const next = rng(0x6b111);
  const cases: { name: string; args: (o: string) => string[]; complete: (o: string) => boolean }[] = [
    { name: 'restore', args: (o) => ['restore', input, '--into', o, '--quiet'], complete: (o) => existsSync(join(o, 'domain.json')) },
    { name: 'extract', args: (o) => ['extract', input, '--raw', o, '--quiet'], complete: (o) => statSync(o).size === 32 * 1024 * 1024 },
    { name: 'convert', args: (o) => ['convert', '--to', '2', input, o, '--quiet'], complete: verifies },
    { name: 'save', args: (o) => ['save', '--memory', '128', '--format', 'xl', o], complete: verifies },
  ];
  for (const c of cases) {
    for (let round = 0; round < ROUNDS; round++) {
      const out = join(dir, `${c.name}-${round}`);
      const ms = next() % 700;
      const signal = next() % 2 ? 'SIGINT' : 'SIGTERM';
      await killAfter(c.args(out), ms, signal);
      assert.deepEqual(leftovers(dir), [], `${c.name} killed by ${signal} after ${ms} ms left temporaries`);
      if (existsSync(out)) assert.ok(c.complete(out), `${c.name} killed by ${signal} after ${ms} ms left an incomplete ${out}`);
    }
  }
});

test('receive killed at random moments of a migration leaves no temporary, and an image only if complete', { timeout: 120_000 }, async (t) => {
  const dir = tmpDirFor(t);
  const next = rng(0x4ece1);
  for (let round = 0; round < ROUNDS; round++) {
    const into = join(dir, `img-${round}`);
    const receiver = spawn(process.execPath, [BIN, 'receive', '--listen', '127.0.0.1:0', '--into', into], { stdio: ['ignore', 'ignore', 'pipe'] });
    const port = await new Promise<number>((r, fail) => {
      const lines = createInterface({ input: receiver.stderr });
      lines.on('line', (l) => {
        const m = /listening on [^\s]+:(\d+)$/.exec(l);
        if (m) r(Number(m[1]));
      });
      receiver.on('close', () => fail(new Error('receive exited before listening')));
    });
    const sender = spawn(process.execPath, [BIN, 'migrate', '--to', `127.0.0.1:${port}`, '--memory', '64', '--quiet'], { stdio: 'ignore' });
    const ms = next() % 900;
    const signal = next() % 2 ? 'SIGINT' : 'SIGTERM';
    setTimeout(() => receiver.kill(signal), ms);
    const hard = setTimeout(() => {
      receiver.kill('SIGKILL');
      sender.kill('SIGKILL');
    }, ms + 15_000);
    await Promise.all([new Promise((r) => receiver.on('close', r)), new Promise((r) => sender.on('close', r))]);
    clearTimeout(hard);
    assert.deepEqual(leftovers(dir), [], `receive killed by ${signal} after ${ms} ms left temporaries`);
    if (existsSync(into)) assert.ok(existsSync(join(into, 'domain.json')), `receive killed by ${signal} after ${ms} ms left an incomplete image`);
  }
});
