/**
 * `xenmig report`, `migrate --report` and `receive --json`'s rounds, as a user runs them:
 * one line printed, exit 0 once the page is written (a broken stream too), 2 for usage
 * or I/O trouble, nothing left behind on failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { verifyStream } from '../../src/verify/index.js';
import { openStream } from '../../src/stream/open.js';
import { tmpDirFor } from '../support/tmp.js';
import { sampleFile } from '../support/sample.js';
import { BIN, run } from '../support/cli-run.js';

async function recordCount(path: string): Promise<number> {
  const s = await openStream(path, { pageContents: 'skip' });
  let n = 0;
  try {
    for await (const item of s.items) if (item.kind === 'record') n++;
  } finally {
    await s.close();
  }
  return n;
}

test('xenmig report: writes the page, prints one line; --json the numbers; an existing page needs --force', async (t) => {
  const dir = tmpDirFor(t, 'xenmig-report-cli-');
  const stream = join(dir, 'sample.xl');
  await sampleFile(stream, { memoryMiB: 8 });
  const out = join(dir, 'r.html');
  const r = await run(['report', stream, '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  const v = await verifyStream(stream);
  const records = await recordCount(stream);
  assert.match(r.stdout, new RegExp(`^report written to ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(\\d+ KiB\\): ${records} records, ${v.summary.populatedPfns} populated pfns, 1 round\\(s\\), conforming \\(0 error\\(s\\), 0 warning\\(s\\)\\)\n$`));
  const html = readFileSync(out, 'utf8');
  assert.match(html, /^<!DOCTYPE html>/);
  assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|@import|url\(http/i, 'nothing fetched from elsewhere');
  const again = await run(['report', stream, '-o', out]);
  assert.equal(again.code, 2);
  assert.equal(again.stderr, `xenmig: ${out} exists; use --force to replace it\n`);
  const json = await run(['report', stream, '-o', out, '--force', '--json']);
  assert.equal(json.code, 0, json.stderr);
  const j = JSON.parse(json.stdout) as Record<string, unknown>;
  assert.equal(j['records'], records);
  assert.equal(j['populatedPfns'], v.summary.populatedPfns);
  assert.equal(j['rounds'], 1);
  assert.equal(j['conforming'], true);
  assert.deepEqual(readdirSync(dir).sort(), ['r.html', 'sample.xl'], 'no temporary left');
});

test('xenmig report of a broken stream: the page is written (exit 0); bad flags and files exit 2 with one line', async (t) => {
  const dir = tmpDirFor(t, 'xenmig-report-cli-');
  const stream = join(dir, 'sample.xl');
  await sampleFile(stream, { memoryMiB: 4 });
  const cut = join(dir, 'cut.xl');
  writeFileSync(cut, readFileSync(stream).subarray(0, 2_000_000));
  const r = await run(['report', cut, '-o', join(dir, 'cut.html')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /broken stream \(1 error\(s\), 0 warning\(s\)\)\n$/);
  assert.ok(existsSync(join(dir, 'cut.html')));

  const noOut = await run(['report', stream]);
  assert.equal(noOut.code, 2);
  assert.match(noOut.stderr, /required option '-o, --output <FILE>' not specified/);
  const missing = await run(['report', join(dir, 'nope.xl'), '-o', join(dir, 'x.html')]);
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr.split('\n').filter(Boolean).length, 1);
  writeFileSync(join(dir, 'bad.json'), '{"outcome":"migrated"}');
  const badLog = await run(['report', stream, '-o', join(dir, 'y.html'), '--migration', join(dir, 'bad.json')]);
  assert.equal(badLog.code, 2);
  assert.match(badLog.stderr, /^xenmig: .*bad\.json: neither a migrate or save log \(save\.roundLog, roundLog\) nor a receive log \(rounds\)\n$/);
  assert.ok(!existsSync(join(dir, 'x.html')) && !existsSync(join(dir, 'y.html')));
});

test('migrate --report writes the page of the migration; receive --json and migrate --json carry the rounds and the downtime', async (t) => {
  const dir = tmpDirFor(t, 'xenmig-report-cli-');
  const child = spawn(process.execPath, [BIN, 'receive', '--listen', '127.0.0.1:0', '--into', join(dir, 'img'), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let recvOut = '';
  child.stdout.on('data', (d) => (recvOut += d));
  const recvDone = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  const port = await new Promise<number>((resolve) => {
    createInterface({ input: child.stderr }).on('line', (l) => {
      const m = /listening on [^\s]+:(\d+)$/.exec(l);
      if (m) resolve(Number(m[1]));
    });
  });
  const page = join(dir, 'migration.html');
  const m = await run(['migrate', '--memory', '16', '--dirty-rate', '20000', '--to', `127.0.0.1:${port}`, '--quiet', '--json', '--report', page]);
  assert.equal(m.code, 0, m.stderr);
  assert.equal(await recvDone, 0);
  const sent = JSON.parse(m.stdout) as { save: { rounds: number; roundLog: { pages: number; dirtyAfter: number; bytes: number; durationMs: number }[]; precopyStop: { reason: string } }; downtimeMs: number };
  assert.equal(sent.save.roundLog.length, sent.save.rounds);
  assert.ok(sent.save.precopyStop.reason.length > 0);
  assert.ok(sent.downtimeMs > 0);
  assert.match(m.stderr, new RegExp(`report written to .*migration\\.html \\(\\d+ KiB\\): \\d+ records, \\d+ populated pfns, ${sent.save.rounds} round\\(s\\), conforming`));
  const html = readFileSync(page, 'utf8');
  assert.match(html, new RegExp(`<section id="precopy" data-rounds="${sent.save.rounds}" data-source="migrate"`));
  const got = JSON.parse(recvOut) as { rounds: { round: number; pages: number; phase: string }[]; downtimeMs: number };
  assert.equal(got.rounds.length, sent.save.rounds, 'the receiver tells the same rounds apart');
  assert.equal(got.rounds[got.rounds.length - 1]!.phase, 'final');
  assert.ok(got.downtimeMs > 0);
});
