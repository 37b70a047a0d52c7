/**
 * The sender's bytes as the guard reads them: from a pipe into its own reused buffers
 * (many buffers' worth, with a receiver that starts late so that reading pauses and
 * resumes), and from a regular file by fs.read into the same buffers, from wherever the
 * shell left the file's offset. Either way the receiver and the tee get the stream octet
 * for octet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { XENMIG } from './harness.js';
import { testStream } from './streams.js';
import { withTmp } from '../support/tmp.js';

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Octets before the stream in the file of the third case, which `dd` reads away first. */
const SKIPPED = 'garbage';

for (const how of ['a pipe', 'a regular file', 'a regular file at an offset'] as const) {
  test(`from ${how}: receiver and tee get every octet, in order, through more than the guard's buffers hold`, () =>
    withTmp(async (dir) => {
      // 3000 + 1000 + 500 pages: some 18 MiB, more than the 8 MiB the guard holds before it pauses reading.
      const stream = await testStream({ rounds: [3000, 1000, 500] });
      const file = join(dir, 'stream.xl');
      writeFileSync(file, how === 'a regular file at an offset' ? Buffer.concat([Buffer.from(SKIPPED), stream]) : stream);
      const out = join(dir, 'received');
      const tee = join(dir, 'tee.xl');
      const guard = `${q(process.execPath)} ${q(XENMIG)} guard --tee ${q(tee)} -- sh -c ${q(`sleep 0.3; exec cat > ${q(out)}`)}`;
      const line =
        how === 'a pipe'
          ? `cat ${q(file)} | ${guard}`
          : how === 'a regular file'
            ? `${guard} < ${q(file)}`
            : `{ dd bs=${SKIPPED.length} count=1 of=/dev/null 2>/dev/null; ${guard}; } < ${q(file)}`;
      const r = spawnSync('sh', ['-c', line], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      for (const round of ['round 1: 3000 page(s)', 'round 2: 1000 page(s)', 'round 3: 500 page(s)']) assert.ok(r.stderr.includes(round), r.stderr);
      assert.ok(Buffer.from(stream).equals(readFileSync(out)), 'the receiver got the stream as it was sent');
      assert.ok(Buffer.from(stream).equals(readFileSync(tee)), 'the tee holds the stream as it was sent');
    }, 'xenmig-guard-input-'));
}

test('a stream with more rounds than the guard lists (one page per round, 1,003 rounds): 1,000 lines, one line for the rest, all counted', () =>
  withTmp(async (dir) => {
    const stream = await testStream({ rounds: Array.from({ length: 1003 }, () => 1) });
    const file = join(dir, 'stream.xl');
    writeFileSync(file, stream);
    const r = spawnSync('sh', ['-c', `${q(process.execPath)} ${q(XENMIG)} guard -- sh -c 'cat >/dev/null' < ${q(file)}`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const listed = r.stderr.split('\n').filter((l) => /round \d+: 1 page\(s\)/.test(l));
    assert.equal(listed.length, 1000);
    assert.match(listed[999]!, /round 1000: /);
    assert.match(r.stderr, /round 1001 and later: not listed one by one \(more than 1000 rounds\); the totals count them\n/);
    assert.match(r.stderr, /1003 page\(s\) in 1003 round\(s\)/);
  }, 'xenmig-guard-rounds-'));
